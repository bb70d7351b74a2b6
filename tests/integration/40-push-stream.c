/* SPDX-License-Identifier: MIT */
/* Parley - integration: GET /v1/events, resume, logout, GET /v1/sync.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_MS 5000 /* how long an event may take to arrive */

/* ---- the harness's own parser, against the EventSource rules ---- */

static const char parser_input[] = "\xef\xbb\xbfretry: 3000\r\n\r\n"
                                   ": keep-alive\n\n"
                                   "id: 7\nevent: message.created\ndata: {\"a\":1}\n\n"
                                   "event: typing\ndata: x\ndata: y\r\r"
                                   "data:no-space\n\n"
                                   "id: 9\n\n"
                                   ": c2\n"
                                   "data: cut off by the end";

static void check_parsed(struct pt_sse *sse)
{
    struct pt_sse_event ev;
    PL_ASSERT_INT_EQ(pt_sse_retry(sse), 3000);
    PL_ASSERT_INT_EQ(pt_sse_comments(sse), 2);
    PL_ASSERT_STR_EQ(pt_sse_last_comment(sse), " c2");
    PL_ASSERT_INT_EQ(pt_sse_queued(sse), 3);
    PL_ASSERT_INT_EQ(pt_sse_next(sse, 0, &ev), 0);
    PL_ASSERT_STR_EQ(ev.name, "message.created");
    PL_ASSERT_STR_EQ(ev.id, "7");
    PL_ASSERT_INT_EQ(ev.pos, 7);
    PL_ASSERT_INT_EQ(pt_json_int(ev.json, "a", NULL), 1);
    pt_sse_event_free(&ev);
    PL_ASSERT_INT_EQ(pt_sse_next(sse, 0, &ev), 0);
    PL_ASSERT_STR_EQ(ev.name, "typing");
    PL_ASSERT_STR_EQ(ev.id, "");
    PL_ASSERT_STR_EQ(ev.data, "x\ny");
    PL_ASSERT(!ev.json);
    pt_sse_event_free(&ev);
    PL_ASSERT_INT_EQ(pt_sse_next(sse, 0, &ev), 0);
    PL_ASSERT_STR_EQ(ev.name, "message");
    PL_ASSERT_STR_EQ(ev.data, "no-space");
    pt_sse_event_free(&ev);
    /* "id: 9" with no data dispatches nothing but moves the last id; the
     * unterminated event at the end is dropped. */
    PL_ASSERT_STR_EQ(pt_sse_last_id(sse), "9");
    PL_ASSERT_INT_EQ(pt_sse_next(sse, 0, &ev), PT_SSE_ENDED);
}

PLTEST(sse_parser_follows_the_eventsource_rules)
{
    struct pt_sse *sse = pt__sse_parser_new();
    pt__sse_feed(sse, parser_input, sizeof(parser_input) - 1);
    check_parsed(sse);
    pt_sse_close(sse);
    /* Byte by byte: every line end (a CRLF too) is split across reads. */
    sse = pt__sse_parser_new();
    for (size_t i = 0; i < sizeof(parser_input) - 1; i++)
        pt__sse_feed(sse, parser_input + i, 1);
    check_parsed(sse);
    pt_sse_close(sse);
}

/* ---- helpers ---- */

/* ---- the stream ---- */

