/* SPDX-License-Identifier: MIT */
/* Parley - integration: stickiness (DAU/MAU) in the API, CSV, report. */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * The database is shared with every other test, whose traffic moves
 * today's DAU and MAU at any moment; so the exact checks run on days of
 * their own: ten days of a month in 2098 (a different month per protocol, two apart),
 * far from the live days, written as a step writes them. Day i (1..10)
 * has its own 10 users, so DAU is 10, MAU (the 30 days ending on day i)
 * 10 i, and stickiness 1 / i.
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

/* Runs parleyd with args (NULL-terminated) after the database flag; its
 * stdout into out. Returns the exit status. */
static int parleyd(const char *const *args, char *out, size_t cap)
{
    const char *bin = getenv("PARLEY_TEST_BIN");
    int fd[2];
    PL_ASSERT(pipe(fd) == 0);
    pid_t pid = fork();
    PL_ASSERT(pid >= 0);
    if (pid == 0) {
        const char *argv[16] = {bin, "--pg", getenv("PARLEY_TEST_PG"), "--log", "warn"};
        for (int i = 0; args[i] && i < 10; i++)
            argv[5 + i] = args[i];
        dup2(fd[1], 1);
        close(fd[0]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fd[1]);
    size_t len = 0;
    ssize_t k;
    while (len + 1 < cap && (k = read(fd[0], out + len, cap - 1 - len)) > 0)
        len += (size_t)k;
    out[len] = '\0';
    char sink[256];
    while (read(fd[0], sink, sizeof(sink)) > 0) {
    }
    close(fd[0]);
    int st;
    PL_ASSERT(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void admin(const char *verb, const char *name)
{
    char out[256];
    const char *args[] = {"admin", verb, name, NULL};
    PL_ASSERT_INT_EQ(parleyd(args, out, sizeof(out)), 0);
}

/* The days of this protocol: 2098-MM-01 .. 2098-MM-10. */
static void month_of(enum pt_proto p, char ym[8])
{
    snprintf(ym, 8, "2098-%02d", 4 + 2 * (int)p);
}

static void fill(const char *ym)
{
    char q[640];
    snprintf(q, sizeof(q),
             "INSERT INTO analytics_daily_hll (day, users)"
             " SELECT date '%s-01' + i - 1, hll_add_agg(hll_hash_bigint(900000000 + 100 * i + u),"
             " 14, 5) FROM generate_series(1, 10) i, generate_series(1, 10) u GROUP BY i"
             " ON CONFLICT (day) DO UPDATE SET users = EXCLUDED.users",
             ym);
    sql_exec(q);
    /* What a step does for the days its events touched. */
    snprintf(q, sizeof(q), "SELECT analytics_active_refresh('%s-01', '%s-10')", ym, ym);
    sql_exec(q);
}

static void clear(const char *ym)
{
    char q[256];
    snprintf(q, sizeof(q), "DELETE FROM analytics_daily_hll WHERE day >= '%s-01' AND day < '%s-11'",
             ym, ym);
    sql_exec(q);
    snprintf(q, sizeof(q),
             "DELETE FROM analytics_daily_active WHERE day >= '%s-01' AND day < '%s-11'", ym, ym);
    sql_exec(q);
}

static double num(yajl_val v)
{
    PL_ASSERT(v && YAJL_IS_NUMBER(v));
    return YAJL_IS_INTEGER(v) ? (double)YAJL_GET_INTEGER(v) : YAJL_GET_DOUBLE(v);
}

static void today(char d[11], int plus_days)
{
    time_t t = time(NULL) + (time_t)plus_days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(d, 11, "%Y-%m-%d", &tm);
}

PLTEST_PROTO(stickiness_is_dau_over_mau)
{
    const char *args[] = {"--analytics-interval", "100", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "st_a", &a);
    PT_USER_NEW(s, proto, "st_b", &b);
    char ym[8], path[256];
    month_of(proto, ym);
    clear(ym);
    fill(ym);

    /* Not an admin yet: 404, like every admin route. */
    snprintf(path, sizeof(path), "/v1/admin/analytics/stickiness?from=%s-01&to=%s-11", ym, ym);
    struct pt_resp r;
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    admin("grant", a.name);

    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val doc = pt_json(&r);
    PL_ASSERT_STR_EQ(pt_json_str(doc, "metric", NULL), "stickiness");
    PL_ASSERT_STR_EQ(pt_json_str(doc, "granularity", NULL), "day");
    yajl_val pts = pt_json_get(doc, "points", NULL);
    PL_ASSERT(pts && pts->u.array.len == 10);
    for (unsigned i = 0; i < 10; i++) {
        yajl_val p = pts->u.array.values[i];
        char want_t[32];
        snprintf(want_t, sizeof(want_t), "%s-%02uT00:00:00.000Z", ym, i + 1);
        PL_ASSERT_STR_EQ(pt_json_str(p, "t", NULL), want_t);
        /* 1 / (i + 1) to 4 decimals, rounded half up */
        double want = (double)((20000 / (i + 1) + 1) / 2) / 10000.0;
        double got = num(pt_json_get(p, "value", NULL)), d = got - want;
        if (d > 1e-9 || d < -1e-9)
            pltest_fail(__FILE__, __LINE__, "day %u: stickiness %g, want %g", i + 1, got, want);
    }
    pt_resp_free(&r);

    /* The numbers it divides, from the same rows. */
    snprintf(path, sizeof(path), "/v1/admin/analytics/mau?from=%s-04&to=%s-05", ym, ym);
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(
        pt_json_int(pt_json_get(pt_json(&r), "points", NULL)->u.array.values[0], "value", NULL),
        40);
    pt_resp_free(&r);

    /* A day nobody was active: 0, not a division by zero. */
    snprintf(path, sizeof(path), "/v1/admin/analytics/stickiness?from=%s-20&to=%s-21", ym, ym);
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    pts = pt_json_get(pt_json(&r), "points", NULL);
    PL_ASSERT(pts && pts->u.array.len == 1);
    PL_ASSERT(num(pt_json_get(pts->u.array.values[0], "value", NULL)) == 0);
    pt_resp_free(&r);

    /* CSV: the same ratios as text. */
    snprintf(path, sizeof(path), "/v1/admin/analytics/stickiness?from=%s-02&to=%s-04", ym, ym);
    const char *csv_h[] = {"Accept: text/csv", NULL};
    PL_ASSERT_INT_EQ(pt_req_h(s, proto, "GET", path, a.token, NULL, NULL, 0, csv_h, &r), 0);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT(strncmp(pt_resp_ctype(&r), "text/csv", 8) == 0);
    char want_csv[160];
    snprintf(want_csv, sizeof(want_csv),
             "t,value\n%s-02T00:00:00.000Z,0.5\n%s-03T00:00:00.000Z,0.3333\n", ym, ym);
    PL_ASSERT_STR_EQ(r.body, want_csv);
    pt_resp_free(&r);

    /* Daily only. */
    snprintf(path, sizeof(path),
             "/v1/admin/analytics/stickiness?from=%s-01&to=%s-02&granularity=hour", ym, ym);
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_STATUS(&r, 400);
    pt_resp_free(&r);

    /* Live: after this test's own send and receipt were aggregated, today
     * has active users, so its stickiness is in (0, 1]. */
    int64_t direct = PT_DIRECT(s, proto, &a, b.id, 201);
    struct pt_msg m = PT_SEND(s, proto, &a, direct, "sticky");
    PT_RECEIPT(s, proto, &b, direct, "read", m.seq);
    char d0[11], d1[11];
    today(d0, 0);
    today(d1, 1);
    snprintf(path, sizeof(path), "/v1/admin/analytics/stickiness?from=%s&to=%s", d0, d1);
    uint64_t end = pt_now_ms() + 30000;
    double live = 0;
    for (;;) {
        pt_get(s, proto, path, a.token, &r);
        PT_ASSERT_STATUS(&r, 200);
        pts = pt_json_get(pt_json(&r), "points", NULL);
        PL_ASSERT(pts && pts->u.array.len == 1);
        live = num(pt_json_get(pts->u.array.values[0], "value", NULL));
        pt_resp_free(&r);
        if (live > 0)
            break;
        if (pt_now_ms() > end)
            pltest_fail(__FILE__, __LINE__, "today's stickiness stayed 0");
        pt_sleep_ms(50);
    }
    PL_ASSERT(live <= 1);

    /* The terminal report has the ratio as a percentage. */
    char out[4096], from[11], to[11];
    snprintf(from, sizeof(from), "%s-01", ym);
    snprintf(to, sizeof(to), "%s-05", ym);
    const char *rep[] = {"analytics", "report", "--from", from, "--to", to, NULL};
    PL_ASSERT_INT_EQ(parleyd(rep, out, sizeof(out)), 0);
    PL_ASSERT(strstr(out, "dau/mau") != NULL);
    char row[64];
    snprintf(row, sizeof(row), "%s-02", ym);
    const char *line = strstr(out, row);
    PL_ASSERT(line != NULL);
    const char *eol = strchr(line, '\n');
    PL_ASSERT(eol && strstr(line, "50.0%") && strstr(line, "50.0%") < eol);
    snprintf(row, sizeof(row), "%s-04", ym);
    line = strstr(out, row);
    PL_ASSERT(line && strstr(line, "25.0%"));

    clear(ym);
    admin("revoke", a.name);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
