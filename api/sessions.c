/* SPDX-License-Identifier: MIT */
/* Parley - sessions: log in, list, log out, revoke.                    */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/sessions.h"

#include <stdio.h>
#include <string.h>

#define DEVICE_NAME_MAX 64
/* What GET /v1/sessions keeps of a User-Agent. */
#define USER_AGENT_MAX 200

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
                             const char *account, struct store_user *u)
{
    const char *hash;
    size_t pwlen = strlen(password);
    int rc = store_pg_user_get_by_name(c->w->pg, c->a, username, u, &hash);
    if (rc == PL_ENOTFOUND) {
        pcrypto_password_burn(&c->env->cfg->pwhash, password, pwlen);
        api__login_result(c, account, API_LOGIN_FAILED);
        return bad_credentials(c);
    }
    if (rc < 0) {
        api__login_result(c, account, API_LOGIN_UNCHECKED);
        return rc;
    }
    if (pcrypto_password_verify(hash, password, pwlen) < 0) {
        api__login_result(c, account, API_LOGIN_FAILED);
        return bad_credentials(c);
    }
    api__login_result(c, account, API_LOGIN_OK);
    return 0;
}

/* The web client's session: the token goes into a cookie its scripts cannot
 * read (HttpOnly), that is sent over TLS only (Secure; browsers treat
 * http://localhost and 127.0.0.1 as secure too) and never with requests
 * other sites start (SameSite=Strict). It lives as long as an unused
 * session does (session_ttl); the server forgets the session then anyway. */
static int set_cookie(struct api_call *c, const char *token)
{
    const char *v = pl_arena_sprintf(c->a,
                                     "parley_token=%s; Path=/; HttpOnly; Secure; "
                                     "SameSite=Strict; Max-Age=%u",
                                     token, c->env->cfg->limits.session_ttl_s);
    return v ? http_resp_header(c->req, "Set-Cookie", v) : PL_ENOMEM;
}

