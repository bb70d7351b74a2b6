/* SPDX-License-Identifier: MIT */
/* Parley - integration: presence subscriptions, privacy, typing caps.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_MS 5000
/* presence_timeout is 2 s; the server sweeps a few times per timeout. */
#define OFFLINE_MS 6000

static const char *const fast_presence[] = {"--presence-timeout", "2", NULL};

/* PUT /v1/presence/subscriptions with the n users; returns the status and
 * leaves the response in *r. */
static long put_subs(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                     const int64_t *ids, unsigned n, struct pt_resp *r)
{
    char body[4096];
    size_t o = (size_t)snprintf(body, sizeof(body), "{\"users\":[");
    for (unsigned i = 0; i < n && o < sizeof(body) - 32; i++)
        o +=
            (size_t)snprintf(body + o, sizeof(body) - o, "%s%lld", i ? "," : "", (long long)ids[i]);
    snprintf(body + o, sizeof(body) - o, "]}");
    pt_reqf(s, proto, "PUT", u->token, r, "/v1/presence/subscriptions", "%s", body);
    return r->status;
}

static void subscribe(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                      const int64_t *ids, unsigned n)
{
    struct pt_resp r;
    PL_ASSERT_INT_EQ(put_subs(s, proto, u, ids, n, &r), 200);
    yajl_val users = pt_json_get(pt_json(&r), "users", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(users) && users->u.array.len == n);
    pt_resp_free(&r);
}

