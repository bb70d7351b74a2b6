/* SPDX-License-Identifier: MIT */
/* Parley - integration: sent/delivered/read ticks end to end.          */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_MS 5000

/* The status of each message 1..n as history shows it to viewer. */
static void expect_statuses(struct pt_server *s, enum pt_proto proto, const struct pt_user *viewer,
                            int64_t conv, const char *const *want, size_t n)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
    struct pt_resp r;
    pt_get(s, proto, path, viewer->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val msgs = pt_json_get(pt_json(&r), "messages", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(msgs));
    PL_ASSERT_INT_EQ(msgs->u.array.len, n);
    for (size_t i = 0; i < n; i++) {
        const char *st = pt_json_str(msgs->u.array.values[i], "status", NULL);
        if (!st || strcmp(st, want[i]) != 0)
            pltest_fail(__FILE__, __LINE__, "seq %zu is \"%s\", expected \"%s\": %.500s", i + 1,
                        st ? st : "(none)", want[i], r.body);
    }
    pt_resp_free(&r);
}

/* Posts a receipt and checks the watermarks the answer reports. */
static void receipt(struct pt_server *s, enum pt_proto proto, const struct pt_user *u, int64_t conv,
                    const char *type, int64_t up_to, int64_t want_delivered, int64_t want_read)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/receipts", (long long)conv);
    struct pt_resp r;
    pt_reqf(s, proto, "POST", u->token, &r, path, "{\"type\":\"%s\",\"up_to_seq\":%lld}", type,
            (long long)up_to);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val t = pt_json(&r);
    PL_ASSERT_INT_EQ(pt_json_int(t, "conversation_id", NULL), conv);
    PL_ASSERT_INT_EQ(pt_json_int(t, "delivered_seq", NULL), want_delivered);
    PL_ASSERT_INT_EQ(pt_json_int(t, "read_seq", NULL), want_read);
    pt_resp_free(&r);
}

/* What a receipt should cause on one stream: a message.status (when
 * status is not NULL: the sender's devices) and a receipt event (always:
 * every member), in either order. Statuses on the way may only move
 * forward, and only up to the one expected. */
struct expect {
    int64_t conv;
    const char *status;
    int64_t status_up_to;
    int64_t user;
    const char *type;
    int64_t up_to;
};

static void expect_events(struct pt_sse *sse, const struct expect *x)
{
    uint64_t deadline = pt_now_ms() + EV_MS;
    int need_status = x->status != NULL, need_receipt = 1;
    while (need_status || need_receipt) {
        struct pt_sse_event ev;
        uint64_t now = pt_now_ms();
        int rc = pt_sse_next_durable(sse, now < deadline ? (int)(deadline - now) : 0, &ev);
        if (rc < 0)
            pltest_fail(__FILE__, __LINE__, "%s: no %s%s%s within %d ms",
                        rc == PT_SSE_TIMEOUT ? "timeout" : "stream ended",
                        need_status ? "message.status " : "", need_status ? x->status : "",
                        need_receipt ? " receipt" : "", EV_MS);
        if (strcmp(ev.name, "message.status") == 0) {
            PL_ASSERT(ev.pos > 0);
            PL_ASSERT_INT_EQ(pt_sse_int(&ev, "conversation_id", NULL), x->conv);
            const char *st = pt_json_str(ev.json, "status", NULL);
            int64_t seq = pt_sse_int(&ev, "up_to_seq", NULL);
            if (!x->status || !st || seq <= 0 || seq > x->status_up_to)
                pltest_fail(__FILE__, __LINE__, "unexpected message.status %s", ev.data);
            if (strcmp(st, x->status) == 0 && seq == x->status_up_to)
                need_status = 0;
        } else if (strcmp(ev.name, "receipt") == 0) {
            PL_ASSERT(ev.pos > 0);
            PL_ASSERT_INT_EQ(pt_sse_int(&ev, "conversation_id", NULL), x->conv);
            const char *t = pt_json_str(ev.json, "type", NULL);
            if (pt_sse_int(&ev, "user_id", NULL) == x->user && t && strcmp(t, x->type) == 0 &&
                pt_sse_int(&ev, "up_to_seq", NULL) == x->up_to)
                need_receipt = 0;
        } else {
            pltest_fail(__FILE__, __LINE__, "unexpected %s: %s", ev.name, ev.data);
        }
        pt_sse_event_free(&ev);
    }
}

