/* SPDX-License-Identifier: MIT */
/* Parley - integration: Web Push delivery to a local push service.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_e2e.h"
#include "push_svc.h"

#include <stdio.h>
#include <string.h>

/*
 * parleyd posts to a push service of ours (push_svc.c) on loopback, which
 * checks each request as a real one would (VAPID signature and audience,
 * the RFC 8030 headers) and decrypts it with the browser's key. "No push"
 * is proven against a later push that must arrive: the dispatcher handles
 * events in commit order, so once the later one is there, the earlier
 * decision was made.
 */

#define WAIT_MS 10000

static const char *const ARGS[] = {"--webpush-allow-http", "true", "--webpush-retry-base-ms", "20",
                                   NULL};

struct world {
    struct pt_server *s;
    struct pt_push_svc *svc;
    char vapid[128];
};

static void world_start(struct world *w, enum pt_proto p)
{
    w->s = PT_SERVER_START(ARGS);
    w->svc = pt_push_svc_start();
    pt_push_vapid_key(w->s, p, w->vapid);
}

static void world_stop(struct world *w)
{
    PL_ASSERT_INT_EQ(pt_server_stop(w->s), 0);
    pt_push_svc_stop(w->svc);
}

static unsigned subs_of(struct pt_server *s, enum pt_proto p, const char *token)
{
    struct pt_resp r;
    pt_get(s, p, "/v1/push/subscriptions", token, &r);
    PT_ASSERT_STATUS(&r, 200);
    unsigned n = (unsigned)pt_json_get(pt_json(&r), "subscriptions", NULL)->u.array.len;
    pt_resp_free(&r);
    return n;
}

PLTEST_PROTO(offline_user_gets_an_encrypted_push)
{
    struct world w;
    world_start(&w, proto);
    struct pt_user alice, bob;
    PT_USER_NEW(w.s, proto, "wp_alice", &alice);
    PT_USER_NEW(w.s, proto, "wp_bob", &bob);
    struct pt_push_sub sub;
    pt_push_subscribe(w.s, proto, bob.token, w.svc, "/push/bob", &sub);
    int64_t conv = PT_DIRECT(w.s, proto, &alice, bob.id, 201);
    struct pt_msg m1 = PT_SEND(w.s, proto, &alice, conv, "hello bob, caf\xc3\xa9 at 5?");
    PL_ASSERT_INT_EQ(pt_push_svc_wait(w.svc, "/push/bob", 1, WAIT_MS), 1);
    yajl_val v = pt_push_open(w.svc, &sub, 0, w.vapid);
    PL_ASSERT_STR_EQ(pt_json_str(v, "type", NULL), "message");
    PL_ASSERT_INT_EQ(pt_json_int(v, "conversation_id", NULL), conv);
    PL_ASSERT_INT_EQ(pt_json_int(v, "seq", NULL), m1.seq);
    PL_ASSERT_INT_EQ(pt_json_int(v, "sender", "id", NULL), alice.id);
    PL_ASSERT_STR_EQ(pt_json_str(v, "sender", "display_name", NULL), alice.name);
    PL_ASSERT_INT_EQ(pt_json_int(v, "count", NULL), 1);
    PL_ASSERT(YAJL_IS_FALSE(pt_json_get(v, "e2e", NULL)));
    PL_ASSERT_STR_EQ(pt_json_str(v, "text", NULL), "hello bob, caf\xc3\xa9 at 5?");
    yajl_tree_free(v);
    /* A second unread message: the count says two. */
    PT_SEND(w.s, proto, &alice, conv, "are you there?");
    PL_ASSERT_INT_EQ(pt_push_svc_wait(w.svc, "/push/bob", 2, WAIT_MS), 2);
    v = pt_push_open(w.svc, &sub, 1, w.vapid);
    PL_ASSERT_INT_EQ(pt_json_int(v, "count", NULL), 2);
    yajl_tree_free(v);
    /* The sender is never notified of its own message. */
    PL_ASSERT_INT_EQ(pt_push_svc_total(w.svc), 2);
    pt_push_sub_free(&sub);
    world_stop(&w);
}

/* Waits until the presence of user reads online to viewer. */
static void wait_online(struct pt_server *s, enum pt_proto p, const struct pt_user *viewer,
                        int64_t user)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/users/%lld/presence", (long long)user);
    uint64_t deadline = pt_now_ms() + WAIT_MS;
    for (;;) {
        struct pt_resp r;
        pt_get(s, p, path, viewer->token, &r);
        PT_ASSERT_STATUS(&r, 200);
        bool online = YAJL_IS_TRUE(pt_json_get(pt_json(&r), "online", NULL));
        pt_resp_free(&r);
        if (online)
            return;
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "user %lld never came online", (long long)user);
        pt_sleep_ms(20);
    }
}

