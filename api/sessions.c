/* SPDX-License-Identifier: MIT */
/* Parley - sessions: log in (a new device and token), log out.         */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include <string.h>

#define DEVICE_NAME_MAX 64

static int bad_credentials(struct api_call *c)
{
    struct api_problem p = {.rc = PL_EUNAUTH,
                            .slug = "invalid-credentials",
                            .offset = -1,
                            .detail = "the username or the password is wrong"};
    api_problem_sendx(c->req, &p);
    return PL_EUNAUTH;
}

/* Looks the user up and checks the password. Unknown users cost the same
 * argon2 time as known ones, so timing does not reveal who has an account. */
static int check_credentials(struct api_call *c, const char *username, const char *password,
                             struct store_user *u)
{
    const char *hash;
    size_t pwlen = strlen(password);
    int rc = store_pg_user_get_by_name(c->w->pg, c->a, username, u, &hash);
    if (rc == PL_ENOTFOUND) {
        pcrypto_password_burn(&c->env->cfg->pwhash, password, pwlen);
        return bad_credentials(c);
    }
    if (rc < 0)
        return rc;
    if (pcrypto_password_verify(hash, password, pwlen) < 0)
        return bad_credentials(c);
    return 0;
}

static int reply_session(struct api_call *c, const char *token, int64_t device_id,
                         const struct store_user *u)
{
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_str(g, "token", token);
    api__gen_int(g, "device_id", device_id);
    api__gen_key(g, "user");
    api__gen_user(g, u);
    yajl_gen_map_close(g);
    /* A response carrying a secret must not land in any cache. */
    int rc = http_resp_header(c->req, "Cache-Control", "no-store");
    if (rc < 0) {
        yajl_gen_free(g);
        return rc;
    }
    return api__reply_json(c, 201, g);
}

int api_sessions_create(struct api_call *c)
{
    const char *username = NULL, *password = NULL, *device = NULL;
    const struct api_field fields[] = {
        {"username", API_FIELD_STRING, true, &username},
        {"password", API_FIELD_STRING, true, &password},
        {"device_name", API_FIELD_STRING, false, &device},
    };
    int rc = api__bind_body(c, fields, PL_ARRAY_LEN(fields));
    if (rc < 0)
        return rc;
    if (device && !api__valid_display_text(device, DEVICE_NAME_MAX))
        api_errors_add(&c->errs, "/device_name",
                       "must be 1 to 64 characters without control characters");
    if (c->errs.n)
        return api__fail_validation(c);

    struct store_user u;
    if ((rc = check_credentials(c, username, password, &u)) < 0)
        return rc;
    char token[PCRYPTO_TOKEN_STRLEN + 1];
    uint8_t hash[PCRYPTO_TOKEN_HASHBYTES];
    if ((rc = pcrypto_token_init(token, hash)) < 0)
        return rc;
    int64_t device_id;
    rc = store_pg_device_create(c->w->pg, u.id, device ? device : "unnamed device", hash,
                                &device_id);
    if (rc == 0)
        rc = reply_session(c, token, device_id, &u);
    pcrypto_wipe(token, sizeof(token));
    return rc;
}

int api_sessions_delete_current(struct api_call *c)
{
    int rc = store_pg_device_revoke(c->w->pg, c->device_id);
    /* Two logouts racing: the second finds the device already revoked,
     * which is the state it asked for. */
    if (rc < 0 && rc != PL_ENOTFOUND)
        return rc;
    /* The token is dead; its open streams end now, not at their next use. */
    c->env->close_device(c->env->close_ctx, c->user_id, c->device_id);
    api__reply_raw(c, 204, NULL, "", 0);
    return 0;
}
