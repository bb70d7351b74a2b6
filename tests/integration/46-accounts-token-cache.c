/* SPDX-License-Identifier: MIT */
/* Parley - integration: the token cache and revocation on every node.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Tokens are served from each node's token cache (api/token_cache.h), and
 * yet a revocation through one node is refused on the revoking node at
 * once and on the others as soon as the relay frame arrives. The nodes run
 * with a cache lifetime far past the deadlines below, so only the
 * eviction can make these cases pass: the TTL is the fallback for a lost
 * frame, not what they test.
 */

#define EV_MS 10000
static const char *const long_cache[] = {"--token-cache-ms", "60000", NULL};

/* Requests are GET /v1/sessions (pt_sessions_status()) rather than
 * /v1/me: in the moment between an account's deletion on one node and the
 * relay frame reaching another, the other node may still answer for the
 * token, and /v1/me would show the erased account's tombstone (which no
 * client can otherwise see); the session list is then just empty. */

/* token works on s and is in its cache: a request is answered from it
 * (hits grow). Another test's revocation, relayed to every node on the
 * shared Redis, may keep one lookup from being cached (api_token_cache_put()
 * after any eviction stores nothing), hence the retries. */
static void warm(struct pt_server *s, enum pt_proto p, const char *token)
{
    PL_ASSERT_INT_EQ(pt_sessions_status(s, p, token), 200);
    if (!pt_token_cached(s, p, token))
        pltest_fail(__FILE__, __LINE__, "the token is never answered from the cache");
}

/* Waits, with a deadline, until s refuses token. */
static void wait_refused(struct pt_server *s, enum pt_proto p, const char *token, const char *what)
{
    uint64_t deadline = pt_now_ms() + EV_MS;
    while (pt_sessions_status(s, p, token) != 401) {
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "%s: the other node still accepts the token", what);
        pt_sleep_ms(20);
    }
}

/* A message sent through `via` reaching a stream on `on` proves on's relay
 * subscription is up, so no revocation frame can be sent before it. */
static void relay_ready(struct pt_server *via, struct pt_server *on, enum pt_proto p)
{
    struct pt_user x, y;
    PT_USER_NEW(via, p, "tc_relay", &x);
    PT_USER_NEW(via, p, "tc_relay_peer", &y);
    int64_t conv = PT_DIRECT(via, p, &y, x.id, 201);
    struct pt_sse *st = PT_SSE_OPEN_READY(on, p, x.token, NULL);
    uint64_t deadline = pt_now_ms() + EV_MS;
    for (int got = 0; !got;) {
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "no event crossed nodes within %d ms", EV_MS);
        struct pt_msg m = PT_SEND(via, p, &y, conv, "relay check");
        struct pt_sse_event ev;
        while (!got && pt_sse_wait(st, "message.created", 500, &ev) == 0) {
            got = pt_json_int(ev.json, "message", "id", NULL) == m.id;
            pt_sse_event_free(&ev);
        }
    }
    pt_sse_close(st);
}

/* Every way a session ends, done through node A while the token sits in
 * the caches of A and B: A refuses it on the very next request, B as soon
 * as the relay frame lands. The other session of the user keeps working
 * where it should. */