/* Fails if a message.status arrives before message marker: an event that
 * should not exist would be queued ahead of the marker. */
static void expect_no_status_before(struct pt_sse *sse, int64_t marker)
{
    for (;;) {
        struct pt_sse_event ev;
        if (pt_sse_next_durable(sse, EV_MS, &ev) < 0)
            pltest_fail(__FILE__, __LINE__, "marker %lld never came", (long long)marker);
        if (strcmp(ev.name, "message.status") == 0)
            pltest_fail(__FILE__, __LINE__, "unexpected message.status: %s", ev.data);
        int done = ev.pos == marker;
        pt_sse_event_free(&ev);
        if (done)
            return;
    }
}

/* The receipts of one message: user -> delivered_at / read_at set? */
static void expect_receipts(struct pt_server *s, enum pt_proto proto, const struct pt_user *viewer,
                            int64_t conv, int64_t seq, int64_t user, int delivered, int read,
                            size_t n_members)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages/%lld/receipts", (long long)conv,
             (long long)seq);
    struct pt_resp r;
    pt_get(s, proto, path, viewer->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val t = pt_json(&r);
    PL_ASSERT_INT_EQ(pt_json_int(t, "conversation_id", NULL), conv);
    PL_ASSERT_INT_EQ(pt_json_int(t, "seq", NULL), seq);
    yajl_val list = pt_json_get(t, "receipts", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(list));
    PL_ASSERT_INT_EQ(list->u.array.len, n_members);
    int found = 0;
    for (size_t i = 0; i < list->u.array.len; i++) {
        yajl_val e = list->u.array.values[i];
        if (pt_json_int(e, "user_id", NULL) != user)
            continue;
        found = 1;
        yajl_val d = pt_json_get(e, "delivered_at", NULL), rd = pt_json_get(e, "read_at", NULL);
        if (delivered ? !pt_is_timestamp(pt_json_str(e, "delivered_at", NULL)) : !YAJL_IS_NULL(d))
            pltest_fail(__FILE__, __LINE__, "seq %lld user %lld delivered_at: %s", (long long)seq,
                        (long long)user, r.body);
        if (read ? !pt_is_timestamp(pt_json_str(e, "read_at", NULL)) : !YAJL_IS_NULL(rd))
            pltest_fail(__FILE__, __LINE__, "seq %lld user %lld read_at: %s", (long long)seq,
                        (long long)user, r.body);
    }
    if (!found)
        pltest_fail(__FILE__, __LINE__, "user %lld missing from %s", (long long)user, r.body);
    pt_resp_free(&r);
}

/* Two users with two devices each: every device of both sees the
 * messages; the sender's devices see the ticks move. */
