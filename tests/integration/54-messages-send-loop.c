/* SPDX-License-Identifier: MIT */
/* Parley - integration: sends the event loop takes without a worker.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <string.h>

/*
 * A text message whose bearer token is in the token cache needs nothing
 * from storage before the writer: the loop thread validates it and queues
 * it (api/routes.c, API_LOOP). Everything else still goes to a worker: a
 * token the cache does not hold, a compressed body, a forward (it reads
 * the forwarded message), and every send while the sends quota is on (it
 * is kept in Redis), and every send while the loop itself is busy
 * (parley_loop_load_permille at loop_sends_max_load or more; 0 sends them
 * all to the workers). parley_loop_answered_total counts the loop's sends;
 * whichever path a send takes, its answer, its stored message and its
 * event must be the same.
 */

#define EV_MS 5000

static long long on_loop(struct pt_server *s, enum pt_proto p)
{
    return pt_metric(s, p, "parley_loop_answered_total");
}

static void messages_path(char *path, size_t n, int64_t conv)
{
    snprintf(path, n, "/v1/conversations/%lld/messages", (long long)conv);
}

/* Users a and b (names from prefix) with a direct conversation, whose id
 * it returns, and a's token in s's token cache. */
static int64_t two_users(struct pt_server *s, enum pt_proto p, const char *prefix,
                         struct pt_user *a, struct pt_user *b)
{
    char name[32];
    snprintf(name, sizeof(name), "%s_a", prefix);
    PT_USER_NEW(s, p, name, a);
    snprintf(name, sizeof(name), "%s_b", prefix);
    PT_USER_NEW(s, p, name, b);
    int64_t conv = PT_DIRECT(s, p, a, b->id, 201);
    PL_ASSERT(pt_token_cached(s, p, a->token));
    return conv;
}

