/* SPDX-License-Identifier: MIT */
/* Parley - integration: analytics rollups, admin series, activity.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * The database is shared by every test running in parallel (and by their
 * parleyds, whose aggregators all compete for the one aggregation lock),
 * so the exactness checks are global: in ONE snapshot, the rollups must
 * equal COUNT(*) over the messages up to the checkpoint.
 */

static PGconn *db(void)
{
    PGconn *c = PQconnectdb(getenv("PARLEY_TEST_PG"));
    PL_ASSERT(PQstatus(c) == CONNECTION_OK);
    return c;
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

/* Rollup minus COUNT(*) for each metric, in one snapshot: all zero. */
static void expect_exact(void)
{
    static const char q[] =
        "WITH c AS (SELECT pos FROM analytics_checkpoint WHERE id = 1),"
        " src AS (SELECT m.id, m.kind, v.kind AS ckind FROM messages m"
        "  JOIN conversations v ON v.id = m.conversation_id, c WHERE m.id <= c.pos"
        "  UNION ALL SELECT a.id, 'archived', v.kind FROM archived_messages a"
        "  JOIN conversations v ON v.id = a.conversation_id, c WHERE a.id <= c.pos),"
        " r AS (SELECT metric, sum(value) AS v FROM analytics_hourly GROUP BY metric)"
        " SELECT COALESCE((SELECT v FROM r WHERE metric = 'messages'), 0)"
        "   - (SELECT count(*) FROM src),"
        " COALESCE((SELECT v FROM r WHERE metric = 'messages_direct'), 0)"
        "   - (SELECT count(*) FROM src WHERE ckind = 'direct'),"
        " COALESCE((SELECT v FROM r WHERE metric = 'messages_group'), 0)"
        "   - (SELECT count(*) FROM src WHERE ckind = 'group'),"
        /* a message deleted for everyone becomes kind 'deleted' (83 deletes
         * e2e ones): the rollup counts what was sent, so e2e is exact up to
         * the number of deleted messages */
        " COALESCE((SELECT v FROM r WHERE metric = 'messages_e2e'), 0)"
        "   - (SELECT count(*) FROM src WHERE kind = 'e2e'),"
        /* archived rows keep no kind: hot media is a lower bound */
        " COALESCE((SELECT v FROM r WHERE metric = 'messages_media'), 0)"
        "   - (SELECT count(*) FROM src WHERE kind = 'media') >= 0,"
        " (SELECT pos FROM c),"
        " (SELECT count(*) FROM src WHERE kind = 'deleted')";
    PGconn *c = db();
    PGresult *r = PQexec(c, q);
    PL_ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
    PL_ASSERT(atoll(PQgetvalue(r, 0, 5)) > 0);
    long long deleted = atoll(PQgetvalue(r, 0, 6)), e2e_off = atoll(PQgetvalue(r, 0, 3));
    if (e2e_off < 0 || e2e_off > deleted)
        pltest_fail(__FILE__, __LINE__, "messages_e2e off by %lld (%lld deleted) at checkpoint %s",
                    e2e_off, deleted, PQgetvalue(r, 0, 5));
    for (int i = 0; i < 3; i++)
        if (atoll(PQgetvalue(r, 0, i)) != 0)
            pltest_fail(__FILE__, __LINE__, "metric %d off by %s at checkpoint %s", i,
                        PQgetvalue(r, 0, i), PQgetvalue(r, 0, 5));
    PL_ASSERT_STR_EQ(PQgetvalue(r, 0, 4), "t");
    PQclear(r);
    PQfinish(c);
}

/* Waits (deadline 30 s) until the checkpoint covers position pos. */
static void wait_checkpoint(long long pos)
{
    uint64_t end = pt_now_ms() + 30000;
    while (sql_int("SELECT pos FROM analytics_checkpoint") < pos) {
        if (pt_now_ms() > end)
            pltest_fail(__FILE__, __LINE__, "the aggregator never reached %lld", pos);
        pt_sleep_ms(50);
    }
}

/* Runs parleyd with the words in args (NULL-terminated) after the
 * database flag; its stdout goes to out (may be NULL). Returns the exit
 * status. */
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
    char sink[512];
    while ((k = read(fd[0], out && len + 1 < cap ? out + len : sink,
                     out && len + 1 < cap ? cap - 1 - len : sizeof(sink))) > 0)
        if (out && len + 1 < cap)
            len += (size_t)k;
    if (out)
        out[len] = '\0';
    close(fd[0]);
    int st;
    PL_ASSERT(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void admin(const char *verb, const char *name)
{
    const char *args[] = {"admin", verb, name, NULL};
    PL_ASSERT_INT_EQ(parleyd(args, NULL, 0), 0);
}

static void today(char d[11], int plus_days)
{
    time_t t = time(NULL) + (time_t)plus_days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(d, 11, "%Y-%m-%d", &tm);
}

/* A direct chat a-b and a group a, b, c, and the read watermark of b. */
struct chats {
    int64_t direct, group, read;
};

/* Sends into the chats: 5 direct, 4 group, then b's read receipt. Returns
 * the position of the last message. */
static int64_t sends(struct pt_server *s, enum pt_proto p, const struct pt_user *a,
                     const struct pt_user *b, const struct pt_user *c, struct chats *ch)
{
    struct pt_msg m = {0};
    for (int i = 0; i < 5; i++)
        m = PT_SEND(s, p, a, ch->direct, "hello");
    ch->read = m.seq;
    for (int i = 0; i < 4; i++)
        m = PT_SEND(s, p, i % 2 ? a : c, ch->group, "hi all");
    PT_RECEIPT(s, p, b, ch->direct, "read", ch->read);
    return m.id;
}

/* A burst of direct and group sends and a receipt by b in new chats.
 * Returns the position of the last message. */
static int64_t burst_in(struct pt_server *s, enum pt_proto p, const struct pt_user *a,
                        const struct pt_user *b, const struct pt_user *c, struct chats *ch)
{
    ch->direct = PT_DIRECT(s, p, a, b->id, 201);
    int64_t members[] = {b->id, c->id};
    ch->group = PT_GROUP(s, p, a, "analytics", members, 2);
    return sends(s, p, a, b, c, ch);
}

static int64_t burst(struct pt_server *s, enum pt_proto p, const struct pt_user *a,
                     const struct pt_user *b, const struct pt_user *c)
{
    struct chats ch;
    return burst_in(s, p, a, b, c, &ch);
}

/* Users <prefix>a, <prefix>b and <prefix>c: burst()'s sender, its
 * direct partner and the group's third member. */
static void trio(struct pt_server *s, enum pt_proto p, const char *prefix, struct pt_user *a,
                 struct pt_user *b, struct pt_user *c)
{
    struct pt_user *u[] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof(name), "%s%c", prefix, 'a' + i);
        PT_USER_NEW(s, p, name, u[i]);
    }
}

