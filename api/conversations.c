/* SPDX-License-Identifier: MIT */
/* Parley - conversations: list, read, rename; shared conversation helpers. */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/conversations.h"
#include "storage/expiry.h"

#include "common/ids.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TITLE_MAX 128
#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX 100

/* ---- pure helpers ---- */

bool api__parse_id(const char *s, int64_t *out)
{
    if (!s || !*s || strspn(s, "0123456789") != strlen(s))
        return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno || v <= 0)
        return false;
    *out = v;
    return true;
}

void api__conv_cursor_format(char *buf, size_t size, int64_t activity_us, int64_t id)
{
    snprintf(buf, size, "%" PRId64 ".%" PRId64, activity_us, id);
}

/* The cursor is opaque to clients, but it is still input: exactly two
 * decimal numbers around one dot, nothing else. */
bool api__conv_cursor_parse(const char *s, int64_t *activity_us, int64_t *id)
{
    const char *dot = s ? strchr(s, '.') : NULL;
    if (!dot || dot == s || dot - s > 19)
        return false;
    char head[20];
    memcpy(head, s, (size_t)(dot - s));
    head[dot - s] = '\0';
    int64_t us;
    if (strcmp(head, "0") == 0)
        us = 0;
    else if (!api__parse_id(head, &us))
        return false;
    if (!api__parse_id(dot + 1, id))
        return false;
    *activity_us = us;
    return true;
}

/* Could s name a user: a decimal id, or something shaped like a username?
 * Anything else is unknown without asking PostgreSQL (which would also
 * refuse invalid UTF-8 from a percent-decoded path). */
static bool plausible_ref(const char *s)
{
    size_t n = strlen(s);
    if (n >= 1 && n <= 18 && strspn(s, "0123456789") == n)
        return true;
    return api__valid_username(s);
}

/* ---- shared by the conversation files ---- */

const char *api__gen_take(struct api_call *c, yajl_gen g)
{
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    const char *s = pl_arena_strndup(c->a, (const char *)buf, len);
    yajl_gen_free(g);
    return s;
}

int api__fail_field(struct api_call *c, const char *pointer, const char *detail)
{
    api_errors_add(&c->errs, pointer, detail);
    struct api_problem p = {.rc = PL_EINVAL, .offset = -1, .errors = &c->errs, .detail = detail};
    /* The same "<pointer> <detail>" form as api__fail_validation(). */
    if (*pointer)
        p.detail = pl_arena_sprintf(c->a, "%s %s", pointer, detail);
    api_problem_sendx(c->req, &p);
    return PL_EINVAL;
}

int api__tx_emit(struct api_call *c, api_tx_fn *fn, void *arg)
{
    struct store_pg *pg = c->w->pg;
    struct api_emit em = {.n = 0};
    int rc = store_pg_tx_begin(pg);
    if (rc < 0)
        return rc;
    if ((rc = fn(c, arg, &em)) == 0 && (rc = api__emit_store(c, &em)) == 0 &&
        (rc = store_pg_tx_commit(pg)) == 0) {
        api__emit_publish(c, &em);
        return 0;
    }
    store_pg_tx_rollback(pg);
    return rc;
}

int api__conversation_not_found(struct api_call *c)
{
    api_problem_send(c->req, PL_ENOTFOUND, "no such conversation");
    return PL_ENOTFOUND;
}

int api__conversation_id(struct api_call *c, int64_t *id)
{
    if (!api__parse_id(http_req_param(c->req, 0), id))
        return api__conversation_not_found(c);
    return 0;
}

int api__require_member(struct api_call *c, int64_t conversation_id, bool *is_admin)
{
    enum store_role role;
    int rc = store_pg_member_role(c->w->pg, conversation_id, c->user_id, &role);
    if (rc == PL_ENOTFOUND)
        return api__conversation_not_found(c);
    if (rc == 0 && is_admin)
        *is_admin = role == STORE_ROLE_ADMIN;
    return rc;
}

int api__resolve_users(struct api_call *c, const char **refs, unsigned n, int64_t *ids)
{
    for (unsigned i = 0; i < n; i++) {
        ids[i] = 0;
        if (!plausible_ref(refs[i]))
            refs[i] = ""; /* matches no user */
    }
    return store_pg_users_resolve(c->w->pg, c->a, refs, n, ids);
}

