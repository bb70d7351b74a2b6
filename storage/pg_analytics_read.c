/* SPDX-License-Identifier: MIT */
/* Parley - analytics reads: series, admins, a user's own activity.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "analytics.h"
#include "pg_int.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

/* What the dashboard, the admin commands and GET /v1/me/activity read;
 * the aggregator that writes the rollups is pg_analytics.c. */
enum {
    AR_SERIES_HOURLY,
    AR_SERIES_DAILY,
    AR_SERIES_ACTIVE,
    AR_IS_ADMIN,
    AR_GRANT,
    AR_REVOKE,
    AR_WEEKS,
    AR_TOP,
};

const struct store_pg__stmt store_pg__analytics_read_stmts[] = {
    /*
     * The series statements return sparse rows: first one row with the
     * range's bounds (the first bucket, truncated to the granularity, and
     * `to`, as epoch seconds) and NULL in the bucket columns, then one row
     * per bucket that has data (NULL bounds, the bucket's epoch, its value).
     * store_pg__analytics_series_fill() lays the buckets out: generating
     * and formatting 8,760 hours in SQL took longer than reading them, and
     * so did repeating the bounds (numeric extract()) on every row of a
     * year by hour (EXPLAIN ANALYZE: 21 ms against 4 ms; bench/README.md).
     * The bounds are plain expressions of the parameters, not a CTE, so
     * the monthly partitions outside the range are pruned.
     *
     * $1 metric, $2 from, $3 to, $4 dims: the hours of [from, to).
     */
    [AR_SERIES_HOURLY] =
        {"an_series_hourly",
         "SELECT " STORE_PG__BOUNDS(
             "date_trunc('hour', $2::timestamptz, 'UTC')",
             "$3::timestamptz") ", NULL::bigint, NULL::text"
                                " UNION ALL SELECT NULL, NULL, date_part('epoch', "
                                "x.bucket_start)::bigint,"
                                "  x.value::text FROM analytics_hourly x"
                                " WHERE x.metric = $1::text AND x.dims = $4::text"
                                "  AND x.bucket_start >= date_trunc('hour', $2::timestamptz, 'UTC')"
                                "  AND x.bucket_start < $3::timestamptz",
         4, true},
    /* By day, $5 'max' for the largest hour of a day instead of the sum:
     * the whole days before the day of $3 from analytics_daily (one row per
     * day, kept by each step), the part of $3's day before $3 (when $3 is
     * not midnight) from its hours. */
    [AR_SERIES_DAILY] =
        {"an_series_daily",
         "WITH b AS (SELECT date_trunc('day', $2::timestamptz, 'UTC') AS lo, $3::timestamptz AS hi,"
         "  date_trunc('day', $3::timestamptz, 'UTC') AS e)"
         " SELECT " STORE_PG__BOUNDS(
             "b.lo",
             "b.hi") ", NULL::bigint, NULL::text FROM b"
                     " UNION ALL SELECT NULL, NULL, date_part('epoch', d.t)::bigint, d.v::text "
                     "FROM b"
                     " CROSS JOIN LATERAL (SELECT x.day AS t, x.value AS v FROM analytics_daily x"
                     "  WHERE x.metric = $1::text AND x.dims = $4::text AND x.day >= b.lo AND "
                     "x.day < b.e"
                     "  UNION ALL SELECT b.e, CASE WHEN $5::text = 'max' THEN max(x.value)"
                     "  ELSE sum(x.value) END FROM analytics_hourly x WHERE x.metric = $1::text"
                     "  AND x.dims = $4::text AND x.bucket_start >= GREATEST(b.lo, b.e)"
                     "  AND x.bucket_start < b.hi HAVING count(*) > 0) d",
         5, true},
    /* $1 which number of analytics_daily_active ('dau', 'wau', 'mau',
     * 'groups', or 'stickiness': DAU / MAU to 4 decimals), $2 from, $3 to:
     * the UTC days of [from, to) (a day nobody was active is 0). */
    [AR_SERIES_ACTIVE] =
        {"an_series_active",
         "WITH b AS (SELECT date_trunc('day', $2::timestamptz, 'UTC') AS lo, $3::timestamptz AS hi)"
         " SELECT " STORE_PG__BOUNDS(
             "b.lo",
             "b.hi") ", NULL::bigint, NULL::text FROM b"
                     " UNION ALL SELECT NULL, NULL, (a.day - date '1970-01-01')::bigint * 86400, "
                     "CASE $1::text"
                     "  WHEN 'dau' THEN a.dau::text WHEN 'wau' THEN a.wau::text WHEN 'mau' THEN "
                     "a.mau::text"
                     "  WHEN 'groups' THEN a.groups::text"
                     "  ELSE COALESCE(round(a.dau::numeric / NULLIF(a.mau, 0), 4)::text, '0') END"
                     "  FROM b, analytics_daily_active a WHERE a.day >= (b.lo AT TIME ZONE "
                     "'UTC')::date"
                     "  AND a.day::timestamp AT TIME ZONE 'UTC' < b.hi",
         3, true},
    [AR_IS_ADMIN] = {"an_is_admin",
                     "SELECT EXISTS (SELECT 1 FROM admins WHERE user_id = $1::bigint)"
                     " OR EXISTS (SELECT 1 FROM users WHERE id = $1::bigint AND username = ANY("
                     "  regexp_split_to_array(btrim($2::text), '\\s*,\\s*')))",
                     2, true},
    /* One row (the user's id) when the user exists. */
    [AR_GRANT] = {"an_grant",
                  "WITH u AS (SELECT id FROM users WHERE username = $1::text),"
                  " i AS (INSERT INTO admins (user_id) SELECT id FROM u ON CONFLICT DO NOTHING)"
                  " SELECT id FROM u",
                  1, false},
    [AR_REVOKE] = {"an_revoke",
                   "WITH u AS (SELECT id FROM users WHERE username = $1::text),"
                   " d AS (DELETE FROM admins WHERE user_id IN (SELECT id FROM u))"
                   " SELECT id FROM u",
                   1, false},
    [AR_WEEKS] =
        {"an_weeks",
         "WITH w AS (SELECT generate_series(date_trunc('week', now(), 'UTC')"
         "  - ($2::int - 1) * interval '1 week', date_trunc('week', now(), 'UTC'),"
         "  interval '1 week') AS t)"
         " SELECT " STORE_PG_TS(
             "w.t") ","
                    " (SELECT count(*) FROM messages m WHERE m.sender_id = $1::bigint"
                    "   AND m.created_at >= w.t AND m.created_at < w.t + interval '1 week'),"
                    " (SELECT count(*) FROM members p JOIN messages m"
                    "   ON m.conversation_id = p.conversation_id AND m.seq > p.joined_seq"
                    "  WHERE p.user_id = $1::bigint AND m.sender_id <> $1::bigint"
                    "   AND m.created_at >= w.t AND m.created_at < w.t + interval '1 week')"
                    " FROM w ORDER BY w.t DESC",
         2, true},
    [AR_TOP] = {"an_top",
                "SELECT p.conversation_id, c.kind, count(m.*)"
                " FROM members p JOIN conversations c ON c.id = p.conversation_id"
                " JOIN messages m ON m.conversation_id = p.conversation_id"
                "  AND m.seq > p.joined_seq AND m.created_at >= now() - interval '30 days'"
                " WHERE p.user_id = $1::bigint"
                " GROUP BY p.conversation_id, c.kind ORDER BY 3 DESC, 1 LIMIT $2::int",
                2, true},
    {NULL, NULL, 0, false},
};

