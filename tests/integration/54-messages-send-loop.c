/* SPDX-License-Identifier: MIT */
/* Parley - integration: text sends run on the loop thread when their token
 * is cached, and everything else still reaches a worker. */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * POST .../messages is an API_LOOP route (api/routes.c): when its bearer
 * token is in the token cache, a plain text send is validated on the loop
 * and queued for the writer there, with no worker in between
 * (parley_loop_handled_total counts these). What needs storage, Redis or a
 * decoder still goes to a worker: a token the cache does not know, a
 * forward, a compressed body (test 56) and a send quota (here and test
 * 34). Answers must not depend on where the send ran.
 */

#define EV_MS 5000

static long long on_loop(struct pt_server *s, enum pt_proto p)
{
    return pt_metric(s, p, "parley_loop_handled_total");
}

static void post(struct pt_server *s, enum pt_proto p, const char *token, int64_t conv,
                 const char *body, struct pt_resp *r)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
    PL_ASSERT_INT_EQ(pt_req(s, p, "POST", path, token, "application/json", body, strlen(body), r),
                     0);
}

PLTEST_PROTO(cached_text_sends_run_on_the_loop)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "lp_a", &a);
    PT_USER_NEW(s, proto, "lp_b", &b);
    PT_USER_NEW(s, proto, "lp_c", &c);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    struct pt_sse *sse = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    PL_ASSERT(pt_token_cached(s, proto, a.token));
    PL_ASSERT(pt_token_cached(s, proto, c.token));

    /* Five text sends: each ran on the loop, each stored and delivered in
     * order, and a repeat of a client_msg_id answers the same message. */
    long long before = on_loop(s, proto);
    int64_t ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = PT_SEND(s, proto, &a, conv, "on the loop").id;
    PL_ASSERT_INT_EQ(on_loop(s, proto) - before, 5);
    for (int i = 0; i < 5; i++)
        PT_SSE_EXPECT_MSG(sse, ids[i], EV_MS);
    struct pt_resp r;
    post(s, proto, a.token, conv, "{\"client_msg_id\":\"lp-rep\",\"kind\":\"text\",\"text\":\"x\"}",
         &r);
    PT_ASSERT_STATUS(&r, 201);
    int64_t first = pt_json_int(pt_json(&r), "id", NULL);
    pt_resp_free(&r);
    post(s, proto, a.token, conv, "{\"client_msg_id\":\"lp-rep\",\"kind\":\"text\",\"text\":\"x\"}",
         &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "id", NULL), first);
    pt_resp_free(&r);
    PT_SSE_EXPECT_MSG(sse, first, EV_MS);

    /* Refusals answered on the loop are the same documents as a worker's. */
    before = on_loop(s, proto);
    post(s, proto, a.token, conv, "{\"client_msg_id\":", &r);
    PT_ASSERT_PROBLEM(&r, 400, "malformed-json");
    pt_resp_free(&r);
    post(s, proto, a.token, conv, "{\"client_msg_id\":\"lp-v\",\"kind\":\"text\"}", &r);
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    PL_ASSERT(strstr(r.body, "/text") != NULL);
    pt_resp_free(&r);
    post(s, proto, c.token, conv, "{\"client_msg_id\":\"lp-c\",\"kind\":\"text\",\"text\":\"in\"}",
         &r);
    PT_ASSERT_STATUS(&r, 404);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(on_loop(s, proto) - before, 3);

    /* A forward looks its source up: a worker's, and it works. */
    before = on_loop(s, proto);
    char body[160];
    snprintf(body, sizeof(body),
             "{\"client_msg_id\":\"lp-fw\",\"forward_of\":{\"conversation_id\":%lld,\"seq\":1}}",
             (long long)conv);
    post(s, proto, a.token, conv, body, &r);
    PT_ASSERT_STATUS(&r, 201);
    PT_SSE_EXPECT_MSG(sse, pt_json_int(pt_json(&r), "id", NULL), EV_MS);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(on_loop(s, proto), before);

    /* A new session's token is not cached yet: its first send is a
     * worker's (which caches it), the next one the loop's. */
    struct pt_user a2;
    pt_user_device(s, proto, &a, &a2);
    before = on_loop(s, proto);
    int64_t id1 = PT_SEND(s, proto, &a2, conv, "first from a new device").id;
    PL_ASSERT_INT_EQ(on_loop(s, proto), before);
    int64_t id2 = PT_SEND(s, proto, &a2, conv, "second from it").id;
    PL_ASSERT_INT_EQ(on_loop(s, proto) - before, 1);
    PT_SSE_EXPECT_MSG(sse, id1, EV_MS);
    PT_SSE_EXPECT_MSG(sse, id2, EV_MS);

    /* Revoked on this node: evicted at once, so the loop cannot take it. */
    pt_session_revoke(s, proto, a.token, a2.device);
    post(s, proto, a2.token, conv, "{\"client_msg_id\":\"lp-rv\",\"kind\":\"text\",\"text\":\"x\"}",
         &r);
    PT_ASSERT_STATUS(&r, 401);
    pt_resp_free(&r);

    /* Nothing else reached b's stream. */
    struct pt_sse_event ev = {0};
    PL_ASSERT_INT_EQ(pt_sse_next_durable(sse, 200, &ev), PT_SSE_TIMEOUT);
    pt_sse_event_free(&ev);
    pt_sse_close(sse);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* With a send quota the count is in Redis, which the loop never calls:
 * every send goes to a worker, and the quota holds. */
PLTEST_PROTO(a_send_quota_keeps_sends_on_the_workers)
{
    const char *const args[] = {"--quota-sends-per-s", "2", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "lq_a", &a);
    PT_USER_NEW(s, proto, "lq_b", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    PL_ASSERT(pt_token_cached(s, proto, a.token));
    long long before = on_loop(s, proto);
    int sent = 0, refused = 0;
    for (int i = 0; i < 6; i++) {
        char body[96];
        snprintf(body, sizeof(body),
                 "{\"client_msg_id\":\"lq-%d\",\"kind\":\"text\",\"text\":\"q\"}", i);
        struct pt_resp r;
        post(s, proto, a.token, conv, body, &r);
        if (r.status == 201)
            sent++;
        else if (r.status == 429)
            refused++;
        else
            pltest_fail(__FILE__, __LINE__, "send %d: status %ld", i, r.status);
        pt_resp_free(&r);
    }
    PL_ASSERT(sent >= 2 && refused >= 1);
    PL_ASSERT_INT_EQ(on_loop(s, proto), before);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
