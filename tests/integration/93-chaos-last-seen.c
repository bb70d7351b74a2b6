/* SPDX-License-Identifier: MIT */
/* Parley - chaos: last seen survives restarts of Redis and parleyd.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <string.h>

/* presence_timeout is 2 s; the server sweeps a few times per timeout. */
#define OFFLINE_MS 6000

static const char *const fast_presence[] = {"--presence-timeout", "2", NULL};

/* a's presence as b sees it: fills status and last_seen ("" for null). */
static void presence(struct pt_server *s, const struct pt_user *b, int64_t a, char status[16],
                     char seen[40])
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/users/%lld/presence", (long long)a);
    struct pt_resp r;
    pt_get(s, PT_H1, path, b->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    const char *st = pt_json_str(pt_json(&r), "status", NULL),
               *ls = pt_json_str(pt_json(&r), "last_seen", NULL);
    PL_ASSERT(st && strlen(st) < 16 && (!ls || strlen(ls) < 40));
    strcpy(status, st);
    strcpy(seen, ls ? ls : "");
    PL_ASSERT(!ls || pt_is_timestamp(ls));
    pt_resp_free(&r);
}

/* Polls a's presence until its status is want; fails the case after
 * OFFLINE_MS. */
static void wait_status(struct pt_server *s, const struct pt_user *b, int64_t a, const char *want,
                        char seen[40])
{
    char st[16];
    uint64_t deadline = pt_now_ms() + OFFLINE_MS;
    for (presence(s, b, a, st, seen); strcmp(st, want) != 0; presence(s, b, a, st, seen)) {
        if (pt_now_ms() >= deadline)
            pltest_fail(__FILE__, __LINE__, "still %s after %d ms", st, OFFLINE_MS);
        pt_sleep_ms(100);
    }
}

/* Stops parleyd, restarts Redis (which keeps no data) and starts a new
 * parleyd on the same database. */
static struct pt_server *restart_all(struct pt_server *s)
{
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
    pt_svc("redis", "stop");
    pt_svc("redis", "start");
    return PT_SERVER_START(fast_presence);
}

PLTEST(last_seen_survives_redis_and_parleyd_restarts)
{
    pt_svc_require();
    struct pt_server *s = PT_SERVER_START(fast_presence);
    struct pt_user a, b;
    char st[16], seen[40], before[40];
    PT_USER_NEW(s, PT_H1, "seen_a", &a);
    PT_USER_NEW(s, PT_H1, "seen_b", &b);
    PT_DIRECT(s, PT_H1, &a, b.id, 201);
    /* Online through a stream, then offline: the sweeper's transition
     * writes the durable copy. */
    struct pt_sse *sse = PT_SSE_OPEN_READY(s, PT_H1, a.token, NULL);
    wait_status(s, &b, a.id, "online", seen);
    pt_sse_close(sse);
    wait_status(s, &b, a.id, "offline", before);
    PL_ASSERT(before[0]);

    s = restart_all(s);
    presence(s, &b, a.id, st, seen);
    PL_ASSERT_STR_EQ(st, "offline");
    PL_ASSERT_STR_EQ(seen, before);

    /* A heartbeat (no stream) is a transition too; it lands at once. */
    struct pt_resp r;
    PL_ASSERT_INT_EQ(pt_req(s, PT_H1, "POST", "/v1/presence/heartbeat", a.token, NULL, NULL, 0, &r),
                     0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    presence(s, &b, a.id, st, seen);
    PL_ASSERT_STR_EQ(st, "online");
    PL_ASSERT(strcmp(seen, before) > 0);
    strcpy(before, seen);
    s = restart_all(s);
    presence(s, &b, a.id, st, seen);
    PL_ASSERT_STR_EQ(st, "offline");
    PL_ASSERT_STR_EQ(seen, before);

    /* The durable copy obeys the privacy setting like the live one. */
    pt_reqf(s, PT_H1, "PATCH", a.token, &r, "/v1/me", "{\"last_seen_visibility\":\"nobody\"}");
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    presence(s, &b, a.id, st, seen);
    PL_ASSERT_STR_EQ(seen, "");
    presence(s, &a, a.id, st, seen);
    PL_ASSERT_STR_EQ(seen, before);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