PLTEST_PROTO(stream_starts_with_retry_and_ready)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a;
    PT_USER_NEW(s, proto, "sse_ready", &a);
    int64_t pos;
    struct pt_sse *sse = PT_SSE_OPEN_READY(s, proto, a.token, &pos);
    /* The very first bytes are the reconnection hint. */
    const char *head = pt_sse_head(sse);
    if (strncmp(head, "retry: 3000\n\n", 13) != 0)
        pltest_fail(__FILE__, __LINE__, "stream starts with \"%.20s\"", head);
    PL_ASSERT_INT_EQ(pt_sse_retry(sse), 3000);
    PL_ASSERT_STR_EQ(pt_sse_header(sse, "Cache-Control"), "no-store");
    /* ready is the current position: a sync from there has nothing of
     * ours, and reports a position at or after it. */
    char path[96];
    snprintf(path, sizeof(path), "/v1/sync?since=%lld", (long long)pos);
    struct pt_resp r;
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val ev = pt_json_get(pt_json(&r), "events", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(ev));
    PL_ASSERT_INT_EQ(ev->u.array.len, 0);
    PL_ASSERT(pt_json_int(pt_json(&r), "position", NULL) >= pos);
    PL_ASSERT(YAJL_IS_FALSE(pt_json_get(pt_json(&r), "reset", NULL)));
    pt_resp_free(&r);
    pt_sse_close(sse);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Every member's every stream gets each event: two devices of the
 * recipient, two tabs of one of them, and the sender's own device. */
