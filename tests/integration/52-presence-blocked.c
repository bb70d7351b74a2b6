/* SPDX-License-Identifier: MIT */
/* Parley - integration: presence never reaches a user the subject blocked. */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <string.h>

/*
 * Issue 17 with blocking (migration 0013): b blocks a. Both a and c
 * subscribe to b; b's streams then open together (one batch of opens,
 * api/events.c) and later all close, so b comes online and goes offline.
 * c, the control, must see both transitions; a must see neither, nor any
 * typing of b, though a shares a conversation with b and subscribed.
 * Then b unblocks a: b's next coming online reaches a again.
 */

#define EV_MS 5000
#define OFFLINE_MS 10000 /* presence timeout 2 s plus the sweep */
#define B_STREAMS 3

static const char *const fast_presence[] = {"--presence-timeout", "2", "--typing-interval-ms", "0",
                                            NULL};

static void call(struct pt_server *s, enum pt_proto proto, const char *method,
                 const struct pt_user *u, const char *path, const char *body, long want)
{
    struct pt_resp r;
    pt_reqf(s, proto, method, u->token, &r, path, body ? "%s" : NULL, body);
    PT_ASSERT_STATUS(&r, want);
    pt_resp_free(&r);
}

static void subscribe(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                      int64_t who)
{
    char body[64];
    snprintf(body, sizeof(body), "{\"users\":[%lld]}", (long long)who);
    call(s, proto, "PUT", u, "/v1/presence/subscriptions", body, 200);
}

/* The next presence event on sse must be b's, online or not. */
static void expect_presence(struct pt_sse *sse, int64_t b, bool online, int ms)
{
    struct pt_sse_event ev;
    if (pt_sse_wait(sse, "presence", ms, &ev) < 0)
        pltest_fail(__FILE__, __LINE__, "no presence event (%s)", online ? "online" : "offline");
    if (pt_sse_int(&ev, "user_id", NULL) != b ||
        YAJL_IS_TRUE(pt_json_get(ev.json, "online", NULL)) != online)
        pltest_fail(__FILE__, __LINE__, "expected %s, got %s", online ? "online" : "offline",
                    ev.data);
    pt_sse_event_free(&ev);
}

/* Reads sse up to the message marker (everything before it was sent
 * earlier); fails on any presence or typing event of b. */
static void expect_nothing_of(struct pt_sse *sse, int64_t b, int64_t marker)
{
    for (;;) {
        struct pt_sse_event ev;
        if (pt_sse_next(sse, OFFLINE_MS, &ev) < 0)
            pltest_fail(__FILE__, __LINE__, "marker %lld never came", (long long)marker);
        bool news = (strcmp(ev.name, "presence") == 0 || strcmp(ev.name, "typing") == 0) &&
                    pt_sse_int(&ev, "user_id", NULL) == b;
        if (news)
            pltest_fail(__FILE__, __LINE__, "a blocked user got %s: %s", ev.name, ev.data);
        bool done = ev.pos == marker;
        pt_sse_event_free(&ev);
        if (done)
            return;
    }
}

static void open_all(struct pt_server *s, enum pt_proto proto, const struct pt_user *b,
                     struct pt_sse **bs)
{
    if (proto == PT_H1) {
        for (int i = 0; i < B_STREAMS; i++)
            bs[i] = pt_sse_open(s, proto, b->token, NULL);
        return;
    }
    const char *tokens[B_STREAMS];
    for (int i = 0; i < B_STREAMS; i++)
        tokens[i] = b->token;
    pt_sse_open_many(s, proto, B_STREAMS, tokens, bs); /* one h2 connection, together */
}

PLTEST_PROTO(presence_and_typing_never_reach_a_blocked_subscriber)
{
    struct pt_server *s = PT_SERVER_START(fast_presence);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "pb_a", &a);
    PT_USER_NEW(s, proto, "pb_b", &b);
    PT_USER_NEW(s, proto, "pb_c", &c);
    int64_t ab = PT_DIRECT(s, proto, &b, a.id, 201);
    PT_DIRECT(s, proto, &b, c.id, 201);
    char path[80];
    snprintf(path, sizeof(path), "/v1/me/blocks/%lld", (long long)a.id);
    call(s, proto, "PUT", &b, path, NULL, 204);
    struct pt_sse *as = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    struct pt_sse *cs = PT_SSE_OPEN_READY(s, proto, c.token, NULL);
    subscribe(s, proto, &a, b.id);
    subscribe(s, proto, &c, b.id);

    struct pt_sse *bs[B_STREAMS];
    open_all(s, proto, &b, bs);
    expect_presence(cs, b.id, true, EV_MS);
    char tpath[80];
    snprintf(tpath, sizeof(tpath), "/v1/conversations/%lld/typing", (long long)ab);
    call(s, proto, "POST", &b, tpath, NULL, 204);
    for (int i = 0; i < B_STREAMS; i++)
        pt_sse_close(bs[i]);
    expect_presence(cs, b.id, false, OFFLINE_MS);
    /* c saw b go offline, so both transitions are behind us; a's own
     * message is the marker that a's stream has caught up. */
    struct pt_msg m = PT_SEND(s, proto, &a, PT_DIRECT(s, proto, &a, c.id, 0), "marker");
    expect_nothing_of(as, b.id, m.id);

    /* Unblocked, b coming online reaches a again. */
    call(s, proto, "DELETE", &b, path, NULL, 204);
    struct pt_sse *again = pt_sse_open(s, proto, b.token, NULL);
    expect_presence(as, b.id, true, EV_MS);
    expect_presence(cs, b.id, true, EV_MS);
    pt_sse_close(again);
    pt_sse_close(cs);
    pt_sse_close(as);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
