/* SPDX-License-Identifier: MIT */
/* Parley - analytics: latency histograms, media, retention cohorts.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "analytics.h"
#include "pg_int.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    AM_LATENCY,
    AM_LATENCY_REBUILD,
    AM_MEDIA,
    AM_QUANTILE,
    AM_COHORTS,
    AM_SAMPLE_WRITE,
    AM_SAMPLES,
    AM_GROUP_SIZES,
    AM_REPLY,
    AM_DAILY,
    AM_QUANTILES_REFRESH,
    AM_ACTIVE_REFRESH,
};

/*
 * Delivery and read latency, per recipient: a receipt that moves a
 * member's delivered (read) watermark from prev to up_to covers the
 * messages of others with seq in (prev, up_to]; each adds one sample,
 * receipt time minus send time, to the histogram of the receipt's hour:
 * metric delivered_ms_hist / read_ms_hist, dims "<direct|group>:<bucket>"
 * with bucket floor(4 log2(ms)) (four buckets per doubling: a quantile read
 * from it is within 9 %). log2 is taken in float8: numeric log(2, x) cost
 * ~10 us per sample, more than the rest of the statement; the 1e-9 keeps
 * exact powers of two in their bucket, and over 4 million values (every
 * microsecond from 1 to 3,000 ms, powers of two, random up to 10^9 ms)
 * both forms gave the same bucket. Histograms add up across hours and
 * nodes, so p50/p95/p99 of any range come from the sums. RECEIPTS selects receipt_log
 * rows (conversation_id, user_id, type, up_to_seq, at); a read receipt
 * that also moved delivered has both rows.
 */
// clang-format off
#define LATENCY_SQL(RECEIPTS)                                                                      \
    "WITH r AS (" RECEIPTS "),"                                                                    \
    " w AS (SELECT r.*, c.kind AS ckind, COALESCE((SELECT max(l.up_to_seq) FROM receipt_log l"     \
    "  WHERE l.conversation_id = r.conversation_id AND l.user_id = r.user_id"                      \
    "  AND l.type = r.type AND l.up_to_seq < r.up_to_seq), (SELECT p.joined_seq FROM members p"    \
    "  WHERE p.conversation_id = r.conversation_id AND p.user_id = r.user_id), 0) AS prev"         \
    "  FROM r JOIN conversations c ON c.id = r.conversation_id),"                                  \
    " lat AS (SELECT w.type, w.ckind, date_trunc('hour', w.at, 'UTC') AS h,"                       \
    "  floor(4 * ln(GREATEST(1, extract(epoch FROM w.at - m.created_at) * 1000)::float8)"          \
    "   / ln(2::float8) + 1e-9)::int AS b"                                                         \
    "  FROM w CROSS JOIN LATERAL (SELECT created_at, sender_id FROM messages x"                    \
    "   WHERE x.conversation_id = w.conversation_id AND x.seq > w.prev AND x.seq <= w.up_to_seq"   \
    "   UNION ALL SELECT created_at, sender_id FROM archived_messages x"                           \
    "   WHERE x.conversation_id = w.conversation_id AND x.seq > w.prev AND x.seq <= w.up_to_seq)"  \
    "  m WHERE m.sender_id <> w.user_id),"                                                         \
    " ins AS (INSERT INTO analytics_hourly (metric, dims, bucket_start, value)"                    \
    "  SELECT type || '_ms_hist', ckind || ':' || lpad(b::text, 3, '0'), h, count(*) FROM lat"     \
    "  GROUP BY 1, 2, 3 ON CONFLICT (metric, dims, bucket_start)"                                  \
    "  DO UPDATE SET value = analytics_hourly.value + EXCLUDED.value RETURNING 1)"                 \
    " SELECT count(*) FROM ins"
// clang-format on