PLTEST_PROTO(events_reach_every_stream_of_every_member)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a1, a2, b;
    PT_USER_NEW(s, proto, "sse_fan_a", &a1);
    pt_user_device(s, proto, &a1, &a2);
    PT_USER_NEW(s, proto, "sse_fan_b", &b);
    struct pt_sse *st[4];
    st[0] = PT_SSE_OPEN_READY(s, proto, a1.token, NULL);
    st[1] = PT_SSE_OPEN_READY(s, proto, a1.token, NULL); /* a second tab of device 1 */
    st[2] = PT_SSE_OPEN_READY(s, proto, a2.token, NULL);
    st[3] = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    int64_t conv = PT_DIRECT(s, proto, &b, a1.id, 201);
    struct pt_msg m = PT_SEND(s, proto, &b, conv, "hello, every tab");
    for (int i = 0; i < 4; i++) {
        struct pt_sse_event ev;
        PL_ASSERT_INT_EQ(pt_sse_next_durable(st[i], EV_MS, &ev), 0);
        PL_ASSERT_STR_EQ(ev.name, "conversation.created");
        PL_ASSERT(ev.pos > 0);
        PL_ASSERT_INT_EQ(pt_sse_int(&ev, "conversation", "id"), conv);
        pt_sse_event_free(&ev);
        PL_ASSERT_INT_EQ(pt_sse_next_durable(st[i], EV_MS, &ev), 0);
        PL_ASSERT_STR_EQ(ev.name, "message.created");
        /* A message's id is the position of its message.created event. */
        PL_ASSERT_INT_EQ(ev.pos, m.id);
        PL_ASSERT_INT_EQ(pt_sse_int(&ev, "conversation_id", NULL), conv);
        PL_ASSERT_INT_EQ(pt_sse_int(&ev, "message", "seq"), m.seq);
        PL_ASSERT_INT_EQ(pt_sse_int(&ev, "message", "sender"), b.id);
        PL_ASSERT_STR_EQ(pt_json_str(ev.json, "message", "text", NULL), "hello, every tab");
        pt_sse_event_free(&ev);
    }
    for (int i = 0; i < 4; i++)
        pt_sse_close(st[i]);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(keepalive_comments_arrive)
{
    const char *args[] = {"--sse-keepalive-ms", "300", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a;
    PT_USER_NEW(s, proto, "sse_ka", &a);
    struct pt_sse *sse = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    uint64_t deadline = pt_now_ms() + 3000;
    while (pt_sse_comments(sse) < 2 && pt_now_ms() < deadline)
        PL_ASSERT(!pt_sse_pump(sse, 200));
    PL_ASSERT(pt_sse_comments(sse) >= 2);
    PL_ASSERT_STR_EQ(pt_sse_last_comment(sse), " keep-alive");
    /* Comments dispatch nothing. */
    PL_ASSERT_INT_EQ(pt_sse_queued(sse), 0);
    pt_sse_close(sse);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Resume from a known id, by header and by query parameter: exactly the
 * missed events in order, no ready, then live. */
PLTEST_PROTO(resume_replays_exactly_the_missed_events)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "sse_res_a", &a);
    PT_USER_NEW(s, proto, "sse_res_b", &b);
    int64_t conv = PT_DIRECT(s, proto, &b, a.id, 201);
    struct pt_sse *sse = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    struct pt_msg m[7];
    m[0] = PT_SEND(s, proto, &b, conv, "m0");
    PT_SSE_EXPECT_MSG(sse, m[0].id, EV_MS);
    pt_sse_close(sse);
    for (int i = 1; i < 4; i++)
        m[i] = PT_SEND(s, proto, &b, conv, "missed");
    char id[32];
    snprintf(id, sizeof(id), "%lld", (long long)m[0].id);
    sse = pt_sse_open(s, proto, a.token, id);
    for (int i = 1; i < 4; i++)
        PT_SSE_EXPECT_MSG(sse, m[i].id, EV_MS);
    m[4] = PT_SEND(s, proto, &b, conv, "live");
    PT_SSE_EXPECT_MSG(sse, m[4].id, EV_MS);
    pt_sse_close(sse);

    /* The query parameter, for EventSource, which cannot set headers. */
    m[5] = PT_SEND(s, proto, &b, conv, "missed again");
    char path[96];
    snprintf(path, sizeof(path), "/v1/events?last_event_id=%lld", (long long)m[2].id);
    struct pt_sse_opts o = {.path = path, .token = a.token};
    PL_ASSERT_INT_EQ(pt_sse_open_opts(s, proto, &o, &sse), 0);
    PL_ASSERT_INT_EQ(pt_sse_status(sse), 200);
    PT_SSE_EXPECT_MSG(sse, m[3].id, EV_MS);
    PT_SSE_EXPECT_MSG(sse, m[4].id, EV_MS);
    PT_SSE_EXPECT_MSG(sse, m[5].id, EV_MS);
    m[6] = PT_SEND(s, proto, &b, conv, "live again");
    PT_SSE_EXPECT_MSG(sse, m[6].id, EV_MS);
    pt_sse_close(sse);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

static void expect_reset(struct pt_sse *sse, int64_t at_least, int64_t below)
{
    struct pt_sse_event ev;
    PL_ASSERT_INT_EQ(pt_sse_next_durable(sse, EV_MS, &ev), 0);
    if (strcmp(ev.name, "reset") != 0)
        pltest_fail(__FILE__, __LINE__, "expected reset, got %s: %s", ev.name, ev.data);
    PL_ASSERT_STR_EQ(ev.id, "");
    const char *reason = pt_json_str(ev.json, "reason", NULL);
    PL_ASSERT(reason && *reason);
    int64_t pos = pt_sse_int(&ev, "position", NULL);
    if (pos < at_least || pos >= below)
        pltest_fail(__FILE__, __LINE__, "reset position %lld outside [%lld, %lld)", (long long)pos,
                    (long long)at_least, (long long)below);
    pt_sse_event_free(&ev);
}

/* A position the server cannot replay from exactly says so; the stream
 * then continues live. (Positions older than event_retention, at least a
 * minute, are out of reach of a quick test.) */
PLTEST_PROTO(resume_from_an_unknown_position_is_a_reset)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "sse_reset_a", &a);
    PT_USER_NEW(s, proto, "sse_reset_b", &b);
    int64_t conv = PT_DIRECT(s, proto, &b, a.id, 201);
    int64_t now;
    struct pt_sse *sse = PT_SSE_OPEN_READY(s, proto, a.token, &now);
    pt_sse_close(sse);
    char id[32];
    snprintf(id, sizeof(id), "%lld", (long long)(now + 1000000000));
    sse = pt_sse_open(s, proto, a.token, id);
    expect_reset(sse, now, now + 1000000000);
    struct pt_msg m = PT_SEND(s, proto, &b, conv, "after the reset");
    PT_SSE_EXPECT_MSG(sse, m.id, EV_MS);
    pt_sse_close(sse);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(logout_closes_that_devices_stream_only)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a1, a2, b;
    PT_USER_NEW(s, proto, "sse_out_a", &a1);
    pt_user_device(s, proto, &a1, &a2);
    PT_USER_NEW(s, proto, "sse_out_b", &b);
    int64_t conv = PT_DIRECT(s, proto, &b, a1.id, 201);
    struct pt_sse *s1, *s2;
    s1 = PT_SSE_OPEN_READY(s, proto, a1.token, NULL);
    s2 = PT_SSE_OPEN_READY(s, proto, a2.token, NULL);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(
        pt_req(s, proto, "DELETE", "/v1/sessions/current", a1.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    struct pt_sse_event ev;
    int rc = pt_sse_next_durable(s1, 2000, &ev);
    if (rc != PT_SSE_ENDED)
        pltest_fail(__FILE__, __LINE__, "device 1's stream still open 2 s after logout (%d %s)", rc,
                    rc == 0 ? ev.name : "");
    /* The other device keeps its stream. */
    PL_ASSERT(!pt_sse_ended(s2));
    struct pt_msg m = PT_SEND(s, proto, &b, conv, "still here?");
    PT_SSE_EXPECT_MSG(s2, m.id, EV_MS);
    pt_sse_close(s1);
    /* And the revoked token cannot open a new one. */
    struct pt_sse_opts o = {.token = a1.token};
    PL_ASSERT_INT_EQ(pt_sse_open_opts(s, proto, &o, &s1), 0);
    PL_ASSERT_INT_EQ(pt_sse_status(s1), 401);
    pt_sse_close(s1);
    pt_sse_close(s2);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Opens with o and expects status; for 200, a ready event. */
static void open_expect(struct pt_server *s, enum pt_proto proto, const struct pt_sse_opts *o,
                        long status)
{
    struct pt_sse *sse;
    PL_ASSERT_INT_EQ(pt_sse_open_opts(s, proto, o, &sse), 0);
    if (pt_sse_status(sse) != status)
        pltest_fail(__FILE__, __LINE__, "%s: expected %ld, got %ld: %.300s",
                    o->path ? o->path : "/v1/events", status, pt_sse_status(sse), pt_sse_body(sse));
    if (status == 200) {
        struct pt_sse_event ev;
        PT_SSE_EXPECT(sse, "ready", EV_MS, &ev);
        pt_sse_event_free(&ev);
    } else {
        const char *ct = pt_sse_header(sse, "Content-Type");
        PL_ASSERT(ct && strncmp(ct, "application/problem+json", 24) == 0);
    }
    pt_sse_close(sse);
}

PLTEST_PROTO(token_in_query_or_cookie)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a;
    PT_USER_NEW(s, proto, "sse_auth", &a);
    char path[256], cookie[256];
    snprintf(path, sizeof(path), "/v1/events?access_token=%s", a.token);
    open_expect(s, proto, &(struct pt_sse_opts){.path = path}, 200);
    snprintf(cookie, sizeof(cookie), "Cookie: theme=dark; parley_token=%s", a.token);
    const char *hdrs[] = {cookie, NULL};
    open_expect(s, proto, &(struct pt_sse_opts){.headers = hdrs}, 200);
    open_expect(s, proto, &(struct pt_sse_opts){0}, 401);
    open_expect(s, proto, &(struct pt_sse_opts){.path = "/v1/events?access_token=pl_nope"}, 401);
    const char *bad[] = {"Cookie: parley_token=pl_nope", NULL};
    open_expect(s, proto, &(struct pt_sse_opts){.headers = bad}, 401);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* ---- GET /v1/sync ---- */

/* GET /v1/sync with the given query; expects 200 and returns the tree. */
static yajl_val sync(struct pt_server *s, enum pt_proto proto, const char *token, struct pt_resp *r,
                     const char *query)
{
    char path[160];
    snprintf(path, sizeof(path), "/v1/sync?%s", query);
    pt_get(s, proto, path, token, r);
    PT_ASSERT_STATUS(r, 200);
    yajl_val t = pt_json(r);
    PL_ASSERT(YAJL_IS_ARRAY(pt_json_get(t, "events", NULL)));
    PL_ASSERT(pt_json_int(t, "position", NULL) >= 0);
    return t;
}

PLTEST_PROTO(sync_returns_the_same_events_as_the_stream)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "sync_a", &a);
    PT_USER_NEW(s, proto, "sync_b", &b);
    int64_t p0;
    struct pt_sse *sse = PT_SSE_OPEN_READY(s, proto, a.token, &p0);
    int64_t conv = PT_DIRECT(s, proto, &b, a.id, 201);
    struct pt_msg last = {0};
    for (int i = 0; i < 3; i++)
        last = PT_SEND(s, proto, &b, conv, "sync me");
    PT_RECEIPT(s, proto, &a, conv, "read", last.seq);
    /* The receipt may make one event or two (read implies delivered); a
     * last message marks the end of what this test caused. */
    struct pt_msg marker = PT_SEND(s, proto, &b, conv, "the end");
    int64_t ids[16];
    char names[16][64];
    size_t n = 0;
    while (n == 0 || ids[n - 1] != marker.id) {
        struct pt_sse_event ev;
        PL_ASSERT_INT_EQ(pt_sse_next_durable(sse, EV_MS, &ev), 0);
        PL_ASSERT(n < 16 && ev.pos > 0);
        ids[n] = ev.pos;
        strcpy(names[n++], ev.name);
        pt_sse_event_free(&ev);
    }
    PL_ASSERT(n >= 6);
    struct pt_resp r;
    char q[64];
    snprintf(q, sizeof(q), "since=%lld", (long long)p0);
    yajl_val t = sync(s, proto, a.token, &r, q);
    yajl_val evs = pt_json_get(t, "events", NULL);
    PL_ASSERT(YAJL_IS_FALSE(pt_json_get(t, "reset", NULL)));
    if (evs->u.array.len != n)
        pltest_fail(__FILE__, __LINE__, "stream had %zu events, sync %zu: %.500s", n,
                    evs->u.array.len, r.body);
    for (size_t i = 0; i < n; i++) {
        char k[8];
        snprintf(k, sizeof(k), "%zu", i);
        PL_ASSERT_INT_EQ(pt_json_int(evs, k, "id", NULL), ids[i]);
        PL_ASSERT_STR_EQ(pt_json_str(evs, k, "event", NULL), names[i]);
        PL_ASSERT(YAJL_IS_OBJECT(pt_json_get(evs, k, "data", NULL)));
    }
    PL_ASSERT(pt_json_int(t, "position", NULL) >= ids[n - 1]);
    pt_resp_free(&r);
    /* limit pages through the same list. */
    snprintf(q, sizeof(q), "since=%lld&limit=2", (long long)p0);
    t = sync(s, proto, a.token, &r, q);
    PL_ASSERT_INT_EQ(pt_json_get(t, "events", NULL)->u.array.len, 2);
    PL_ASSERT_INT_EQ(pt_json_int(t, "events", "1", "id", NULL), ids[1]);
    PL_ASSERT_INT_EQ(pt_json_int(t, "position", NULL), ids[1]);
    pt_resp_free(&r);
    /* A position from the future is a reset. */
    snprintf(q, sizeof(q), "since=%lld", (long long)ids[n - 1] + 1000000000);
    t = sync(s, proto, a.token, &r, q);
    PL_ASSERT(YAJL_IS_TRUE(pt_json_get(t, "reset", NULL)));
    pt_resp_free(&r);
    pt_sse_close(sse);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

struct delayed_send {
    struct pt_server *s;
    enum pt_proto proto;
    const struct pt_user *from;
    int64_t conv;
    unsigned delay_ms;
    int64_t id; /* out */
};

static void *send_later(void *arg)
{
    struct delayed_send *d = arg;
    /* The delay only makes it likely that the sync is already waiting;
     * were it not, the sync would answer at once and pass all the same. */
    pt_sleep_ms(d->delay_ms);
    struct pt_client *c = pt_client_new(d->s, d->proto);
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)d->conv);
    const char *body = "{\"client_msg_id\":\"late-1\",\"kind\":\"text\",\"text\":\"wake up\"}";
    struct pt_resp r;
    PL_ASSERT_INT_EQ(pt_client_req(c, "POST", path, d->from->token, "application/json", body,
                                   strlen(body), NULL, &r),
                     0);
    PT_ASSERT_STATUS(&r, 201);
    d->id = pt_json_int(pt_json(&r), "id", NULL);
    pt_resp_free(&r);
    pt_client_free(c);
    return NULL;
}

