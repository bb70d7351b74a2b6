/* SPDX-License-Identifier: MIT */
/* Parley - integration: presence, last-seen privacy, typing.           */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_MS 5000
/* presence_timeout is 2 s; the server sweeps a few times per timeout. */
#define OFFLINE_MS 6000

static const char *const fast_presence[] = {"--presence-timeout", "2", NULL};

struct presence {
    char status[16];
    int online;         /* 1, 0, or -1 for null */
    char last_seen[40]; /* "" for null */
};

/* GET /v1/users/{user}/presence as viewer. */
static void get_presence(struct pt_server *s, enum pt_proto proto, const struct pt_user *viewer,
                         int64_t user, struct presence *out)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/users/%lld/presence", (long long)user);
    struct pt_resp r;
    pt_get(s, proto, path, viewer->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val t = pt_json(&r);
    PL_ASSERT_INT_EQ(pt_json_int(t, "user_id", NULL), user);
    const char *st = pt_json_str(t, "status", NULL);
    PL_ASSERT(st && strlen(st) < sizeof(out->status));
    strcpy(out->status, st);
    yajl_val on = pt_json_get(t, "online", NULL);
    out->online = YAJL_IS_TRUE(on) ? 1 : YAJL_IS_FALSE(on) ? 0 : -1;
    PL_ASSERT(out->online != -1 || YAJL_IS_NULL(on));
    yajl_val ls = pt_json_get(t, "last_seen", NULL);
    out->last_seen[0] = '\0';
    if (!YAJL_IS_NULL(ls)) {
        const char *v = pt_json_str(t, "last_seen", NULL);
        if (!pt_is_timestamp(v))
            pltest_fail(__FILE__, __LINE__, "last_seen is not a timestamp: %s", r.body);
        strcpy(out->last_seen, v);
    }
    /* status and online agree. */
    if (strcmp(st, "online") == 0)
        PL_ASSERT_INT_EQ(out->online, 1);
    else if (strcmp(st, "offline") == 0)
        PL_ASSERT_INT_EQ(out->online, 0);
    else
        PL_ASSERT((strcmp(st, "unknown") == 0 || strcmp(st, "hidden") == 0) && out->online == -1);
    /* Hidden means every field (issue 9, item 14). */
    if (strcmp(st, "hidden") == 0)
        PL_ASSERT_STR_EQ(out->last_seen, "");
    pt_resp_free(&r);
}

/* Polls until user's online flag, as viewer sees it, is want; fails the
 * case after ms. */
static void wait_online(struct pt_server *s, enum pt_proto proto, const struct pt_user *viewer,
                        int64_t user, int want, unsigned ms, struct presence *p)
{
    uint64_t deadline = pt_now_ms() + ms;
    for (;;) {
        get_presence(s, proto, viewer, user, p);
        if (p->online == want)
            return;
        if (pt_now_ms() >= deadline)
            pltest_fail(__FILE__, __LINE__, "user %lld still \"%s\" after %u ms", (long long)user,
                        p->status, ms);
        pt_sleep_ms(100);
    }
}

static void heartbeat(struct pt_server *s, enum pt_proto proto, const struct pt_user *u)
{
    struct pt_resp r;
    PL_ASSERT_INT_EQ(
        pt_req(s, proto, "POST", "/v1/presence/heartbeat", u->token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
}

PLTEST_PROTO(online_while_a_stream_is_open_then_last_seen)
{
    struct pt_server *s = PT_SERVER_START(fast_presence);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "pres_a", &a);
    PT_USER_NEW(s, proto, "pres_b", &b);
    PT_DIRECT(s, proto, &a, b.id, 201);
    struct presence p;
    get_presence(s, proto, &b, a.id, &p);
    PL_ASSERT_STR_EQ(p.status, "offline");
    struct pt_sse *sse = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    wait_online(s, proto, &b, a.id, 1, 2000, &p);
    /* The open stream keeps a online past the 2 s timeout. */
    uint64_t until = pt_now_ms() + 2500;
    while (pt_now_ms() < until) {
        pt_sse_pump(sse, 300);
        get_presence(s, proto, &b, a.id, &p);
        if (p.online != 1)
            pltest_fail(__FILE__, __LINE__, "a went \"%s\" while its stream was open", p.status);
    }
    pt_sse_close(sse);
    wait_online(s, proto, &b, a.id, 0, OFFLINE_MS, &p);
    PL_ASSERT_STR_EQ(p.status, "offline");
    PL_ASSERT(p.last_seen[0]);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(heartbeats_keep_a_user_online_without_a_stream)
{
    struct pt_server *s = PT_SERVER_START(fast_presence);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "hb_a", &a);
    PT_USER_NEW(s, proto, "hb_b", &b);
    PT_DIRECT(s, proto, &a, b.id, 201);
    struct presence p;
    heartbeat(s, proto, &a);
    get_presence(s, proto, &b, a.id, &p);
    PL_ASSERT_STR_EQ(p.status, "online");
    uint64_t until = pt_now_ms() + 2500;
    while (pt_now_ms() < until) {
        pt_sleep_ms(500);
        heartbeat(s, proto, &a);
        get_presence(s, proto, &b, a.id, &p);
        PL_ASSERT_INT_EQ(p.online, 1);
    }
    uint64_t stopped = pt_now_ms();
    wait_online(s, proto, &b, a.id, 0, OFFLINE_MS, &p);
    /* Not before the timeout: online means a heartbeat in the last 2 s. */
    PL_ASSERT(pt_now_ms() - stopped >= 1500);
    PL_ASSERT(p.last_seen[0]);
    /* Unknown users have no presence. */
    struct pt_resp r;
    pt_get(s, proto, "/v1/users/999999999999/presence", b.token, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

static void set_visibility(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                           const char *v)
{
    struct pt_resp r;
    pt_reqf(s, proto, "PATCH", u->token, &r, "/v1/me", "{\"last_seen_visibility\":\"%s\"}", v);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "id", NULL), u->id);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "last_seen_visibility", NULL), v);
    pt_resp_free(&r);
}

