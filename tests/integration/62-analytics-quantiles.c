/* SPDX-License-Identifier: MIT */
/* Parley - integration: kept latency quantiles, analytics off.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Quantile series read the p50/p95/p99 that each step keeps per hour and
 * day (migration 0018) instead of the histogram buckets. The checks run on
 * hours of their own (a day of 2097, a different month per protocol: the
 * database is shared with every other test): histograms written as a step
 * writes them, the same refresh a step runs, then the series must be the
 * quantiles of those histograms, by hour and by day, per conversation
 * kind and over both.
 */

static PGconn *db(void)
{
    PGconn *c = PQconnectdb(getenv("PARLEY_TEST_PG"));
    PL_ASSERT(PQstatus(c) == CONNECTION_OK);
    return c;
}

static void sql_exec(const char *q)
{
    PGconn *c = db();
    PGresult *r = PQexec(c, q);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        pltest_fail(__FILE__, __LINE__, "%s: %s", q, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static long long sql_int(const char *q)
{
    PGconn *c = db();
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        pltest_fail(__FILE__, __LINE__, "%s: %s", q, PQerrorMessage(c));
    long long v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return v;
}

static void admin(const char *verb, const char *name)
{
    const char *bin = getenv("PARLEY_TEST_BIN");
    pid_t pid = fork();
    PL_ASSERT(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(126);
        execl(bin, bin, "--pg", getenv("PARLEY_TEST_PG"), "--log", "warn", "admin", verb, name,
              (char *)NULL);
        _exit(127);
    }
    int st;
    PL_ASSERT(waitpid(pid, &st, 0) == pid);
    PL_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/*
 * The histograms of day D (2097-MM-03), delivered_ms_hist, bucket b =
 * floor(4 log2(ms)) whose quantile value is round(2^((b + 0.5) / 4)):
 *   hour 01, direct: 60 samples in bucket 20, 40 in bucket 40
 *            -> p50 20, p95 40, p99 40 (direct); with group below:
 *   hour 01, group:  100 samples in bucket 28
 *            -> all kinds (200): p50 28 (cum 60, 160), p95 40, p99 40
 *   hour 05, group:  1 sample in bucket 30 -> every quantile 30
 * The day: direct as hour 01; group 100 x 28 + 1 x 30 (p99 still 28:
 * 100 of 101 samples); all kinds 201 samples: p50 28, p95 40, p99 40.
 */
static const char *const HISTS[][3] = {
    {"01", "direct:020", "60"},
    {"01", "direct:040", "40"},
    {"01", "group:028", "100"},
    {"05", "group:030", "1"},
};

static void fill(const char *day)
{
    char q[512];
    snprintf(q, sizeof(q), "SELECT analytics_partitions_ensure('%s', '%s')", day, day);
    sql_exec(q);
    for (size_t i = 0; i < sizeof(HISTS) / sizeof(HISTS[0]); i++) {
        snprintf(q, sizeof(q),
                 "INSERT INTO analytics_hourly (metric, dims, bucket_start, value)"
                 " VALUES ('delivered_ms_hist', '%s', '%sT%s:00:00Z', %s)"
                 " ON CONFLICT (metric, dims, bucket_start) DO UPDATE SET value = EXCLUDED.value",
                 HISTS[i][1], day, HISTS[i][0], HISTS[i][2]);
        sql_exec(q);
    }
    /* What a step's AM_DAILY and AM_QUANTILES_REFRESH do for that day. */
    snprintf(
        q, sizeof(q),
        "INSERT INTO analytics_daily (metric, dims, day, value)"
        " SELECT metric, dims, date_trunc('day', bucket_start, 'UTC'), sum(value)"
        " FROM analytics_hourly WHERE metric = 'delivered_ms_hist'"
        " AND bucket_start >= '%s' AND bucket_start < timestamptz '%s' + interval '1 day'"
        " GROUP BY 1, 2, 3 ON CONFLICT (metric, dims, day) DO UPDATE SET value = EXCLUDED.value",
        day, day);
    sql_exec(q);
    snprintf(q, sizeof(q), "SELECT analytics_quantiles_refresh('%s')", day);
    sql_exec(q);
}

static void clear(const char *day)
{
    char q[512];
    snprintf(q, sizeof(q),
             "WITH a AS (DELETE FROM analytics_hourly WHERE bucket_start >= '%s'"
             "  AND bucket_start < timestamptz '%s' + interval '1 day' RETURNING 1),"
             " b AS (DELETE FROM analytics_daily WHERE day = '%s' RETURNING 1)"
             " DELETE FROM analytics_quantiles WHERE t >= '%s'"
             "  AND t < timestamptz '%s' + interval '1 day'",
             day, day, day, day, day);
    sql_exec(q);
}

/* The series' values, one per point, into v (at most n). Returns how many. */
static size_t series(struct pt_server *s, enum pt_proto p, const char *token, const char *metric,
                     const char *day, const char *gran, long long *v, size_t n)
{
    char path[256];
    snprintf(path, sizeof(path),
             "/v1/admin/analytics/%s?from=%sT00:00:00Z&to=%sT06:00:00Z&granularity=%s", metric, day,
             day, gran);
    struct pt_resp r;
    pt_get(s, p, path, token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val pts = pt_json_get(pt_json(&r), "points", NULL);
    PL_ASSERT(pts && YAJL_IS_ARRAY(pts));
    size_t len = pts->u.array.len, k = len < n ? len : n;
    for (size_t i = 0; i < k; i++)
        v[i] = (long long)pt_json_int(pts->u.array.values[i], "value", NULL);
    pt_resp_free(&r);
    return len;
}

PLTEST_PROTO(quantile_series_read_the_kept_quantiles)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a;
    PT_USER_NEW(s, proto, "qt_a", &a);
    admin("grant", a.name);
    static const char *const days[] = {"2097-03-03", "2097-05-03", "2097-07-03"};
    const char *day = days[proto];
    clear(day);
    fill(day);

    /* Each bucket's value is what the old per-request query computed:
     * round(2^((b + 0.5) / 4)). */
    long long b20 = sql_int("SELECT round(2 ^ (20.5 / 4.0))");
    long long b28 = sql_int("SELECT round(2 ^ (28.5 / 4.0))");
    long long b30 = sql_int("SELECT round(2 ^ (30.5 / 4.0))");
    long long b40 = sql_int("SELECT round(2 ^ (40.5 / 4.0))");

    struct {
        const char *metric;
        long long h01, h05, day;
    } want[] = {
        {"delivery_p50_ms_direct", b20, 0, b20},
        {"delivery_p95_ms_direct", b40, 0, b40},
        {"delivery_p99_ms_direct", b40, 0, b40},
        {"delivery_p50_ms_group", b28, b30, b28},
        {"delivery_p99_ms_group", b28, b30, b28},
        {"delivery_p50_ms", b28, b30, b28},
        {"delivery_p95_ms", b40, b30, b40},
        {"delivery_p99_ms", b40, b30, b40},
        {"read_p50_ms", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        long long v[8] = {0};
        PL_ASSERT_INT_EQ(series(s, proto, a.token, want[i].metric, day, "hour", v, 8), 6);
        if (v[1] != want[i].h01 || v[5] != want[i].h05 || v[0] || v[2] || v[3] || v[4])
            pltest_fail(__FILE__, __LINE__, "%s by hour: %lld %lld %lld %lld %lld %lld",
                        want[i].metric, v[0], v[1], v[2], v[3], v[4], v[5]);
        PL_ASSERT_INT_EQ(series(s, proto, a.token, want[i].metric, day, "day", v, 8), 1);
        if (v[0] != want[i].day)
            pltest_fail(__FILE__, __LINE__, "%s by day: %lld, want %lld", want[i].metric, v[0],
                        want[i].day);
    }

    /* A histogram that changes (a later step's samples) is recomputed by
     * the next refresh: hour 05 gets 99 more group samples at bucket 40. */
    char q[256];
    snprintf(
        q, sizeof(q),
        "INSERT INTO analytics_hourly VALUES ('delivered_ms_hist', 'group:040', '%sT05:00:00Z',"
        " 99)",
        day);
    sql_exec(q);
    snprintf(q, sizeof(q), "SELECT analytics_quantiles_refresh('%sT05:00:00Z')", day);
    sql_exec(q);
    long long v[8] = {0};
    PL_ASSERT_INT_EQ(series(s, proto, a.token, "delivery_p50_ms_group", day, "hour", v, 8), 6);
    PL_ASSERT_INT_EQ(v[5], b40);
    PL_ASSERT_INT_EQ(v[1], b28); /* hour 01 untouched */

    clear(day);
    admin("revoke", a.name);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Whether node wrote an analytics sample. */
static long long node_samples(const char *node)
{
    char q[160];
    snprintf(q, sizeof(q), "SELECT count(*) FROM analytics_node_samples WHERE node = '%s'", node);
    return sql_int(q);
}

/*
 * analytics off: the server takes no samples and runs no aggregation
 * passes. Two servers with 10 ms passes (a sample each 10 passes): the
 * one with analytics off starts first, so by the time the one with it on
 * has written its first sample, the first would have written one too.
 */
PLTEST(analytics_off_collects_nothing)
{
    char off_node[48], on_node[48];
    snprintf(off_node, sizeof(off_node), "an-off-%d", (int)getpid());
    snprintf(on_node, sizeof(on_node), "an-on-%d", (int)getpid());
    const char *off_args[] = {"--analytics", "off", "--analytics-interval", "10", "--node-id",
                              off_node,      NULL};
    struct pt_server *off = PT_SERVER_START(off_args);
    struct pt_user a;
    PT_USER_NEW(off, PT_H1, "an_off", &a);
    const char *on_args[] = {"--analytics-interval", "10", "--node-id", on_node, NULL};
    struct pt_server *on = PT_SERVER_START(on_args);
    uint64_t end = pt_now_ms() + 30000;
    while (node_samples(on_node) == 0) {
        if (pt_now_ms() > end)
            pltest_fail(__FILE__, __LINE__, "the server with analytics on never sampled");
        pt_sleep_ms(20);
    }
    PL_ASSERT_INT_EQ(node_samples(off_node), 0);
    /* Its API still answers from the rollups that are there. */
    admin("grant", a.name);
    struct pt_resp r;
    pt_get(off, PT_H1, "/v1/admin/analytics/messages?from=2026-01-01&to=2026-01-02", a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    admin("revoke", a.name);
    PL_ASSERT_INT_EQ(pt_server_stop(on), 0);
    PL_ASSERT_INT_EQ(pt_server_stop(off), 0);
    PL_ASSERT_INT_EQ(node_samples(off_node), 0);
    char q[160];
    snprintf(q, sizeof(q), "DELETE FROM analytics_node_samples WHERE node = '%s'", on_node);
    sql_exec(q);
}