static int reply_session(struct api_call *c, const char *token, bool cookie, int64_t device_id,
                         const struct store_user *u)
{
    int rc = cookie ? set_cookie(c, token) : 0;
    if (rc < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    if (!cookie) /* the cookie's token never reaches the page's scripts */
        api__gen_str(g, "token", token);
    api__gen_int(g, "device_id", device_id);
    api__gen_key(g, "user");
    api__gen_user(g, u);
    yajl_gen_map_close(g);
    /* A response carrying a secret must not land in any cache. */
    rc = http_resp_header(c->req, "Cache-Control", "no-store");
    if (rc < 0) {
        yajl_gen_free(g);
        return rc;
    }
    return api__reply_json(c, 201, g);
}

struct login {
    const char *username, *password, *device;
    bool cookie;         /* the web client: the token goes into an HttpOnly cookie */
    const char *account; /* the throttle's key: the username, or "-" */
};

static int too_many_devices(struct api_call *c)
{
    api__limit_count(API_LIMIT_DEVICES);
    struct api_problem p = {
        .rc = PL_ECONFLICT,
        .slug = "too-many-devices",
        .offset = -1,
        .detail = pl_arena_sprintf(c->a,
                                   "this account already has %u active sessions; end one with "
                                   "DELETE /v1/sessions/{id} and log in again",
                                   c->env->cfg->limits.max_devices)};
    api_problem_sendx(c->req, &p);
    return PL_ECONFLICT;
}

/* A copy of the client's User-Agent cut to USER_AGENT_MAX bytes at a
 * character boundary, or NULL. */
static const char *user_agent(struct api_call *c)
{
    const char *ua = http_req_header(c->req, "user-agent");
    if (!ua || !*ua)
        return NULL;
    size_t n = strlen(ua);
    if (n > USER_AGENT_MAX) {
        n = USER_AGENT_MAX;
        while (n && ((unsigned char)ua[n] & 0xc0) == 0x80)
            n--;
    }
    return pl_arena_strndup(c->a, ua, n);
}

/* Hashing thread: verify the password, then record the new session. */
static int login_hashed(struct api_call *c, void *arg)
{
    struct login *l = arg;
    struct store_user u;
    int rc = check_credentials(c, l->username, l->password, l->account, &u);
    if (rc < 0)
        return rc;
    char token[PCRYPTO_TOKEN_STRLEN + 1];
    uint8_t hash[PCRYPTO_TOKEN_HASHBYTES];
    if ((rc = pcrypto_token_init(token, hash)) < 0)
        return rc;
    const struct api_limits *lim = &c->env->cfg->limits;
    struct store_session_new in = {.user_id = u.id,
                                   .name = l->device ? l->device : "unnamed device",
                                   .token_hash = hash,
                                   .user_agent = user_agent(c),
                                   .protocol = http_req_proto_name(c->req),
                                   .max_devices = lim->max_devices,
                                   .ttl_s = lim->session_ttl_s};
    int64_t device_id;
    rc = store_pg_session_create(c->w->pg, &in, &device_id);
    if (rc == PL_ECONFLICT)
        rc = too_many_devices(c);
    else if (rc == 0)
        rc = reply_session(c, token, l->cookie, device_id, &u);
    pcrypto_wipe(token, sizeof(token));
    return rc;
}

int api_sessions_create(struct api_call *c)
{
    struct login *l = pl_arena_zalloc(c->a, sizeof(*l));
    if (!l)
        return PL_ENOMEM;
    const struct api_field fields[] = {
        {"username", API_FIELD_STRING, true, &l->username},
        {"password", API_FIELD_STRING, true, &l->password},
        {"device_name", API_FIELD_STRING, false, &l->device},
        {"cookie", API_FIELD_BOOL, false, &l->cookie},
    };
    int rc = api__bind_body(c, fields, PL_ARRAY_LEN(fields));
    if (rc < 0)
        return rc;
    /* Login CSRF: another site must not sign the browser into its account. */
    if (l->cookie && (rc = api__csrf_check(c)) < 0)
        return rc;
    if (l->device && !api__valid_display_text(l->device, DEVICE_NAME_MAX))
        api_errors_add(&c->errs, "/device_name",
                       "must be 1 to 64 characters without control characters");
    if (l->password && strlen(l->password) > API_PASSWORD_MAX)
        api_errors_add(&c->errs, "/password", "must be at most 1024 bytes long");
    if (c->errs.n)
        return api__fail_validation(c);
    /* Names that cannot exist share one key, so made-up names cannot
     * dodge the account limit (the address limit still applies). */
    l->account = api__valid_username(l->username) ? l->username : "-";
    if ((rc = api__login_check(c, l->account)) < 0)
        return rc;
    if ((rc = api__pwhash_defer(c, login_hashed, l)) < 0)
        api__login_result(c, l->account, API_LOGIN_UNCHECKED);
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
    api__close_devices(c, &c->device_id, 1);
    if (c->via_cookie &&
        (rc = http_resp_header(c->req, "Set-Cookie",
                               "parley_token=; Path=/; HttpOnly; Secure; SameSite=Strict; "
                               "Max-Age=0")) < 0)
        return rc;
    api__reply_raw(c, 204, NULL, "", 0);
    return 0;
}

/* ---- GET /v1/sessions, DELETE /v1/sessions/{id} ---- */

static void gen_opt(yajl_gen g, const char *key, const char *v)
{
    api__gen_key(g, key);
    if (v)
        yajl_gen_string(g, (const unsigned char *)v, strlen(v));
    else
        yajl_gen_null(g);
}

int api_sessions_list(struct api_call *c)
{
    struct store_session *s;
    unsigned n;
    int rc = store_pg_sessions_list(c->w->pg, c->a, c->user_id, c->env->cfg->limits.session_ttl_s,
                                    &s, &n);
    if (rc < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_key(g, "sessions");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        api__gen_int(g, "id", s[i].id);
        api__gen_str(g, "device_name", s[i].name);
        api__gen_str(g, "created_at", s[i].created_at);
        api__gen_str(g, "last_used_at", s[i].last_used_at);
        gen_opt(g, "user_agent", s[i].user_agent);
        gen_opt(g, "protocol", s[i].protocol);
        api__gen_key(g, "current");
        yajl_gen_bool(g, s[i].id == c->device_id);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    if ((rc = http_resp_header(c->req, "Cache-Control", "no-store")) < 0) {
        yajl_gen_free(g);
        return rc;
    }
    return api__reply_json(c, 200, g);
}

int api_sessions_delete(struct api_call *c)
{
    int64_t id;
    int rc;
    if (!api__parse_id(http_req_param(c->req, 0), &id) ||
        (rc = store_pg_session_revoke(c->w->pg, c->user_id, id)) == PL_ENOTFOUND) {
        api_problem_send(c->req, PL_ENOTFOUND, "you have no such active session");
        return PL_ENOTFOUND;
    }
    if (rc < 0)
        return rc;
    api__close_devices(c, &id, 1);
    api__reply_raw(c, 204, NULL, "", 0);
    return 0;
}