const struct store_pg__stmt store_pg__analytics_metric_stmts[] = {
    /* Positions ($1, $2]: the receipt events' log rows (same transaction,
     * so the same now()). */
    [AM_LATENCY] = {"am_latency",
                    LATENCY_SQL("SELECT l.conversation_id, l.user_id, l.type, l.up_to_seq, l.at"
                                " FROM events e JOIN receipt_log l"
                                " ON l.conversation_id = e.conversation_id AND l.at = e.created_at"
                                " AND l.user_id = (e.payload::json->>'user_id')::bigint"
                                " WHERE e.pos > $1::bigint AND e.pos <= $2::bigint"
                                " AND e.type = 'receipt'"),
                    2, false},
    /* A rebuild from $2 up to checkpoint $1: every log row since $2 but
     * those whose event is still past the checkpoint (the aggregator
     * counts those). Pruned events are older than any unconsumed one. */
    [AM_LATENCY_REBUILD] = {"am_latency_rebuild",
                            LATENCY_SQL("SELECT l.conversation_id, l.user_id, l.type, l.up_to_seq,"
                                        " l.at FROM receipt_log l WHERE l.at >= $2::timestamptz"
                                        " AND NOT EXISTS (SELECT 1 FROM events e"
                                        "  WHERE e.pos > $1::bigint AND e.type = 'receipt'"
                                        "  AND e.conversation_id = l.conversation_id"
                                        "  AND e.created_at = l.at)"),
                            2, false},
    /* Media uploads and bytes by content type per hour of ready_at, for
     * the hours from $1 on (NULL: the hours the registrations redo): set to the full count
     * (idempotent, like the registrations). */
    [AM_MEDIA] = {"am_media",
                  "WITH r AS (INSERT INTO analytics_hourly (metric, dims, bucket_start, value)"
                  " SELECT x.metric, x.dims, date_trunc('hour', m.ready_at, 'UTC'), sum(x.v)"
                  " FROM media m CROSS JOIN LATERAL (VALUES ('media_uploads', '', 1::bigint),"
                  "  ('media_bytes', '', m.size), ('media_uploads', m.content_type, 1::bigint),"
                  "  ('media_bytes', m.content_type, m.size)) AS x(metric, dims, v)"
                  " WHERE m.state = 'ready' AND m.ready_at >= COALESCE($1::timestamptz,"
                  "  (SELECT date_trunc('hour', reg_until, 'UTC') - interval '1 hour'"
                  "  FROM analytics_checkpoint WHERE id = 1)) GROUP BY 1, 2, 3"
                  " ON CONFLICT (metric, dims, bucket_start) DO UPDATE SET value = EXCLUDED.value"
                  " RETURNING 1) SELECT count(*) FROM r",
                  1, false},
    /* $1 histogram metric, $2 from, $3 to, $4 'hour' or 'day', $5 sel ('',
     * 'direct', 'group'), $6 which quantile ('50', '95', '99'): the
     * buckets of analytics_quantiles in the range, as sparse series rows
     * (pg_analytics_read.c, AR_SERIES_HOURLY); a bucket without samples is 0. */
    [AM_QUANTILE] =
        {"am_quantile",
         "SELECT " STORE_PG__BOUNDS(
             "date_trunc($4::text, $2::timestamptz, 'UTC')",
             "$3::timestamptz") ", NULL::bigint, NULL::text"
                                " UNION ALL SELECT NULL, NULL, date_part('epoch', q.t)::bigint, "
                                "(CASE $6::text"
                                "  WHEN '50' THEN q.p50 WHEN '95' THEN q.p95 ELSE q.p99 END)::text"
                                " FROM analytics_quantiles q WHERE q.metric = $1::text AND q.sel = "
                                "$5::text"
                                "  AND q.gran = $4::text AND q.t >= date_trunc($4::text, "
                                "$2::timestamptz, 'UTC')"
                                "  AND q.t < $3::timestamptz",
         6, true},
    /* Retention cohorts: users registered in each ISO week from $1 on
     * (UTC), and of them how many were active in weeks W+1..W+8 (exact,
     * from analytics_daily_users). Cohorts under $2 users have their
     * numbers suppressed (NULLs). */
    [AM_COHORTS] =
        {"am_cohorts",
         "WITH u AS (SELECT id, date_trunc('week', created_at, 'UTC') AS w FROM users"
         "  WHERE created_at >= date_trunc('week', $1::timestamptz, 'UTC')),"
         " s AS (SELECT w, count(*) AS size FROM u GROUP BY w),"
         " a AS (SELECT u.w, ((d.day - (u.w AT TIME ZONE 'UTC')::date) / 7) AS k,"
         "  count(DISTINCT u.id) AS n FROM u JOIN analytics_daily_users d ON d.user_id = u.id"
         "  AND d.day >= (u.w AT TIME ZONE 'UTC')::date + 7"
         "  AND d.day < (u.w AT TIME ZONE 'UTC')::date + 63 GROUP BY 1, 2)"
         " SELECT " STORE_PG_TS(
             "s.w") ", s.size, s.size < $2::int,"
                    " array_to_string(ARRAY(SELECT COALESCE((SELECT a.n FROM a WHERE a.w = s.w"
                    "  AND a.k = g.wk), 0) FROM generate_series(1, 8) AS g(wk)"
                    "  WHERE s.w + make_interval(weeks => g.wk) <= now() ORDER BY g.wk), ',')"
                    " FROM s ORDER BY s.w",
         2, true},
    /* $1 node, $2 streams, $3 peak, $4..$6 opens, $7 resumes, $8
     * searches, $9 the histogram (an int8[] literal), $10 downloads. */
    [AM_SAMPLE_WRITE] =
        {"am_sample_write",
         "INSERT INTO analytics_node_samples AS s VALUES ($1::text,"
         " date_bin('10 seconds', now(), '2000-01-01 00:00+00'), $2::bigint, $3::bigint, "
         "$4::bigint,"
         " $5::bigint, $6::bigint, $7::bigint, $8::bigint, $9::bigint[], $10::bigint)"
         " ON CONFLICT (slot, node) DO UPDATE SET streams = EXCLUDED.streams,"
         " peak = GREATEST(s.peak, EXCLUDED.peak), opens_h1 = s.opens_h1 + EXCLUDED.opens_h1,"
         " opens_h2c = s.opens_h2c + EXCLUDED.opens_h2c, opens_h2 = s.opens_h2 + EXCLUDED.opens_h2,"
         " resumes = s.resumes + EXCLUDED.resumes, searches = s.searches + EXCLUDED.searches,"
         " downloads = s.downloads + EXCLUDED.downloads,"
         " search_hist = ARRAY(SELECT COALESCE(a, 0) + COALESCE(b, 0)"
         "  FROM unnest(s.search_hist, EXCLUDED.search_hist) AS x(a, b))",
         10, false},
    /* The node samples of the hours from $1 on (NULL: the hours the
     * registrations redo) into their rollups, set to the full value
     * (idempotent): peak_streams (the most streams open at once over all
     * nodes: per slot the sum of the nodes' peaks, then the hour's
     * maximum), stream_opens (dims '', h1, h2c, h2), reconnects,
     * searches, search_ms_hist. */
    [AM_SAMPLES] =
        {"am_samples",
         "WITH s AS (SELECT *, date_trunc('hour', slot, 'UTC') AS h FROM analytics_node_samples"
         "  WHERE slot >= date_trunc('hour', COALESCE($1::timestamptz, (SELECT reg_until"
         "  - interval '1 hour' FROM analytics_checkpoint WHERE id = 1)), 'UTC')),"
         " x AS (SELECT 'peak_streams' AS metric, '' AS dims, h, max(p) AS v FROM"
         "  (SELECT h, sum(peak) AS p FROM s GROUP BY slot, h) y GROUP BY h"
         " UNION ALL SELECT 'stream_opens', o.proto, h, sum(o.n) FROM s CROSS JOIN LATERAL"
         "  (VALUES ('', opens_h1 + opens_h2c + opens_h2), ('h1', opens_h1), ('h2c', opens_h2c),"
         "  ('h2', opens_h2)) AS o(proto, n) GROUP BY 2, 3"
         " UNION ALL SELECT 'reconnects', '', h, sum(resumes) FROM s GROUP BY h"
         " UNION ALL SELECT 'searches', '', h, sum(searches) FROM s GROUP BY h"
         " UNION ALL SELECT 'media_downloads', '', h, sum(downloads) FROM s GROUP BY h"
         " UNION ALL SELECT 'search_ms_hist', 'all:' || lpad((u.i - 1)::text, 3, '0'), h, sum(u.n)"
         "  FROM s CROSS JOIN LATERAL unnest(search_hist) WITH ORDINALITY AS u(n, i)"
         "  WHERE u.n > 0 GROUP BY 2, 3),"
         " ins AS (INSERT INTO analytics_hourly (metric, dims, bucket_start, value)"
         "  SELECT metric, dims, h, v FROM x ON CONFLICT (metric, dims, bucket_start)"
         "  DO UPDATE SET value = EXCLUDED.value RETURNING 1)"
         " SELECT count(*) FROM ins",
         1, false},
    /* Groups by their number of members now: min, max (0: no upper
     * bound), groups. */
    [AM_GROUP_SIZES] = {"am_group_sizes",
                        "SELECT b.lo, b.hi, count(g.n) FROM (VALUES (1, 2), (3, 5), (6, 10),"
                        " (11, 20), (21, 50), (51, 100), (101, 1000), (1001, 0)) AS b(lo, hi)"
                        " LEFT JOIN (SELECT count(*) AS n FROM members p JOIN conversations c"
                        "  ON c.id = p.conversation_id AND c.kind = 'group'"
                        "  GROUP BY p.conversation_id) g"
                        " ON g.n >= b.lo AND (b.hi = 0 OR g.n <= b.hi)"
                        " GROUP BY b.lo, b.hi ORDER BY b.lo",
                        0, true},
    /* The user's replies over the last 30 days: their messages that
     * follow (by seq) a message of someone else in the same conversation
     * sent less than a day before; how many, and their average delay in
     * seconds (-1 when none). */
    [AM_REPLY] = {"am_reply",
                  "SELECT count(*), COALESCE(round(avg(extract(epoch FROM x.created_at"
                  "  - x.prev_at)))::bigint, -1)"
                  " FROM (SELECT m.sender_id, m.created_at,"
                  "  lag(m.sender_id) OVER w AS prev_sender, lag(m.created_at) OVER w AS prev_at"
                  "  FROM members p JOIN messages m ON m.conversation_id = p.conversation_id"
                  "  AND m.seq > p.joined_seq AND m.created_at >= now() - interval '31 days'"
                  "  WHERE p.user_id = $1::bigint"
                  "  WINDOW w AS (PARTITION BY m.conversation_id ORDER BY m.seq)) x"
                  " WHERE x.sender_id = $1::bigint AND x.prev_sender <> $1::bigint"
                  "  AND x.created_at >= now() - interval '30 days'"
                  "  AND x.created_at - x.prev_at < interval '1 day'",
                  1, true},
    /* Every rollup's days (the histograms', and the plain series' that
     * day-granularity series read: peak_streams the day's largest hour,
     * the rest the sum) from the day of $1 on, from their hours. $1 is a
     * parameter, not a subquery of the checkpoint, so the plan prunes the
     * months before it and reads today's rows through the index on
     * bucket_start (migration 0019): with the subquery every partition
     * stayed in the plan. */
    [AM_DAILY] =
        {"am_daily",
         "WITH ins AS (INSERT INTO analytics_daily (metric, dims, day, value)"
         " SELECT metric, dims, date_trunc('day', bucket_start, 'UTC'),"
         "  CASE WHEN metric = 'peak_streams' THEN max(value) ELSE sum(value) END"
         " FROM analytics_hourly"
         " WHERE bucket_start >= date_trunc('day', $1::timestamptz, 'UTC') GROUP BY 1, 2, 3"
         " ON CONFLICT (metric, dims, day) DO UPDATE SET value = EXCLUDED.value"
         " RETURNING 1) SELECT count(*) FROM ins",
         1, false},
    /* The quantiles of the hours (days) from the hour (day) of $1 on: the
     * histograms AM_LATENCY, AM_SAMPLES and AM_DAILY wrote. */
    [AM_QUANTILES_REFRESH] = {"am_quantiles_refresh",
                              "SELECT analytics_quantiles_refresh($1::timestamptz)", 1, false},
    /* DAU/WAU/MAU of the UTC days from the day of $1 to today, and of the
     * 29 days after a changed day that are not in the future. */
    [AM_ACTIVE_REFRESH] = {"am_active_refresh",
                           "SELECT analytics_active_refresh(($1::timestamptz AT TIME ZONE 'UTC')"
                           "::date, (now() AT TIME ZONE 'UTC')::date)",
                           1, false},
    {NULL, NULL, 0, false},
};