/* The number of users in the caller's current set (GET). */
static size_t subs_count(struct pt_server *s, enum pt_proto proto, const struct pt_user *u)
{
    struct pt_resp r;
    pt_get(s, proto, "/v1/presence/subscriptions", u->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val users = pt_json_get(pt_json(&r), "users", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(users));
    size_t n = users->u.array.len;
    pt_resp_free(&r);
    return n;
}

static void wait_subs_gone(struct pt_server *s, enum pt_proto proto, const struct pt_user *u)
{
    uint64_t deadline = pt_now_ms() + OFFLINE_MS;
    while (subs_count(s, proto, u) != 0) {
        if (pt_now_ms() >= deadline)
            pltest_fail(__FILE__, __LINE__, "the subscriptions of %s never ended", u->name);
        pt_sleep_ms(100);
    }
}

/* Reads sse up to the message marker; counts presence events per user
 * (online ones in on[i], offline in off[i] for users[i]) and fails on a
 * presence event about anyone else, or one that shows a hidden field. */
static void count_presence(struct pt_sse *sse, int64_t marker, const int64_t *users, unsigned n,
                           unsigned *on, unsigned *off)
{
    for (;;) {
        struct pt_sse_event ev;
        if (pt_sse_next(sse, EV_MS, &ev) < 0)
            pltest_fail(__FILE__, __LINE__, "marker %lld never came", (long long)marker);
        if (strcmp(ev.name, "presence") == 0) {
            int64_t who = pt_sse_int(&ev, "user_id", NULL);
            unsigned i = 0;
            while (i < n && users[i] != who)
                i++;
            if (i == n)
                pltest_fail(__FILE__, __LINE__, "presence of a user not subscribed: %s", ev.data);
            /* Whoever receives an event may see both fields. */
            if (!pt_is_timestamp(pt_json_str(ev.json, "last_seen", NULL)))
                pltest_fail(__FILE__, __LINE__, "presence event without last_seen: %s", ev.data);
            if (YAJL_IS_TRUE(pt_json_get(ev.json, "online", NULL)))
                on[i]++;
            else
                off[i]++;
        }
        int done = ev.pos == marker;
        pt_sse_event_free(&ev);
        if (done)
            return;
    }
}

/* The next presence event on sse must be user's transition to online
 * (or offline), with both fields. */
static void expect_next(struct pt_sse *sse, int64_t user, int online)
{
    struct pt_sse_event ev;
    if (pt_sse_wait(sse, "presence", OFFLINE_MS, &ev) < 0)
        pltest_fail(__FILE__, __LINE__, "no presence event for %lld", (long long)user);
    if (pt_sse_int(&ev, "user_id", NULL) != user ||
        YAJL_IS_TRUE(pt_json_get(ev.json, "online", NULL)) != !!online ||
        !pt_is_timestamp(pt_json_str(ev.json, "last_seen", NULL)))
        pltest_fail(__FILE__, __LINE__, "expected %lld %s, got %s", (long long)user,
                    online ? "online" : "offline", ev.data);
    pt_sse_event_free(&ev);
}
#define expect_online(sse, user) expect_next((sse), (user), 1)

PLTEST_PROTO(a_group_member_who_did_not_subscribe_gets_no_presence)
{
    struct pt_server *s = PT_SERVER_START(fast_presence);
    struct pt_user a, b, c, d, e;
    PT_USER_NEW(s, proto, "ps_a", &a);
    PT_USER_NEW(s, proto, "ps_b", &b); /* subscribes to a and d */
    PT_USER_NEW(s, proto, "ps_c", &c); /* in the group, subscribes to nobody */
    PT_USER_NEW(s, proto, "ps_d", &d);
    PT_USER_NEW(s, proto, "ps_e", &e); /* in the group, nobody watches e */
    int64_t members[] = {b.id, c.id, d.id, e.id};
    int64_t g = PT_GROUP(s, proto, &a, "Everyone", members, 4);
    struct pt_sse *bs = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    struct pt_sse *cs = PT_SSE_OPEN_READY(s, proto, c.token, NULL);
    int64_t watched[] = {a.id, d.id};
    subscribe(s, proto, &b, watched, 2);
    PL_ASSERT_INT_EQ(subs_count(s, proto, &b), 2);
    struct pt_sse *as = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    expect_online(bs, a.id);
    struct pt_sse *es = PT_SSE_OPEN_READY(s, proto, e.token, NULL);
    struct pt_sse *ds = PT_SSE_OPEN_READY(s, proto, d.token, NULL);
    /* The next presence event is d's: e, opened before, was not sent. */
    expect_online(bs, d.id);
    struct pt_msg m = PT_SEND(s, proto, &a, g, "marker");
    /* b: a and d online exactly once each (above), nothing more. */
    unsigned on[2] = {0}, off[2] = {0};
    int64_t b_watch[] = {a.id, d.id};
    count_presence(bs, m.id, b_watch, 2, on, off);
    PL_ASSERT_INT_EQ(on[0] + on[1] + off[0] + off[1], 0);
    pt_sse_close(ds);
    pt_sse_close(es);
    pt_sse_close(as);
    /* Both go offline after the 2 s timeout; e does too, unannounced. */
    uint64_t deadline = pt_now_ms() + OFFLINE_MS + 2000;
    unsigned total_off = 0;
    while (total_off < 2 && pt_now_ms() < deadline) {
        struct pt_msg mk = PT_SEND(s, proto, &c, g, "tick");
        count_presence(bs, mk.id, b_watch, 2, on, off);
        total_off = off[0] + off[1];
        if (total_off < 2)
            pt_sleep_ms(300);
    }
    PL_ASSERT_INT_EQ(off[0], 1);
    PL_ASSERT_INT_EQ(off[1], 1);
    PL_ASSERT_INT_EQ(on[0] + on[1], 0);
    /* c, who watches nobody, saw no presence event at all. */
    m = PT_SEND(s, proto, &b, g, "last");
    count_presence(cs, m.id, NULL, 0, NULL, NULL);
    pt_sse_close(bs);
    pt_sse_close(cs);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

static void set_visibility(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                           const char *v)
{
    struct pt_resp r;
    pt_reqf(s, proto, "PATCH", u->token, &r, "/v1/me", "{\"last_seen_visibility\":\"%s\"}", v);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
}

/* GET /v1/users/{user}/presence is hidden: no online, no last_seen. */
static void assert_hidden(struct pt_server *s, enum pt_proto proto, const struct pt_user *viewer,
                          int64_t user)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/users/%lld/presence", (long long)user);
    struct pt_resp r;
    pt_get(s, proto, path, viewer->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val t = pt_json(&r);
    if (strcmp(pt_json_str(t, "status", NULL), "hidden") != 0 ||
        !YAJL_IS_NULL(pt_json_get(t, "online", NULL)) ||
        !YAJL_IS_NULL(pt_json_get(t, "last_seen", NULL)))
        pltest_fail(__FILE__, __LINE__, "presence not hidden: %s", r.body);
    pt_resp_free(&r);
}

PLTEST_PROTO(privacy_hides_online_and_last_seen_everywhere)
{
    struct pt_server *s = PT_SERVER_START(fast_presence);
    struct pt_user a, b, c, d;
    PT_USER_NEW(s, proto, "pp_a", &a);
    PT_USER_NEW(s, proto, "pp_b", &b); /* a's contact */
    PT_USER_NEW(s, proto, "pp_c", &c); /* a stranger */
    PT_USER_NEW(s, proto, "pp_d", &d); /* sends markers to b and c */
    PT_DIRECT(s, proto, &a, b.id, 201);
    int64_t db = PT_DIRECT(s, proto, &d, b.id, 201);
    int64_t dc = PT_DIRECT(s, proto, &d, c.id, 201);
    struct pt_sse *bs = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    struct pt_sse *cs = PT_SSE_OPEN_READY(s, proto, c.token, NULL);
    set_visibility(s, proto, &a, "nobody");
    /* The subscription answer carries the same hidden presence. */
    struct pt_resp r;
    PL_ASSERT_INT_EQ(put_subs(s, proto, &b, &a.id, 1, &r), 200);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "presence", "0", "status", NULL), "hidden");
    PL_ASSERT(YAJL_IS_NULL(pt_json_get(pt_json(&r), "presence", "0", "online", NULL)));
    PL_ASSERT(YAJL_IS_NULL(pt_json_get(pt_json(&r), "presence", "0", "last_seen", NULL)));
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(put_subs(s, proto, &c, &a.id, 1, &r), 200);
    pt_resp_free(&r);
    /* a comes online under "nobody": no event, and a one-off question
     * learns nothing either, from its contact or from a stranger. */
    struct pt_sse *as = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    assert_hidden(s, proto, &b, a.id);
    assert_hidden(s, proto, &c, a.id);
    struct pt_msg m = PT_SEND(s, proto, &d, db, "marker");
    count_presence(bs, m.id, NULL, 0, NULL, NULL);
    /* "contacts": b sees a go offline and come back, c sees nothing. */
    set_visibility(s, proto, &a, "contacts");
    assert_hidden(s, proto, &c, a.id);
    pt_sse_close(as);
    expect_next(bs, a.id, 0);
    as = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    expect_online(bs, a.id);
    m = PT_SEND(s, proto, &d, dc, "marker");
    count_presence(cs, m.id, NULL, 0, NULL, NULL);
    m = PT_SEND(s, proto, &d, db, "marker");
    count_presence(bs, m.id, NULL, 0, NULL, NULL);
    pt_sse_close(as);
    pt_sse_close(bs);
    pt_sse_close(cs);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(subscriptions_expire_with_the_ttl_and_with_the_stream)
{
    static const char *const args[] = {"--presence-timeout", "2", "--presence-subscription-ttl",
                                       "1", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b, d;
    PT_USER_NEW(s, proto, "pe_a", &a);
    PT_USER_NEW(s, proto, "pe_b", &b);
    PT_USER_NEW(s, proto, "pe_d", &d);
    int64_t db = PT_DIRECT(s, proto, &d, b.id, 201);
    struct pt_sse *bs = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    subscribe(s, proto, &b, &a.id, 1);
    PL_ASSERT_INT_EQ(subs_count(s, proto, &b), 1);
    wait_subs_gone(s, proto, &b); /* the 1 s TTL */
    struct pt_sse *as = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    struct pt_msg m = PT_SEND(s, proto, &d, db, "marker");
    count_presence(bs, m.id, NULL, 0, NULL, NULL);
    pt_sse_close(as);
    pt_sse_close(bs);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);

    /* With a long TTL the set ends with the device's last stream. */
    static const char *const args2[] = {"--presence-timeout", "2", NULL};
    s = PT_SERVER_START(args2);
    /* A new device: the stopped server's streams of b's first one are
     * still listed for it (see storage/presence.h on stopped nodes). */
    struct pt_user b2;
    pt_user_device(s, proto, &b, &b2);
    bs = PT_SSE_OPEN_READY(s, proto, b2.token, NULL);
    subscribe(s, proto, &b2, &a.id, 1);
    struct pt_sse *bs2 = PT_SSE_OPEN_READY(s, proto, b2.token, NULL);
    pt_sse_close(bs2); /* another stream of the device is still open */
    pt_sse_close(bs);
    wait_subs_gone(s, proto, &b2);
    /* DELETE empties it too. */
    subscribe(s, proto, &b2, &a.id, 1);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(
        pt_req(s, proto, "DELETE", "/v1/presence/subscriptions", b2.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(subs_count(s, proto, &b2), 0);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(the_subscription_cap_and_bad_input)
{
    static const char *const args[] = {"--presence-subscriptions-max", "3", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user u[5];
    for (int i = 0; i < 5; i++)
        PT_USER_NEW(s, proto, "pc", &u[i]);
    int64_t ids[4] = {u[1].id, u[2].id, u[3].id, u[4].id};
    struct pt_resp r;
    PL_ASSERT_INT_EQ(put_subs(s, proto, &u[0], ids, 4, &r), 422);
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "errors", "0", "pointer", NULL), "/users");
    pt_resp_free(&r);
    subscribe(s, proto, &u[0], ids, 3);
    /* Duplicates count once; usernames work too. */
    pt_reqf(s, proto, "PUT", u[0].token, &r, "/v1/presence/subscriptions",
            "{\"users\":[%lld,%lld,\"%s\"]}", (long long)u[1].id, (long long)u[1].id, u[2].name);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(pt_json_get(pt_json(&r), "users", NULL)->u.array.len, 2);
    pt_resp_free(&r);
    int64_t nobody = 999999999999;
    PL_ASSERT_INT_EQ(put_subs(s, proto, &u[0], &nobody, 1, &r), 422);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "errors", "0", "pointer", NULL), "/users/0");
    pt_resp_free(&r);
    pt_reqf(s, proto, "PUT", u[0].token, &r, "/v1/presence/subscriptions", "{\"users\":[true]}");
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    pt_resp_free(&r);
    pt_reqf(s, proto, "PUT", u[0].token, &r, "/v1/presence/subscriptions", "{\"users\":3}");
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    pt_resp_free(&r);
    pt_reqf(s, proto, "PUT", u[0].token, &r, "/v1/presence/subscriptions", "{}");
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    pt_resp_free(&r);
    /* The failed calls left the last good set alone. */
    PL_ASSERT_INT_EQ(subs_count(s, proto, &u[0]), 2);
    pt_get(s, proto, "/v1/presence/subscriptions", NULL, &r);
    PT_ASSERT_STATUS(&r, 401);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

static void typing(struct pt_server *s, enum pt_proto proto, const struct pt_user *u, int64_t conv)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/typing", (long long)conv);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(pt_req(s, proto, "POST", path, u->token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
}

/* Counts typing events on sse up to the marker message. */
static unsigned typing_until(struct pt_sse *sse, int64_t marker)
{
    unsigned n = 0;
    for (;;) {
        struct pt_sse_event ev;
        if (pt_sse_next(sse, EV_MS, &ev) < 0)
            pltest_fail(__FILE__, __LINE__, "marker %lld never came", (long long)marker);
        n += strcmp(ev.name, "typing") == 0;
        int done = ev.pos == marker;
        pt_sse_event_free(&ev);
        if (done)
            return n;
    }
}

PLTEST_PROTO(typing_is_capped_by_group_size_and_rate_limited)
{
    static const char *const args[] = {"--typing-max-members", "2", "--typing-interval-ms", "60000",
                                       NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "pt_a", &a);
    PT_USER_NEW(s, proto, "pt_b", &b);
    PT_USER_NEW(s, proto, "pt_c", &c);
    int64_t members[] = {b.id, c.id};
    int64_t g = PT_GROUP(s, proto, &a, "Three", members, 2);
    int64_t ab = PT_DIRECT(s, proto, &a, b.id, 201);
    struct pt_sse *bs = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    typing(s, proto, &a, g); /* 3 members > 2: not sent */
    typing(s, proto, &a, ab);
    typing(s, proto, &a, ab); /* inside the interval: not sent again */
    struct pt_msg m = PT_SEND(s, proto, &a, ab, "marker");
    PL_ASSERT_INT_EQ(typing_until(bs, m.id), 1);
    pt_sse_close(bs);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* A counter from /metrics. */
static long long metric(struct pt_server *s, const char *name)
{
    return pt_metric(s, PT_H1, name);
}

PLTEST_PROTO(transitions_reach_only_the_nodes_with_subscribers)
{
    /* Three parleyd on one PostgreSQL and Redis: b (subscribed to a) on
     * n1, a and c (a's group, not subscribed) on n2, d on n3. */
    /* A long timeout: a slow run (sanitizers) must not see a flap, which
     * would be a second, legitimate transition. */
    static const char *const slow[] = {"--presence-timeout", "30", NULL};
    struct pt_server *n1 = PT_SERVER_START(slow);
    struct pt_server *n2 = PT_SERVER_START(slow);
    struct pt_server *n3 = PT_SERVER_START(slow);
    struct pt_user a, b, c, d;
    PT_USER_NEW(n1, proto, "pn_a", &a);
    PT_USER_NEW(n1, proto, "pn_b", &b);
    PT_USER_NEW(n1, proto, "pn_c", &c);
    PT_USER_NEW(n1, proto, "pn_d", &d);
    int64_t members[] = {b.id, c.id, d.id};
    int64_t g = PT_GROUP(n1, proto, &a, "Spread", members, 3);
    struct pt_sse *bs = PT_SSE_OPEN_READY(n1, proto, b.token, NULL);
    struct pt_sse *cs = PT_SSE_OPEN_READY(n2, proto, c.token, NULL);
    struct pt_sse *ds = PT_SSE_OPEN_READY(n3, proto, d.token, NULL);
    subscribe(n3, proto, &b, &a.id, 1); /* any node takes the PUT */
    struct pt_sse *as = PT_SSE_OPEN_READY(n2, proto, a.token, NULL);
    expect_online(bs, a.id);
    struct pt_msg m = PT_SEND(n2, proto, &a, g, "marker");
    count_presence(cs, m.id, NULL, 0, NULL, NULL);
    count_presence(ds, m.id, NULL, 0, NULL, NULL);
    PL_ASSERT_INT_EQ(metric(n2, "parley_presence_frames_sent_total"), 1);
    PL_ASSERT_INT_EQ(metric(n1, "parley_presence_frames_received_total"), 1);
    PL_ASSERT_INT_EQ(metric(n1, "parley_presence_events_total"), 1);
    /* No broadcast: the nodes without subscribers heard nothing. */
    PL_ASSERT_INT_EQ(metric(n2, "parley_presence_events_total"), 0);
    PL_ASSERT_INT_EQ(metric(n3, "parley_presence_frames_received_total"), 0);
    PL_ASSERT_INT_EQ(metric(n3, "parley_presence_events_total"), 0);
    pt_sse_close(as);
    pt_sse_close(bs);
    pt_sse_close(cs);
    pt_sse_close(ds);
    PL_ASSERT_INT_EQ(pt_server_stop(n3), 0);
    PL_ASSERT_INT_EQ(pt_server_stop(n2), 0);
    PL_ASSERT_INT_EQ(pt_server_stop(n1), 0);
}