int api__resolve_user(struct api_call *c, const char *id_or_name, int64_t *user_id)
{
    if (!id_or_name)
        return PL_ENOTFOUND;
    int64_t id;
    int rc = api__resolve_users(c, &id_or_name, 1, &id);
    if (rc < 0)
        return rc;
    if (id == 0)
        return PL_ENOTFOUND;
    *user_id = id;
    return 0;
}

int api__conv_lock_group(struct api_call *c, int64_t id, struct store_conv_lock *lk,
                         const char *direct_detail)
{
    int rc = store_pg_conv_lock(c->w->pg, id, c->user_id, lk);
    if (rc == PL_ENOTFOUND || (rc == 0 && lk->caller_role == STORE_ROLE_NONE))
        return api__conversation_not_found(c);
    if (rc == 0 && !lk->is_group)
        return api__fail_field(c, "", direct_detail);
    return rc;
}

void api__gen_member(yajl_gen g, const struct store_member *m)
{
    yajl_gen_map_open(g);
    api__gen_int(g, "user_id", m->user_id);
    api__gen_str(g, "username", m->username);
    api__gen_str(g, "display_name", m->display_name);
    api__gen_deleted(g, m->username);
    api__gen_str(g, "role", store_pg_role_name(m->role));
    api__gen_str(g, "joined_at", m->joined_at);
    yajl_gen_map_close(g);
}

/* The fields that depend on who looks: left out of events, which every
 * member receives alike. */
static void gen_viewer_fields(yajl_gen g, const struct store_conv *cv)
{
    api__gen_str(g, "my_role", store_pg_role_name(cv->my_role));
    api__gen_int(g, "unread_count", cv->unread_count);
    api__gen_key(g, "last_message");
    if (cv->has_last_message)
        api__gen_message(g, &cv->last_message);
    else
        yajl_gen_null(g);
    /* Message requests, pin and mute (issue 12). */
    api__gen_key(g, "request_from");
    if (cv->request_from)
        yajl_gen_integer(g, cv->request_from);
    else
        yajl_gen_null(g);
    api__gen_key(g, "pinned");
    yajl_gen_bool(g, cv->pinned_at && *cv->pinned_at);
    api__gen_key(g, "muted_until");
    if (cv->muted_until && *cv->muted_until)
        yajl_gen_string(g, (const unsigned char *)cv->muted_until, strlen(cv->muted_until));
    else
        yajl_gen_null(g);
    api__gen_key(g, "expire_after");
    if (cv->expire_after)
        yajl_gen_integer(g, cv->expire_after);
    else
        yajl_gen_null(g);
}

void api__gen_conversation(yajl_gen g, const struct store_conv *cv, bool viewer,
                           const struct store_member *members, unsigned n_members)
{
    yajl_gen_map_open(g);
    api__gen_int(g, "id", cv->id);
    api__gen_str(g, "kind", cv->is_group ? "group" : "direct");
    api__gen_key(g, "title");
    if (cv->title)
        yajl_gen_string(g, (const unsigned char *)cv->title, strlen(cv->title));
    else
        yajl_gen_null(g);
    api__gen_str(g, "encryption", cv->encryption);
    api__gen_str(g, "created_at", cv->created_at);
    api__gen_str(g, "updated_at", cv->updated_at);
    api__gen_int(g, "last_seq", cv->last_seq);
    api__gen_int(g, "member_count", cv->member_count);
    if (viewer)
        gen_viewer_fields(g, cv);
    if (!cv->is_group) {
        api__gen_key(g, "peer");
        if (cv->has_peer) {
            yajl_gen_map_open(g);
            api__gen_int(g, "id", cv->peer.id);
            api__gen_str(g, "username", cv->peer.username);
            api__gen_str(g, "display_name", cv->peer.display_name);
            api__gen_deleted(g, cv->peer.username);
            yajl_gen_map_close(g);
        } else {
            yajl_gen_null(g); /* the other user's account is gone */
        }
    }
    if (members) {
        api__gen_key(g, "members");
        yajl_gen_array_open(g);
        for (unsigned i = 0; i < n_members; i++)
            api__gen_member(g, &members[i]);
        yajl_gen_array_close(g);
    }
    yajl_gen_map_close(g);
}

