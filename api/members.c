/* SPDX-License-Identifier: MIT */
/* Parley - group members: PUT (add, change role) and DELETE (remove, leave). */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/blocks.h"
#include "storage/conversations.h"

#include <string.h>

#define DIRECT_DETAIL "the members of a direct conversation cannot change"

/* One membership change, filled in by the handler and its transaction. */
struct change {
    int64_t id, user;
    enum store_role role; /* PUT: the role asked for, NONE when not given */
    int status;           /* PUT: 201 added, 200 already a member */
    struct store_member m;
};

/* Conversation id, the caller's membership (404 before anything else, so
 * a non-member learns nothing) and the target user (404 when unknown). */
static int parse_target(struct api_call *c, struct change *ch)
{
    int rc = api__conversation_id(c, &ch->id);
    if (rc == 0)
        rc = api__require_member(c, ch->id, NULL);
    if (rc < 0)
        return rc;
    rc = api__resolve_user(c, http_req_param(c->req, 1), &ch->user);
    if (rc == PL_ENOTFOUND)
        api_problem_send(c->req, rc, "no such user");
    return rc;
}

static int emit_member(struct api_call *c, struct api_emit *em, const char *type,
                       const struct change *ch, int64_t target)
{
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_int(g, "conversation_id", ch->id);
    api__gen_int(g, "user_id", ch->user);
    if (ch->role != STORE_ROLE_NONE)
        api__gen_str(g, "role", store_pg_role_name(ch->role));
    api__gen_int(g, "by", c->user_id);
    yajl_gen_map_close(g);
    const char *payload = api__gen_take(c, g);
    return payload ? api__emit(em, type, ch->id, target, payload) : PL_ENOMEM;
}

static int forbidden(struct api_call *c, const char *detail)
{
    api_problem_send(c->req, PL_EFORBIDDEN, detail);
    return PL_EFORBIDDEN;
}

/* ---- PUT /v1/conversations/{id}/members/{user} ---- */

static int add_member(struct api_call *c, struct change *ch, const struct store_conv_lock *lk)
{
    unsigned max = c->env->cfg->group_max_members;
    if (lk->member_count + 1 > max)
        return api__fail_field(c, "",
                               pl_arena_sprintf(c->a, "the group already has %u members", max));
    if (ch->role == STORE_ROLE_NONE)
        ch->role = STORE_ROLE_MEMBER;
    int rc = api__invite_check(c, &ch->user, 1);
    if (rc == 0)
        rc = store_pg_members_add(c->w->pg, ch->id, &ch->user, 1, ch->role);
    if (rc == 0)
        rc = store_pg_requests_mark(c->w->pg, ch->id, c->user_id, &ch->user, 1);
    if (rc == 0)
        rc = store_pg_conv_touch(c->w->pg, ch->id, 1);
    ch->status = 201;
    return rc;
}

/* Sets ch->role to NONE when nothing changes (no event then). */
static int change_role(struct api_call *c, struct change *ch, const struct store_conv_lock *lk,
                       enum store_role cur)
{
    ch->status = 200;
    if (ch->role == STORE_ROLE_NONE || ch->role == cur) {
        ch->role = STORE_ROLE_NONE;
        return 0;
    }
    /* Stepping down would leave the group without anyone who can manage
     * it; leaving (DELETE) hands the role on instead. */
    if (cur == STORE_ROLE_ADMIN && lk->admin_count <= 1)
        return api__fail_field(c, "/role", "the last admin cannot step down; leave instead");
    int rc = store_pg_member_set_role(c->w->pg, ch->id, ch->user, ch->role);
    return rc < 0 ? rc : store_pg_conv_touch(c->w->pg, ch->id, 0);
}

static int put_tx(struct api_call *c, void *arg, struct api_emit *em)
{
    struct change *ch = arg;
    struct store_conv_lock lk;
    int rc = api__conv_lock_group(c, ch->id, &lk, DIRECT_DETAIL);
    if (rc < 0)
        return rc;
    if (lk.caller_role != STORE_ROLE_ADMIN)
        return forbidden(c, "only admins can add members or change roles");
    enum store_role cur;
    rc = store_pg_member_role(c->w->pg, ch->id, ch->user, &cur);
    if (rc == PL_ENOTFOUND)
        rc = add_member(c, ch, &lk);
    else if (rc == 0)
        rc = change_role(c, ch, &lk, cur);
    if (rc == 0)
        rc = store_pg_member_get(c->w->pg, c->a, ch->id, ch->user, &ch->m);
    /* A role change is announced as member.added with the new role. */
    if (rc == 0 && ch->role != STORE_ROLE_NONE)
        rc = emit_member(c, em, "member.added", ch, 0);
    return rc;
}

/* The optional body {role}. An empty body means "no role given". */
static int parse_role(struct api_call *c, enum store_role *role)
{
    size_t len;
    http_req_body(c->req, &len);
    *role = STORE_ROLE_NONE;
    if (len == 0)
        return 0;
    const char *r = NULL;
    const struct api_field fields[] = {{"role", API_FIELD_STRING, false, &r}};
    int rc = api__bind_body(c, fields, PL_ARRAY_LEN(fields));
    if (rc < 0)
        return rc;
    if (r && strcmp(r, "admin") == 0)
        *role = STORE_ROLE_ADMIN;
    else if (r && strcmp(r, "member") == 0)
        *role = STORE_ROLE_MEMBER;
    else if (r)
        api_errors_add(&c->errs, "/role", "must be \"admin\" or \"member\"");
    return c->errs.n ? api__fail_validation(c) : 0;
}

int api_members_put(struct api_call *c)
{
    struct change ch = {0};
    int rc = parse_target(c, &ch);
    if (rc == 0)
        rc = parse_role(c, &ch.role);
    if (rc == 0)
        rc = api__tx_emit(c, put_tx, &ch);
    if (rc < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    api__gen_member(g, &ch.m);
    return api__reply_json(c, ch.status, g);
}

/* ---- DELETE /v1/conversations/{id}/members/{user} ---- */

static int delete_tx(struct api_call *c, void *arg, struct api_emit *em)
{
    struct change *ch = arg;
    struct store_conv_lock lk;
    int rc = api__conv_lock_group(c, ch->id, &lk, DIRECT_DETAIL);
    if (rc < 0)
        return rc;
    if (ch->user != c->user_id && lk.caller_role != STORE_ROLE_ADMIN)
        return forbidden(c, "only admins can remove other members");
    enum store_role was;
    rc = store_pg_member_remove(c->w->pg, ch->id, ch->user, &was);
    if (rc == PL_ENOTFOUND) {
        api_problem_send(c->req, rc, "that user is not a member");
        return rc;
    }
    if (rc == 0)
        rc = store_pg_conv_touch(c->w->pg, ch->id, -1);
    /* The promotion is not announced: it shows in GET, and clients learn
     * of the removal, which is when they refetch anyway. */
    int64_t promoted;
    if (rc == 0 && was == STORE_ROLE_ADMIN)
        rc = store_pg_member_promote_oldest(c->w->pg, ch->id, &promoted);
    /* The removed user is the target: no longer a member, it still has to
     * learn that it was removed. */
    return rc < 0 ? rc : emit_member(c, em, "member.removed", ch, ch->user);
}

int api_members_delete(struct api_call *c)
{
    struct change ch = {0};
    int rc = parse_target(c, &ch);
    if (rc == 0)
        rc = api__tx_emit(c, delete_tx, &ch);
    if (rc < 0)
        return rc;
    api__reply_raw(c, 204, NULL, "", 0);
    return 0;
}