PLTEST_PROTO(revocation_reaches_every_nodes_cache)
{
    struct pt_server *na = PT_SERVER_START(long_cache), *nb = PT_SERVER_START(long_cache);
    relay_ready(na, nb, proto);
    struct pt_user a, a2, a3, a4;
    PT_USER_NEW(na, proto, "tc_revoke", &a);
    pt_user_device(na, proto, &a, &a2);
    pt_user_device(na, proto, &a, &a3);
    pt_user_device(na, proto, &a, &a4);
    struct pt_resp r;

    /* Logout. */
    warm(na, proto, a2.token);
    warm(nb, proto, a2.token);
    PL_ASSERT_INT_EQ(
        pt_req(na, proto, "DELETE", "/v1/sessions/current", a2.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_sessions_status(na, proto, a2.token), 401);
    wait_refused(nb, proto, a2.token, "logout");

    /* Revoking another session by id. */
    warm(na, proto, a3.token);
    warm(nb, proto, a3.token);
    pt_session_revoke(na, proto, a.token, a3.device);
    PL_ASSERT_INT_EQ(pt_sessions_status(na, proto, a3.token), 401);
    wait_refused(nb, proto, a3.token, "session revoke");
    PL_ASSERT_INT_EQ(pt_sessions_status(nb, proto, a.token), 200);

    /* A password change ends every other session, and keeps the caller's. */
    warm(na, proto, a4.token);
    warm(nb, proto, a4.token);
    pt_reqf(na, proto, "PUT", a.token, &r, "/v1/me/password",
            "{\"old_password\":\"%s\",\"new_password\":\"another long secret\"}", PT_PASSWORD);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_sessions_status(na, proto, a4.token), 401);
    wait_refused(nb, proto, a4.token, "password change");
    PL_ASSERT_INT_EQ(pt_sessions_status(na, proto, a.token), 200);
    PL_ASSERT_INT_EQ(pt_sessions_status(nb, proto, a.token), 200);

    /* Deleting the account ends all of them. */
    warm(na, proto, a.token);
    warm(nb, proto, a.token);
    pt_reqf(na, proto, "DELETE", a.token, &r, "/v1/me", "{\"password\":\"another long secret\"}");
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_sessions_status(na, proto, a.token), 401);
    wait_refused(nb, proto, a.token, "account deletion");
    PL_ASSERT(pt_metric(nb, proto, "parley_token_cache_evicted_total") >= 4);
    PL_ASSERT_INT_EQ(pt_server_stop(nb), 0);
    PL_ASSERT_INT_EQ(pt_server_stop(na), 0);
}

/* A revoked token is refused on the node that revoked it even while that
 * node's other requests keep hitting the cache, and sends (which batch
 * their token lookups) go through the cache as well. */
PLTEST_PROTO(a_revoked_token_never_works_on_the_revoking_node)
{
    struct pt_server *s = PT_SERVER_START(long_cache);
    struct pt_user a, a2, b;
    PT_USER_NEW(s, proto, "tc_once", &a);
    pt_user_device(s, proto, &a, &a2);
    PT_USER_NEW(s, proto, "tc_once_peer", &b);
    int64_t conv = PT_DIRECT(s, proto, &b, a.id, 201);
    long long hits = pt_metric(s, proto, "parley_token_cache_hits_total");
    for (int i = 0; i < 5; i++)
        PT_SEND(s, proto, &a2, conv, "cached");
    /* The first send asked PostgreSQL; the others could be answered from
     * the cache (sends take the batched path, api__auth_many()). */
    PL_ASSERT(pt_metric(s, proto, "parley_token_cache_hits_total") > hits);
    for (int round = 0; round < 20; round++) {
        struct pt_user d;
        pt_user_device(s, proto, &a, &d);
        warm(s, proto, d.token);
        pt_session_revoke(s, proto, a.token, d.device);
        PL_ASSERT_INT_EQ(pt_sessions_status(s, proto, d.token), 401);
        struct pt_resp r;
        char path[64];
        snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
        pt_reqf(s, proto, "POST", d.token, &r, path,
                "{\"client_msg_id\":\"tc-%d\",\"kind\":\"text\",\"text\":\"revoked\"}", round);
        PT_ASSERT_PROBLEM(&r, 401, "unauthenticated");
        pt_resp_free(&r);
    }
    PL_ASSERT_INT_EQ(pt_sessions_status(s, proto, a2.token), 200);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* A session the cache holds still expires after session_ttl seconds
 * without use, while one in use lives on. */
PLTEST_PROTO(a_cached_session_still_expires)
{
    const char *const args[] = {"--session-ttl", "4", "--token-cache-ms", "60000", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, a2;
    PT_USER_NEW(s, proto, "tc_ttl", &a);
    pt_user_device(s, proto, &a, &a2);
    warm(s, proto, a2.token);
    uint64_t deadline = pt_now_ms() + 20000;
    while (pt_sessions_status(s, proto, a2.token) == 200) {
        /* a2 was just used: it stays idle now; a stays busy. */
        uint64_t idle_from = pt_now_ms();
        while (pt_now_ms() - idle_from < 5000 && pt_now_ms() < deadline) {
            PL_ASSERT_INT_EQ(pt_sessions_status(s, proto, a.token), 200);
            pt_sleep_ms(200);
        }
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "the idle session never expired");
    }
    PL_ASSERT_INT_EQ(pt_sessions_status(s, proto, a.token), 200);
    PL_ASSERT(pt_metric(s, proto, "parley_token_cache_hits_total") > 0);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