int api__reply_conversation(struct api_call *c, int status, const struct store_conv *cv,
                            const struct store_member *members, unsigned n_members)
{
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    api__gen_conversation(g, cv, true, members, n_members);
    return api__reply_json(c, status, g);
}

/* ---- GET /v1/conversations ---- */

static int bad_query(struct api_call *c, const char *detail)
{
    api_problem_send(c->req, PL_EMALFORMED, detail);
    return PL_EMALFORMED;
}

static int list_params(struct api_call *c, unsigned *limit, struct store_conv_cursor *cur,
                       bool *has_cursor)
{
    const char *l = http_req_query(c->req, "limit");
    const char *s = http_req_query(c->req, "cursor");
    int64_t v = LIST_LIMIT_DEFAULT;
    if (l && (!api__parse_id(l, &v) || v > LIST_LIMIT_MAX))
        return bad_query(c, "limit must be an integer from 1 to 100");
    *limit = (unsigned)v;
    *has_cursor = s && *s;
    if (*has_cursor && !api__conv_cursor_parse(s, &cur->activity_us, &cur->id))
        return bad_query(c, "cursor is not one this server handed out");
    return 0;
}

int api_conversations_list(struct api_call *c)
{
    unsigned limit;
    struct store_conv_cursor cur;
    bool has_cursor;
    int rc = list_params(c, &limit, &cur, &has_cursor);
    if (rc < 0)
        return rc;
    /* One row more than asked tells whether another page exists. */
    struct store_conv *v;
    unsigned n;
    const struct store_conv_cursor *after = has_cursor ? &cur : NULL;
    API_READ(c, pg, rc, store_pg_conv_list(pg, c->a, c->user_id, after, limit + 1, &v, &n));
    if (rc < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_key(g, "conversations");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < n && i < limit; i++)
        api__gen_conversation(g, &v[i], true, NULL, 0);
    yajl_gen_array_close(g);
    api__gen_key(g, "next_cursor");
    if (n > limit) {
        char buf[48];
        api__conv_cursor_format(buf, sizeof(buf), v[limit - 1].activity_us, v[limit - 1].id);
        yajl_gen_string(g, (const unsigned char *)buf, strlen(buf));
    } else {
        yajl_gen_null(g);
    }
    yajl_gen_map_close(g);
    return api__reply_json(c, 200, g);
}

/* ---- GET /v1/conversations/{id} ---- */

int api_conversations_get(struct api_call *c)
{
    int64_t id;
    int rc = api__conversation_id(c, &id);
    if (rc < 0)
        return rc;
    struct store_conv cv;
    rc = store_pg_conv_get(c->w->pg, c->a, c->user_id, id, &cv);
    if (rc == PL_ENOTFOUND)
        return api__conversation_not_found(c);
    if (rc < 0)
        return rc;
    struct store_member *m;
    unsigned n;
    if ((rc = store_pg_members_list(c->w->pg, c->a, id, &m, &n)) < 0)
        return rc;
    return api__reply_conversation_archive(c, &cv, m, n);
}

/* ---- PATCH /v1/conversations/{id} ---- */

/* A title (groups, admins) and/or the disappearing-messages timer (direct:
 * either member; groups: admins), both announced by conversation.updated. */
struct update {
    int64_t id;
    const char *title;
    bool set_expire;
    int64_t expire_after; /* seconds, 0: off */
    struct store_conv cv; /* the result, as the caller sees it */
};

static int update_event(struct api_call *c, struct api_emit *em, const struct update *u)
{
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_int(g, "conversation_id", u->id);
    if (u->title)
        api__gen_str(g, "title", u->title);
    if (u->set_expire) {
        api__gen_key(g, "expire_after");
        u->expire_after ? yajl_gen_integer(g, u->expire_after) : yajl_gen_null(g);
        api__gen_int(g, "by", c->user_id);
    }
    yajl_gen_map_close(g);
    const char *payload = api__gen_take(c, g);
    return payload ? api__emit(em, "conversation.updated", u->id, 0, payload) : PL_ENOMEM;
}