static int run_count(struct store_pg *pg, int id, const char *const *vals)
{
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__analytics_metric_stmts[id], vals, NULL, NULL, &r);
    if (rc == 0)
        PQclear(r);
    return rc;
}

int store_pg__analytics_latency(struct store_pg *pg, int64_t lo, int64_t hi)
{
    struct store_pg__args p;
    return run_count(pg, AM_LATENCY, STORE_PG__ARGS(&p, lo, hi));
}

int store_pg__analytics_daily(struct store_pg *pg, const char *from, const char *active_from)
{
    const char *v[] = {from}, *va[] = {active_from};
    int rc = run_count(pg, AM_DAILY, v);
    if (rc == 0)
        rc = run_count(pg, AM_QUANTILES_REFRESH, v);
    return rc < 0 ? rc : run_count(pg, AM_ACTIVE_REFRESH, va);
}

int store_pg__analytics_rebuild_more(struct store_pg *pg, int64_t pos, const char *from)
{
    struct store_pg__args p;
    const char *const *v = STORE_PG__ARGS(&p, pos);
    p.v[1] = from;
    int rc = run_count(pg, AM_LATENCY_REBUILD, v);
    if (rc == 0)
        rc = store_pg__analytics_media(pg, from);
    return rc < 0 ? rc : store_pg__analytics_daily(pg, from, from);
}