/* Whether viewer sees a's last_seen (a is offline with one recorded). */
static int sees_last_seen(struct pt_server *s, enum pt_proto proto, const struct pt_user *viewer,
                          int64_t user)
{
    struct presence p;
    get_presence(s, proto, viewer, user, &p);
    if (strcmp(p.status, "hidden") == 0)
        return 0;
    PL_ASSERT_STR_EQ(p.status, "offline");
    return p.last_seen[0] != '\0';
}

PLTEST_PROTO(last_seen_follows_the_privacy_setting)
{
    struct pt_server *s = PT_SERVER_START(fast_presence);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "priv_a", &a);
    PT_USER_NEW(s, proto, "priv_b", &b); /* shares a conversation with a */
    PT_USER_NEW(s, proto, "priv_c", &c); /* a stranger */
    PT_DIRECT(s, proto, &a, b.id, 201);
    heartbeat(s, proto, &a);
    struct presence p;
    wait_online(s, proto, &b, a.id, 0, OFFLINE_MS, &p);
    set_visibility(s, proto, &a, "everyone");
    PL_ASSERT(sees_last_seen(s, proto, &b, a.id));
    PL_ASSERT(sees_last_seen(s, proto, &c, a.id));
    set_visibility(s, proto, &a, "contacts");
    PL_ASSERT(sees_last_seen(s, proto, &b, a.id));
    PL_ASSERT(!sees_last_seen(s, proto, &c, a.id));
    set_visibility(s, proto, &a, "nobody");
    PL_ASSERT(!sees_last_seen(s, proto, &b, a.id));
    PL_ASSERT(!sees_last_seen(s, proto, &c, a.id));
    /* Hidden from others, not from oneself. */
    PL_ASSERT(sees_last_seen(s, proto, &a, a.id));
    struct pt_resp r;
    pt_get(s, proto, "/v1/me", a.token, &r);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "last_seen_visibility", NULL), "nobody");
    pt_resp_free(&r);
    pt_reqf(s, proto, "PATCH", a.token, &r, "/v1/me", "{\"last_seen_visibility\":\"friends\"}");
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "errors", "0", "pointer", NULL),
                     "/last_seen_visibility");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Waits for a presence event about user on sse. with_last_seen: 1 a
 * timestamp, 0 null, -1 either. */
static void expect_presence(struct pt_sse *sse, int64_t user, int online, int with_last_seen)
{
    uint64_t deadline = pt_now_ms() + OFFLINE_MS;
    for (;;) {
        struct pt_sse_event ev;
        uint64_t now = pt_now_ms();
        if (pt_sse_wait(sse, "presence", now < deadline ? (int)(deadline - now) : 0, &ev) < 0)
            pltest_fail(__FILE__, __LINE__, "no presence event (%s) for user %lld",
                        online ? "online" : "offline", (long long)user);
        PL_ASSERT_STR_EQ(ev.id, "");
        int match = pt_sse_int(&ev, "user_id", NULL) == user &&
                    YAJL_IS_TRUE(pt_json_get(ev.json, "online", NULL)) == !!online;
        if (match) {
            PL_ASSERT_STR_EQ(pt_json_str(ev.json, "status", NULL), online ? "online" : "offline");
            yajl_val ls = pt_json_get(ev.json, "last_seen", NULL);
            if (with_last_seen == 1   ? !pt_is_timestamp(pt_json_str(ev.json, "last_seen", NULL))
                : with_last_seen == 0 ? !YAJL_IS_NULL(ls)
                                      : !YAJL_IS_NULL(ls) && !YAJL_IS_STRING(ls))
                pltest_fail(__FILE__, __LINE__, "presence last_seen should be %s: %s",
                            with_last_seen ? "a timestamp" : "null", ev.data);
        }
        pt_sse_event_free(&ev);
        if (match)
            return;
    }
}