PLTEST_PROTO(ticks_end_to_end_two_users_two_devices)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a1, a2, b1, b2;
    PT_USER_NEW(s, proto, "tick_a", &a1);
    pt_user_device(s, proto, &a1, &a2);
    PT_USER_NEW(s, proto, "tick_b", &b1);
    pt_user_device(s, proto, &b1, &b2);
    int64_t conv = PT_DIRECT(s, proto, &a1, b1.id, 201);
    const struct pt_user *dev[4] = {&a1, &a2, &b1, &b2};
    struct pt_sse *st[4];
    for (int i = 0; i < 4; i++)
        st[i] = PT_SSE_OPEN_READY(s, proto, dev[i]->token, NULL);
    struct pt_msg m[3];
    for (int i = 0; i < 3; i++)
        m[i] = PT_SEND(s, proto, &a1, conv, "tick tock");
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++)
            PT_SSE_EXPECT_MSG(st[i], m[k].id, EV_MS);
    expect_statuses(s, proto, &a2, conv, (const char *[]){"sent", "sent", "sent"}, 3);
    expect_receipts(s, proto, &a1, conv, 1, b1.id, 0, 0, 1);

    /* b's phone acknowledges two: both of a's devices see "delivered". */
    receipt(s, proto, &b1, conv, "delivered", 2, 2, 0);
    for (int i = 0; i < 4; i++)
        expect_events(st[i],
                      &(struct expect){conv, i < 2 ? "delivered" : NULL, 2, b1.id, "delivered", 2});
    expect_statuses(s, proto, &a1, conv, (const char *[]){"delivered", "delivered", "sent"}, 3);
    /* b sees its own watermark in the aggregate of a's messages too. */
    expect_statuses(s, proto, &b2, conv, (const char *[]){"delivered", "delivered", "sent"}, 3);
    expect_receipts(s, proto, &a1, conv, 2, b1.id, 1, 0, 1);
    expect_receipts(s, proto, &a1, conv, 3, b1.id, 0, 0, 1);

    /* b's laptop reads all three: read implies delivered. */
    receipt(s, proto, &b2, conv, "read", 3, 3, 3);
    for (int i = 0; i < 4; i++)
        expect_events(st[i], &(struct expect){conv, i < 2 ? "read" : NULL, 3, b1.id, "read", 3});
    expect_statuses(s, proto, &a1, conv, (const char *[]){"read", "read", "read"}, 3);
    expect_receipts(s, proto, &b1, conv, 3, b1.id, 1, 1, 1);

    /* Going backwards changes nothing and tells nobody. */
    receipt(s, proto, &b1, conv, "delivered", 1, 3, 3);
    receipt(s, proto, &b1, conv, "read", 2, 3, 3);
    expect_statuses(s, proto, &a1, conv, (const char *[]){"read", "read", "read"}, 3);
    struct pt_msg marker = PT_SEND(s, proto, &b1, conv, "marker");
    for (int i = 0; i < 4; i++)
        expect_no_status_before(st[i], marker.id);

    /* Past the last message, or an unknown type. */
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/receipts", (long long)conv);
    const char *bad[] = {"{\"type\":\"read\",\"up_to_seq\":5}",
                         "{\"type\":\"seen\",\"up_to_seq\":1}", "{\"type\":\"read\"}",
                         "{\"type\":\"read\",\"up_to_seq\":\"3\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct pt_resp r;
        pt_send_json(s, proto, "POST", path, b1.token, bad[i], &r);
        if (r.status != 422)
            pltest_fail(__FILE__, __LINE__, "%s: expected 422, got %ld: %.300s", bad[i], r.status,
                        r.body);
        PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
        pt_resp_free(&r);
    }
    /* The marker (seq 4) is b's own: a's receipts of it are a's. */
    expect_receipts(s, proto, &b1, conv, 4, a1.id, 0, 0, 1);
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages/9/receipts", (long long)conv);
    struct pt_resp r;
    pt_get(s, proto, path, a1.token, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    for (int i = 0; i < 4; i++)
        pt_sse_close(st[i]);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* A server with a group of a, b and c (a created it), and a's stream. */
struct trio {
    struct pt_server *s;
    struct pt_user a, b, c;
    int64_t g;
    struct pt_sse *as;
};

static void trio_start(struct trio *t, enum pt_proto proto, const char *prefix, const char *title)
{
    t->s = PT_SERVER_START(NULL);
    struct pt_user *u[] = {&t->a, &t->b, &t->c};
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof(name), "%s_%c", prefix, 'a' + i);
        PT_USER_NEW(t->s, proto, name, u[i]);
    }
    int64_t members[] = {t->b.id, t->c.id};
    t->g = PT_GROUP(t->s, proto, &t->a, title, members, 2);
    t->as = PT_SSE_OPEN_READY(t->s, proto, t->a.token, NULL);
}

