/* SPDX-License-Identifier: MIT */
/* Parley - bearer token authentication.                                */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "token_cache.h"

#include "storage/sessions.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A token is one indexed read of its hash in PostgreSQL, and then sits in
 * the token cache (token_cache.h) for a few seconds, so that a busy client
 * costs no query per request. A logout or revocation evicts it here before
 * the revoking request is answered, and on the other nodes when the relay
 * frame arrives (token_cache_ms bounds it if the frame is lost). A session
 * unused for session_ttl seconds is not found any more. It comes from the
 * Authorization header, or for the web client from the parley_token cookie
 * (HttpOnly: the page's scripts never see it), or on the stream routes from
 * the access_token query parameter. */
/* The value of cookie name in a Cookie header, copied into the arena. */
static const char *cookie_value(struct api_call *c, const char *name)
{
    const char *h = http_req_header(c->req, "cookie");
    size_t n = strlen(name);
    while (h && *h) {
        while (*h == ' ' || *h == ';')
            h++;
        const char *end = strchrnul(h, ';');
        if (strncmp(h, name, n) == 0 && h[n] == '=')
            return pl_arena_strndup(c->a, h + n + 1, (size_t)(end - h - n - 1));
        h = end;
    }
    return NULL;
}

static int auth_token(struct api_call *c, const char *token, struct api_problem *bad)
{
    uint8_t hash[PCRYPTO_TOKEN_HASHBYTES];
    int rc = pcrypto_token_hash(token, hash);
    /* Recording each use costs a write, so it is written at most once a
     * minute (sooner with a short session_ttl, which needs the precision). */
    unsigned ttl = c->env->cfg->limits.session_ttl_s, touch = PL_MIN(60u, ttl / 4);
    uint64_t gen;
    if (rc == 0 && api_token_cache_get(c->env->tokens, hash, &c->user_id, &c->device_id, &gen))
        return 0;
    if (rc == 0 &&
        (rc = store_pg_session_auth(c->w->pg, hash, ttl, touch, &c->user_id, &c->device_id)) == 0)
        api_token_cache_put(c->env->tokens, hash, c->user_id, c->device_id, gen);
    if (rc == PL_EUNAUTH)
        api_problem_sendx(c->req, bad);
    return rc;
}

/* The token of an Authorization header value, or NULL when it does not
 * use the Bearer scheme. */
static const char *bearer_token(const char *h)
{
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    for (h += 7; *h == ' ';)
        h++;
    return h;
}

bool api__auth_cached(struct api_call *c)
{
    const char *h = http_req_header(c->req, "authorization");
    if (!c->env->tokens || !h || !(h = bearer_token(h)))
        return false;
    uint8_t hash[PCRYPTO_TOKEN_HASHBYTES];
    uint64_t gen;
    return pcrypto_token_hash(h, hash) == 0 &&
           api_token_cache_get(c->env->tokens, hash, &c->user_id, &c->device_id, &gen);
}

/* A cookie rides along with requests that other sites make the browser
 * send, so a cookie-authenticated request that changes state must prove it
 * came from our own page: it carries X-Parley-CSRF, a header no other
 * origin can add without a CORS preflight, which parleyd never grants
 * (SameSite=Strict already keeps the cookie off cross-site requests in
 * current browsers; this is the second lock). */
static bool csrf_ok(struct api_call *c)
{
    const char *m = http_req_method(c->req);
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
        return true;
    const char *site = http_req_header(c->req, "sec-fetch-site");
    if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return false;
    const char *h = http_req_header(c->req, "x-parley-csrf");
    return h && *h;
}

int api__csrf_check(struct api_call *c)
{
    if (csrf_ok(c))
        return 0;
    struct api_problem p = {.rc = PL_EFORBIDDEN,
                            .slug = "csrf-check-failed",
                            .offset = -1,
                            .detail = "a request authenticated by the session cookie that changes "
                                      "state must carry the X-Parley-CSRF header"};
    api_problem_sendx(c->req, &p);
    return PL_EFORBIDDEN;
}

/* Finds the token of c->req; bad gets the problem to send if the token
 * turns out unknown. Returns 0, or PL_EUNAUTH / PL_EFORBIDDEN with the
 * problem set. */
static int token_of(struct api_call *c, bool allow_query, const char **token,
                    struct api_problem *bad)
{
    *bad = (struct api_problem){.rc = PL_EUNAUTH,
                                .offset = -1,
                                .invalid_token = true,
                                .detail = "the bearer token is malformed, unknown or revoked"};
    const char *h = http_req_header(c->req, "authorization");
    if (h) {
        if (!(*token = bearer_token(h))) {
            bad->detail = "the Authorization header must use the Bearer scheme";
            api_problem_sendx(c->req, bad);
            return PL_EUNAUTH;
        }
        return 0;
    }
    const char *t = allow_query ? http_req_query(c->req, "access_token") : NULL;
    if (!t && (t = cookie_value(c, "parley_token"))) {
        c->via_cookie = true;
        int rc = api__csrf_check(c);
        if (rc < 0)
            return rc;
    }
    if (!t) {
        api_problem_send(c->req, PL_EUNAUTH, "this endpoint needs an Authorization: Bearer token");
        return PL_EUNAUTH;
    }
    bad->detail = "the access token is malformed, unknown or revoked";
    *token = t;
    return 0;
}

int api__auth(struct api_call *c, bool allow_query)
{
    const char *token;
    struct api_problem bad;
    int rc = token_of(c, allow_query, &token, &bad);
    return rc < 0 ? rc : auth_token(c, token, &bad);
}

/* The lookups api__auth_many() could not answer from the cache, in one
 * statement; k of them, at[j] being the call of hashes[j]. */
static int auth_misses(struct api_call *cs, unsigned k, const uint8_t (*hashes)[32],
                       const uint64_t *gens, const unsigned *at, struct api_problem *bad, int *rcs)
{
    int64_t *ids = calloc(2 * (size_t)k, sizeof(*ids));
    if (!ids)
        return PL_ENOMEM;
    unsigned ttl = cs[0].env->cfg->limits.session_ttl_s, touch = PL_MIN(60u, ttl / 4);
    int rc = store_pg_session_auth_many(cs[0].w->pg, hashes, k, ttl, touch, ids, ids + k);
    for (unsigned j = 0; j < k; j++) {
        struct api_call *c = &cs[at[j]];
        c->user_id = ids[j];
        c->device_id = ids[k + j];
        rcs[at[j]] = rc < 0 ? rc : c->user_id ? 0 : PL_EUNAUTH;
        if (rcs[at[j]] == PL_EUNAUTH)
            api_problem_sendx(c->req, &bad[j]);
        else if (rcs[at[j]] == 0)
            api_token_cache_put(c->env->tokens, hashes[j], c->user_id, c->device_id, gens[j]);
    }
    free(ids);
    return rc;
}

int api__auth_many(struct api_call *cs, unsigned n, bool allow_query, int *rcs)
{
    uint8_t(*hashes)[PCRYPTO_TOKEN_HASHBYTES] = calloc(n ? n : 1, sizeof(*hashes));
    uint64_t *gens = calloc(n ? n : 1, sizeof(*gens));
    struct api_problem *bad = calloc(n ? n : 1, sizeof(*bad));
    unsigned *at = calloc(n ? n : 1, sizeof(*at)), k = 0;
    int rc = hashes && gens && bad && at ? 0 : PL_ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        const char *token;
        struct api_call *c = &cs[i];
        rcs[i] = rc < 0 ? rc : token_of(c, allow_query, &token, &bad[k]);
        if (rcs[i] == 0 && (rcs[i] = pcrypto_token_hash(token, hashes[k])) == 0) {
            /* A hit is answered here; the misses go to PostgreSQL together. */
            if (!api_token_cache_get(c->env->tokens, hashes[k], &c->user_id, &c->device_id,
                                     &gens[k]))
                at[k++] = i;
        } else if (rcs[i] == PL_EUNAUTH && http_resp_status(c->req) == 0) {
            api_problem_sendx(c->req, &bad[k]); /* malformed: as api__auth() answers it */
        }
    }
    if (k)
        rc = auth_misses(cs, k, (const uint8_t(*)[32])hashes, gens, at, bad, rcs);
    free(hashes);
    free(gens);
    free(bad);
    free(at);
    return rc < 0 ? rc : 0;
}
