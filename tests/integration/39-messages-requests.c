/* SPDX-License-Identifier: MIT */
/* Parley - integration: message requests and blocking.                */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_MS 5000

static const char *const fast_presence[] = {"--presence-timeout", "2", "--typing-interval-ms", "0",
                                            NULL};

/* The number of pending requests of u, and whether conv is among them
 * with request_from from. */
static size_t requests(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                       int64_t conv, int64_t from, int *found)
{
    struct pt_resp r;
    pt_get(s, proto, "/v1/requests", u->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val v = pt_json_get(pt_json(&r), "requests", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(v));
    *found = 0;
    for (size_t i = 0; i < v->u.array.len; i++)
        if (pt_json_int(v->u.array.values[i], "id", NULL) == conv) {
            PL_ASSERT_INT_EQ(pt_json_int(v->u.array.values[i], "request_from", NULL), from);
            *found = 1;
        }
    size_t n = v->u.array.len;
    pt_resp_free(&r);
    return n;
}

static void request_act(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                        int64_t conv, const char *act, long want)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/requests/%lld/%s", (long long)conv, act);
    struct pt_resp r;
    pt_reqf(s, proto, "POST", u->token, &r, path, NULL);
    if (want == 404)
        PT_ASSERT_PROBLEM(&r, 404, "not-found");
    else
        PT_ASSERT_STATUS(&r, want);
    pt_resp_free(&r);
}

static void block(struct pt_server *s, enum pt_proto proto, const struct pt_user *u, int64_t who,
                  const char *method)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/me/blocks/%lld", (long long)who);
    struct pt_resp r;
    pt_reqf(s, proto, method, u->token, &r, path, NULL);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
}

/* POST a group of me with one member; returns the status (problem slug in
 * slug when not 201). */
static long group_with(struct pt_server *s, enum pt_proto proto, const struct pt_user *me,
                       int64_t member, const char *slug)
{
    struct pt_resp r;
    pt_reqf(s, proto, "POST", me->token, &r, "/v1/conversations",
            "{\"kind\":\"group\",\"title\":\"g\",\"members\":[%lld]}", (long long)member);
    long st = r.status;
    if (slug)
        PT_ASSERT_PROBLEM(&r, 403, slug);
    pt_resp_free(&r);
    return st;
}

/* A stranger's direct chat is a request for its receiver only; the opener
 * cannot add them to groups until they accept; accepting makes it an
 * ordinary chat. A group invite from a stranger is a request too, and
 * declining it leaves the group. */
PLTEST_PROTO(a_strangers_chat_is_a_request_until_accepted)
{
    static const char *const args[] = {"--requests-hold-invites", "true", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "req_a", &a);
    PT_USER_NEW(s, proto, "req_b", &b);
    PT_USER_NEW(s, proto, "req_c", &c);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    PT_SEND(s, proto, &a, conv, "hello stranger");
    int found;
    PL_ASSERT_INT_EQ(requests(s, proto, &a, conv, 0, &found), 0);
    PL_ASSERT_INT_EQ(requests(s, proto, &b, conv, a.id, &found), 1);
    PL_ASSERT(found);
    char path[64];
    snprintf(path, sizeof(path), "/v1/conversations/%lld", (long long)conv);
    struct pt_resp r;
    pt_get(s, proto, path, b.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "request_from", NULL), a.id);
    PL_ASSERT(YAJL_IS_FALSE(pt_json_get(pt_json(&r), "pinned", NULL)));
    pt_resp_free(&r);
    pt_get(s, proto, path, a.token, &r);
    PL_ASSERT(YAJL_IS_NULL(pt_json_get(pt_json(&r), "request_from", NULL)));
    pt_resp_free(&r);

    /* Until b accepts, a cannot add b to a group. */
    PL_ASSERT_INT_EQ(group_with(s, proto, &a, b.id, "request-pending"), 403);
    request_act(s, proto, &a, conv, "accept", 404); /* nothing to accept for the opener */
    request_act(s, proto, &b, conv, "accept", 200);
    request_act(s, proto, &b, conv, "accept", 404);
    PL_ASSERT_INT_EQ(requests(s, proto, &b, conv, 0, &found), 0);
    PL_ASSERT_INT_EQ(group_with(s, proto, &a, b.id, NULL), 201);

    /* c invites b to a group: a request; b declines and is no member. */
    int64_t g = PT_GROUP(s, proto, &c, "strangers", &b.id, 1);
    PL_ASSERT_INT_EQ(requests(s, proto, &b, g, c.id, &found), 1);
    PL_ASSERT(found);
    request_act(s, proto, &b, g, "decline", 204);
    PL_ASSERT_INT_EQ(requests(s, proto, &b, g, 0, &found), 0);
    snprintf(path, sizeof(path), "/v1/conversations/%lld", (long long)g);
    pt_get(s, proto, path, b.token, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    pt_get(s, proto, path, c.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "member_count", NULL), 1);
    pt_resp_free(&r);
    request_act(s, proto, &b, g, "decline", 404);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* A blocked user cannot send in the direct chat, open one, or add the
 * blocker to a group; the blocker still can write; unblocking restores
 * everything. Blocking a pending requester declines its request. */
