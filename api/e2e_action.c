/* SPDX-License-Identifier: MIT */
/* Parley - e2e edits and reactions: the clear action marker of an      */
/* encrypted envelope and the rules the server enforces for it.         */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/messages.h"

#include <string.h>

/*
 * In an e2e conversation the server cannot read an edit's new text or a
 * reaction's emoji, so both travel as ordinary e2e messages (one new seq,
 * the same fan-out, write-ahead outbox and idempotency as any send) whose
 * envelope names, in the clear, what they act on: "refers_to": seq and
 * "action": "edit" | "reaction" (crypto/PROTOCOL.md, "Edits and
 * reactions"). That much the server learns, and with it enforces what it
 * enforces for plain chats: the message exists and the caller can see it,
 * it is not deleted nor itself an action, an edit comes from the
 * message's sender within edit_window. It then records edited_at on the
 * target, so history shows that seq N was edited. "One reaction per user
 * per message" holds by construction: a reaction envelope carries the
 * user's whole reaction to seq N (an emoji, or none), and the latest one
 * from that user replaces the earlier ones on every client.
 *
 * The check runs in its own transaction before the send is queued for the
 * writer, so a delete of the target may slip in between; the envelope
 * then refers to a deleted message and clients ignore it. A retry of a
 * send that was stored already skips the check (the window may have
 * passed since): the writer answers it with the stored message.
 */

struct action {
    int64_t conv, seq;
    const char *what, *cmid;
};

int api__e2e_action_read(struct api_call *c, const struct api_json *v, struct api_e2e_action *out)
{
    const struct api_json *r = api_json_get(v, "refers_to"), *a = api_json_get(v, "action");
    *out = (struct api_e2e_action){0};
    if (!r && !a)
        return 0;
    if (!r || !api_json_int(r, &out->refers_to) || out->refers_to < 1)
        api_errors_add(&c->errs, "/e2e/refers_to",
                       "must be the seq of the message acted on (an integer >= 1) with action");
    if (!a || a->type != API_JSON_STRING ||
        (strcmp(a->str, "edit") != 0 && strcmp(a->str, "reaction") != 0))
        api_errors_add(&c->errs, "/e2e/action", "must be \"edit\" or \"reaction\" with refers_to");
    else
        out->action = a->str;
    return 0;
}

static int action_tx(struct api_call *c, void *arg, struct api_emit *em)
{
    (void)em;
    struct action *x = arg;
    bool stored = false;
    int rc = store_pg_message_stored(c->w->pg, c->device_id, x->cmid, &stored);
    if (rc < 0 || stored)
        return rc;
    struct store_msg_target t;
    rc = store_pg_message_target(c->w->pg, c->a, x->conv, c->user_id, x->seq, &t);
    if (rc == PL_ENOTFOUND)
        return api__fail_field(c, "/e2e/refers_to", "names no message you can see");
    if (rc < 0)
        return rc;
    bool edit = strcmp(x->what, "edit") == 0;
    if (strcmp(t.msg.kind, "deleted") == 0) {
        api_problem_send(c->req, PL_ECONFLICT, "the message was deleted");
        return PL_ECONFLICT;
    }
    if (strstr(t.msg.body, "\"action\":"))
        return api__fail_field(c, "/e2e/refers_to", "names an edit or reaction, not a message");
    if (edit && t.msg.sender_id != c->user_id) {
        api_problem_send(c->req, PL_EFORBIDDEN, "only the sender may edit a message");
        return PL_EFORBIDDEN;
    }
    if (edit && (t.archived || t.age_us >= (int64_t)c->env->cfg->edit_window_s * 1000000)) {
        api_problem_send(c->req, PL_ECONFLICT, "the edit window of this message has passed");
        return PL_ECONFLICT;
    }
    return edit ? store_pg_message_mark_edited(c->w->pg, x->conv, x->seq) : 0;
}

int api__e2e_action_check(struct api_call *c, int64_t conv, const char *cmid,
                          const struct api_e2e_action *act)
{
    if (!act->action)
        return 0;
    struct action x = {conv, act->refers_to, act->action, cmid};
    return api__tx_emit(c, action_tx, &x);
}