int store_pg__analytics_media(struct store_pg *pg, const char *since)
{
    const char *v[] = {since};
    int rc = run_count(pg, AM_MEDIA, v);
    return rc < 0 ? rc : run_count(pg, AM_SAMPLES, v);
}

int store_pg_analytics_sample_write(struct store_pg *pg, const char *node,
                                    const struct store_analytics_sample *s)
{
    char num[8][24], hist[STORE_ANALYTICS_HIST_N * 21 + 4];
    const int64_t v[8] = {s->streams,  s->peak,    s->opens[0], s->opens[1],
                          s->opens[2], s->resumes, s->searches, s->downloads};
    const char *vals[10] = {node};
    for (unsigned i = 0; i < 7; i++) {
        snprintf(num[i], sizeof(num[i]), "%" PRId64, v[i]);
        vals[1 + i] = num[i];
    }
    size_t len = 0;
    hist[len++] = '{';
    for (unsigned i = 0; i < STORE_ANALYTICS_HIST_N; i++)
        len += (size_t)snprintf(hist + len, sizeof(hist) - len, "%s%" PRId64, i ? "," : "",
                                s->search_hist[i]);
    snprintf(hist + len, sizeof(hist) - len, "}");
    vals[8] = hist;
    snprintf(num[7], sizeof(num[7]), "%" PRId64, v[7]);
    vals[9] = num[7];
    return run_count(pg, AM_SAMPLE_WRITE, vals);
}