PLTEST_PROTO(a_blocked_user_cannot_message_or_invite)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "blk_a", &a);
    PT_USER_NEW(s, proto, "blk_b", &b);
    PT_USER_NEW(s, proto, "blk_c", &c);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    request_act(s, proto, &b, conv, "accept", 200);
    PT_SEND(s, proto, &a, conv, "before");
    block(s, proto, &b, a.id, "PUT");
    block(s, proto, &b, a.id, "PUT"); /* idempotent */

    struct pt_resp r;
    pt_get(s, proto, "/v1/me/blocks", b.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "blocks", "0", "user_id", NULL), a.id);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "blocks", "0", "username", NULL), a.name);
    PL_ASSERT(pt_is_timestamp(pt_json_str(pt_json(&r), "blocks", "0", "blocked_at", NULL)));
    PL_ASSERT(pt_json_get(pt_json(&r), "blocks", "1", NULL) == NULL);
    pt_resp_free(&r);

    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
    pt_reqf(s, proto, "POST", a.token, &r, path,
            "{\"client_msg_id\":\"blk-1\",\"kind\":\"text\",\"text\":\"let me in\"}");
    PT_ASSERT_PROBLEM(&r, 403, "blocked");
    pt_resp_free(&r);
    pt_reqf(s, proto, "POST", a.token, &r, "/v1/conversations",
            "{\"kind\":\"direct\",\"user\":%lld}", (long long)b.id);
    PT_ASSERT_PROBLEM(&r, 403, "blocked");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(group_with(s, proto, &a, b.id, "blocked"), 403);
    int64_t g = PT_GROUP(s, proto, &a, "without b", NULL, 0);
    snprintf(path, sizeof(path), "/v1/conversations/%lld/members/%lld", (long long)g,
             (long long)b.id);
    pt_reqf(s, proto, "PUT", a.token, &r, path, NULL);
    PT_ASSERT_PROBLEM(&r, 403, "blocked");
    pt_resp_free(&r);
    PT_SEND(s, proto, &b, conv, "the blocker may still write");

    /* Blocking a stranger's pending request declines it. */
    int64_t cb = PT_DIRECT(s, proto, &c, b.id, 201);
    int found;
    PL_ASSERT_INT_EQ(requests(s, proto, &b, cb, c.id, &found), 1);
    block(s, proto, &b, c.id, "PUT");
    PL_ASSERT_INT_EQ(requests(s, proto, &b, cb, 0, &found), 0);

    block(s, proto, &b, a.id, "DELETE");
    block(s, proto, &b, a.id, "DELETE");
    PT_SEND(s, proto, &a, conv, "after");
    PL_ASSERT_INT_EQ(group_with(s, proto, &a, b.id, NULL), 201);

    snprintf(path, sizeof(path), "/v1/me/blocks/%lld", (long long)b.id);
    pt_reqf(s, proto, "PUT", b.token, &r, path, NULL);
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    pt_resp_free(&r);
    pt_reqf(s, proto, "PUT", b.token, &r, "/v1/me/blocks/no_such_user_zz", NULL);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    pt_reqf(s, proto, "POST", b.token, &r, "/v1/requests/x/accept", NULL);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

static const char *presence_status(struct pt_server *s, enum pt_proto proto,
                                   const struct pt_user *viewer, int64_t user, char *buf, size_t n)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/users/%lld/presence", (long long)user);
    struct pt_resp r;
    pt_get(s, proto, path, viewer->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    snprintf(buf, n, "%s", pt_json_str(pt_json(&r), "status", NULL));
    pt_resp_free(&r);
    return buf;
}

/* Reads sse up to message marker; fails on a typing or presence event
 * about user before it. */
static void expect_no_news_of(struct pt_sse *sse, int64_t user, int64_t marker)
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

/* A blocked user sees the blocker's presence as hidden and gets neither
 * its presence transitions nor its typing; under "contacts" a pending
 * requester is no contact. */
