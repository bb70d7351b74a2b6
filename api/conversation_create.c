/* SPDX-License-Identifier: MIT */
/* Parley - POST /v1/conversations: direct and group conversations.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/blocks.h"
#include "storage/conversations.h"

#include "common/ids.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define TITLE_MAX 128

/* A "user" / "members[]" value as a reference for api__resolve_users(): a
 * positive integer id or a string. NULL for any other JSON value. */
static const char *json_ref(struct api_call *c, const struct api_json *v)
{
    int64_t id;
    if (v->type == API_JSON_STRING && strlen(v->str) == v->len)
        return v->str;
    if (api_json_int(v, &id) && id > 0)
        return pl_arena_sprintf(c->a, "%" PRId64, id);
    return NULL;
}

/* The conversation.created payload for one audience: the conversation
 * without the viewer's fields (a direct one keeps its peer, which is why
 * each of its two members gets an event of its own). */
static int emit_created(struct api_call *c, struct api_emit *em, const struct store_conv *cv,
                        int64_t target)
{
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_key(g, "conversation");
    api__gen_conversation(g, cv, false, NULL, 0);
    yajl_gen_map_close(g);
    const char *payload = api__gen_take(c, g);
    if (!payload)
        return PL_ENOMEM;
    /* Targeted events carry no conversation id: their audience is the
     * target alone, not the members. */
    return api__emit(em, "conversation.created", target ? 0 : cv->id, target, payload);
}

static int reply_created(struct api_call *c, int status, const struct store_conv *cv)
{
    char loc[48];
    snprintf(loc, sizeof(loc), "/v1/conversations/%" PRId64, cv->id);
    int rc = status == 201 ? http_resp_header(c->req, "Location", loc) : 0;
    return rc < 0 ? rc : api__reply_conversation(c, status, cv, NULL, 0);
}

/* ---- direct ---- */

struct direct {
    int64_t other;
    const char *encryption;
    bool created;
    struct store_conv cv;
};

static int direct_tx(struct api_call *c, void *arg, struct api_emit *em)
{
    struct direct *d = arg;
    struct store_pg *pg = c->w->pg;
    int64_t id;
    int rc = store_pg_conv_open_direct(pg, c->user_id, d->other, d->encryption, &id, &d->created);
    if (rc == 0)
        rc = store_pg_conv_get(pg, c->a, c->user_id, id, &d->cv);
    /* The caller declined this conversation's request once: opening it
     * again is joining it again, accepted. */
    if (rc == PL_ENOTFOUND && !d->created) {
        struct store_conv_lock lk;
        if ((rc = store_pg_conv_lock(pg, id, c->user_id, &lk)) == 0 &&
            (rc = store_pg_members_add(pg, id, &c->user_id, 1, STORE_ROLE_MEMBER)) == 0)
            rc = store_pg_conv_get(pg, c->a, c->user_id, id, &d->cv);
    }
    if (rc < 0 || !d->created)
        return rc;
    /* A stranger's first chat arrives as a message request. */
    if ((rc = store_pg_requests_mark(pg, id, c->user_id, &d->other, 1)) < 0)
        return rc;
    struct store_conv theirs;
    if ((rc = store_pg_conv_get(pg, c->a, d->other, id, &theirs)) < 0 ||
        (rc = emit_created(c, em, &d->cv, c->user_id)) < 0)
        return rc;
    return emit_created(c, em, &theirs, d->other);
}

static int create_direct(struct api_call *c, const struct api_json *user, const char *encryption)
{
    const char *ref = json_ref(c, user);
    if (!ref)
        return api__fail_field(c, "/user", "must be a user id or a username");
    struct direct d = {.encryption = encryption};
    int rc = api__resolve_user(c, ref, &d.other);
    if (rc == PL_ENOTFOUND)
        return api__fail_field(c, "/user", "no such user");
    if (rc < 0)
        return rc;
    if (d.other == c->user_id)
        return api__fail_field(c, "/user", "must be someone else");
    bool blocked;
    if ((rc = store_pg_block_exists(c->w->pg, d.other, c->user_id, &blocked)) < 0)
        return rc;
    if (blocked)
        return api__blocked(c);
    if ((rc = api__tx_emit(c, direct_tx, &d)) < 0)
        return rc;
    return reply_created(c, d.created ? 201 : 200, &d.cv);
}

/* ---- group ---- */

struct group {
    const char *title;
    const char *encryption;
    int64_t *ids; /* the other members: unique, without the creator */
    unsigned n;
    struct store_conv cv;
};

static int member_error(struct api_call *c, unsigned i, const char *detail)
{
    const char *ptr = pl_arena_sprintf(c->a, "/members/%u", i);
    if (!ptr)
        return PL_ENOMEM;
    api_errors_add(&c->errs, ptr, detail);
    return 0;
}