PLTEST_PROTO(sync_long_polls_until_an_event)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "lpoll_a", &a);
    PT_USER_NEW(s, proto, "lpoll_b", &b);
    int64_t conv = PT_DIRECT(s, proto, &b, a.id, 201);
    struct pt_resp r;
    yajl_val t = sync(s, proto, a.token, &r, "since=0&timeout=0");
    int64_t pos = pt_json_int(t, "position", NULL);
    pt_resp_free(&r);
    /* Nothing new: the answer comes when the timeout ends, empty. */
    char q[96];
    snprintf(q, sizeof(q), "since=%lld&timeout=600", (long long)pos);
    uint64_t t0 = pt_now_ms();
    t = sync(s, proto, a.token, &r, q);
    uint64_t took = pt_now_ms() - t0;
    PL_ASSERT_INT_EQ(pt_json_get(t, "events", NULL)->u.array.len, 0);
    PL_ASSERT(YAJL_IS_FALSE(pt_json_get(t, "reset", NULL)));
    /* Other users' traffic (other tests share the database) must not end
     * the wait early. */
    if (took < 500 || took > 3000)
        pltest_fail(__FILE__, __LINE__, "an empty long poll of 600 ms took %llu ms: %.200s",
                    (unsigned long long)took, r.body);
    pos = pt_json_int(t, "position", NULL);
    pt_resp_free(&r);
    /* An event during the wait ends it at once. */
    struct delayed_send d = {s, proto, &b, conv, 300, 0};
    pthread_t th;
    PL_ASSERT_INT_EQ(pthread_create(&th, NULL, send_later, &d), 0);
    snprintf(q, sizeof(q), "since=%lld&timeout=10000", (long long)pos);
    t0 = pt_now_ms();
    t = sync(s, proto, a.token, &r, q);
    took = pt_now_ms() - t0;
    PL_ASSERT_INT_EQ(pthread_join(th, NULL), 0);
    yajl_val evs = pt_json_get(t, "events", NULL);
    if (evs->u.array.len < 1 || took > 5000)
        pltest_fail(__FILE__, __LINE__, "long poll returned %zu events after %llu ms: %.300s",
                    evs->u.array.len, (unsigned long long)took, r.body);
    PL_ASSERT_STR_EQ(pt_json_str(evs, "0", "event", NULL), "message.created");
    PL_ASSERT_INT_EQ(pt_json_int(evs, "0", "id", NULL), d.id);
    PL_ASSERT_INT_EQ(pt_json_int(evs, "0", "data", "message", "id", NULL), d.id);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(sync_rejects_bad_parameters)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a;
    PT_USER_NEW(s, proto, "sync_bad", &a);
    const char *queries[] = {"since=abc",     "since=-1",  "limit=0", "limit=1001",
                             "timeout=30001", "timeout=x", NULL};
    for (size_t i = 0; queries[i]; i++) {
        char path[96];
        snprintf(path, sizeof(path), "/v1/sync?%s", queries[i]);
        struct pt_resp r;
        pt_get(s, proto, path, a.token, &r);
        if (r.status != 400 && r.status != 422)
            pltest_fail(__FILE__, __LINE__, "%s: expected 400 or 422, got %ld: %.300s", path,
                        r.status, r.body);
        PT_ASSERT_PROBLEM(&r, r.status,
                          r.status == 400 ? "malformed-request" : "validation-failed");
        pt_resp_free(&r);
    }
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