bool store_pg_analytics_quantile_metric(const char *metric, const char **hist, const char **dims,
                                        const char **q)
{
    static const char *const kinds[][2] = {{"delivery_", "delivered_ms_hist"},
                                           {"read_", "read_ms_hist"},
                                           {"search_", "search_ms_hist"}};
    static const char *const qs[][2] = {{"p50_ms", "50"}, {"p95_ms", "95"}, {"p99_ms", "99"}};
    static const char *const ds[][2] = {{"", ""}, {"_direct", "direct"}, {"_group", "group"}};
    for (unsigned k = 0; k < 3; k++) {
        size_t kl = strlen(kinds[k][0]);
        if (strncmp(metric, kinds[k][0], kl) != 0)
            continue;
        for (unsigned i = 0; i < 3; i++) {
            if (strncmp(metric + kl, qs[i][0], 6) != 0)
                continue;
            for (unsigned d = 0; d < (k < 2 ? 3u : 1u); d++)
                if (strcmp(metric + kl + 6, ds[d][0]) == 0) {
                    *hist = kinds[k][1];
                    *q = qs[i][1];
                    *dims = ds[d][1];
                    return true;
                }
        }
    }
    return false;
}

int store_pg__analytics_quantiles(struct store_pg *pg, struct pl_arena *a, const char *metric,
                                  const char *from, const char *to, const char *granularity,
                                  unsigned max_points, struct store_analytics_point **out,
                                  unsigned *n)
{
    const char *hist, *dims, *q;
    if (!store_pg_analytics_quantile_metric(metric, &hist, &dims, &q))
        return PL_ENOTFOUND;
    const char *vals[] = {hist, from, to, granularity, dims, q};
    return store_pg__analytics_series_fill(pg, a, &store_pg__analytics_metric_stmts[AM_QUANTILE],
                                           vals, strcmp(granularity, "day") == 0 ? 86400 : 3600,
                                           max_points, out, n);
}

