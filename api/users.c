/* SPDX-License-Identifier: MIT */
/* Parley - accounts: POST /v1/users, GET /v1/me.                       */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/account.h"

#include <stdio.h>
#include <string.h>

#define USERNAME_MIN 3
#define USERNAME_MAX 32
#define DISPLAY_NAME_MAX 64

/* device_id 0 leaves the member out (only /v1/me has a calling device). */
static void gen_user(yajl_gen g, const struct store_user *u, int64_t device_id)
{
    yajl_gen_map_open(g);
    api__gen_int(g, "id", u->id);
    api__gen_str(g, "username", u->username);
    api__gen_str(g, "display_name", u->display_name);
    api__gen_deleted(g, u->username);
    api__gen_str(g, "created_at", u->created_at);
    if (u->last_seen_visibility)
        api__gen_str(g, "last_seen_visibility", u->last_seen_visibility);
    if (device_id)
        api__gen_int(g, "device_id", device_id);
    yajl_gen_map_close(g);
}

void api__gen_user(yajl_gen g, const struct store_user *u)
{
    gen_user(g, u, 0);
}

bool api__valid_password(const char *pw)
{
    size_t n = strlen(pw);
    return n >= API_PASSWORD_MIN && n <= API_PASSWORD_MAX;
}

bool api__valid_username(const char *s)
{
    size_t n = strlen(s);
    if (n < USERNAME_MIN || n > USERNAME_MAX)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.") == n;
}

/* Display names are shown to other people: refuse control characters so a
 * name cannot forge lines in a terminal or a log. */
bool api__valid_display_text(const char *s, size_t max_chars)
{
    size_t n = strlen(s), chars = api_utf8_len(s, n);
    if (chars == 0 || chars > max_chars)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static int reply_user(struct api_call *c, int status, const struct store_user *u)
{
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    api__gen_user(g, u);
    return api__reply_json(c, status, g);
}

struct registration {
    const char *username, *password, *display;
};

/* Hashing thread: hash the password, insert the user. */
static int register_hashed(struct api_call *c, void *arg)
{
    struct registration *g = arg;
    char hash[PCRYPTO_PWHASH_STRBYTES];
    int rc = pcrypto_password_hash(&c->env->cfg->pwhash, g->password, strlen(g->password), hash);
    if (rc < 0)
        return rc;
    struct store_user u;
    rc = store_pg_user_create(c->w->pg, c->a, g->username, g->display ? g->display : g->username,
                              hash, &u);
    if (rc == PL_ECONFLICT) {
        api_problem_send(c->req, rc,
                         pl_arena_sprintf(c->a, "the username '%s' is already taken", g->username));
        return rc;
    }
    if (rc < 0)
        return rc;
    char loc[48];
    snprintf(loc, sizeof(loc), "/v1/users/%lld", (long long)u.id);
    if ((rc = http_resp_header(c->req, "Location", loc)) < 0)
        return rc;
    return reply_user(c, 201, &u);
}

int api_users_create(struct api_call *c)
{
    struct registration *g = pl_arena_zalloc(c->a, sizeof(*g));
    if (!g)
        return PL_ENOMEM;
    const struct api_field fields[] = {
        {"username", API_FIELD_STRING, true, &g->username},
        {"password", API_FIELD_STRING, true, &g->password},
        {"display_name", API_FIELD_STRING, false, &g->display},
    };
    int rc = api__bind_body(c, fields, PL_ARRAY_LEN(fields));
    if (rc < 0)
        return rc;
    if (g->username && !api__valid_username(g->username))
        api_errors_add(&c->errs, "/username", "must be 3 to 32 characters of a-z, 0-9, _ and .");
    if (g->password && !api__valid_password(g->password))
        api_errors_add(&c->errs, "/password", "must be 8 to 1024 bytes long");
    if (g->display && !api__valid_display_text(g->display, DISPLAY_NAME_MAX))
        api_errors_add(&c->errs, "/display_name",
                       "must be 1 to 64 characters without control characters");
    if (c->errs.n)
        return api__fail_validation(c);
    /* Accounts per address; a valid request counts even if the name turns
     * out taken, so probing names costs the same budget. */
    const char *peer = http_req_peer(c->req);
    if (peer && !api__addr_exempt(c->env, peer) &&
        (rc = api__limit_window(c, API_LIMIT_REGISTER_IP, peer, 1)) < 0)
        return rc;
    return api__pwhash_defer(c, register_hashed, g);
}

int api_me_get(struct api_call *c)
{
    struct store_user u;
    int rc = store_pg_user_get(c->w->pg, c->a, c->user_id, &u);
    if (rc < 0)
        return rc;
    /* The user, plus the calling device (e2e clients address devices). */
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    gen_user(g, &u, c->device_id);
    return api__reply_json(c, 200, g);
}

int api_me_patch(struct api_call *c)
{
    const char *display = NULL, *visibility = NULL;
    const struct api_field fields[] = {
        {"display_name", API_FIELD_STRING, false, &display},
        {"last_seen_visibility", API_FIELD_STRING, false, &visibility},
    };
    int rc = api__bind_body(c, fields, PL_ARRAY_LEN(fields));
    if (rc < 0)
        return rc;
    if (display && !api__valid_display_text(display, DISPLAY_NAME_MAX))
        api_errors_add(&c->errs, "/display_name",
                       "must be 1 to 64 characters without control characters");
    if (visibility && strcmp(visibility, "everyone") && strcmp(visibility, "contacts") &&
        strcmp(visibility, "nobody"))
        api_errors_add(&c->errs, "/last_seen_visibility",
                       "must be one of everyone, contacts, nobody");
    if (c->errs.n)
        return api__fail_validation(c);
    struct store_user u;
    if ((rc = store_pg_user_update(c->w->pg, c->a, c->user_id, display, visibility, &u)) < 0)
        return rc;
    return reply_user(c, 200, &u);
}

void api__gen_deleted(yajl_gen g, const char *username)
{
    if (store_account_is_tombstone(username)) {
        api__gen_key(g, "deleted");
        yajl_gen_bool(g, 1);
    }
}
