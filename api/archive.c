/* SPDX-License-Identifier: MIT */
/* Parley - the archive as a conversation shows it.                     */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/archive.h"
#include "storage/conversations.h"

#include <stdio.h>
#include <string.h>

/*
 * GET /v1/conversations/{id} is the one view that carries "archive"
 * (segments, messages, bytes): it is a per-conversation aggregate that
 * lists and events do not need. The Conversation object is generated as
 * everywhere else and the member appended before its closing brace, so
 * the shared generator keeps one signature for every caller.
 */
int api__reply_conversation_archive(struct api_call *c, const struct store_conv *cv,
                                    const struct store_member *members, unsigned n_members)
{
    struct store_archive_summary sum;
    int rc = store_pg_archive_summary(c->w->pg, cv->id, &sum);
    if (rc < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    api__gen_conversation(g, cv, true, members, n_members);
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    char tail[160];
    int tn = snprintf(tail, sizeof(tail),
                      ",\"archive\":{\"segments\":%lld,\"messages\":%lld,\"bytes\":%lld,"
                      "\"raw_bytes\":%lld}}",
                      (long long)sum.segments, (long long)sum.messages, (long long)sum.stored_bytes,
                      (long long)sum.raw_bytes);
    char *body = len > 0 && buf[len - 1] == '}' ? pl_arena_alloc(c->a, len + (size_t)tn) : NULL;
    if (body) {
        memcpy(body, buf, len - 1);
        memcpy(body + len - 1, tail, (size_t)tn);
    }
    yajl_gen_free(g);
    if (!body)
        return PL_ENOMEM;
    api__reply_raw(c, 200, "application/json", body, len - 1 + (size_t)tn);
    return 0;
}
