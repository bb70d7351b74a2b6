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
 * not found any more. */
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

int api__auth(struct api_call *c, bool allow_cookie_query)
{
    const char *h = http_req_header(c->req, "authorization");
    if (!h && allow_cookie_query) {
        const char *t = http_req_query(c->req, "access_token");
        if (!t)
            t = cookie_value(c, "parley_token");
        if (t) {
            struct api_problem bad = {.rc = PL_EUNAUTH,
                                      .offset = -1,
                                      .invalid_token = true,
                                      .detail =
                                          "the access token is malformed, unknown or revoked"};
            return auth_token(c, t, &bad);
        }
    }
    if (!h) {
        api_problem_send(c->req, PL_EUNAUTH, "this endpoint needs an Authorization: Bearer token");
        return PL_EUNAUTH;
    }
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