PLTEST_PROTO(a_blocked_user_sees_no_presence_or_typing)
{
    struct pt_server *s = PT_SERVER_START(fast_presence);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "bp_a", &a);
    PT_USER_NEW(s, proto, "bp_b", &b);
    PT_USER_NEW(s, proto, "bp_c", &c);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    char st[32];
    /* Under "contacts", b's presence is hidden from a until b accepts;
     * a's (everyone) is not hidden from b. */
    struct pt_resp r;
    pt_reqf(s, proto, "PATCH", b.token, &r, "/v1/me", "{\"last_seen_visibility\":\"contacts\"}");
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    PL_ASSERT_STR_EQ(presence_status(s, proto, &a, b.id, st, sizeof(st)), "hidden");
    PL_ASSERT(strcmp(presence_status(s, proto, &b, a.id, st, sizeof(st)), "hidden") != 0);
    request_act(s, proto, &b, conv, "accept", 200);
    PL_ASSERT(strcmp(presence_status(s, proto, &a, b.id, st, sizeof(st)), "hidden") != 0);
    pt_reqf(s, proto, "PATCH", b.token, &r, "/v1/me", "{\"last_seen_visibility\":\"everyone\"}");
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);

    struct pt_sse *as = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    pt_reqf(s, proto, "PUT", a.token, &r, "/v1/presence/subscriptions", "{\"users\":[%lld]}",
            (long long)b.id);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/typing", (long long)conv);
    pt_reqf(s, proto, "POST", b.token, &r, path, NULL);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    struct pt_sse_event ev;
    PT_SSE_EXPECT(as, "typing", EV_MS, &ev);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "user_id", NULL), b.id);
    pt_sse_event_free(&ev);

    block(s, proto, &b, a.id, "PUT");
    PL_ASSERT_STR_EQ(presence_status(s, proto, &a, b.id, st, sizeof(st)), "hidden");
    PL_ASSERT(strcmp(presence_status(s, proto, &c, b.id, st, sizeof(st)), "hidden") != 0);
    /* b comes online and types: nothing of it reaches a. */
    struct pt_sse *bs = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    pt_reqf(s, proto, "POST", b.token, &r, path, NULL);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    struct pt_msg m = PT_SEND(s, proto, &b, conv, "marker");
    expect_no_news_of(as, b.id, m.id);
    pt_sse_close(bs);
    pt_sse_close(as);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* The list entry of conv in u's GET /v1/conversations (a parsed copy kept
 * in *r). */
static yajl_val listed(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                       int64_t conv, struct pt_resp *r)
{
    pt_get(s, proto, "/v1/conversations", u->token, r);
    PT_ASSERT_STATUS(r, 200);
    yajl_val v = pt_json_get(pt_json(r), "conversations", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(v));
    for (size_t i = 0; i < v->u.array.len; i++)
        if (pt_json_int(v->u.array.values[i], "id", NULL) == conv)
            return v->u.array.values[i];
    pltest_fail(__FILE__, __LINE__, "conversation %lld not listed", (long long)conv);
    return NULL;
}

/* Pin and mute belong to the member who set them and show in its list;
 * null unmutes; bad values are 422, non-members 404. */
PLTEST_PROTO(pin_and_mute_are_per_member)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "pin_a", &a);
    PT_USER_NEW(s, proto, "pin_b", &b);
    PT_USER_NEW(s, proto, "pin_c", &c);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/settings", (long long)conv);
    struct pt_resp r;
    pt_send_json(s, proto, "PATCH", path, a.token,
                 "{\"pinned\":true,\"muted_until\":\"2099-01-02T03:04:05Z\"}", &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT(YAJL_IS_TRUE(pt_json_get(pt_json(&r), "pinned", NULL)));
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "muted_until", NULL), "2099-01-02T03:04:05.000Z");
    pt_resp_free(&r);
    yajl_val e = listed(s, proto, &a, conv, &r);
    PL_ASSERT(YAJL_IS_TRUE(pt_json_get(e, "pinned", NULL)));
    PL_ASSERT_STR_EQ(pt_json_str(e, "muted_until", NULL), "2099-01-02T03:04:05.000Z");
    pt_resp_free(&r);
    e = listed(s, proto, &b, conv, &r);
    PL_ASSERT(YAJL_IS_FALSE(pt_json_get(e, "pinned", NULL)));
    PL_ASSERT(YAJL_IS_NULL(pt_json_get(e, "muted_until", NULL)));
    pt_resp_free(&r);

    pt_send_json(s, proto, "PATCH", path, a.token, "{\"muted_until\":null}", &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT(YAJL_IS_TRUE(pt_json_get(pt_json(&r), "pinned", NULL)));
    PL_ASSERT(YAJL_IS_NULL(pt_json_get(pt_json(&r), "muted_until", NULL)));
    pt_resp_free(&r);
    pt_send_json(s, proto, "PATCH", path, a.token, "{\"pinned\":false}", &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT(YAJL_IS_FALSE(pt_json_get(pt_json(&r), "pinned", NULL)));
    pt_resp_free(&r);

    static const char *const bad[] = {"{}", "{\"pinned\":1}", "{\"muted_until\":\"soon\"}",
                                      "{\"muted_until\":5}", "{\"pinned\":true,\"x\":1}"};
    for (size_t i = 0; i < PL_ARRAY_LEN(bad); i++) {
        pt_send_json(s, proto, "PATCH", path, a.token, bad[i], &r);
        PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
        pt_resp_free(&r);
    }
    pt_send_json(s, proto, "PATCH", path, c.token, "{\"pinned\":true}", &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