static int run(struct store_pg *pg, int id, const char *const *vals, PGresult **r)
{
    return store_pg__exec(pg, &store_pg__analytics_read_stmts[id], vals, NULL, NULL, r);
}

/* The column of analytics_daily_active a daily metric reads, or NULL
 * for a metric of the hourly rollups. */
static const char *daily_column(const char *metric)
{
    static const char *const m[][2] = {{"dau", "dau"},
                                       {"wau", "wau"},
                                       {"mau", "mau"},
                                       {"stickiness", "stickiness"},
                                       {"active_groups", "groups"}};
    for (unsigned i = 0; i < sizeof(m) / sizeof(m[0]); i++)
        if (strcmp(metric, m[i][0]) == 0)
            return m[i][1];
    return NULL;
}

bool store_pg_analytics_daily_metric(const char *metric)
{
    return daily_column(metric) != NULL;
}

int store_pg_analytics_series(struct store_pg *pg, struct pl_arena *a, const char *metric,
                              const char *from, const char *to, const char *granularity,
                              unsigned max_points, struct store_analytics_point **out, unsigned *n)
{
    const char *col = daily_column(metric);
    bool day = strcmp(granularity, "day") == 0;
    if (col && !day)
        return PL_EINVAL;
    const char *h, *d, *q;
    if (store_pg_analytics_quantile_metric(metric, &h, &d, &q))
        return store_pg__analytics_quantiles(pg, a, metric, from, to, granularity, max_points, out,
                                             n);
    if (col) {
        const char *vals[] = {col, from, to};
        return store_pg__analytics_series_fill(pg, a,
                                               &store_pg__analytics_read_stmts[AR_SERIES_ACTIVE],
                                               vals, 86400, max_points, out, n);
    }
    /* stream_opens_h1 is stream_opens of dims h1; peak_streams of a day is
     * its largest hour. */
    const char *dims = "";
    char base[32];
    if (strncmp(metric, "stream_opens_", 13) == 0) {
        dims = metric + 13;
        snprintf(base, sizeof(base), "stream_opens");
        metric = base;
    }
    const char *vals[] = {metric, from, to, dims,
                          strcmp(metric, "peak_streams") == 0 ? "max" : "sum"};
    return store_pg__analytics_series_fill(
        pg, a, &store_pg__analytics_read_stmts[day ? AR_SERIES_DAILY : AR_SERIES_HOURLY], vals,
        day ? 86400 : 3600, max_points, out, n);
}

