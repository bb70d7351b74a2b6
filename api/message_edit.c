/* SPDX-License-Identifier: MIT */
/* Parley - editing and deleting a message (for everyone or for me).   */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/messages.h"

#include <inttypes.h>
#include <string.h>

#define TEXT_MAX 65536 /* bytes, as for sending */

struct act {
    int64_t conv, seq;
    const char *text; /* PATCH: the new text */
    bool for_me;      /* DELETE ?for=me */
    struct store_message out;
};

static int set_problem(struct api_call *c, int rc, const char *detail)
{
    api_problem_send(c->req, rc, detail);
    return rc;
}

static int read_target(struct api_call *c, struct act *x)
{
    if (api__conversation_id(c, &x->conv) < 0 || !api__parse_id(http_req_param(c->req, 1), &x->seq))
        return set_problem(c, PL_ENOTFOUND, "no such message");
    return 0;
}

/* Locks the message; 404 when the caller cannot see it. */
static int lock_target(struct api_call *c, const struct act *x, struct store_msg_target *t)
{
    int rc = store_pg_message_target(c->w->pg, c->a, x->conv, c->user_id, x->seq, t);
    if (rc == PL_ENOTFOUND)
        return set_problem(c, rc, "no such message");
    return rc;
}

/* The payload of message.edited and message.deleted: the message as it is
 * now (its text and media gone when deleted). */
static int emit_message(struct api_call *c, struct api_emit *em, const char *type,
                        const struct store_message *m)
{
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_int(g, "conversation_id", m->conversation_id);
    api__gen_int(g, "seq", m->seq);
    api__gen_int(g, "by", c->user_id);
    api__gen_key(g, "message");
    api__gen_message(g, m);
    yajl_gen_map_close(g);
    const char *payload = api__gen_take(c, g);
    return payload ? api__emit(em, type, m->conversation_id, 0, payload) : PL_ENOMEM;
}

static int edit_tx(struct api_call *c, void *arg, struct api_emit *em)
{
    struct act *x = arg;
    struct store_msg_target t;
    int rc = lock_target(c, x, &t);
    if (rc < 0)
        return rc;
    if (t.msg.sender_id != c->user_id)
        return set_problem(c, PL_EFORBIDDEN, "only the sender may edit a message");
    if (strcmp(t.msg.kind, "e2e") == 0)
        return set_problem(c, PL_ECONFLICT,
                           "messages of e2e conversations cannot be edited by the server");
    if (strcmp(t.msg.kind, "text") != 0)
        return set_problem(c, PL_ECONFLICT, "only text messages can be edited");
    if (t.age_us >= (int64_t)c->env->cfg->edit_window_s * 1000000)
        return set_problem(c, PL_ECONFLICT, "the edit window of this message has passed");
    if ((rc = store_pg_message_edit(c->w->pg, c->a, x->conv, x->seq, x->text, &x->out)) < 0)
        return rc;
    return emit_message(c, em, "message.edited", &x->out);
}

static int reply_message(struct api_call *c, const struct store_message *m)
{
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    api__gen_message(g, m);
    return api__reply_json(c, 200, g);
}

int api__message_patch(struct api_call *c)
{
    struct act x = {0};
    int rc = read_target(c, &x);
    if (rc < 0)
        return rc;
    const struct api_field fields[] = {{"text", API_FIELD_STRING, true, &x.text}};
    if ((rc = api__bind_body(c, fields, PL_ARRAY_LEN(fields))) < 0)
        return rc;
    if (x.text && (!*x.text || strlen(x.text) > TEXT_MAX))
        api_errors_add(&c->errs, "/text", "must be 1 to 65536 bytes of UTF-8");
    if (c->errs.n)
        return api__fail_validation(c);
    if ((rc = api__tx_emit(c, edit_tx, &x)) < 0)
        return rc;
    return reply_message(c, &x.out);
}

static int delete_tx(struct api_call *c, void *arg, struct api_emit *em)
{
    struct act *x = arg;
    struct store_msg_target t;
    int rc = lock_target(c, x, &t);
    if (rc < 0)
        return rc;
    if (x->for_me)
        return store_pg_message_hide(c->w->pg, x->conv, c->user_id, x->seq);
    bool own = t.msg.sender_id == c->user_id;
    if (!own && !t.viewer_admin)
        return set_problem(c, PL_EFORBIDDEN,
                           "only the sender or a group admin may delete a message for everyone");
    if (own && !t.viewer_admin && t.age_us >= (int64_t)c->env->cfg->delete_window_s * 1000000)
        return set_problem(c, PL_ECONFLICT, "the delete window of this message has passed");
    if (strcmp(t.msg.kind, "deleted") == 0)
        return 0; /* already erased: nothing more to announce */
    x->out = t.msg;
    if ((rc = store_pg_message_erase(c->w->pg, c->a, x->conv, x->seq, t.archived, &x->out)) < 0)
        return rc;
    return emit_message(c, em, "message.deleted", &x->out);
}

int api__message_delete(struct api_call *c)
{
    struct act x = {0};
    int rc = read_target(c, &x);
    if (rc < 0)
        return rc;
    const char *scope = http_req_query(c->req, "for");
    if (!scope || (strcmp(scope, "everyone") != 0 && strcmp(scope, "me") != 0))
        return set_problem(c, PL_EMALFORMED, "for must be \"everyone\" or \"me\"");
    x.for_me = strcmp(scope, "me") == 0;
    if ((rc = api__tx_emit(c, delete_tx, &x)) < 0)
        return rc;
    api__reply_raw(c, 204, NULL, "", 0);
    return 0;
}
