/* SPDX-License-Identifier: MIT */
/* Parley - bearer token authentication.                                */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/sessions.h"

#include <string.h>
#include <strings.h>

/* The token is looked up on every request rather than cached, so that
 * a logout or revocation takes effect at once on every node; the lookup is
 * one indexed read of a hash. A session unused for session_ttl seconds is
 * not found any more. It comes from the
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
    if (rc == 0)
        rc = store_pg_session_auth(c->w->pg, hash, ttl, touch, &c->user_id, &c->device_id);
    if (rc == PL_EUNAUTH)
        api_problem_sendx(c->req, bad);
    return rc;
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

static int auth_cookie_or_query(struct api_call *c, bool allow_query)
{
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
    struct api_problem bad = {.rc = PL_EUNAUTH,
                              .offset = -1,
                              .invalid_token = true,
                              .detail = "the access token is malformed, unknown or revoked"};
    return auth_token(c, t, &bad);
}

int api__auth(struct api_call *c, bool allow_query)
{
    const char *h = http_req_header(c->req, "authorization");
    if (!h)
        return auth_cookie_or_query(c, allow_query);
    struct api_problem bad = {.rc = PL_EUNAUTH,
                              .offset = -1,
                              .invalid_token = true,
                              .detail = "the bearer token is malformed, unknown or revoked"};
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        bad.detail = "the Authorization header must use the Bearer scheme";
        api_problem_sendx(c->req, &bad);
        return PL_EUNAUTH;
    }
    const char *token = h + 7;
    while (*token == ' ')
        token++;
    return auth_token(c, token, &bad);
}
