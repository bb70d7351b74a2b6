/* SPDX-License-Identifier: MIT */
/* Parley - finding people: GET /v1/users/{user}, GET /v1/users?prefix=. */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "common/log.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

PL_LOG_TOPIC("api");

/*
 * An exact lookup answers for anyone with an account, like a phone
 * number: it shows only the public profile and the presence the user's
 * privacy setting allows. The prefix search is the address book: it
 * lists only people the caller already shares a conversation with, so it
 * cannot be used to enumerate accounts, and it is rate-limited per user
 * (quota_user_searches_per_min, counted in Redis by api/limits.c).
 */
#define PREFIX_MAX 32
#define PREFIX_LIMIT_DEFAULT 20
#define PREFIX_LIMIT_MAX 50

static void gen_profile(yajl_gen g, const struct store_user *u)
{
    api__gen_int(g, "id", u->id);
    api__gen_str(g, "username", u->username);
    api__gen_str(g, "display_name", u->display_name);
    api__gen_deleted(g, u->username);
}

static int profile_get(struct api_call *c)
{
    int64_t id;
    struct store_user u;
    int rc = api__resolve_user(c, http_req_param(c->req, 0), &id);
    if (rc == 0)
        rc = store_pg_user_get(c->w->pg, c->a, id, &u);
    if (rc == PL_ENOTFOUND) {
        api_problem_send(c->req, PL_ENOTFOUND, "no user has this name");
        return rc;
    }
    if (rc < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    gen_profile(g, &u);
    api__gen_key(g, "presence");
    if ((rc = api__gen_presence(c, g, id)) < 0) {
        yajl_gen_free(g);
        return rc;
    }
    yajl_gen_map_close(g);
    return api__reply_json(c, 200, g);
}

static int bad_query(struct api_call *c, const char *detail)
{
    api_problem_send(c->req, PL_EMALFORMED, detail);
    return PL_EMALFORMED;
}

static int prefix_search(struct api_call *c)
{
    const char *p = http_req_query(c->req, "prefix"), *ls = http_req_query(c->req, "limit");
    int64_t limit = PREFIX_LIMIT_DEFAULT;
    if (!p || !*p || strlen(p) > PREFIX_MAX)
        return bad_query(c, "prefix (the start of a username, 1 to 32 characters) is required");
    char *prefix = pl_arena_strdup(c->a, p);
    if (!prefix)
        return PL_ENOMEM;
    /* Usernames are lower case; a prefix in capitals still finds them. */
    for (char *q = prefix; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    if (strspn(prefix, "abcdefghijklmnopqrstuvwxyz0123456789_.") != strlen(prefix))
        return bad_query(c, "prefix may hold only the characters of a username: a-z 0-9 _ .");
    if (ls && (!api__parse_id(ls, &limit) || limit > PREFIX_LIMIT_MAX))
        return bad_query(c, "limit must be an integer from 1 to 50");
    int rc = api__limit_user(c, API_LIMIT_USER_SEARCHES, c->user_id, 1);
    if (rc < 0)
        return rc;
    struct store_user *users;
    unsigned n;
    if ((rc = store_pg_users_prefix(c->w->pg, c->a, c->user_id, prefix, (unsigned)limit, &users,
                                    &n)) < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_key(g, "users");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        gen_profile(g, &users[i]);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return api__reply_json(c, 200, g);
}

const struct api_route_def api__user_routes[] = {
    {"GET", "/v1/users", prefix_search, API_AUTH},
    {"GET", "/v1/users/{user}", profile_get, API_AUTH},
    {NULL, NULL, NULL, 0},
};