/* Resolves members[] into ids, recording a 422 error per bad entry. */
static int resolve_members(struct api_call *c, const struct api_json *arr, struct group *gr)
{
    unsigned n = arr ? arr->n : 0;
    const char **refs = pl_arena_alloc(c->a, (n ? n : 1) * sizeof(*refs));
    gr->ids = pl_arena_alloc(c->a, (n ? n : 1) * sizeof(*gr->ids));
    if (!refs || !gr->ids)
        return PL_ENOMEM;
    unsigned i = 0;
    int rc = 0;
    for (const struct api_json *v = arr ? arr->first : NULL; v && rc == 0; v = v->next, i++)
        if (!(refs[i] = json_ref(c, v)))
            rc = member_error(c, i, "must be a user id or a username");
    if (rc == 0 && c->errs.n)
        return api__fail_validation(c);
    if (rc == 0)
        rc = api__resolve_users(c, refs, n, gr->ids);
    for (i = 0; rc == 0 && i < n; i++)
        if (gr->ids[i] == 0)
            rc = member_error(c, i, "no such user");
    if (rc < 0)
        return rc;
    if (c->errs.n)
        return api__fail_validation(c);
    /* Duplicates and the creator are dropped rather than refused: the
     * list says who should end up in the group. */
    gr->n = pl_ids_unique(gr->ids, n, c->user_id);
    return 0;
}

static int group_tx(struct api_call *c, void *arg, struct api_emit *em)
{
    struct group *gr = arg;
    struct store_pg *pg = c->w->pg;
    int64_t id;
    int rc = store_pg_conv_create_group(pg, gr->title, gr->encryption, c->user_id, gr->n + 1, &id);
    if (rc == 0)
        rc = store_pg_members_add(pg, id, &c->user_id, 1, STORE_ROLE_ADMIN);
    if (rc == 0)
        rc = store_pg_members_add(pg, id, gr->ids, gr->n, STORE_ROLE_MEMBER);
    if (rc == 0)
        rc = store_pg_requests_mark(pg, id, c->user_id, gr->ids, gr->n);
    if (rc == 0)
        rc = store_pg_conv_get(pg, c->a, c->user_id, id, &gr->cv);
    return rc < 0 ? rc : emit_created(c, em, &gr->cv, 0);
}

static int create_group(struct api_call *c, const char *title, const struct api_json *members,
                        const char *encryption)
{
    if (!api__valid_display_text(title, TITLE_MAX))
        api_errors_add(&c->errs, "/title",
                       "must be 1 to 128 characters without control characters");
    if (members && members->type != API_JSON_ARRAY)
        api_errors_add(&c->errs, "/members", "must be an array of user ids or usernames");
    /* Refused before any name is resolved: the cap bounds the lookup. */
    else if (members && members->n > c->env->cfg->group_max_members)
        api_errors_add(&c->errs, "/members",
                       pl_arena_sprintf(c->a, "a group has at most %u members, you included",
                                        c->env->cfg->group_max_members));
    if (c->errs.n)
        return api__fail_validation(c);
    struct group gr = {.title = title, .encryption = encryption};
    int rc = resolve_members(c, members, &gr);
    if (rc < 0)
        return rc;
    unsigned max = c->env->cfg->group_max_members;
    if (gr.n + 1 > max)
        return api__fail_field(
            c, "/members",
            pl_arena_sprintf(c->a, "a group has at most %u members, you included", max));
    if ((rc = api__invite_check(c, gr.ids, gr.n)) < 0)
        return rc;
    if ((rc = api__limit_user(c, API_LIMIT_GROUPS, c->user_id, 1)) < 0)
        return rc;
    if ((rc = api__tx_emit(c, group_tx, &gr)) < 0)
        return rc;
    return reply_created(c, 201, &gr.cv);
}

int api_conversations_create(struct api_call *c)
{
    const char *kind = NULL, *title = NULL, *encryption = "none";
    const struct api_json *user = NULL, *members = NULL;
    const struct api_field fields[] = {
        {"kind", API_FIELD_STRING, true, &kind},
        {"user", API_FIELD_ANY, false, &user},
        {"title", API_FIELD_STRING, false, &title},
        {"members", API_FIELD_ANY, false, &members},
        {"encryption", API_FIELD_STRING, false, &encryption},
    };
    int rc = api__bind_body(c, fields, PL_ARRAY_LEN(fields));
    if (rc < 0)
        return rc;
    bool direct = kind && strcmp(kind, "direct") == 0;
    bool group = kind && strcmp(kind, "group") == 0;
    if (kind && !direct && !group)
        api_errors_add(&c->errs, "/kind", "must be \"direct\" or \"group\"");
    if (direct && !user)
        api_errors_add(&c->errs, "/user", "is required");
    if (direct && title)
        api_errors_add(&c->errs, "/title", "only groups have a title");
    if (direct && members)
        api_errors_add(&c->errs, "/members", "only groups take a member list");
    if (group && user)
        api_errors_add(&c->errs, "/user", "only direct conversations take a user");
    if (group && !title)
        api_errors_add(&c->errs, "/title", "is required");
    if (strcmp(encryption, "none") != 0 && strcmp(encryption, "e2e") != 0)
        api_errors_add(&c->errs, "/encryption", "must be \"none\" or \"e2e\"");
    if (c->errs.n)
        return api__fail_validation(c);
    return direct ? create_direct(c, user, encryption)
                  : create_group(c, title, members, encryption);
}
