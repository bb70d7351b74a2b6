/* SPDX-License-Identifier: MIT */
/* Parley - bearer token authentication.                                */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include <string.h>
#include <strings.h>

/* The token is looked up on every request rather than cached, so that
 * DELETE /v1/sessions/current takes effect at once on every node; the
 * lookup is one indexed read of a hash. */
int api__auth(struct api_call *c)
{
    const char *h = http_req_header(c->req, "authorization");
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
    uint8_t hash[CRYPTO_TOKEN_HASHBYTES];
    int rc = crypto_token_hash(token, hash);
    if (rc == 0)
        rc = store_pg_device_auth(c->w->pg, hash, &c->user_id, &c->device_id);
    if (rc == PL_EUNAUTH)
        api_problem_sendx(c->req, &bad);
    return rc;
}
