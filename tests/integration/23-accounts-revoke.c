/* SPDX-License-Identifier: MIT */
/* Parley - integration: listing, expiring and revoking sessions.       */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <string.h>

#define EV_MS 10000

static void expect_401(struct pt_server *s, enum pt_proto p, const char *token)
{
    struct pt_resp r;
    pt_get(s, p, "/v1/me", token, &r);
    PT_ASSERT_PROBLEM(&r, 401, "unauthenticated");
    pt_resp_free(&r);
}

static void expect_200(struct pt_server *s, enum pt_proto p, const char *token)
{
    struct pt_resp r;
    pt_get(s, p, "/v1/me", token, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
}

/* The session of id in a GET /v1/sessions answer, or NULL. */
static yajl_val find_session(yajl_val t, int64_t id)
{
    yajl_val arr = pt_json_get(t, "sessions", NULL);
    PL_ASSERT(arr && YAJL_IS_ARRAY(arr));
    for (size_t i = 0; i < arr->u.array.len; i++)
        if (pt_json_int(arr->u.array.values[i], "id", NULL) == id)
            return arr->u.array.values[i];
    return NULL;
}

static size_t count_sessions(yajl_val t)
{
    yajl_val arr = pt_json_get(t, "sessions", NULL);
    PL_ASSERT(arr && YAJL_IS_ARRAY(arr));
    return arr->u.array.len;
}

/* Waits (with a deadline) until the stream ends. */
static void expect_stream_ends(struct pt_sse *st)
{
    uint64_t deadline = pt_now_ms() + EV_MS;
    for (;;) {
        struct pt_sse_event ev;
        int rc = pt_sse_next(st, 500, &ev);
        pt_sse_event_free(&ev);
        if (rc == PT_SSE_ENDED)
            return;
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "the revoked session's stream is still open");
    }
}

/* GET /v1/sessions lists every live session with its device name, times,
 * client and protocol, and marks the caller's; DELETE /v1/sessions/{id}
 * ends one (and its stream), and only the owner's. */