static void trio_stop(struct trio *t)
{
    pt_sse_close(t->as);
    PL_ASSERT_INT_EQ(pt_server_stop(t->s), 0);
}

/* In a group a message is delivered (read) once every other member has
 * delivered (read) it: the minimum. */
PLTEST_PROTO(group_ticks_are_the_minimum_over_members)
{
    struct trio t;
    trio_start(&t, proto, "gtick", "Ticks");
    struct pt_msg m1 = PT_SEND(t.s, proto, &t.a, t.g, "one");
    struct pt_msg m2 = PT_SEND(t.s, proto, &t.a, t.g, "two");
    PT_SSE_EXPECT_MSG(t.as, m1.id, EV_MS);
    PT_SSE_EXPECT_MSG(t.as, m2.id, EV_MS);
    /* b has read both, c nothing: still "sent", no status event. */
    receipt(t.s, proto, &t.b, t.g, "read", 2, 2, 2);
    expect_statuses(t.s, proto, &t.a, t.g, (const char *[]){"sent", "sent"}, 2);
    struct pt_msg mk = PT_SEND(t.s, proto, &t.c, t.g, "marker");
    expect_no_status_before(t.as, mk.id);
    /* c has one delivered: message 1 is delivered to all. */
    receipt(t.s, proto, &t.c, t.g, "delivered", 1, 1, 0);
    expect_events(t.as, &(struct expect){t.g, "delivered", 1, t.c.id, "delivered", 1});
    expect_statuses(t.s, proto, &t.a, t.g, (const char *[]){"delivered", "sent", "sent"}, 3);
    /* c reads both of a's: read for both (b read them already). */
    receipt(t.s, proto, &t.c, t.g, "read", 2, 2, 2);
    expect_events(t.as, &(struct expect){t.g, "read", 2, t.c.id, "read", 2});
    expect_statuses(t.s, proto, &t.a, t.g, (const char *[]){"read", "read", "sent"}, 3);
    expect_receipts(t.s, proto, &t.a, t.g, 1, t.b.id, 1, 1, 2);
    expect_receipts(t.s, proto, &t.a, t.g, 1, t.c.id, 1, 1, 2);
    expect_receipts(t.s, proto, &t.a, t.g, 3, t.a.id, 0, 0, 2);
    trio_stop(&t);
}

/* Receipts that each cover more messages than the per-message status
 * probe takes (storage/pg_receipts.c, RECEIPT_FEW_SEQS) go through the
 * group-wide minimum: the same ticks. */
PLTEST_PROTO(group_ticks_over_a_long_range)
{
    struct trio t;
    trio_start(&t, proto, "glong", "Long");
    enum { N = 12 };
    const char *want[N];
    for (int i = 0; i < N; i++) {
        char text[16];
        snprintf(text, sizeof(text), "long %d", i + 1);
        struct pt_msg m = PT_SEND(t.s, proto, &t.a, t.g, text);
        PT_SSE_EXPECT_MSG(t.as, m.id, EV_MS);
        want[i] = "sent";
    }
    /* b reads all twelve, c nothing yet: still "sent". */
    receipt(t.s, proto, &t.b, t.g, "read", N, N, N);
    expect_statuses(t.s, proto, &t.a, t.g, want, N);
    /* c reads five: those five are read by everyone. */
    receipt(t.s, proto, &t.c, t.g, "read", 5, 5, 5);
    expect_events(t.as, &(struct expect){t.g, "read", 5, t.c.id, "read", 5});
    for (int i = 0; i < 5; i++)
        want[i] = "read";
    expect_statuses(t.s, proto, &t.a, t.g, want, N);
    /* c reads the other seven. */
    receipt(t.s, proto, &t.c, t.g, "read", N, N, N);
    expect_events(t.as, &(struct expect){t.g, "read", N, t.c.id, "read", N});
    for (int i = 0; i < N; i++)
        want[i] = "read";
    expect_statuses(t.s, proto, &t.a, t.g, want, N);
    trio_stop(&t);
}
