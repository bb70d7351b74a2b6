/* SPDX-License-Identifier: MIT */
/* Parley - chaos: Redis goes away and comes back under parleyd.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness.h"

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