PLTEST_PROTO(cached_token_text_send_skips_the_workers)
{
    /* Only a loop that is busy all the time hands sends back here: the
     * counts below must not depend on how loaded the test machine is. */
    const char *const args[] = {"--loop-sends-max-load", "1000", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b, a2;
    int64_t conv = two_users(s, proto, "lp", &a, &b);
    struct pt_sse *sse = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    char path[96];
    messages_path(path, sizeof(path), conv);
    struct pt_resp r;

    long long load = pt_metric(s, proto, "parley_loop_load_permille");
    PL_ASSERT(load >= 0 && load <= 1000);

    /* Cached token, plain text: the loop answers, the message is stored
     * and delivered like any other. */
    long long n0 = on_loop(s, proto);
    struct pt_msg m1 = PT_SEND(s, proto, &a, conv, "on the loop");
    PL_ASSERT_INT_EQ(on_loop(s, proto), n0 + 1);
    PT_SSE_EXPECT_MSG(sse, m1.id, EV_MS);

    /* The same client_msg_id again: the stored message, 200. */
    pt_reqf(s, proto, "POST", a.token, &r, path,
            "{\"client_msg_id\":\"lp-1\",\"kind\":\"text\",\"text\":\"once\"}");
    PT_ASSERT_STATUS(&r, 201);
    int64_t once = pt_json_int(pt_json(&r), "id", NULL);
    pt_resp_free(&r);
    pt_reqf(s, proto, "POST", a.token, &r, path,
            "{\"client_msg_id\":\"lp-1\",\"kind\":\"text\",\"text\":\"once\"}");
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "id", NULL), once);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(on_loop(s, proto), n0 + 3);
    PT_SSE_EXPECT_MSG(sse, once, EV_MS);

    /* Invalid bodies are answered on the loop too, with the same problems,
     * and store nothing. */
    pt_reqf(s, proto, "POST", a.token, &r, path, "{\"client_msg_id\":\"lp-2\",\"kind\":\"text\"}");
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    PL_ASSERT(strstr(r.body, "/text") != NULL);
    pt_resp_free(&r);
    pt_reqf(s, proto, "POST", a.token, &r, path, "{\"client_msg_id\":");
    PT_ASSERT_PROBLEM(&r, 400, "malformed-json");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(on_loop(s, proto), n0 + 5);
    /* A conversation the sender is not in: the writer's check, 404. */
    pt_reqf(s, proto, "POST", b.token, &r, "/v1/conversations/999999/messages",
            "{\"client_msg_id\":\"lp-3\",\"kind\":\"text\",\"text\":\"nowhere\"}");
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);

    /* A forward reads the forwarded message: a worker's. */
    long long n1 = on_loop(s, proto);
    pt_reqf(s, proto, "POST", a.token, &r, path,
            "{\"client_msg_id\":\"lp-4\",\"forward_of\":{\"conversation_id\":%lld,\"seq\":%lld}}",
            (long long)conv, (long long)m1.seq);
    PT_ASSERT_STATUS(&r, 201);
    int64_t fwd = pt_json_int(pt_json(&r), "id", NULL);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(on_loop(s, proto), n1);
    PT_SSE_EXPECT_MSG(sse, fwd, EV_MS);

    /* A body with a Content-Encoding is decoded on a worker, never on
     * the loop (identity: nothing to decode, but not the loop's call). */
    static const char *const ce[] = {"Content-Encoding: identity", NULL};
    const char *body = "{\"client_msg_id\":\"lp-5\",\"kind\":\"text\",\"text\":\"encoded\"}";
    PL_ASSERT_INT_EQ(
        pt_req_h(s, proto, "POST", path, a.token, "application/json", body, strlen(body), ce, &r),
        0);
    PT_ASSERT_STATUS(&r, 201);
    int64_t enc = pt_json_int(pt_json(&r), "id", NULL);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(on_loop(s, proto), n1);
    PT_SSE_EXPECT_MSG(sse, enc, EV_MS);

    /* A device whose token nobody used yet: its first send is looked up
     * by a worker (which caches it), the next one is the loop's. */
    pt_user_device(s, proto, &a, &a2);
    struct pt_msg m2 = PT_SEND(s, proto, &a2, conv, "first from a2");
    PL_ASSERT_INT_EQ(on_loop(s, proto), n1);
    struct pt_msg m3 = PT_SEND(s, proto, &a2, conv, "second from a2");
    PL_ASSERT_INT_EQ(on_loop(s, proto), n1 + 1);
    PT_SSE_EXPECT_MSG(sse, m2.id, EV_MS);
    PT_SSE_EXPECT_MSG(sse, m3.id, EV_MS);

    /* A revoked token leaves the cache with the revocation: 401 from a
     * worker, never a send on the loop. */
    pt_session_revoke(s, proto, a.token, a2.device);
    pt_reqf(s, proto, "POST", a2.token, &r, path,
            "{\"client_msg_id\":\"lp-6\",\"kind\":\"text\",\"text\":\"revoked\"}");
    PT_ASSERT_PROBLEM(&r, 401, "unauthenticated");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(on_loop(s, proto), n1 + 1);

    /* The history holds exactly the six stored messages. */
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val msgs = pt_json_get(pt_json(&r), "messages", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(msgs));
    PL_ASSERT_INT_EQ(msgs->u.array.len, 6);
    pt_resp_free(&r);
    struct pt_sse_event ev = {0};
    PL_ASSERT_INT_EQ(pt_sse_next_durable(sse, 200, &ev), PT_SSE_TIMEOUT);
    pt_sse_event_free(&ev);
    pt_sse_close(sse);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(sends_quota_keeps_sends_on_the_workers)
{
    const char *const args[] = {"--quota-sends-per-s", "2", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b;
    int64_t conv = two_users(s, proto, "lq", &a, &b);
    char path[96];
    messages_path(path, sizeof(path), conv);
    /* Twenty sends cannot all pass a quota of two a second unless they
     * take ten seconds: refusing them is a worker's Redis check. */
    int refused = 0;
    for (int i = 0; i < 20; i++) {
        struct pt_resp r;
        pt_reqf(s, proto, "POST", a.token, &r, path,
                "{\"client_msg_id\":\"lq-%d\",\"kind\":\"text\",\"text\":\"quota\"}", i);
        if (r.status == 429)
            refused++;
        else
            PT_ASSERT_STATUS(&r, 201);
        pt_resp_free(&r);
    }
    PL_ASSERT(refused > 0);
    PL_ASSERT_INT_EQ(on_loop(s, proto), 0);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* loop_sends_max_load 0: the loop never takes a send, however idle. */
PLTEST_PROTO(max_load_zero_keeps_sends_on_the_workers)
{
    const char *const args[] = {"--loop-sends-max-load", "0", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b;
    int64_t conv = two_users(s, proto, "lz", &a, &b);
    struct pt_sse *sse = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    struct pt_msg m = PT_SEND(s, proto, &a, conv, "by a worker");
    PT_SSE_EXPECT_MSG(sse, m.id, EV_MS);
    PL_ASSERT_INT_EQ(on_loop(s, proto), 0);
    pt_sse_close(sse);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
