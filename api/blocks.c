/* SPDX-License-Identifier: MIT */
/* Parley - blocks (/v1/me/blocks) and message requests (/v1/requests). */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/blocks.h"
#include "storage/conversations.h"

#include <inttypes.h>
#include <string.h>

#define REQUESTS_MAX 100 /* one page; requests past it wait for the next call */

int api__blocked(struct api_call *c)
{
    struct api_problem p = {
        .rc = PL_EFORBIDDEN, .slug = "blocked", .offset = -1, .detail = "this user blocked you"};
    api_problem_sendx(c->req, &p);
    return PL_EFORBIDDEN;
}

int api__invite_check(struct api_call *c, const int64_t *ids, unsigned n)
{
    int64_t *refused;
    unsigned k;
    int rc = store_pg_invite_refusals(c->w->pg, c->a, c->user_id, ids, n,
                                      c->env->cfg->requests_hold_invites, &refused, &k);
    if (rc < 0 || k == 0)
        return rc;
    bool blocked;
    if ((rc = store_pg_block_exists(c->w->pg, refused[0], c->user_id, &blocked)) < 0)
        return rc;
    struct api_problem p = {.rc = PL_EFORBIDDEN, .offset = -1};
    p.slug = blocked ? "blocked" : "request-pending";
    p.detail = pl_arena_sprintf(c->a,
                                blocked ? "user %" PRId64 " blocked you"
                                        : "user %" PRId64 " has not accepted your earlier request",
                                refused[0]);
    api_problem_sendx(c->req, &p);
    return PL_EFORBIDDEN;
}

/* ---- /v1/me/blocks ---- */

/* The {user} parameter (the route's first); 404 set when unknown, 422 for
 * oneself. */
static int block_target(struct api_call *c, int64_t *user)
{
    int rc = api__resolve_user(c, http_req_param(c->req, 0), user);
    if (rc == PL_ENOTFOUND)
        api_problem_send(c->req, rc, "no such user");
    if (rc == 0 && *user == c->user_id)
        return api__fail_field(c, "", "you cannot block yourself");
    return rc;
}

struct block_put {
    int64_t user;
    bool created;
};

static int block_tx(struct api_call *c, void *arg, struct api_emit *em)
{
    (void)em;
    struct block_put *b = arg;
    int64_t *declined;
    unsigned n;
    return store_pg_block_put(c->w->pg, c->a, c->user_id, b->user, &b->created, &declined, &n);
}

static int api_blocks_put(struct api_call *c)
{
    struct block_put b = {0};
    int rc = block_target(c, &b.user);
    if (rc == 0)
        rc = api__tx_emit(c, block_tx, &b);
    if (rc < 0)
        return rc;
    api__reply_raw(c, 204, NULL, "", 0);
    return 0;
}

static int api_blocks_delete(struct api_call *c)
{
    int64_t user;
    bool existed;
    int rc = block_target(c, &user);
    if (rc == 0)
        rc = store_pg_block_delete(c->w->pg, c->user_id, user, &existed);
    if (rc < 0)
        return rc;
    api__reply_raw(c, 204, NULL, "", 0);
    return 0;
}

static int api_blocks_list(struct api_call *c)
{
    struct store_block *v;
    unsigned n;
    int rc = store_pg_blocks_list(c->w->pg, c->a, c->user_id, &v, &n);
    if (rc < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_key(g, "blocks");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        api__gen_int(g, "user_id", v[i].user_id);
        api__gen_str(g, "username", v[i].username);
        api__gen_str(g, "blocked_at", v[i].created_at);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return api__reply_json(c, 200, g);
}

/* ---- /v1/requests ---- */

static int api_requests_list(struct api_call *c)
{
    struct store_conv *v;
    unsigned n;
    int rc = store_pg_conv_requests(c->w->pg, c->a, c->user_id, REQUESTS_MAX, &v, &n);
    if (rc < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_key(g, "requests");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < n; i++)
        api__gen_conversation(g, &v[i], true, NULL, 0);
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return api__reply_json(c, 200, g);
}

static int no_request(struct api_call *c)
{
    api_problem_send(c->req, PL_ENOTFOUND, "no such message request");
    return PL_ENOTFOUND;
}

static int api_requests_accept(struct api_call *c)
{
    int64_t id;
    int rc = api__conversation_id(c, &id);
    if (rc < 0)
        return rc;
    rc = store_pg_request_accept(c->w->pg, id, c->user_id);
    if (rc == PL_ENOTFOUND)
        return no_request(c);
    struct store_conv cv;
    if (rc < 0 || (rc = store_pg_conv_get(c->w->pg, c->a, c->user_id, id, &cv)) < 0)
        return rc;
    return api__reply_conversation(c, 200, &cv, NULL, 0);
}

/* Declining leaves the conversation without an event: the opener of a
 * direct request is not told, and a group sees the member gone from its
 * list. */
static int decline_tx(struct api_call *c, void *arg, struct api_emit *em)
{
    (void)em;
    const int64_t *id = arg;
    struct store_conv_lock lk;
    int rc = store_pg_conv_lock(c->w->pg, *id, c->user_id, &lk);
    if (rc == 0)
        rc = store_pg_request_decline(c->w->pg, *id, c->user_id);
    return rc == PL_ENOTFOUND ? no_request(c) : rc;
}

static int api_requests_decline(struct api_call *c)
{
    int64_t id;
    int rc = api__conversation_id(c, &id);
    if (rc == 0)
        rc = api__tx_emit(c, decline_tx, &id);
    if (rc < 0)
        return rc;
    api__reply_raw(c, 204, NULL, "", 0);
    return 0;
}

const struct api_route_def api__block_routes[] = {
    {"GET", "/v1/me/blocks", api_blocks_list, API_AUTH},
    {"PUT", "/v1/me/blocks/{user}", api_blocks_put, API_AUTH},
    {"DELETE", "/v1/me/blocks/{user}", api_blocks_delete, API_AUTH},
    {"GET", "/v1/requests", api_requests_list, API_AUTH},
    {"POST", "/v1/requests/{id}/accept", api_requests_accept, API_AUTH},
    {"POST", "/v1/requests/{id}/decline", api_requests_decline, API_AUTH},
    {NULL, NULL, NULL, 0},
};