PLTEST_PROTO(user_with_an_open_stream_gets_none)
{
    struct world w;
    world_start(&w, proto);
    struct pt_user alice, bob, carol;
    PT_USER_NEW(w.s, proto, "wp_alice", &alice);
    PT_USER_NEW(w.s, proto, "wp_bob", &bob);
    PT_USER_NEW(w.s, proto, "wp_carol", &carol);
    struct pt_push_sub sb, sc;
    pt_push_subscribe(w.s, proto, bob.token, w.svc, "/push/bob", &sb);
    pt_push_subscribe(w.s, proto, carol.token, w.svc, "/push/carol", &sc);
    int64_t members[] = {bob.id, carol.id};
    int64_t g = PT_GROUP(w.s, proto, &alice, "wp group", members, 2);
    struct pt_sse *st = PT_SSE_OPEN_READY(w.s, proto, bob.token, NULL);
    wait_online(w.s, proto, &alice, bob.id);
    PT_SEND(w.s, proto, &alice, g, "who is here?");
    /* carol (offline) is notified; bob saw it on his stream instead. */
    struct pt_sse_event ev;
    PT_SSE_EXPECT(st, "message.created", WAIT_MS, &ev);
    pt_sse_event_free(&ev);
    PL_ASSERT_INT_EQ(pt_push_svc_wait(w.svc, "/push/carol", 1, WAIT_MS), 1);
    yajl_val v = pt_push_open(w.svc, &sc, 0, w.vapid);
    PL_ASSERT_INT_EQ(pt_json_int(v, "conversation_id", NULL), g);
    PL_ASSERT_STR_EQ(pt_json_str(v, "text", NULL), "who is here?");
    yajl_tree_free(v);
    PL_ASSERT_INT_EQ(pt_push_svc_wait(w.svc, "/push/bob", 1, 0), 0);
    pt_sse_close(st);
    pt_push_sub_free(&sb);
    pt_push_sub_free(&sc);
    world_stop(&w);
}

PLTEST_PROTO(muted_chat_gets_none)
{
    struct world w;
    world_start(&w, proto);
    struct pt_user alice, bob;
    PT_USER_NEW(w.s, proto, "wp_alice", &alice);
    PT_USER_NEW(w.s, proto, "wp_bob", &bob);
    struct pt_push_sub sub;
    pt_push_subscribe(w.s, proto, bob.token, w.svc, "/push/bob", &sub);
    int64_t muted = PT_DIRECT(w.s, proto, &alice, bob.id, 201);
    int64_t members[] = {bob.id};
    int64_t loud = PT_GROUP(w.s, proto, &alice, "loud", members, 1);
    struct pt_resp r;
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/settings", (long long)muted);
    pt_reqf(w.s, proto, "PATCH", bob.token, &r, path, "{\"muted_until\":\"2999-01-01T00:00:00Z\"}");
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    PT_SEND(w.s, proto, &alice, muted, "psst");
    PT_SEND(w.s, proto, &alice, loud, "LOUD");
    PL_ASSERT_INT_EQ(pt_push_svc_wait(w.svc, "/push/bob", 1, WAIT_MS), 1);
    yajl_val v = pt_push_open(w.svc, &sub, 0, w.vapid);
    PL_ASSERT_INT_EQ(pt_json_int(v, "conversation_id", NULL), loud);
    yajl_tree_free(v);
    /* A mute that has ended notifies again. */
    pt_reqf(w.s, proto, "PATCH", bob.token, &r, path, "{\"muted_until\":null}");
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    PT_SEND(w.s, proto, &alice, muted, "psst again");
    PL_ASSERT_INT_EQ(pt_push_svc_wait(w.svc, "/push/bob", 2, WAIT_MS), 2);
    v = pt_push_open(w.svc, &sub, 1, w.vapid);
    PL_ASSERT_INT_EQ(pt_json_int(v, "conversation_id", NULL), muted);
    yajl_tree_free(v);
    pt_push_sub_free(&sub);
    world_stop(&w);
}