/* Reads sse up to message marker and fails on a presence or typing event
 * about user before it. */
static void expect_nothing_about(struct pt_sse *sse, int64_t user, int64_t marker)
{
    for (;;) {
        struct pt_sse_event ev;
        if (pt_sse_next(sse, EV_MS, &ev) < 0)
            pltest_fail(__FILE__, __LINE__, "marker %lld never came", (long long)marker);
        if ((strcmp(ev.name, "presence") == 0 || strcmp(ev.name, "typing") == 0) &&
            pt_sse_int(&ev, "user_id", NULL) == user)
            pltest_fail(__FILE__, __LINE__, "unexpected %s: %s", ev.name, ev.data);
        int done = ev.pos == marker;
        pt_sse_event_free(&ev);
        if (done)
            return;
    }
}

static void subscribe(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                      int64_t target)
{
    struct pt_resp r;
    pt_reqf(s, proto, "PUT", u->token, &r, "/v1/presence/subscriptions", "{\"users\":[%lld]}",
            (long long)target);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
}

PLTEST_PROTO(presence_events_reach_subscribers_only)
{
    struct pt_server *s = PT_SERVER_START(fast_presence);
    struct pt_user a, b, c, d;
    PT_USER_NEW(s, proto, "pev_a", &a);
    PT_USER_NEW(s, proto, "pev_b", &b); /* a's contact, subscribed to a */
    PT_USER_NEW(s, proto, "pev_c", &c); /* a's contact too, not subscribed */
    PT_USER_NEW(s, proto, "pev_d", &d); /* sends the markers */
    int64_t ab = PT_DIRECT(s, proto, &a, b.id, 201);
    PT_DIRECT(s, proto, &a, c.id, 201);
    int64_t members[] = {b.id, c.id};
    int64_t g = PT_GROUP(s, proto, &d, "Markers", members, 2);
    struct pt_sse *bs = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    struct pt_sse *cs = PT_SSE_OPEN_READY(s, proto, c.token, NULL);
    subscribe(s, proto, &b, a.id);
    struct pt_sse *as = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    expect_presence(bs, a.id, 1, 1);
    /* Only transitions are announced: another tab coming and going while
     * a stays online tells b nothing. */
    struct pt_sse *tab = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    pt_sse_close(tab);
    heartbeat(s, proto, &a);
    struct pt_msg m = PT_SEND(s, proto, &a, ab, "still here");
    expect_nothing_about(bs, a.id, m.id);
    pt_sse_close(as);
    expect_presence(bs, a.id, 0, 1);
    /* c shares a chat with a but did not subscribe: nothing at all. */
    struct pt_msg marker = PT_SEND(s, proto, &d, g, "marker");
    expect_nothing_about(cs, a.id, marker.id);
    /* With presence hidden, subscribers get no events either. */
    set_visibility(s, proto, &a, "nobody");
    heartbeat(s, proto, &a);
    struct presence p;
    wait_online(s, proto, &a, a.id, 0, OFFLINE_MS, &p);
    marker = PT_SEND(s, proto, &d, g, "marker 2");
    expect_nothing_about(bs, a.id, marker.id);
    pt_sse_close(bs);
    pt_sse_close(cs);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(typing_reaches_the_other_members_only)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "typ_a", &a);
    PT_USER_NEW(s, proto, "typ_b", &b);
    PT_USER_NEW(s, proto, "typ_c", &c);
    int64_t members[] = {b.id, c.id};
    int64_t g = PT_GROUP(s, proto, &a, "Typists", members, 2);
    struct pt_sse *st[3];
    const struct pt_user *u[3] = {&a, &b, &c};
    int64_t pos[3];
    for (int i = 0; i < 3; i++)
        st[i] = PT_SSE_OPEN_READY(s, proto, u[i]->token, &pos[i]);
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/typing", (long long)g);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(pt_req(s, proto, "POST", path, a.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    for (int i = 1; i < 3; i++) {
        struct pt_sse_event ev;
        PT_SSE_EXPECT(st[i], "typing", EV_MS, &ev);
        PL_ASSERT_STR_EQ(ev.id, "");
        PL_ASSERT_INT_EQ(pt_sse_int(&ev, "conversation_id", NULL), g);
        PL_ASSERT_INT_EQ(pt_sse_int(&ev, "user_id", NULL), a.id);
        PL_ASSERT_INT_EQ(pt_sse_int(&ev, "expires_in_ms", NULL), 5000);
        pt_sse_event_free(&ev);
    }
    /* Not to the typist, and never stored. */
    struct pt_msg m = PT_SEND(s, proto, &b, g, "marker");
    expect_nothing_about(st[0], a.id, m.id);
    snprintf(path, sizeof(path), "/v1/sync?since=%lld", (long long)pos[1]);
    pt_get(s, proto, path, b.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT(!strstr(r.body, "\"typing\""));
    pt_resp_free(&r);
    for (int i = 0; i < 3; i++)
        pt_sse_close(st[i]);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
