/* SPDX-License-Identifier: MIT */
/* Parley - forwarding: a new message that copies one the caller reads. */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/messages.h"

#include <string.h>

int api__forward_read(struct api_call *c, const struct api_json *fwd, struct store_send *s)
{
    int64_t conv = 0, seq = 0;
    if (!api_json_int(api_json_get(fwd, "conversation_id"), &conv) || conv < 1 ||
        !api_json_int(api_json_get(fwd, "seq"), &seq) || seq < 1)
        return api__fail_field(c, "/forward_of",
                               "must be {\"conversation_id\": id, \"seq\": seq} of a message");
    /* History's own read: membership, joined_seq, archived copies and
     * "deleted for me" all apply, so only what the caller reads is copied. */
    struct store_msg_page page = {.after = seq - 1, .before = seq + 1, .limit = 1, .forward = true};
    struct store_message *m;
    unsigned n;
    bool more;
    int rc = store_pg_messages_list(c->w->pg, c->a, conv, c->user_id, &page, &m, &n, &more);
    if (rc == PL_ENOTFOUND || (rc == 0 && n == 0)) {
        api_problem_send(c->req, PL_ENOTFOUND, "forward_of names no message you can read");
        return PL_ENOTFOUND;
    }
    if (rc < 0)
        return rc;
    if (strcmp(m->kind, "text") != 0 && strcmp(m->kind, "media") != 0)
        return api__fail_field(c, "/forward_of",
                               strcmp(m->kind, "e2e") == 0
                                   ? "e2e messages are forwarded by the client (re-encrypted)"
                                   : "the message was deleted");
    /* Media: the same objects, referenced once more (no re-upload). */
    s->kind = m->kind;
    s->body = m->body;
    s->forwarded = true;
    return 0;
}