int store_pg_analytics_is_admin(struct store_pg *pg, int64_t user, const char *names, bool *out)
{
    struct store_pg__args p;
    const char *const *v = STORE_PG__ARGS(&p, user);
    p.v[1] = names;
    return store_pg__exec_bool_vals(pg, &store_pg__analytics_read_stmts[AR_IS_ADMIN], v, out);
}

int store_pg_analytics_admin_set(struct store_pg *pg, const char *username, bool grant)
{
    const char *vals[] = {username};
    PGresult *r;
    int rc = run(pg, grant ? AR_GRANT : AR_REVOKE, vals, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? 0 : PL_ENOTFOUND;
    PQclear(r);
    return rc;
}

static int week_row(struct pl_arena *a, const PGresult *r, int row, void *item, void *ctx)
{
    (void)ctx;
    struct store_activity_week *w = item;
    w->week = store_pg__get_str(a, r, row, 0);
    if (!w->week)
        return PL_ENOMEM;
    int rc = store_pg__get_i64(r, row, 1, &w->sent);
    return rc < 0 ? rc : store_pg__get_i64(r, row, 2, &w->received);
}

int store_pg_activity_weeks(struct store_pg *pg, struct pl_arena *a, int64_t user, unsigned weeks,
                            struct store_activity_week **out, unsigned *n)
{
    struct store_pg__args p;
    void *rows = NULL;
    int rc = store_pg__exec_rows(pg, a, &store_pg__analytics_read_stmts[AR_WEEKS],
                                 STORE_PG__ARGS(&p, user, (int64_t)weeks),
                                 sizeof(struct store_activity_week), week_row, NULL, &rows, n);
    if (rc == 0)
        *out = rows;
    return rc;
}

static int top_row(struct pl_arena *a, const PGresult *r, int row, void *item, void *ctx)
{
    (void)ctx;
    struct store_activity_conv *cv = item;
    cv->kind = store_pg__get_str(a, r, row, 1);
    if (!cv->kind)
        return PL_ENOMEM;
    int rc = store_pg__get_i64(r, row, 0, &cv->conversation_id);
    return rc < 0 ? rc : store_pg__get_i64(r, row, 2, &cv->messages);
}

int store_pg_activity_top(struct store_pg *pg, struct pl_arena *a, int64_t user, unsigned limit,
                          struct store_activity_conv **out, unsigned *n)
{
    struct store_pg__args p;
    void *rows = NULL;
    int rc = store_pg__exec_rows(pg, a, &store_pg__analytics_read_stmts[AR_TOP],
                                 STORE_PG__ARGS(&p, user, (int64_t)limit),
                                 sizeof(struct store_activity_conv), top_row, NULL, &rows, n);
    if (rc == 0)
        *out = rows;
    return rc;
}
