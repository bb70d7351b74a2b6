/* SPDX-License-Identifier: MIT */
/* Parley - integration: forwarding a message into another chat.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void forward(struct pt_server *s, enum pt_proto proto, const struct pt_user *u, int64_t to,
                    const char *cmid, int64_t from, int64_t seq, struct pt_resp *r)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)to);
    pt_reqf(s, proto, "POST", u->token, r, path,
            "{\"client_msg_id\":\"%s\",\"forward_of\":{\"conversation_id\":%lld,\"seq\":%lld}}",
            cmid, (long long)from, (long long)seq);
}

/* A forward copies what the caller can read, marked forwarded; others'
 * chats and unknown messages are 404, mixing forward_of with content 422. */
PLTEST_PROTO(forward_copies_what_the_caller_reads)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "fw_a", &a);
    PT_USER_NEW(s, proto, "fw_b", &b);
    PT_USER_NEW(s, proto, "fw_c", &c);
    int64_t ab = PT_DIRECT(s, proto, &a, b.id, 201);
    int64_t bc = PT_DIRECT(s, proto, &b, c.id, 201);
    struct pt_msg m = PT_SEND(s, proto, &a, ab, "the news of the day");
    struct pt_resp r;
    forward(s, proto, &b, bc, "fw-1", ab, m.seq, &r);
    PT_ASSERT_STATUS(&r, 201);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "kind", NULL), "text");
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "text", NULL), "the news of the day");
    PL_ASSERT(YAJL_IS_TRUE(pt_json_get(pt_json(&r), "forwarded", NULL)));
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "sender", NULL), b.id);
    int64_t seq = pt_json_int(pt_json(&r), "seq", NULL);
    pt_resp_free(&r);
    /* A repeat of the same client_msg_id is the stored message. */
    forward(s, proto, &b, bc, "fw-1", ab, m.seq, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)bc);
    pt_get(s, proto, path, c.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val msgs = pt_json_get(pt_json(&r), "messages", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(msgs) && msgs->u.array.len == 1);
    PL_ASSERT_INT_EQ(pt_json_int(msgs->u.array.values[0], "seq", NULL), seq);
    PL_ASSERT(YAJL_IS_TRUE(pt_json_get(msgs->u.array.values[0], "forwarded", NULL)));
    pt_resp_free(&r);
    /* c is not in a and b's chat: it cannot forward from there. */
    forward(s, proto, &c, bc, "fw-2", ab, m.seq, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    forward(s, proto, &b, bc, "fw-3", ab, 99, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    pt_reqf(s, proto, "POST", b.token, &r, path,
            "{\"client_msg_id\":\"fw-4\",\"kind\":\"text\",\"text\":\"x\","
            "\"forward_of\":{\"conversation_id\":%lld,\"seq\":1}}",
            (long long)ab);
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    pt_resp_free(&r);
    pt_reqf(s, proto, "POST", b.token, &r, path,
            "{\"client_msg_id\":\"fw-5\",\"forward_of\":{\"seq\":1}}");
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
