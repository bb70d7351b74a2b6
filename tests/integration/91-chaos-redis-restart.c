/* SPDX-License-Identifier: MIT */
/* Parley - chaos: Redis goes away and comes back under parleyd.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>

#define RECOVERY_DEADLINE_MS 20000

/* One outage covers all three transports; parleyd keeps running. */
PLTEST(redis_outage_fails_readiness_and_recovers_without_restart)
{
    pt_svc_require();
    struct pt_server *s = PT_SERVER_START(NULL);
    char name[PT_PROTO_N][PT_USERNAME_MAX], token[PT_PROTO_N][PT_TOKEN_MAX];
    for (int p = 0; p < PT_PROTO_N; p++) {
        pt_user_register(s, (enum pt_proto)p, "chaosredis", name[p]);
        pt_login(s, (enum pt_proto)p, name[p], PT_PASSWORD, token[p]);
    }
    pt_svc("redis", "stop");
    for (int p = 0; p < PT_PROTO_N; p++) {
        struct pt_resp r;
        pt_get(s, (enum pt_proto)p, "/readyz", NULL, &r);
        PT_ASSERT_PROBLEM(&r, 503, "unavailable");
        const char *ra = pt_resp_header(&r, "Retry-After");
        PL_ASSERT(ra && atoi(ra) >= 1);
        PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "checks", "redis", NULL), "down");
        PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "checks", "postgres", NULL), "ok");
        pt_resp_free(&r);
        pt_get(s, (enum pt_proto)p, "/healthz", NULL, &r);
        PT_ASSERT_STATUS(&r, 200);
        pt_resp_free(&r);
        /* Whether accounts need Redis is the server's business; an
         * internal error is not an acceptable answer either way. */
        pt_get(s, (enum pt_proto)p, "/v1/me", token[p], &r);
        if (r.status != 200)
            PT_ASSERT_PROBLEM(&r, 503, "unavailable");
        pt_resp_free(&r);
    }
    pt_svc("redis", "start");
    for (int p = 0; p < PT_PROTO_N; p++) {
        uint64_t deadline = pt_now_ms() + RECOVERY_DEADLINE_MS;
        long ready = 0;
        while (ready != 200 && pt_now_ms() < deadline) {
            struct pt_resp r;
            pt_get(s, (enum pt_proto)p, "/readyz", NULL, &r);
            ready = r.status;
            pt_resp_free(&r);
            if (ready != 200)
                pt_sleep_ms(200);
        }
        PL_ASSERT_INT_EQ(ready, 200);
        struct pt_resp r;
        pt_get(s, (enum pt_proto)p, "/v1/me", token[p], &r);
        PT_ASSERT_STATUS(&r, 200);
        pt_resp_free(&r);
    }
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Waits, with a deadline, until s's parley_token_cache_held reads want. */
static void wait_held(struct pt_server *s, long long want)
{
    uint64_t deadline = pt_now_ms() + RECOVERY_DEADLINE_MS;
    while (pt_metric(s, PT_H1, "parley_token_cache_held") != want) {
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "parley_token_cache_held never became %lld", want);
        pt_sleep_ms(50);
    }
}

/* While a node's relay subscription is down it cannot hear another node's
 * revocation frames, so its token cache is held: a session revoked through
 * node A during the outage (A's frame is lost) is refused on node B at
 * once, although B had it cached for a minute. Once Redis is back the
 * cache serves again. Without the hold, B answers 200 for 60 s. */
PLTEST(a_node_without_its_relay_does_not_trust_its_token_cache)
{
    pt_svc_require();
    static const char *const args[] = {"--token-cache-ms", "60000", NULL};
    struct pt_server *na = PT_SERVER_START(args), *nb = PT_SERVER_START(args);
    wait_held(na, 0);
    wait_held(nb, 0);
    struct pt_user a, a2;
    PT_USER_NEW(na, PT_H1, "heldcache", &a);
    pt_user_device(na, PT_H1, &a, &a2);
    PL_ASSERT(pt_token_cached(nb, PT_H1, a2.token));
    PL_ASSERT(pt_token_cached(nb, PT_H1, a.token));
    pt_svc("redis", "stop");
    wait_held(nb, 1);
    wait_held(na, 1);
    PL_ASSERT_INT_EQ(pt_metric(nb, PT_H1, "parley_token_cache_entries"), 0);
    pt_session_revoke(na, PT_H1, a.token, a2.device);
    PL_ASSERT_INT_EQ(pt_sessions_status(nb, PT_H1, a2.token), 401);
    /* Held, the cache answers nothing and stores nothing: PostgreSQL does. */
    long long hits = pt_metric(nb, PT_H1, "parley_token_cache_hits_total");
    for (int i = 0; i < 3; i++)
        PL_ASSERT_INT_EQ(pt_sessions_status(nb, PT_H1, a.token), 200);
    PL_ASSERT_INT_EQ(pt_metric(nb, PT_H1, "parley_token_cache_hits_total"), hits);
    pt_svc("redis", "start");
    wait_held(nb, 0);
    PL_ASSERT(pt_token_cached(nb, PT_H1, a.token));
    PL_ASSERT_INT_EQ(pt_sessions_status(nb, PT_H1, a2.token), 401);
    PL_ASSERT_INT_EQ(pt_server_stop(nb), 0);
    PL_ASSERT_INT_EQ(pt_server_stop(na), 0);
}