static int64_t point_sum(yajl_val doc)
{
    yajl_val pts = pt_json_get(doc, "points", NULL);
    PL_ASSERT(pts && YAJL_IS_ARRAY(pts));
    int64_t sum = 0;
    for (size_t i = 0; i < pts->u.array.len; i++) {
        PL_ASSERT(pt_is_timestamp(pt_json_str(pts->u.array.values[i], "t", NULL)));
        sum += pt_json_int(pts->u.array.values[i], "value", NULL);
    }
    return sum;
}

/* Users u1..u3 are in day's HyperLogLog sketch: adding them to it
 * leaves it the same (an HLL's registers only move for a new value). */
static void expect_in_sketch(const char *day, const struct pt_user *u1, const struct pt_user *u2,
                             const struct pt_user *u3)
{
    char q[512];
    snprintf(q, sizeof(q),
             "SELECT (h.users = hll_union(h.users, (SELECT hll_add_agg(hll_hash_bigint(u), 14, 5)"
             " FROM unnest(ARRAY[%lld, %lld, %lld]::bigint[]) AS u)))::int"
             " FROM analytics_daily_hll h WHERE h.day = '%s'",
             (long long)u1->id, (long long)u2->id, (long long)u3->id, day);
    PL_ASSERT_INT_EQ(sql_int(q), 1);
}