static int update_tx(struct api_call *c, void *arg, struct api_emit *em)
{
    struct update *u = arg;
    struct store_conv_lock lk;
    int rc = u->title ? api__conv_lock_group(c, u->id, &lk, "direct conversations have no title")
                      : store_pg_conv_lock(c->w->pg, u->id, c->user_id, &lk);
    if (rc == 0 && lk.caller_role == STORE_ROLE_NONE)
        rc = api__conversation_not_found(c);
    if (rc < 0)
        return rc;
    if (lk.is_group && lk.caller_role != STORE_ROLE_ADMIN) {
        api_problem_send(c->req, PL_EFORBIDDEN, "only admins can change a group's settings");
        return PL_EFORBIDDEN;
    }
    if (u->title && (rc = store_pg_conv_set_title(c->w->pg, u->id, u->title)) < 0)
        return rc;
    if (u->set_expire &&
        (rc = store_pg_conv_expire_set(c->w->pg, u->id, (unsigned)u->expire_after,
                                       u->expire_after * (int64_t)c->env->cfg->expire_unit_ms)) < 0)
        return rc;
    if ((rc = store_pg_conv_get(c->w->pg, c->a, c->user_id, u->id, &u->cv)) < 0)
        return rc;
    return update_event(c, em, u);
}

/* expire_after: null (off) or one of the allowed timers. null counts as
 * absent for api__bind_body, hence the member is read by hand. */
static void read_expire(struct api_call *c, const struct api_json *body, struct update *u)
{
    static const int64_t allowed[] = {3600, 86400, 604800, 7776000};
    const struct api_json *v = api_json_get(body, "expire_after");
    if (!v)
        return;
    u->set_expire = true;
    if (v->type == API_JSON_NULL)
        return;
    bool ok = api_json_int(v, &u->expire_after);
    for (size_t i = 0; ok && i < PL_ARRAY_LEN(allowed); i++)
        if (u->expire_after == allowed[i])
            return;
    api_errors_add(&c->errs, "/expire_after", "must be null, 3600, 86400, 604800 or 7776000");
}

int api_conversations_update(struct api_call *c)
{
    struct update u = {0};
    int rc = api__conversation_id(c, &u.id);
    /* Membership first: a non-member learns nothing, not even whether
     * its body would have been valid. */
    if (rc == 0)
        rc = api__require_member(c, u.id, NULL);
    const struct api_json *body = NULL;
    if (rc == 0)
        rc = api__body_object(c, &body);
    if (rc < 0)
        return rc;
    const struct api_json *expire = NULL;
    const struct api_field fields[] = {{"title", API_FIELD_STRING, false, &u.title},
                                       {"expire_after", API_FIELD_ANY, false, &expire}};
    if ((rc = api_json_bind(c->a, body, fields, PL_ARRAY_LEN(fields), &c->errs)) < 0)
        return rc;
    read_expire(c, body, &u);
    if (u.title && !api__valid_display_text(u.title, TITLE_MAX))
        api_errors_add(&c->errs, "/title",
                       "must be 1 to 128 characters without control characters");
    if (!c->errs.n && !u.title && !u.set_expire)
        api_errors_add(&c->errs, "", "give title, expire_after or both");
    if (c->errs.n)
        return api__fail_validation(c);
    if ((rc = api__tx_emit(c, update_tx, &u)) < 0)
        return rc;
    return api__reply_conversation(c, 200, &u.cv, NULL, 0);
}

const struct api_route_def api__conversation_routes[] = {
    {"POST", "/v1/conversations", api_conversations_create, API_AUTH},
    {"GET", "/v1/conversations", api_conversations_list, API_AUTH},
    {"GET", "/v1/conversations/{id}", api_conversations_get, API_AUTH},
    {"PATCH", "/v1/conversations/{id}", api_conversations_update, API_AUTH},
    {"PATCH", "/v1/conversations/{id}/settings", api_conversation_settings_patch, API_AUTH},
    {"PUT", "/v1/conversations/{id}/members/{user}", api_members_put, API_AUTH},
    {"DELETE", "/v1/conversations/{id}/members/{user}", api_members_delete, API_AUTH},
    {NULL, NULL, NULL, 0},
};