PLTEST_PROTO(e2e_chat_payload_has_no_text)
{
    struct world w;
    world_start(&w, proto);
    struct pt_user alice, bob;
    PT_USER_NEW(w.s, proto, "wp_alice", &alice);
    PT_USER_NEW(w.s, proto, "wp_bob", &bob);
    struct pt_keys ka, kb;
    pt_keys_new(&ka, 1);
    pt_keys_new(&kb, 1);
    pt_keys_upload(w.s, proto, &alice, &ka, 1, 2);
    pt_keys_upload(w.s, proto, &bob, &kb, 1, 2);
    struct pt_push_sub sub;
    pt_push_subscribe(w.s, proto, bob.token, w.svc, "/push/bob", &sub);
    int64_t conv = pt_e2e_direct(w.s, proto, &alice, bob.id, 201);
    char *ct = pt_random_ct(64);
    struct pt_resp r;
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
    pt_reqf(w.s, proto, "POST", alice.token, &r, path,
            "{\"client_msg_id\":\"wp-e2e-1\",\"kind\":\"e2e\",\"e2e\":{\"recipients\":["
            "{\"device_id\":%lld,\"type\":\"prekey\",\"ciphertext\":\"%s\"}]}}",
            (long long)bob.device, ct);
    PT_ASSERT_STATUS(&r, 201);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_push_svc_wait(w.svc, "/push/bob", 1, WAIT_MS), 1);
    yajl_val v = pt_push_open(w.svc, &sub, 0, w.vapid);
    PL_ASSERT_INT_EQ(pt_json_int(v, "conversation_id", NULL), conv);
    PL_ASSERT_INT_EQ(pt_json_int(v, "count", NULL), 1);
    PL_ASSERT(YAJL_IS_TRUE(pt_json_get(v, "e2e", NULL)));
    PL_ASSERT(pt_json_get(v, "text", NULL) == NULL);
    /* Nothing else travels either: exactly these members. */
    PL_ASSERT(YAJL_IS_OBJECT(v));
    PL_ASSERT_INT_EQ(v->u.object.len, 4); /* type conversation_id count e2e: no sender, no seq */
    PL_ASSERT(pt_json_get(v, "sender", NULL) == NULL);
    yajl_tree_free(v);
    free(ct);
    pt_push_sub_free(&sub);
    world_stop(&w);
}

PLTEST_PROTO(gone_410_deletes_the_subscription)
{
    struct world w;
    world_start(&w, proto);
    struct pt_user alice, bob;
    PT_USER_NEW(w.s, proto, "wp_alice", &alice);
    PT_USER_NEW(w.s, proto, "wp_bob", &bob);
    struct pt_push_sub sub;
    pt_push_subscribe(w.s, proto, bob.token, w.svc, "/push/bob", &sub);
    pt_push_svc_script(w.svc, "/push/bob", 410, 0);
    PL_ASSERT_INT_EQ(subs_of(w.s, proto, bob.token), 1);
    int64_t conv = PT_DIRECT(w.s, proto, &alice, bob.id, 201);
    PT_SEND(w.s, proto, &alice, conv, "anyone?");
    PL_ASSERT_INT_EQ(pt_push_svc_wait(w.svc, "/push/bob", 1, WAIT_MS), 1);
    uint64_t deadline = pt_now_ms() + WAIT_MS;
    while (subs_of(w.s, proto, bob.token) != 0) {
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "the subscription outlived a 410");
        pt_sleep_ms(20);
    }
    /* A 410 is final: no retry was made. */
    PL_ASSERT_INT_EQ(pt_push_svc_total(w.svc), 1);
    pt_push_sub_free(&sub);
    world_stop(&w);
}

PLTEST_PROTO(server_errors_are_retried_until_accepted)
{
    struct world w;
    world_start(&w, proto);
    struct pt_user alice, bob;
    PT_USER_NEW(w.s, proto, "wp_alice", &alice);
    PT_USER_NEW(w.s, proto, "wp_bob", &bob);
    struct pt_push_sub sub;
    pt_push_subscribe(w.s, proto, bob.token, w.svc, "/push/bob", &sub);
    pt_push_svc_script(w.svc, "/push/bob", 500, 0);
    pt_push_svc_script(w.svc, "/push/bob", 429, 1); /* Retry-After: 1 */
    int64_t conv = PT_DIRECT(w.s, proto, &alice, bob.id, 201);
    PT_SEND(w.s, proto, &alice, conv, "third time lucky");
    PL_ASSERT_INT_EQ(pt_push_svc_wait(w.svc, "/push/bob", 3, WAIT_MS), 3);
    int want[] = {500, 429, 201};
    for (unsigned i = 0; i < 3; i++) {
        struct pt_push_msg m;
        pt_push_svc_get(w.svc, "/push/bob", i, &m);
        PL_ASSERT_INT_EQ(m.answered, want[i]);
        free(m.body);
        /* Every attempt is a complete, decryptable message. */
        yajl_val v = pt_push_open(w.svc, &sub, i, w.vapid);
        PL_ASSERT_STR_EQ(pt_json_str(v, "text", NULL), "third time lucky");
        yajl_tree_free(v);
    }
    PL_ASSERT_INT_EQ(subs_of(w.s, proto, bob.token), 1);
    /* The retries are counted. */
    struct pt_resp r;
    const char *const hdr[] = {"Authorization: Bearer " PT_METRICS_TOKEN, NULL};
    PL_ASSERT_INT_EQ(pt_req_h(w.s, proto, "GET", "/metrics", NULL, NULL, NULL, 0, hdr, &r), 0);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT(strstr(r.body, "parley_webpush_retries_total 2\n") != NULL);
    PL_ASSERT(strstr(r.body, "parley_webpush_sent_total 1\n") != NULL);
    pt_resp_free(&r);
    pt_push_sub_free(&sub);
    world_stop(&w);
}