PLTEST_PROTO(rollups_match_counts_and_admin_series)
{
    const char *args[] = {"--analytics-interval", "100", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b, c;
    trio(s, proto, "an_", &a, &b, &c);
    int64_t last = burst(s, proto, &a, &b, &c);
    wait_checkpoint(last + 1); /* the receipt's event follows the last message */
    expect_exact();
    char d0[11], d1[11], q[512];
    today(d0, 0);
    today(d1, 1);
    /* b only moved a receipt; c only sent: both active today. */
    snprintf(q, sizeof(q),
             "SELECT count(*) FROM analytics_daily_users WHERE day = '%s'"
             " AND user_id IN (%lld, %lld, %lld)",
             d0, (long long)a.id, (long long)b.id, (long long)c.id);
    PL_ASSERT_INT_EQ(sql_int(q), 3);
    expect_in_sketch(d0, &a, &b, &c);

    char path[256];
    snprintf(path, sizeof(path), "/v1/admin/analytics/messages?from=%s&to=%s&granularity=day", d0,
             d1);
    struct pt_resp r;
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);

    admin("grant", a.name);
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val day = pt_json(&r);
    PL_ASSERT_STR_EQ(pt_json_str(day, "metric", NULL), "messages");
    PL_ASSERT_STR_EQ(pt_json_str(day, "granularity", NULL), "day");
    PL_ASSERT_INT_EQ(pt_json_get(day, "points", NULL)->u.array.len, 1);
    int64_t day_total = point_sum(day);
    PL_ASSERT(day_total >= 9);
    pt_resp_free(&r);

    /* The hours of the day sum to the day (no aggregation in between:
     * this server's aggregator is the only writer... of all of them, so
     * compare against one snapshot of the rollups instead). */
    snprintf(path, sizeof(path), "/v1/admin/analytics/messages?from=%s&to=%s&granularity=hour", d0,
             d1);
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(pt_json_get(pt_json(&r), "points", NULL)->u.array.len, 24);
    int64_t hour_total = point_sum(pt_json(&r));
    pt_resp_free(&r);
    snprintf(q, sizeof(q),
             "SELECT sum(value) FROM analytics_hourly WHERE metric = 'messages'"
             " AND bucket_start >= '%s' AND bucket_start < '%s'",
             d0, d1);
    long long in_db = sql_int(q);
    PL_ASSERT(hour_total >= day_total && hour_total <= in_db);

    /* Latency: b's read receipt covered a's 5 direct messages (and moved
     * delivered with it): samples in both histograms, quantiles > 0. */
    PL_ASSERT(sql_int("SELECT COALESCE(sum(value), 0) FROM analytics_hourly"
                      " WHERE metric = 'read_ms_hist' AND dims LIKE 'direct:%'") >= 5);
    PL_ASSERT(sql_int("SELECT COALESCE(sum(value), 0) FROM analytics_hourly"
                      " WHERE metric = 'delivered_ms_hist' AND dims LIKE 'direct:%'") >= 5);
    static const char *const quantiles[] = {"read_p50_ms_direct", "delivery_p99_ms", "read_p95_ms"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "/v1/admin/analytics/%s?from=%s&to=%s&granularity=day",
                 quantiles[i], d0, d1);
        pt_get(s, proto, path, a.token, &r);
        PT_ASSERT_STATUS(&r, 200);
        PL_ASSERT(point_sum(pt_json(&r)) > 0);
        pt_resp_free(&r);
    }

    /* Active groups (daily) and group sizes (a group of 3 now). */
    snprintf(path, sizeof(path), "/v1/admin/analytics/active_groups?from=%s&to=%s", d0, d1);
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT(point_sum(pt_json(&r)) >= 1);
    pt_resp_free(&r);
    pt_get(s, proto, "/v1/admin/analytics/group_sizes", a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val buckets = pt_json_get(pt_json(&r), "buckets", NULL);
    PL_ASSERT(buckets && buckets->u.array.len == 8);
    PL_ASSERT_INT_EQ(pt_json_int(buckets->u.array.values[1], "min_members", NULL), 3);
    PL_ASSERT(pt_json_int(buckets->u.array.values[1], "groups", NULL) >= 1);
    pt_resp_free(&r);

    /* CSV */
    snprintf(path, sizeof(path), "/v1/admin/analytics/dau?from=%s&to=%s&granularity=day", d0, d1);
    const char *csv_h[] = {"Accept: text/csv", NULL};
    PL_ASSERT_INT_EQ(pt_req_h(s, proto, "GET", path, a.token, NULL, NULL, 0, csv_h, &r), 0);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT(strncmp(pt_resp_ctype(&r), "text/csv", 8) == 0);
    PL_ASSERT(strncmp(r.body, "t,value\n", 8) == 0);
    PL_ASSERT(strncmp(r.body + 8, d0, 10) == 0);
    PL_ASSERT(atoll(strchr(r.body + 8, ',') + 1) >= 3);
    pt_resp_free(&r);

    /* Bad input: 400 problems, unknown metric 404. */
    static const char *const bad[] = {
        "/v1/admin/analytics/dau?from=2026-01-01&to=2026-01-02&granularity=hour",
        "/v1/admin/analytics/messages?from=2026-01-01&to=2026-01-02&granularity=week",
        "/v1/admin/analytics/messages?from=yesterday&to=2026-01-02",
        "/v1/admin/analytics/messages?to=2026-01-02",
        "/v1/admin/analytics/messages?from=2026-13-45&to=2026-01-02",
        "/v1/admin/analytics/messages?from=2000-01-01&to=2026-01-02&granularity=hour",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pt_get(s, proto, bad[i], a.token, &r);
        PT_ASSERT_STATUS(&r, 400);
        pt_resp_free(&r);
    }
    pt_get(s, proto, "/v1/admin/analytics/nope?from=2026-01-01&to=2026-01-02", a.token, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);

    admin("revoke", a.name);
    snprintf(path, sizeof(path), "/v1/admin/analytics/messages?from=%s&to=%s", d0, d1);
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    const char *nobody[] = {"admin", "grant", "no_such_user_here", NULL};
    PL_ASSERT(parleyd(nobody, NULL, 0) != 0);

    /* The user's own panel. */
    pt_get(s, proto, "/v1/me/activity", c.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val act = pt_json(&r);
    yajl_val weeks = pt_json_get(act, "weeks", NULL);
    PL_ASSERT(weeks && weeks->u.array.len == 12);
    PL_ASSERT_INT_EQ(pt_json_int(weeks->u.array.values[0], "sent", NULL), 2);
    PL_ASSERT_INT_EQ(pt_json_int(weeks->u.array.values[0], "received", NULL), 2);
    yajl_val top = pt_json_get(act, "top_conversations", NULL);
    PL_ASSERT(top && top->u.array.len == 1);
    PL_ASSERT_STR_EQ(pt_json_str(top->u.array.values[0], "kind", NULL), "group");
    PL_ASSERT_INT_EQ(pt_json_int(top->u.array.values[0], "messages", NULL), 4);
    /* c's second group message answered a's: one reply. */
    PL_ASSERT_INT_EQ(pt_json_int(act, "replies", NULL), 1);
    PL_ASSERT(pt_json_int(act, "avg_reply_s", NULL) >= 0);
    pt_resp_free(&r);

    /* The terminal report has today's row. */
    char out[8192];
    const char *rep[] = {"analytics", "report", "--from", d0, "--to", d1, NULL};
    PL_ASSERT_INT_EQ(parleyd(rep, out, sizeof(out)), 0);
    PL_ASSERT(strncmp(out, "day", 3) == 0 && strstr(out, "messages"));
    PL_ASSERT(strstr(out, d0) != NULL);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* A crash inside the aggregation transaction (after the rollups were
 * written, before COMMIT) neither loses nor double-counts. */
PLTEST_PROTO(crash_mid_aggregation_is_exactly_once)
{
    const char *args[] = {"--analytics-interval", "0", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b, c;
    trio(s, proto, "an_k", &a, &b, &c);
    int64_t last = burst(s, proto, &a, &b, &c);
    long long before = sql_int("SELECT pos FROM analytics_checkpoint");
    const char *crash[] = {"analytics", "run", "--analytics-crash-at", "applied", NULL};
    int st = parleyd(crash, NULL, 0);
    /* 0 when another test's parleyd aggregated everything first. */
    PL_ASSERT(st == 86 || st == 0);
    if (st == 86)
        PL_ASSERT(sql_int("SELECT pos FROM analytics_checkpoint") >= before);
    expect_exact();
    const char *run[] = {"analytics", "run", NULL};
    PL_ASSERT_INT_EQ(parleyd(run, NULL, 0), 0);
    wait_checkpoint(last + 1);
    expect_exact();
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Runs parleyd with args in the background (stdout to /dev/null). */
static pid_t parleyd_spawn(const char *const *args)
{
    const char *bin = getenv("PARLEY_TEST_BIN");
    pid_t pid = fork();
    PL_ASSERT(pid >= 0);
    if (pid == 0) {
        const char *argv[16] = {bin, "--pg", getenv("PARLEY_TEST_PG"), "--log", "error"};
        for (int i = 0; args[i] && i < 10; i++)
            argv[5 + i] = args[i];
        if (!freopen("/dev/null", "w", stdout))
            _exit(126);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    return pid;
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

/* kill -9 of an aggregator in the middle of its transactions (one
 * position per transaction, so it is killed mid-stream) neither loses nor
 * double-counts: exact right after, and after a clean pass. */
PLTEST(kill_9_of_the_aggregator_is_exactly_once)
{
    const char *args[] = {"--analytics-interval", "0", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b, c;
    trio(s, PT_H1, "an_9", &a, &b, &c);
    struct chats ch;
    int64_t last = burst_in(s, PT_H1, &a, &b, &c, &ch);
    for (int i = 0; i < 3; i++)
        last = sends(s, PT_H1, &a, &b, &c, &ch);
    for (int round = 0; round < 3; round++) {
        long long before = sql_int("SELECT pos FROM analytics_checkpoint");
        const char *run1[] = {"analytics", "run", "--analytics-batch", "1", NULL};
        pid_t pid = parleyd_spawn(run1);
        uint64_t end = pt_now_ms() + 30000;
        /* Killed once the checkpoint moved (by it or by another test's
         * aggregator: either way mid-flight) or it exited on its own. */
        int st = 0;
        pid_t done = 0;
        while ((done = waitpid(pid, &st, WNOHANG)) == 0 &&
               sql_int("SELECT pos FROM analytics_checkpoint") == before) {
            if (pt_now_ms() > end)
                pltest_fail(__FILE__, __LINE__, "the checkpoint never moved from %lld", before);
            pt_sleep_ms(5);
        }
        if (done == 0) {
            PL_ASSERT(kill(pid, SIGKILL) == 0);
            PL_ASSERT(waitpid(pid, &st, 0) == pid);
        }
        expect_exact();
        last = sends(s, PT_H1, &a, &b, &c, &ch);
    }
    const char *run[] = {"analytics", "run", NULL};
    PL_ASSERT_INT_EQ(parleyd(run, NULL, 0), 0);
    wait_checkpoint(last + 1);
    expect_exact();
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* A rebuild recomputes the rollups from history (archived messages
 * included: expect_exact counts them): broken rollups come back exact. */
PLTEST(rebuild_recomputes_from_history)
{
    const char *args[] = {"--analytics-interval", "100", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b, c;
    trio(s, PT_H1, "an_r", &a, &b, &c);
    struct chats ch;
    wait_checkpoint(burst_in(s, PT_H1, &a, &b, &c, &ch) + 1);
    char d0[11], q[512];
    today(d0, 0);
    /* Damage today's rollups and active users. */
    snprintf(q, sizeof(q),
             "UPDATE analytics_hourly SET value = value + 1000 WHERE bucket_start >= '%s'", d0);
    sql_exec(q);
    snprintf(q, sizeof(q), "DELETE FROM analytics_daily_users WHERE day = '%s'", d0);
    sql_exec(q);
    snprintf(q, sizeof(q), "DELETE FROM analytics_daily_hll WHERE day = '%s'", d0);
    sql_exec(q);
    char out[1024];
    const char *rb[] = {"analytics", "rebuild", "--from", d0, NULL};
    PL_ASSERT_INT_EQ(parleyd(rb, out, sizeof(out)), 0);
    PL_ASSERT(strncmp(out, "rebuilt from ", 13) == 0);
    /* Exact over all time only after a full rebuild: other tests (64, 68)
     * move messages' created_at 30 days back, out of the hours a partial
     * rebuild recounts (history never changes its dates outside tests). */
    const char *full[] = {"analytics", "rebuild", NULL};
    PL_ASSERT_INT_EQ(parleyd(full, out, sizeof(out)), 0);
    expect_exact();
    snprintf(q, sizeof(q),
             "SELECT count(*) FROM analytics_daily_users WHERE day = '%s'"
             " AND user_id IN (%lld, %lld, %lld)",
             d0, (long long)a.id, (long long)b.id, (long long)c.id);
    PL_ASSERT_INT_EQ(sql_int(q), 3);
    snprintf(q, sizeof(q),
             "SELECT (hll_cardinality(users) >= 3 AND hll_cardinality(hll_union(users,"
             " (SELECT hll_add_agg(hll_hash_bigint(x), 14, 5) FROM unnest(ARRAY[%lld, %lld,"
             " %lld]::bigint[]) x))) = hll_cardinality(users))::int"
             " FROM analytics_daily_hll WHERE day = '%s'",
             (long long)a.id, (long long)b.id, (long long)c.id, d0);
    PL_ASSERT_INT_EQ(sql_int(q), 1); /* the sketch has all three */
    /* The aggregator carries on from the same checkpoint. */
    wait_checkpoint(sends(s, PT_H1, &a, &b, &c, &ch) + 1);
    expect_exact();
    /* Media: a ready upload of a content type of its own, two hours ago,
     * is counted by the rebuild in its hour, by type. */
    snprintf(q, sizeof(q),
             "INSERT INTO media (uploader_id, uploader_device_id, blob_key, content_type, size,"
             " sha256, state, created_at, ready_at) VALUES (%lld, 0, 'an-test-' || %lld,"
             " 'application/x-an-rebuild', 12345, sha256('x'), 'ready', now() - interval '2 hours',"
             " now() - interval '2 hours')",
             (long long)a.id, (long long)a.id);
    sql_exec(q);
    snprintf(q, sizeof(q), "%s",
             "SELECT COALESCE(sum(value), 0) FROM analytics_hourly WHERE"
             " metric = 'media_bytes' AND dims = 'application/x-an-rebuild'");
    char dm1[11];
    today(dm1, -1); /* from yesterday: covers two hours ago */
    const char *rb3[] = {"analytics", "rebuild", "--from", dm1, NULL};
    PL_ASSERT_INT_EQ(parleyd(rb3, out, sizeof(out)), 0);
    PL_ASSERT_INT_EQ(sql_int(q), 12345);
    PL_ASSERT_INT_EQ(parleyd(full, out, sizeof(out)), 0);
    expect_exact();
    const char *bad[] = {"analytics", "rebuild", "--from", "2026-13-45", NULL};
    PL_ASSERT(parleyd(bad, NULL, 0) != 0);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Rollups live in monthly partitions; retention drops whole old months. */
PLTEST(retention_drops_old_monthly_partitions)
{
    PL_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c"
                             " ON c.oid = p.partrelid WHERE c.relname IN ('analytics_hourly',"
                             " 'analytics_daily_users')"),
                     2);
    sql_exec("SELECT analytics_partitions_ensure('2001-03-10 00:00+00', '2001-03-10 00:00+00')");
    sql_exec("INSERT INTO analytics_hourly VALUES ('messages', '', '2001-03-10T10:00:00Z', 5)"
             " ON CONFLICT DO NOTHING");
    PL_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM analytics_hourly_200103"), 1);
    const char *run[] = {"analytics", "run", "--analytics-retention", "30", NULL};
    uint64_t end = pt_now_ms() + 30000;
    /* Busy when another node holds the lock: its own retention (default
     * 760 days) drops the month as well. */
    while (sql_int("SELECT count(*) FROM pg_class WHERE relname = 'analytics_hourly_200103'")) {
        PL_ASSERT_INT_EQ(parleyd(run, NULL, 0), 0);
        if (pt_now_ms() > end)
            pltest_fail(__FILE__, __LINE__, "the 2001-03 partition was never dropped");
    }
    PL_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM pg_class WHERE relname = 'analytics_hourly_'"
                             " || to_char(now() AT TIME ZONE 'UTC', 'YYYYMM')"),
                     1);
}

/*
 * HyperLogLog: 1,000,000 generated users, each active on two days of a
 * 30-day month in 2099 (far from the live days other tests write; neither
 * retention nor a rebuild of the past touches it), sketched exactly as the
 * aggregator does (hll_add_agg(hll_hash_bigint(user), 14, 5) per day).
 * The admin series (unions of the daily sketches) are within 2 % of the
 * exact distinct counts: MAU of all 1,000,000, every WAU and DAU.
 */
#define HLL_DAY1 "(u % 30)"
#define HLL_DAY2 "((u / 30 * 7 + 3) % 30)"
#define HLL_POP                                                                                    \
    "SELECT u, date '2099-01-01' + " HLL_DAY1 " AS d FROM generate_series(1, 1000000) u"           \
    " UNION ALL SELECT u, date '2099-01-01' + " HLL_DAY2 " FROM generate_series(1, 1000000) u"

/* The exact distinct users of the `window` days ending on each day of the
 * month, from the population's (first day, second day) pairs: a user is
 * in a window when either of its days is. */
static void exact_counts(int window, long long exact[30])
{
    char q[512];
    snprintf(q, sizeof(q),
             "SELECT string_agg(n::text, ',' ORDER BY i) FROM (SELECT i, sum(p.n) AS n"
             " FROM generate_series(0, 29) i JOIN analytics_test_hll_pairs p"
             " ON (p.a > i - %d AND p.a <= i) OR (p.b > i - %d AND p.b <= i) GROUP BY i) x",
             window, window);
    PGconn *c = db();
    PGresult *r = PQexec(c, q);
    PL_ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
    const char *v = PQgetvalue(r, 0, 0);
    for (int i = 0; i < 30; i++) {
        char *end;
        exact[i] = strtoll(v, &end, 10);
        v = *end == ',' ? end + 1 : end;
    }
    PQclear(r);
    PQfinish(c);
}

static double series_max_error(struct pt_server *s, const char *token, const char *metric,
                               int window)
{
    long long exact[30];
    exact_counts(window, exact);
    char path[160];
    snprintf(path, sizeof(path), "/v1/admin/analytics/%s?from=2099-01-01&to=2099-01-31", metric);
    struct pt_resp r;
    pt_get(s, PT_H1, path, token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val pts = pt_json_get(pt_json(&r), "points", NULL);
    PL_ASSERT(pts && pts->u.array.len == 30);
    double worst = 0;
    for (int i = window - 1; i < 30; i++) {
        double est = (double)pt_json_int(pts->u.array.values[i], "value", NULL);
        double err = (est > (double)exact[i] ? est - (double)exact[i] : (double)exact[i] - est) /
                     (double)exact[i];
        if (err > worst)
            worst = err;
        if (err >= 0.02)
            pltest_fail(__FILE__, __LINE__, "%s of day %d: %.0f for %lld exact (%.2f %%)", metric,
                        i + 1, est, exact[i], 100 * err);
    }
    pt_resp_free(&r);
    return worst;
}

PLTEST(hll_distinct_counts_within_2_percent_on_a_million_users)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a;
    PT_USER_NEW(s, PT_H1, "an_hll", &a);
    admin("grant", a.name);
    sql_exec("DROP TABLE IF EXISTS analytics_test_hll_pairs");
    sql_exec("CREATE UNLOGGED TABLE analytics_test_hll_pairs AS SELECT " HLL_DAY1 " AS a, " HLL_DAY2
             " AS b, count(*) AS n FROM generate_series(1, 1000000) u GROUP BY 1, 2");
    sql_exec("INSERT INTO analytics_daily_hll (day, users)"
             " SELECT d, hll_add_agg(hll_hash_bigint(u), 14, 5) FROM (" HLL_POP ") p"
             " GROUP BY d ON CONFLICT (day) DO UPDATE SET users = EXCLUDED.users");
    /* What a step does for the days its events touched. */
    sql_exec("SELECT analytics_active_refresh('2099-01-01', '2099-01-30')");
    PL_ASSERT_INT_EQ(sql_int("SELECT sum(n) FROM analytics_test_hll_pairs"), 1000000);
    double dau = series_max_error(s, a.token, "dau", 1);
    double wau = series_max_error(s, a.token, "wau", 7);
    double mau = series_max_error(s, a.token, "mau", 30);
    printf("# hll error on 1,000,000 users: mau %.3f %%, worst wau %.3f %%, worst dau %.3f %%\n",
           100 * mau, 100 * wau, 100 * dau);
    sql_exec("DELETE FROM analytics_daily_hll WHERE day >= '2099-01-01' AND day < '2099-02-01'");
    sql_exec("DELETE FROM analytics_daily_active WHERE day >= '2099-01-01'");
    sql_exec("DROP TABLE analytics_test_hll_pairs");
    admin("revoke", a.name);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Retention cohorts: this week's registrations are a cohort; a
 * min_cohort above its size suppresses it. */
static yajl_val cohort_this_week(struct pt_server *s, const struct pt_user *u, struct pt_resp *r)
{
    char d0[11], path[128];
    today(d0, -7);
    snprintf(path, sizeof(path), "/v1/admin/analytics/retention?from=%s", d0);
    pt_get(s, PT_H1, path, u->token, r);
    PT_ASSERT_STATUS(r, 200);
    yajl_val co = pt_json_get(pt_json(r), "cohorts", NULL);
    PL_ASSERT(co && YAJL_IS_ARRAY(co) && co->u.array.len >= 1);
    yajl_val last = co->u.array.values[co->u.array.len - 1];
    PL_ASSERT(pt_is_timestamp(pt_json_str(last, "week", NULL)));
    PL_ASSERT_INT_EQ(pt_json_get(last, "active", NULL)->u.array.len, 0); /* no W+1 yet */
    return last;
}

PLTEST(retention_cohorts_and_min_cohort)
{
    const char *big[] = {"--analytics-min-cohort", "1000000", NULL};
    struct pt_server *s = PT_SERVER_START(big);
    struct pt_user a;
    PT_USER_NEW(s, PT_H1, "an_co", &a);
    admin("grant", a.name);
    struct pt_resp r;
    yajl_val last = cohort_this_week(s, &a, &r);
    PL_ASSERT(YAJL_IS_TRUE(pt_json_get(last, "suppressed", NULL)));
    PL_ASSERT_INT_EQ(pt_json_int(last, "size", NULL), 0);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "min_cohort", NULL), 1000000);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);

    const char *one[] = {"--analytics-min-cohort", "1", NULL};
    s = PT_SERVER_START(one);
    last = cohort_this_week(s, &a, &r);
    PL_ASSERT(YAJL_IS_FALSE(pt_json_get(last, "suppressed", NULL)));
    PL_ASSERT(pt_json_int(last, "size", NULL) >= 1);
    pt_resp_free(&r);
    const char *csv_h[] = {"Accept: text/csv", NULL};
    PL_ASSERT_INT_EQ(pt_req_h(s, PT_H1, "GET", "/v1/admin/analytics/retention?from=2026-01-01",
                              a.token, NULL, NULL, 0, csv_h, &r),
                     0);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT(strncmp(r.body, "week,size,w1,", 13) == 0);
    pt_resp_free(&r);
    pt_get(s, PT_H1, "/v1/admin/analytics/retention", a.token, &r);
    PT_ASSERT_STATUS(&r, 400);
    pt_resp_free(&r);
    admin("revoke", a.name);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Waits (deadline 30 s) until the query's number reaches min. */
static void wait_at_least(const char *q, long long min)
{
    uint64_t end = pt_now_ms() + 30000;
    long long v;
    while ((v = sql_int(q)) < min) {
        if (pt_now_ms() > end)
            pltest_fail(__FILE__, __LINE__, "%s: %lld, expected %lld or more", q, v, min);
        pt_sleep_ms(100);
    }
}

/*
 * Two nodes on one database: streams open on both (HTTP/1.1 on one, h2c
 * on the other, one of them a reconnect) and a search. Each node writes
 * its own samples; the rollups of the hour add the nodes up.
 */
PLTEST(connections_and_search_across_two_nodes)
{
    const char *args[] = {"--analytics-interval", "100", NULL};
    struct pt_server *n1 = PT_SERVER_START(args);
    struct pt_server *n2 = PT_SERVER_START(args);
    struct pt_user a, b;
    PT_USER_NEW(n1, PT_H1, "an_sa", &a);
    PT_USER_NEW(n2, PT_H1, "an_sb", &b);
    struct pt_sse *s1 = pt_sse_open(n1, PT_H1, a.token, NULL);
    struct pt_sse *s2 = pt_sse_open(n2, PT_H2C, b.token, "1");
    struct pt_resp r;
    pt_get(n1, PT_H1, "/v1/search?q=hello", a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    /* Both nodes sampled an open stream in the same recent slot. */
    wait_at_least("SELECT COALESCE(max(n), 0) FROM (SELECT count(*) AS n"
                  " FROM analytics_node_samples WHERE streams >= 1"
                  " AND slot > now() - interval '1 minute' GROUP BY slot) x",
                  2);
    static const char hour[] = " AND bucket_start = date_trunc('hour', now(), 'UTC')";
    char q[256];
    snprintf(q, sizeof(q),
             "SELECT COALESCE(max(value), 0) FROM analytics_hourly"
             " WHERE metric = 'peak_streams'%s",
             hour);
    wait_at_least(q, 2);
    snprintf(q, sizeof(q),
             "SELECT COALESCE(max(value), 0) FROM analytics_hourly"
             " WHERE metric = 'stream_opens' AND dims = 'h2c'%s",
             hour);
    wait_at_least(q, 1);
    snprintf(q, sizeof(q),
             "SELECT COALESCE(max(value), 0) FROM analytics_hourly WHERE metric = 'reconnects'%s",
             hour);
    wait_at_least(q, 1);
    snprintf(q, sizeof(q),
             "SELECT COALESCE(max(value), 0) FROM analytics_hourly WHERE metric = 'searches'%s",
             hour);
    wait_at_least(q, 1);

    /* A media download (a presigned URL handed out) on node 2. */
    snprintf(q, sizeof(q),
             "INSERT INTO media (uploader_id, uploader_device_id, blob_key, content_type, size,"
             " sha256, state, ready_at) VALUES (%lld, 0, 'm/' || md5('an-dl' || %lld),"
             " 'text/plain', 3,"
             " sha256('x'), 'ready', now()) RETURNING id",
             (long long)b.id, (long long)b.id);
    char path[160];
    snprintf(path, sizeof(path), "/v1/media/%lld?redirect=false", sql_int(q));
    pt_get(n2, PT_H1, path, b.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    snprintf(q, sizeof(q),
             "SELECT COALESCE(max(value), 0) FROM analytics_hourly"
             " WHERE metric = 'media_downloads'%s",
             hour);
    wait_at_least(q, 1);

    admin("grant", a.name);
    char d0[11], d1[11];
    today(d0, 0);
    today(d1, 1);
    static const char *const metrics[] = {"peak_streams", "stream_opens_h1", "reconnects",
                                          "searches",     "search_p95_ms",   "media_downloads"};
    for (size_t i = 0; i < 6; i++) {
        snprintf(path, sizeof(path), "/v1/admin/analytics/%s?from=%s&to=%s&granularity=day",
                 metrics[i], d0, d1);
        pt_get(n2, PT_H1, path, a.token, &r);
        PT_ASSERT_STATUS(&r, 200);
        PL_ASSERT(point_sum(pt_json(&r)) >= (i == 0 ? 2 : 1));
        pt_resp_free(&r);
    }
    admin("revoke", a.name);
    pt_sse_close(s1);
    pt_sse_close(s2);
    PL_ASSERT_INT_EQ(pt_server_stop(n2), 0);
    PL_ASSERT_INT_EQ(pt_server_stop(n1), 0);
}

/* 1 once the registrations rollup of user id's hour counts every user of
 * that hour up to id (other tests register users meanwhile: those with a
 * larger id may or may not be in it yet). */
static void registration_counted_q(char *q, size_t n, int64_t id)
{
    snprintf(
        q, n,
        "SELECT (COALESCE((SELECT value FROM analytics_hourly WHERE metric = 'registrations'"
        " AND dims = '' AND bucket_start = date_trunc('hour', u.created_at, 'UTC')), 0)"
        " >= (SELECT count(*) FROM users v WHERE v.id <= u.id"
        " AND v.created_at >= date_trunc('hour', u.created_at, 'UTC')"
        " AND v.created_at < date_trunc('hour', u.created_at, 'UTC') + interval '1 hour'))::int"
        " FROM users u WHERE u.id = %lld",
        (long long)id);
}

/*
 * Registrations change without event positions, so only every 10th pass
 * of the timer (and `parleyd analytics run`) recounts them; the passes
 * in between consume messages and must leave reg_until where the last
 * recount put it. A run counts a new user at once; users who register
 * while messages flow through the timer's passes are all counted.
 */
PLTEST(registrations_counted_by_a_run_and_under_traffic)
{
    const char *off[] = {"--analytics-interval", "0", NULL};
    struct pt_server *s = PT_SERVER_START(off);
    struct pt_user a, b, c;
    trio(s, PT_H1, "an_g", &a, &b, &c);
    char q[768], out[512];
    registration_counted_q(q, sizeof(q), c.id);
    /* Another test's aggregator may hold the lock for a moment: a run
     * that found it busy did nothing, and is run again. */
    const char *run[] = {"analytics", "run", NULL};
    for (int i = 0;; i++) {
        PL_ASSERT_INT_EQ(parleyd(run, out, sizeof(out)), 0);
        if (!strstr(out, "another node holds the lock"))
            break;
        PL_ASSERT(i < 100);
        pt_sleep_ms(100);
    }
    PL_ASSERT_INT_EQ(sql_int(q), 1);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);

    const char *on[] = {"--analytics-interval", "100", NULL};
    s = PT_SERVER_START(on);
    struct pt_user d, e;
    PT_USER_NEW(s, PT_H1, "an_gd", &d);
    wait_checkpoint(burst(s, PT_H1, &a, &b, &c) + 1);
    PT_USER_NEW(s, PT_H1, "an_ge", &e);
    wait_checkpoint(burst(s, PT_H1, &a, &d, &c) + 1);
    registration_counted_q(q, sizeof(q), e.id);
    wait_at_least(q, 1);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* The sketch takes only the rows new to analytics_daily_users: a user
 * active from a later step on gets in, next to those already there. */
PLTEST(sketch_takes_users_new_in_a_later_step)
{
    const char *args[] = {"--analytics-interval", "100", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b, c, d;
    trio(s, PT_H1, "an_h", &a, &b, &c);
    wait_checkpoint(burst(s, PT_H1, &a, &b, &c) + 1);
    char d0[11];
    today(d0, 0);
    expect_in_sketch(d0, &a, &b, &c);
    PT_USER_NEW(s, PT_H1, "an_hd", &d);
    wait_checkpoint(burst(s, PT_H1, &d, &b, &c) + 1);
    expect_in_sketch(d0, &d, &b, &a);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
