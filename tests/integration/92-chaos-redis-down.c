/* SPDX-License-Identifier: MIT */
/* Parley - chaos: messaging keeps working while Redis is down.         */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_MS 5000
#define RECOVERY_DEADLINE_MS 20000

/* GET a's presence as b; returns the status string (static). */
static const char *presence_of(struct pt_server *s, enum pt_proto p, const struct pt_user *viewer,
                               int64_t user, int *online)
{
    static char st[16];
    char path[96];
    snprintf(path, sizeof(path), "/v1/users/%lld/presence", (long long)user);
    struct pt_resp r;
    pt_get(s, p, path, viewer->token, &r);
    if (r.status != 200)
        pltest_fail(__FILE__, __LINE__, "presence over %s: expected 200, got %ld: %.300s",
                    pt_proto_name(p), r.status, r.body);
    const char *v = pt_json_str(pt_json(&r), "status", NULL);
    PL_ASSERT(v && strlen(v) < sizeof(st));
    strcpy(st, v);
    yajl_val on = pt_json_get(pt_json(&r), "online", NULL);
    *online = YAJL_IS_TRUE(on) ? 1 : YAJL_IS_FALSE(on) ? 0 : -1;
    pt_resp_free(&r);
    return st;
}

/* Waits for message id, skipping other events (receipts). */
static void expect_msg(struct pt_sse *sse, int64_t id)
{
    struct pt_sse_event ev;
    PT_SSE_EXPECT(sse, "message.created", EV_MS, &ev);
    PL_ASSERT_INT_EQ(ev.pos, id);
    pt_sse_event_free(&ev);
}

/* One outage covers all three transports: a holds a stream over each, b
 * sends over each. Presence runs with a 2 s timeout so that it has to be
 * refreshed (and so recovered) while the test runs. */
PLTEST(messaging_survives_redis_outage_and_presence_recovers)
{
    pt_svc_require();
    const char *args[] = {"--presence-timeout", "2", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b;
    PT_USER_NEW(s, PT_H1, "redisdown_a", &a);
    PT_USER_NEW(s, PT_H1, "redisdown_b", &b);
    int64_t conv = PT_DIRECT(s, PT_H1, &b, a.id, 201);
    struct pt_sse *st[PT_PROTO_N];
    for (int p = 0; p < PT_PROTO_N; p++)
        st[p] = PT_SSE_OPEN_READY(s, (enum pt_proto)p, a.token, NULL);
    int online;
    PL_ASSERT_STR_EQ(presence_of(s, PT_H1, &b, a.id, &online), "online");

    pt_svc("redis", "stop");
    int64_t seq = 0;
    for (int p = 0; p < PT_PROTO_N; p++) {
        enum pt_proto proto = (enum pt_proto)p;
        struct pt_msg m = PT_SEND(s, proto, &b, conv, "redis is down");
        PL_ASSERT_INT_EQ(m.seq, ++seq);
        for (int k = 0; k < PT_PROTO_N; k++)
            expect_msg(st[k], m.id);
        char path[96];
        snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
        struct pt_resp r;
        pt_get(s, proto, path, a.token, &r);
        PT_ASSERT_STATUS(&r, 200);
        PL_ASSERT_INT_EQ(pt_json_get(pt_json(&r), "messages", NULL)->u.array.len, seq);
        pt_resp_free(&r);
        PT_RECEIPT(s, proto, &a, conv, "read", seq);
        /* Presence does not know, and says so. */
        PL_ASSERT_STR_EQ(presence_of(s, proto, &b, a.id, &online), "unknown");
        PL_ASSERT_INT_EQ(online, -1);
        /* A new stream opens too. */
        struct pt_sse *extra = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
        pt_sse_close(extra);
    }
    for (int p = 0; p < PT_PROTO_N; p++)
        PL_ASSERT(!pt_sse_ended(st[p]));

    pt_svc("redis", "start");
    /* The streams still open put a back online without any help. */
    uint64_t deadline = pt_now_ms() + RECOVERY_DEADLINE_MS;
    const char *status = "unknown";
    while (strcmp(status, "online") != 0 && pt_now_ms() < deadline) {
        for (int p = 0; p < PT_PROTO_N; p++)
            pt_sse_pump(st[p], 0);
        status = presence_of(s, PT_H2C, &b, a.id, &online);
        if (strcmp(status, "online") != 0)
            pt_sleep_ms(200);
    }
    if (strcmp(status, "online") != 0)
        pltest_fail(__FILE__, __LINE__, "presence still \"%s\" %d s after Redis came back", status,
                    RECOVERY_DEADLINE_MS / 1000);
    struct pt_msg m = PT_SEND(s, PT_H2, &b, conv, "redis is back");
    for (int p = 0; p < PT_PROTO_N; p++) {
        expect_msg(st[p], m.id);
        pt_sse_close(st[p]);
    }
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
