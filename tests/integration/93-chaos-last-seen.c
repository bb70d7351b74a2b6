/* SPDX-License-Identifier: MIT */
/* Parley - chaos: last seen survives restarts of Redis and parleyd.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <libpq-fe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Milliseconds since the epoch of "2026-12-06T02:53:50.594Z". */
static long long ts_ms(const char *ts)
{
    struct tm tm = {0};
    int ms = 0;
    PL_ASSERT(sscanf(ts, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec, &ms) == 7);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000 + ms;
}

/* Waits until PostgreSQL holds user's last seen as ts: the API shows
 * Redis's value, which the sweeper copies a moment later. */
static void wait_durable(int64_t user, const char *ts)
{
    PGconn *db = PQconnectdb(getenv("PARLEY_TEST_PG"));
    PL_ASSERT(PQstatus(db) == CONNECTION_OK);
    char sql[160], want[24];
    snprintf(sql, sizeof(sql),
             "SELECT (extract(epoch FROM last_seen_at) * 1000)::bigint FROM users WHERE id = %lld",
             (long long)user);
    snprintf(want, sizeof(want), "%lld", ts_ms(ts));
    uint64_t deadline = pt_now_ms() + OFFLINE_MS;
    for (;;) {
        PGresult *r = PQexec(db, sql);
        int done = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                   strcmp(PQgetvalue(r, 0, 0), want) == 0;
        PQclear(r);
        if (done)
            break;
        if (pt_now_ms() >= deadline)
            pltest_fail(__FILE__, __LINE__, "last seen %s never reached PostgreSQL", ts);
        pt_sleep_ms(100);
    }
    PQfinish(db);
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
    wait_durable(a.id, before);

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