/* A bigint's text from libpq. */
static int parse_i64(const char *v, int64_t *out)
{
    const char *s = v + (*v == '-');
    uint64_t x = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned dgt = (unsigned)(*s - '0');
        if (x > ((uint64_t)INT64_MAX - dgt) / 10)
            return PL_EINTERNAL;
        x = x * 10 + dgt;
    }
    if (*s || s == v + (*v == '-'))
        return PL_EINTERNAL;
    *out = *v == '-' ? -(int64_t)x : (int64_t)x;
    return 0;
}

/* A bucket's value: an integer, or a ratio (stickiness, numeric text).
 * Integers are parsed by hand: strtoll() was a tenth of a year-by-hour
 * request's CPU time. */
static int point_value(const char *v, struct store_analytics_point *p)
{
    if (strchr(v, '.')) {
        char *end;
        p->real = strtod(v, &end);
        p->is_real = true;
        return *end ? PL_EINTERNAL : 0;
    }
    return parse_i64(v, &p->value);
}

/* "YYYY-MM-DDTHH:MM:SS.000Z" of epoch second t (>= 0) into buf (25
 * bytes). The date comes from gmtime_r() only when the day changes
 * (*day caches it in date[11]): strftime() of each of 8,760 hours was a
 * fifth of a year-by-hour request's CPU time. */
static int format_ts(int64_t t, char *buf, int64_t *day, char *date)
{
    int64_t d = t / 86400 - (t % 86400 < 0), s = t - d * 86400; /* floor: before 1970 too */
    if (d != *day) {
        time_t tt = (time_t)t;
        struct tm tm;
        if (!gmtime_r(&tt, &tm) || !strftime(date, 11, "%Y-%m-%d", &tm))
            return PL_EINVAL;
        *day = d;
    }
    unsigned hh = (unsigned)(s / 3600), mm = (unsigned)(s / 60 % 60), ss = (unsigned)(s % 60);
    memcpy(buf, date, 10);
    char tail[] = {'T',
                   (char)('0' + hh / 10),
                   (char)('0' + hh % 10),
                   ':',
                   (char)('0' + mm / 10),
                   (char)('0' + mm % 10),
                   ':',
                   (char)('0' + ss / 10),
                   (char)('0' + ss % 10),
                   '.',
                   '0',
                   '0',
                   '0',
                   'Z',
                   '\0'};
    memcpy(buf + 10, tail, sizeof(tail));
    return 0;
}

/* The bounds row of a series result (bucket column NULL; normally row 0). */
static int series_bounds(const PGresult *r, int64_t *lo, double *hi)
{
    for (int row = 0; row < PQntuples(r); row++)
        if (PQgetisnull(r, row, 2)) {
            *hi = strtod(PQgetvalue(r, row, 1), NULL);
            return store_pg__get_i64(r, row, 0, lo);
        }
    return PL_EINTERNAL;
}

/* The points lo, lo + step, ... while < hi, their t strings in one arena
 * block, values 0. */
static int series_layout(struct pl_arena *a, int64_t lo, uint64_t count, unsigned step_s,
                         struct store_analytics_point **out)
{
    struct store_analytics_point *p = pl_arena_alloc(a, count * sizeof(*p));
    char *ts = pl_arena_alloc(a, count * 25);
    if (!p || !ts)
        return PL_ENOMEM;
    int64_t day = INT64_MIN;
    char date[11];
    for (uint64_t i = 0; i < count; i++) {
        p[i] = (struct store_analytics_point){.t = ts + i * 25};
        int64_t t = lo + (int64_t)i * step_s;
        if (format_ts(t, ts + i * 25, &day, date) < 0)
            return PL_EINVAL;
    }
    *out = p;
    return 0;
}

