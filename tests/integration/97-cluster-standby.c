/* SPDX-License-Identifier: MIT */
/* Parley - integration: reads on a PostgreSQL hot standby.             */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * parleyd with pg_standby (scripts/cluster test provides the standby as
 * PARLEY_TEST_PG_STANDBY; elsewhere these cases skip): a caller reads its
 * own writes at once, whichever database serves the read; once the
 * standby has caught up, reads go there (its counter in /metrics grows);
 * the standby stopped, every read still succeeds on the primary, and
 * started again, reads go back to it; with its replay paused, a message
 * someone else sent is in the history of the user its event went to.
 */

#define EV_MS 10000
#define ROUNDS 60

static const char *standby(void)
{
    const char *sb = getenv("PARLEY_TEST_PG_STANDBY");
    if (!sb || !*sb)
        PL_SKIP("no PARLEY_TEST_PG_STANDBY (scripts/cluster test runs this with a standby)");
    return sb;
}

static struct pt_server *start(void)
{
    const char *args[] = {"--pg-standby", standby(), "--pg-standby-poll-ms", "20", NULL};
    return PT_SERVER_START(args);
}

/* The value of an unlabelled metric, or -1 when it is absent. */
static long long metric(struct pt_server *s, enum pt_proto proto, const char *name)
{
    struct pt_resp r;
    pt_get(s, proto, "/metrics", PT_METRICS_TOKEN, &r);
    PT_ASSERT_STATUS(&r, 200);
    long long v = -1;
    size_t n = strlen(name);
    for (const char *p = r.body; (p = strstr(p, name)) != NULL; p += n)
        if ((p == r.body || p[-1] == '\n') && p[n] == ' ')
            v = atoll(p + n + 1);
    pt_resp_free(&r);
    return v;
}

/* Reads history, the conversation list and search as u; every one 200. */
static void read_all(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                     int64_t conv, const char *must_have)
{
    char path[128];
    struct pt_resp r;
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages?limit=5", (long long)conv);
    pt_get(s, proto, path, u->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    if (must_have && !strstr(r.body, must_have))
        pltest_fail(
            __FILE__, __LINE__,
            "history misses \"%s\" (the caller's own write, or what it was told of): %.300s",
            must_have, r.body);
    pt_resp_free(&r);
    pt_get(s, proto, "/v1/conversations?limit=5", u->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    pt_get(s, proto, "/v1/search?q=standby", u->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
}

/* Reads until the standby served one more than before; fails after EV_MS. */
static void expect_standby_reads(struct pt_server *s, enum pt_proto proto, const struct pt_user *u,
                                 int64_t conv)
{
    long long before = metric(s, proto, "parley_pg_standby_reads_total");
    uint64_t deadline = pt_now_ms() + EV_MS;
    while (metric(s, proto, "parley_pg_standby_reads_total") <= before) {
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "no read went to the standby within %d ms", EV_MS);
        read_all(s, proto, u, conv, NULL);
        pt_sleep_ms(20);
    }
}

PLTEST_PROTO(own_writes_are_read_at_once_and_caught_up_reads_use_the_standby)
{
    struct pt_server *s = start();
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "sb_a", &a);
    PT_USER_NEW(s, proto, "sb_b", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    for (int i = 0; i < ROUNDS; i++) {
        char text[64];
        snprintf(text, sizeof(text), "standby round %d", i);
        (void)PT_SEND(s, proto, i % 2 ? &a : &b, conv, text);
        read_all(s, proto, i % 2 ? &a : &b, conv, text);
    }
    expect_standby_reads(s, proto, &a, conv);
    PL_ASSERT_INT_EQ(metric(s, proto, "parley_pg_standby_up"), 1);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(standby_stopped_and_started_reads_move_and_never_fail)
{
    pt_svc_require();
    struct pt_server *s = start();
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "sbl_a", &a);
    PT_USER_NEW(s, proto, "sbl_b", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    (void)PT_SEND(s, proto, &a, conv, "before the standby stops");
    expect_standby_reads(s, proto, &a, conv);
    pt_svc("standby", "stop");
    /* Every read succeeds meanwhile, including the caller's own writes. */
    uint64_t deadline = pt_now_ms() + EV_MS;
    while (metric(s, proto, "parley_pg_standby_up") != 0) {
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "the standby still counts as up");
        read_all(s, proto, &a, conv, NULL);
    }
    for (int i = 0; i < 10; i++) {
        char text[64];
        snprintf(text, sizeof(text), "while the standby is away %d", i);
        (void)PT_SEND(s, proto, &a, conv, text);
        read_all(s, proto, &a, conv, text);
    }
    long long standby_reads = metric(s, proto, "parley_pg_standby_reads_total");
    read_all(s, proto, &b, conv, "away 9");
    PL_ASSERT_INT_EQ(metric(s, proto, "parley_pg_standby_reads_total"), standby_reads);
    pt_svc("standby", "start");
    expect_standby_reads(s, proto, &b, conv);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Pauses (true) or resumes the standby's WAL replay. */
static void replay_pause(bool pause)
{
    PGconn *c = PQconnectdb(standby());
    PGresult *r =
        PQexec(c, pause ? "SELECT pg_wal_replay_pause()" : "SELECT pg_wal_replay_resume()");
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "replay %s: %s", pause ? "pause" : "resume", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    PL_ASSERT(ok);
}

/* A case that fails with replay paused must not leave it so. */
static void replay_resume_at_exit(void)
{
    PGconn *c = PQconnectdb(standby());
    PQclear(PQexec(c, "SELECT pg_wal_replay_resume()"));
    PQfinish(c);
}

PLTEST_PROTO(an_event_delivered_is_in_history_while_the_standby_lags)
{
    struct pt_server *s = start();
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "sbe_a", &a);
    PT_USER_NEW(s, proto, "sbe_b", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    struct pt_sse *sse = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    expect_standby_reads(s, proto, &a, conv); /* a's reads would go there */
    atexit(replay_resume_at_exit);
    replay_pause(true);
    /* b writes through this node; a, who wrote nothing since, is told. */
    struct pt_msg m = PT_SEND(s, proto, &b, conv, "sent while the standby waits");
    PT_SSE_EXPECT_MSG(sse, m.id, EV_MS);
    long long standby_reads = metric(s, proto, "parley_pg_standby_reads_total");
    read_all(s, proto, &a, conv, "sent while the standby waits");
    PL_ASSERT_INT_EQ(metric(s, proto, "parley_pg_standby_reads_total"), standby_reads);
    replay_pause(false);
    expect_standby_reads(s, proto, &a, conv); /* replayed: back to the standby */
    read_all(s, proto, &a, conv, "sent while the standby waits");
    pt_sse_close(sse);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