PLTEST_PROTO(sessions_are_listed_and_revoked_by_id)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, a2, b;
    PT_USER_NEW(s, proto, "sess", &a);
    PT_USER_NEW(s, proto, "sess_other", &b);
    /* The second session logs in with a User-Agent of its own. */
    struct pt_resp r;
    const char *const ua[] = {"User-Agent: parley-test/1.0", NULL};
    char body[256];
    snprintf(body, sizeof(body),
             "{\"username\":\"%s\",\"password\":\"%s\",\"device_name\":\"tablet\"}", a.name,
             PT_PASSWORD);
    PL_ASSERT_INT_EQ(pt_req_h(s, proto, "POST", "/v1/sessions", NULL, "application/json", body,
                              strlen(body), ua, &r),
                     0);
    PT_ASSERT_STATUS(&r, 201);
    a2 = a;
    a2.device = pt_json_int(pt_json(&r), "device_id", NULL);
    snprintf(a2.token, sizeof(a2.token), "%s", pt_json_str(pt_json(&r), "token", NULL));
    pt_resp_free(&r);
    pt_get(s, proto, "/v1/sessions", a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val t = pt_json(&r);
    PL_ASSERT_INT_EQ(count_sessions(t), 2);
    yajl_val mine = find_session(t, a.device), other = find_session(t, a2.device);
    PL_ASSERT(mine && other);
    PL_ASSERT(YAJL_IS_TRUE(pt_json_get(mine, "current", NULL)));
    PL_ASSERT(YAJL_IS_FALSE(pt_json_get(other, "current", NULL)));
    PL_ASSERT(pt_is_timestamp(pt_json_str(mine, "created_at", NULL)));
    PL_ASSERT(pt_is_timestamp(pt_json_str(mine, "last_used_at", NULL)));
    PL_ASSERT(pt_json_str(mine, "device_name", NULL));
    const char *pr = pt_json_str(mine, "protocol", NULL);
    PL_ASSERT(pr && (proto == PT_H1 ? strcmp(pr, "HTTP/1.1") == 0 : strncmp(pr, "h2", 2) == 0));
    PL_ASSERT(pt_json_get(mine, "user_agent", NULL));
    PL_ASSERT_STR_EQ(pt_json_str(other, "user_agent", NULL), "parley-test/1.0");
    PL_ASSERT_STR_EQ(pt_json_str(other, "device_name", NULL), "tablet");
    PL_ASSERT(!strstr(r.body, a.token));
    pt_resp_free(&r);

    /* Another user's session id is not found, and nothing happens to it. */
    char path[64];
    snprintf(path, sizeof(path), "/v1/sessions/%lld", (long long)a2.device);
    PL_ASSERT_INT_EQ(pt_req(s, proto, "DELETE", path, b.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    expect_200(s, proto, a2.token);

    struct pt_sse *st = PT_SSE_OPEN_READY(s, proto, a2.token, NULL);
    PL_ASSERT_INT_EQ(pt_req(s, proto, "DELETE", path, a.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    expect_401(s, proto, a2.token);
    expect_stream_ends(st);
    pt_sse_close(st);
    pt_get(s, proto, "/v1/sessions", a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(count_sessions(pt_json(&r)), 1);
    pt_resp_free(&r);
    /* A second revocation of the same session finds nothing. */
    PL_ASSERT_INT_EQ(pt_req(s, proto, "DELETE", path, a.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* PUT /v1/me/password needs the current password, then revokes every other
 * session (their streams end) and keeps the caller's. */
PLTEST_PROTO(password_change_revokes_other_sessions)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, a2;
    PT_USER_NEW(s, proto, "pwchange", &a);
    pt_user_device(s, proto, &a, &a2);
    struct pt_sse *st = PT_SSE_OPEN_READY(s, proto, a2.token, NULL);
    struct pt_resp r;
    pt_reqf(s, proto, "PUT", a.token, &r, "/v1/me/password",
            "{\"old_password\":\"not it at all\",\"new_password\":\"a brand new secret\"}");
    PT_ASSERT_PROBLEM(&r, 403, "wrong-password");
    pt_resp_free(&r);
    pt_reqf(s, proto, "PUT", a.token, &r, "/v1/me/password",
            "{\"old_password\":\"%s\",\"new_password\":\"short\"}", PT_PASSWORD);
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "errors", "0", "pointer", NULL), "/new_password");
    pt_resp_free(&r);
    expect_200(s, proto, a2.token);
    pt_reqf(s, proto, "PUT", a.token, &r, "/v1/me/password",
            "{\"old_password\":\"%s\",\"new_password\":\"a brand new secret\"}", PT_PASSWORD);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    expect_401(s, proto, a2.token);
    expect_stream_ends(st);
    pt_sse_close(st);
    expect_200(s, proto, a.token);
    pt_reqf(s, proto, "POST", NULL, &r, "/v1/sessions", "{\"username\":\"%s\",\"password\":\"%s\"}",
            a.name, PT_PASSWORD);
    PT_ASSERT_PROBLEM(&r, 401, "invalid-credentials");
    pt_resp_free(&r);
    pt_reqf(s, proto, "POST", NULL, &r, "/v1/sessions", "{\"username\":\"%s\",\"password\":\"%s\"}",
            a.name, "a brand new secret");
    PT_ASSERT_STATUS(&r, 201);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* A session unused for session_ttl seconds expires; one in use does not. */
PLTEST_PROTO(idle_sessions_expire)
{
    const char *const args[] = {"--session-ttl", "2", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, a2;
    PT_USER_NEW(s, proto, "ttl", &a);
    pt_user_device(s, proto, &a, &a2);
    expect_200(s, proto, a2.token);
    /* a keeps its session alive by listing; a2 stays idle until it drops
     * out of the list. */
    uint64_t deadline = pt_now_ms() + 20000;
    size_t n = 2;
    while (n != 1 && pt_now_ms() < deadline) {
        struct pt_resp r;
        pt_get(s, proto, "/v1/sessions", a.token, &r);
        PT_ASSERT_STATUS(&r, 200);
        n = count_sessions(pt_json(&r));
        PL_ASSERT(find_session(pt_json(&r), a.device));
        pt_resp_free(&r);
        if (n != 1)
            pt_sleep_ms(250);
    }
    PL_ASSERT_INT_EQ(n, 1);
    expect_401(s, proto, a2.token);
    expect_200(s, proto, a.token);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Two nodes on the same PostgreSQL and Redis: a stream opened on node B
 * ends when its token is revoked through node A. */
PLTEST_PROTO(revocation_closes_streams_on_other_nodes)
{
    struct pt_server *na = PT_SERVER_START(NULL), *nb = PT_SERVER_START(NULL);
    struct pt_user a, a2, b;
    PT_USER_NEW(na, proto, "xnode", &a);
    pt_user_device(na, proto, &a, &a2);
    PT_USER_NEW(na, proto, "xnode_peer", &b);
    int64_t conv = PT_DIRECT(na, proto, &b, a.id, 201);
    struct pt_sse *st = PT_SSE_OPEN_READY(nb, proto, a2.token, NULL);
    /* A message sent through A reaching the stream on B proves B's relay
     * subscription is up, so the revocation cannot race it. */
    uint64_t deadline = pt_now_ms() + EV_MS;
    for (int got = 0; !got;) {
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "node B never relayed an event from node A");
        struct pt_msg m = PT_SEND(na, proto, &b, conv, "ping across nodes");
        struct pt_sse_event ev;
        while (!got && pt_sse_wait(st, "message.created", 500, &ev) == 0) {
            got = pt_json_int(ev.json, "message", "id", NULL) == m.id;
            pt_sse_event_free(&ev);
        }
    }
    struct pt_resp r;
    PL_ASSERT_INT_EQ(
        pt_req(na, proto, "DELETE", "/v1/sessions/current", a2.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    expect_stream_ends(st);
    pt_sse_close(st);
    expect_401(nb, proto, a2.token);
    expect_200(nb, proto, a.token);
    PL_ASSERT_INT_EQ(pt_server_stop(nb), 0);
    PL_ASSERT_INT_EQ(pt_server_stop(na), 0);
}