int store_pg__analytics_series_fill(struct store_pg *pg, struct pl_arena *a,
                                    const struct store_pg__stmt *st, const char *const *vals,
                                    unsigned step_s, unsigned max_points,
                                    struct store_analytics_point **out, unsigned *n)
{
    PGresult *r;
    int rc = store_pg__exec(pg, st, vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    int64_t lo = 0;
    double hi = 0;
    rc = series_bounds(r, &lo, &hi);
    /* Buckets lo, lo + step, ... while < hi: what generate_series(lo,
     * hi - 1 microsecond, step) gave. */
    double span = hi - (double)lo;
    uint64_t count = span > 0 ? (uint64_t)((span + step_s - 1e-6) / step_s) : 0;
    if (rc == 0 && count > max_points)
        rc = PL_ETOOBIG;
    struct store_analytics_point *p = NULL;
    if (rc == 0 && count)
        rc = series_layout(a, lo, count, step_s, &p);
    for (int row = 0; rc == 0 && row < PQntuples(r); row++) {
        int64_t t;
        if (PQgetisnull(r, row, 2))
            continue;
        if ((rc = parse_i64(PQgetvalue(r, row, 2), &t)) < 0)
            break;
        if (t < lo || (t - lo) % step_s || (uint64_t)((t - lo) / step_s) >= count)
            continue; /* outside the range: cannot happen, the SQL bounds it */
        rc = point_value(PQgetvalue(r, row, 3), &p[(t - lo) / step_s]);
    }
    PQclear(r);
    if (rc == 0) {
        *out = p;
        *n = (unsigned)count;
    }
    return rc;
}

static int cohort_row(struct pl_arena *a, const PGresult *r, int row, void *item, void *ctx)
{
    (void)ctx;
    struct store_analytics_cohort *c = item;
    c->week = store_pg__get_str(a, r, row, 0);
    if (!c->week)
        return PL_ENOMEM;
    int rc = store_pg__get_i64(r, row, 1, &c->size);
    if (rc < 0)
        return rc;
    c->suppressed = strcmp(PQgetvalue(r, row, 2), "t") == 0;
    const char *s = PQgetvalue(r, row, 3);
    c->n_weeks = 0;
    while (*s && c->n_weeks < 8) {
        long long v = 0;
        if (sscanf(s, "%lld", &v) != 1)
            return PL_EINTERNAL;
        c->active[c->n_weeks++] = c->suppressed ? 0 : v;
        s = strchr(s, ',');
        if (!s)
            break;
        s++;
    }
    if (c->suppressed)
        c->size = 0;
    return 0;
}

int store_pg_analytics_cohorts(struct store_pg *pg, struct pl_arena *a, const char *from,
                               unsigned min_cohort, struct store_analytics_cohort **out,
                               unsigned *n)
{
    char mb[24];
    snprintf(mb, sizeof(mb), "%u", min_cohort);
    const char *vals[] = {from, mb};
    void *rows = NULL;
    int rc = store_pg__exec_rows(pg, a, &store_pg__analytics_metric_stmts[AM_COHORTS], vals,
                                 sizeof(struct store_analytics_cohort), cohort_row, NULL, &rows, n);
    if (rc == 0)
        *out = rows;
    return rc;
}

static int size_row(struct pl_arena *a, const PGresult *r, int row, void *item, void *ctx)
{
    (void)a;
    (void)ctx;
    struct store_analytics_size *b = item;
    int rc = store_pg__get_i64(r, row, 0, &b->min);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 1, &b->max);
    return rc < 0 ? rc : store_pg__get_i64(r, row, 2, &b->groups);
}

int store_pg_analytics_group_sizes(struct store_pg *pg, struct pl_arena *a,
                                   struct store_analytics_size **out, unsigned *n)
{
    void *rows = NULL;
    int rc = store_pg__exec_rows(pg, a, &store_pg__analytics_metric_stmts[AM_GROUP_SIZES], NULL,
                                 sizeof(struct store_analytics_size), size_row, NULL, &rows, n);
    if (rc == 0)
        *out = rows;
    return rc;
}

int store_pg_activity_replies(struct store_pg *pg, int64_t user, int64_t *replies, int64_t *avg_s)
{
    struct store_pg__args p;
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__analytics_metric_stmts[AM_REPLY],
                            STORE_PG__ARGS(&p, user), NULL, NULL, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? store_pg__get_i64(r, 0, 0, replies) : PL_EINTERNAL;
    if (rc == 0)
        rc = store_pg__get_i64(r, 0, 1, avg_s);
    PQclear(r);
    return rc;
}
