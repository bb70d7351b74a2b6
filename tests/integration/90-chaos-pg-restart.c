/* SPDX-License-Identifier: MIT */
/* Parley - chaos: PostgreSQL goes away and comes back under parleyd.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECOVERY_DEADLINE_MS 20000

static void assert_retry_after(struct pt_resp *r)
{
    const char *ra = pt_resp_header(r, "Retry-After");
    if (!ra || atoi(ra) < 1)
        pltest_fail(__FILE__, __LINE__, "503 without a usable Retry-After (\"%s\")",
                    ra ? ra : "none");
}

/* Polls GET path until it answers 200 or the deadline passes. */
static long wait_for_200(struct pt_server *s, enum pt_proto p, const char *path, const char *tok)
{
    uint64_t deadline = pt_now_ms() + RECOVERY_DEADLINE_MS;
    long status = 0;
    for (;;) {
        struct pt_resp r;
        pt_get(s, p, path, tok, &r);
        status = r.status;
        if (status != 200 && status != 503)
            pltest_fail(__FILE__, __LINE__, "%s over %s while recovering: %ld %.300s", path,
                        pt_proto_name(p), status, r.body);
        pt_resp_free(&r);
        if (status == 200 || pt_now_ms() >= deadline)
            return status;
        pt_sleep_ms(200);
    }
}

/* One outage covers all three transports: each has its own connection to
 * the same parleyd, which keeps running throughout. */
PLTEST(pg_outage_is_503_and_recovers_without_restart)
{
    pt_svc_require();
    struct pt_server *s = PT_SERVER_START(NULL);
    char name[PT_PROTO_N][PT_USERNAME_MAX], token[PT_PROTO_N][PT_TOKEN_MAX];
    for (int p = 0; p < PT_PROTO_N; p++) {
        pt_user_register(s, (enum pt_proto)p, "chaospg", name[p]);
        pt_login(s, (enum pt_proto)p, name[p], PT_PASSWORD, token[p]);
    }
    pid_t pid = pt_server_pid(s);
    pt_svc("pg", "stop");
    for (int p = 0; p < PT_PROTO_N; p++) {
        struct pt_resp r;
        pt_get(s, (enum pt_proto)p, "/v1/me", token[p], &r);
        PT_ASSERT_PROBLEM(&r, 503, "unavailable");
        assert_retry_after(&r);
        pt_resp_free(&r);
        /* Registration and login need the database too: 503, not 500 and
         * not a misleading 401. */
        char body[256];
        snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", name[p],
                 PT_PASSWORD);
        pt_send_json(s, (enum pt_proto)p, "POST", "/v1/sessions", NULL, body, &r);
        PT_ASSERT_PROBLEM(&r, 503, "unavailable");
        pt_resp_free(&r);
        pt_get(s, (enum pt_proto)p, "/readyz", NULL, &r);
        PT_ASSERT_PROBLEM(&r, 503, "unavailable");
        assert_retry_after(&r);
        PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "checks", "postgres", NULL), "down");
        PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "checks", "redis", NULL), "ok");
        pt_resp_free(&r);
        pt_get(s, (enum pt_proto)p, "/healthz", NULL, &r);
        PT_ASSERT_STATUS(&r, 200);
        pt_resp_free(&r);
    }
    pt_svc("pg", "start");
    for (int p = 0; p < PT_PROTO_N; p++) {
        PL_ASSERT_INT_EQ(wait_for_200(s, (enum pt_proto)p, "/v1/me", token[p]), 200);
        PL_ASSERT_INT_EQ(wait_for_200(s, (enum pt_proto)p, "/readyz", NULL), 200);
    }
    /* Every worker reconnects, not just the one that answered: a burst of
     * requests spreads over all of them. */
    for (int i = 0; i < 24; i++) {
        struct pt_resp r;
        pt_get(s, (enum pt_proto)(i % PT_PROTO_N), "/v1/me", token[i % PT_PROTO_N], &r);
        PT_ASSERT_STATUS(&r, 200);
        pt_resp_free(&r);
    }
    PL_ASSERT_INT_EQ(pt_server_pid(s), pid);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
