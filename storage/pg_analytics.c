/* SPDX-License-Identifier: MIT */
/* Parley - analytics rollups, checkpoint and admins in PostgreSQL.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "analytics.h"
#include "pg_int.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

enum {
    AN_LOCK,
    AN_RANGE,
    AN_APPLY,
    AN_PEEK,
    AN_REGISTRATIONS,
    AN_REG_MARK,
    AN_DIRTY_CLEAR,
    AN_REFRESH_FROM,
    AN_PARTS,
    AN_RETENTION,
    AN_LOCK_WAIT,
    AN_REBUILD_FROM,
    AN_REBUILD_CLEAR,
    AN_REBUILD_REGS,
    AN_REBUILD,
};

/*
 * The rollup writes, shared by a step and a rebuild: the messages that
 * MSGS selects (from messages and archived_messages), first counted per
 * conversation, sender, kind and hour (a few rows per conversation
 * instead of one per message: the join with conversations, the metric
 * rows and the sets below then see those), into their hours (a message
 * archived before the aggregator saw it still counts, but its kind is
 * gone: archived rows are text or media, never e2e, so only
 * messages_media can miss it); their senders plus the users that
 * RECEIPTS selects (user_id, day) into the exact daily active users, and
 * those new to a day into its HyperLogLog sketch. Both are sets: a user
 * already in analytics_daily_users went into the sketch with that row
 * (in the same transaction), so the sketch only needs the rows inserted
 * now, and a step whose users were all active already leaves the
 * sketch's row alone. (Filtering those users out with an anti-join
 * before the insert was faster on a table the planner knew, and
 * quadratic on one it had last seen empty: ON CONFLICT's check always
 * probes the unique index.)
 * The hour is date_bin() from a UTC midnight: the same instant
 * as date_trunc('hour', t, 'UTC') without a time zone lookup per row.
 * Leaves CTEs hourly, dau and sketch for the final statement.
 */
// clang-format off
#define ROLLUP_HOUR(t) "date_bin('1 hour', " t ", timestamptz '2000-01-01 00:00+00')"
#define ROLLUP_CTES(MSGS, RECEIPTS)                                                                \
    "WITH g AS ("                                                                                  \
    " SELECT conversation_id, sender_id, kind, " ROLLUP_HOUR("created_at") " AS h, count(*) AS n"  \
    " FROM (SELECT conversation_id, sender_id, kind, created_at FROM messages WHERE " MSGS         \
    "  UNION ALL SELECT conversation_id, sender_id, 'archived', created_at FROM archived_messages"  \
    "  WHERE " MSGS ") x GROUP BY 1, 2, 3, 4"                                                      \
    "), m AS ("                                                                                    \
    " SELECT g.conversation_id, g.sender_id, g.kind, g.h, g.n, c.kind AS ckind"                    \
    " FROM g JOIN conversations c ON c.id = g.conversation_id"                                     \
    "), hourly AS ("                                                                               \
    " INSERT INTO analytics_hourly (metric, dims, bucket_start, value)"                            \
    " SELECT x.metric, '', t.h, x.v FROM (SELECT h, sum(n) AS a,"                                  \
    "  sum(n) FILTER (WHERE ckind = 'direct') AS d, sum(n) FILTER (WHERE ckind = 'group') AS g,"   \
    "  sum(n) FILTER (WHERE kind = 'media') AS md, sum(n) FILTER (WHERE kind = 'e2e') AS e"        \
    "  FROM m GROUP BY h) t CROSS JOIN LATERAL (VALUES ('messages', t.a),"                         \
    "  ('messages_direct', t.d), ('messages_group', t.g), ('messages_media', t.md),"               \
    "  ('messages_e2e', t.e)) AS x(metric, v) WHERE x.v IS NOT NULL"                               \
    " ON CONFLICT (metric, dims, bucket_start)"                                                    \
    " DO UPDATE SET value = analytics_hourly.value + EXCLUDED.value RETURNING 1"                   \
    "), active AS ("                                                                               \
    " SELECT sender_id AS user_id, (h AT TIME ZONE 'UTC')::date AS day FROM m"                     \
    " UNION " RECEIPTS                                                                             \
    "), dau AS ("                                                                                  \
    " INSERT INTO analytics_daily_users (day, user_id)"                                            \
    " SELECT day, user_id FROM active WHERE user_id IS NOT NULL"                                   \
    " ON CONFLICT DO NOTHING RETURNING day, user_id"                                               \
    "), sketch AS ("                                                                               \
    " INSERT INTO analytics_daily_hll (day, users)"                                                \
    " SELECT day, hll_add_agg(hll_hash_bigint(user_id), 14, 5) FROM dau GROUP BY day"              \
    " ON CONFLICT (day) DO UPDATE SET users = hll_union(analytics_daily_hll.users, EXCLUDED.users)"\
    " RETURNING 1"                                                                                 \
    "), grp AS ("                                                                                  \
    " INSERT INTO analytics_daily_groups (day, conversation_id)"                                   \
    " SELECT DISTINCT (h AT TIME ZONE 'UTC')::date, conversation_id FROM m WHERE ckind = 'group'"  \
    " ON CONFLICT DO NOTHING RETURNING 1)"

/* A step: positions ($1, $2] (messages.id is the position of the
 * message's event; receipts from the receipt events), then the checkpoint.
 * One statement, inside the step's transaction. dirty_from (where the next
 * refresh starts) is the time of the range's first event less a minute:
 * positions commit in order, so that bounds the range's earliest time
 * within a writer transaction's few milliseconds (as AN_PARTS), one index
 * probe instead of reading every event of the range for min(). */
#define APPLY_SQL                                                                                  \
    ROLLUP_CTES("id > $1::bigint AND id <= $2::bigint",                                            \
    "SELECT (e.payload::json->>'user_id')::bigint, (e.created_at AT TIME ZONE 'UTC')::date"        \
    " FROM events e WHERE e.pos > $1::bigint AND e.pos <= $2::bigint AND e.type = 'receipt'")      \
    " UPDATE analytics_checkpoint SET pos = $2::bigint, updated_at = now(),"                       \
    "  dirty_from = LEAST(dirty_from, (SELECT created_at FROM events"                              \
    "  WHERE pos > $1::bigint AND pos <= $2::bigint ORDER BY pos LIMIT 1) - interval '1 minute')"  \
    " WHERE id = 1 AND pos = $1::bigint"                                                           \
    " RETURNING (SELECT count(*) FROM hourly) + (SELECT count(*) FROM dau)"                        \
    "  + (SELECT count(*) FROM sketch) + (SELECT count(*) FROM grp)"

/* A rebuild: every message up to the checkpoint $1 created at or after
 * $2 (history, archived segments included), receipts from receipt_log
 * (events are pruned; the log is not). Runs after the rollups from $2 on
 * were deleted, in the same transaction. */
#define REBUILD_SQL                                                                                \
    ROLLUP_CTES("id <= $1::bigint AND created_at >= $2::timestamptz",                              \
    "SELECT user_id, (at AT TIME ZONE 'UTC')::date FROM receipt_log"                               \
    " WHERE at >= $2::timestamptz")                                                                \
    " SELECT (SELECT count(*) FROM hourly) + (SELECT count(*) FROM dau)"                           \
    "  + (SELECT count(*) FROM sketch) + (SELECT count(*) FROM grp)"
// clang-format on

const struct store_pg__stmt store_pg__analytics_stmts[] = {
    /* The aggregation lock, and the step's COMMIT not waiting for its WAL
     * flush: a step's rollups and its checkpoint commit together, so a
     * PostgreSQL crash that loses an unflushed step loses both, and the
     * next pass counts those positions again: still exactly once. The
     * group-commit writer's flushes no longer queue behind one of ours
     * every second. */
    [AN_LOCK] = {"an_lock",
                 "SELECT pg_try_advisory_xact_lock(hashtext('parley.analytics'))"
                 " AND set_config('synchronous_commit', 'off', true) = 'off'",
                 0, false},
    [AN_RANGE] = {"an_range",
                  "SELECT c.pos, LEAST(s.pos, c.pos + $1::bigint), s.pos, c.dirty_from IS NOT NULL"
                  " FROM analytics_checkpoint c, stream_state s"
                  " WHERE c.id = 1 AND s.id = 1 FOR UPDATE OF c",
                  1, false},
    [AN_APPLY] = {"an_apply", APPLY_SQL, 2, false},
    /* Outside any transaction, without locks: whether a step has anything
     * to do (positions past the checkpoint, or a refresh owed). An idle
     * step's SELECT ... FOR UPDATE took a transaction id and wrote and
     * flushed WAL every second. */
    [AN_PEEK] = {"an_peek",
                 "SELECT c.pos < s.pos OR c.dirty_from IS NOT NULL, c.pos"
                 " FROM analytics_checkpoint c, stream_state s WHERE c.id = 1 AND s.id = 1",
                 0, false},
    /* Idempotent: each recent hour is set to its full count, so running it
     * twice, or on two nodes, changes nothing. */
    [AN_REGISTRATIONS] =
        {"an_registrations",
         "WITH r AS (INSERT INTO analytics_hourly (metric, dims, bucket_start, value)"
         " SELECT 'registrations', '', date_trunc('hour', u.created_at, 'UTC'), count(*)"
         " FROM users u WHERE u.created_at >= date_trunc('hour',"
         "  (SELECT reg_until FROM analytics_checkpoint WHERE id = 1), 'UTC') - interval '1 hour'"
         " GROUP BY 3"
         " ON CONFLICT (metric, dims, bucket_start) DO UPDATE SET value = EXCLUDED.value"
         " RETURNING 1)"
         " SELECT count(*) FROM r",
         0, false},
    /* After the daily rollups, which redo the days of the hours since the
     * old reg_until and since dirty_from (AM_DAILY). */
    [AN_REG_MARK] = {"an_reg_mark",
                     "UPDATE analytics_checkpoint SET reg_until = now(), dirty_from = NULL"
                     " WHERE id = 1",
                     0, false},
    /* A refresh that did not recount: reg_until stays where the last
     * recount left it, so the next one starts from there. */
    [AN_DIRTY_CLEAR] = {"an_dirty_clear",
                        "UPDATE analytics_checkpoint SET dirty_from = NULL"
                        " WHERE id = 1 AND dirty_from IS NOT NULL",
                        0, false},
    /* Where a refresh starts: the days and quantiles from the older of
     * dirty_from and the hour before reg_until (the hours the
     * registrations, media and samples recount), DAU/WAU/MAU from
     * dirty_from (else today). */
    [AN_REFRESH_FROM] =
        {"an_refresh_from",
         "SELECT LEAST(dirty_from, reg_until - interval '1 hour')::text,"
         " COALESCE(dirty_from, now())::text FROM analytics_checkpoint WHERE id = 1",
         0, false},
    /* The monthly partitions that positions ($1, $2] and this hour's
     * registrations write into. Positions are commit-ordered, so the
     * first and last row of the range (an index probe each) bound its
     * times up to the few milliseconds a writer's transaction lasts; a
     * minute of margin covers that. Reading every row's time for min/max
     * was a quarter of a step's buffer reads. */
    [AN_PARTS] =
        {"an_parts",
         "SELECT analytics_partitions_ensure(LEAST(min(t) - interval '1 minute',"
         "  now() - interval '1 hour'), GREATEST(max(t) + interval '1 minute', now()))"
         " FROM (SELECT (SELECT created_at FROM messages WHERE id > $1::bigint"
         "   AND id <= $2::bigint ORDER BY id LIMIT 1) AS t"
         "  UNION ALL SELECT (SELECT created_at FROM messages WHERE id > $1::bigint"
         "   AND id <= $2::bigint ORDER BY id DESC LIMIT 1)"
         "  UNION ALL SELECT (SELECT created_at FROM archived_messages WHERE id > $1::bigint"
         "   AND id <= $2::bigint ORDER BY id LIMIT 1)"
         "  UNION ALL SELECT (SELECT created_at FROM archived_messages WHERE id > $1::bigint"
         "   AND id <= $2::bigint ORDER BY id DESC LIMIT 1)"
         "  UNION ALL SELECT (SELECT created_at FROM events WHERE pos > $1::bigint"
         "   AND pos <= $2::bigint ORDER BY pos LIMIT 1)"
         "  UNION ALL SELECT (SELECT created_at FROM events WHERE pos > $1::bigint"
         "   AND pos <= $2::bigint ORDER BY pos DESC LIMIT 1)) x",
         2, false},
    [AN_RETENTION] = {"an_retention", "SELECT analytics_retention_apply($1::int)", 1, false},
    [AN_LOCK_WAIT] = {"an_lock_wait", "SELECT pg_advisory_xact_lock(hashtext('parley.analytics'))",
                      0, false},
    /* $1 the start (timestamp or date), $2 retention in days (0: none).
     * The start becomes the UTC day, no earlier than the month the
     * retention keeps. One row: the checkpoint (locked), the start, the
     * partitions created for [start, now]. */
    [AN_REBUILD_FROM] =
        {"an_rebuild_from",
         "WITH f AS (SELECT GREATEST(date_trunc('day', $1::timestamptz, 'UTC'),"
         "  CASE WHEN $2::int > 0 THEN date_trunc('month', now() - make_interval(days => $2::int),"
         "  'UTC') ELSE '-infinity' END) AS t),"
         " c AS (SELECT pos FROM analytics_checkpoint WHERE id = 1 FOR UPDATE)"
         " SELECT c.pos, f.t::text, analytics_partitions_ensure(GREATEST(f.t, (SELECT"
         "  min(created_at) FROM users)), now()) FROM c, f",
         2, false},
    /* $1 the start: the rollups from it on go, registrations come back. */
    [AN_REBUILD_CLEAR] =
        {"an_rebuild_clear",
         "WITH h AS (DELETE FROM analytics_hourly WHERE bucket_start >= $1::timestamptz"
         "  RETURNING 1),"
         " u AS (DELETE FROM analytics_daily_users"
         "  WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date RETURNING 1),"
         " s AS (DELETE FROM analytics_daily_hll"
         "  WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date RETURNING 1),"
         " g AS (DELETE FROM analytics_daily_groups"
         "  WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date RETURNING 1),"
         " d AS (DELETE FROM analytics_daily WHERE day >= $1::timestamptz RETURNING 1),"
         " a AS (DELETE FROM analytics_daily_active"
         "  WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date RETURNING 1)"
         " SELECT (SELECT count(*) FROM h) + (SELECT count(*) FROM u) + (SELECT count(*) FROM s)"
         "  + (SELECT count(*) FROM g) + (SELECT count(*) FROM d) + (SELECT count(*) FROM a)",
         1, false},
    [AN_REBUILD_REGS] =
        {"an_rebuild_regs",
         "INSERT INTO analytics_hourly (metric, dims, bucket_start, value)"
         " SELECT 'registrations', '', date_trunc('hour', created_at, 'UTC'), count(*)"
         " FROM users WHERE created_at >= $1::timestamptz GROUP BY 3"
         " ON CONFLICT (metric, dims, bucket_start) DO UPDATE SET value = EXCLUDED.value",
         1, false},
    [AN_REBUILD] = {"an_rebuild", REBUILD_SQL, 2, false},
    {NULL, NULL, 0, false},
};

static int run(struct store_pg *pg, int id, const char *const *vals, PGresult **r)
{
    return store_pg__exec(pg, &store_pg__analytics_stmts[id], vals, NULL, NULL, r);
}

/* Runs a statement whose one row's first column is a bool. */
static int run_bool(struct store_pg *pg, int id, const char *const *vals, bool *out)
{
    return store_pg__exec_bool_vals(pg, &store_pg__analytics_stmts[id], vals, out);
}

/* The derived rollups. With recount, first the recent hours'
 * registrations, media and node samples (recounted, idempotent: they
 * change without positions, and counting them is the same work however
 * little changed, so STORE_ANALYTICS_REFRESH_ALL asks for it, not every
 * step that consumed positions). Then the days, quantiles and DAU/WAU/MAU
 * from the older of dirty_from and the hour before reg_until on
 * (AM_DAILY); then dirty_from clears, and after a recount reg_until
 * moves. */
static int refresh_locked(struct store_pg *pg, bool recount)
{
    PGresult *r;
    int rc;
    /* Registrations before the daily rollups (which include them), the
     * new reg_until after them (they start from the old one). */
    if (recount) {
        if ((rc = store_pg__analytics_media(pg, NULL)) < 0)
            return rc;
        if ((rc = run(pg, AN_REGISTRATIONS, NULL, &r)) < 0)
            return rc;
        PQclear(r);
    }
    if ((rc = run(pg, AN_REFRESH_FROM, NULL, &r)) < 0)
        return rc;
    rc = PQntuples(r) == 1 ? 0 : PL_EINTERNAL;
    if (rc == 0)
        rc = store_pg__analytics_daily(pg, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
    PQclear(r);
    if (rc < 0)
        return rc;
    if ((rc = run(pg, recount ? AN_REG_MARK : AN_DIRTY_CLEAR, NULL, &r)) < 0)
        return rc;
    PQclear(r);
    return 0;
}

/* The step's range: (lo, hi] to consume, cur the committed position,
 * dirty whether a refresh is owed. */
static int range_locked(struct store_pg *pg, unsigned max, int64_t *lo, int64_t *hi, int64_t *cur,
                        bool *dirty)
{
    char nb[24];
    snprintf(nb, sizeof(nb), "%u", max);
    const char *vals[] = {nb};
    PGresult *r;
    int rc = run(pg, AN_RANGE, vals, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? 0 : PL_EINTERNAL;
    if (rc == 0 && (rc = store_pg__get_i64(r, 0, 0, lo)) == 0 &&
        (rc = store_pg__get_i64(r, 0, 1, hi)) == 0)
        rc = store_pg__get_i64(r, 0, 2, cur);
    if (rc == 0)
        *dirty = strcmp(PQgetvalue(r, 0, 3), "t") == 0;
    PQclear(r);
    return rc;
}

static int step_locked(struct store_pg *pg, unsigned max, unsigned flags,
                       struct store_analytics_step *st)
{
    int64_t lo = 0, hi = 0, cur = 0;
    bool dirty = false;
    int rc = range_locked(pg, max, &lo, &hi, &cur, &dirty);
    if (rc < 0)
        return rc;
    st->from = (uint64_t)lo;
    st->to = (uint64_t)(hi > lo ? hi : lo);
    st->pending = (uint64_t)cur > st->to ? (uint64_t)cur - st->to : 0;
    bool refresh = (flags & STORE_ANALYTICS_REFRESH_ALL) ||
                   ((flags & STORE_ANALYTICS_REFRESH) && (dirty || hi > lo));
    if (st->pending && !(flags & STORE_ANALYTICS_REFRESH_NOW))
        refresh = false; /* the pass's last step does it, once */
    if (hi <= lo && !refresh)
        return 0; /* nothing arrived: no statement beyond the range's */
    struct store_pg__args p;
    PGresult *r;
    if ((rc = run(pg, AN_PARTS, STORE_PG__ARGS(&p, lo, hi), &r)) < 0)
        return rc;
    PQclear(r);
    if (hi > lo) {
        if ((rc = run(pg, AN_APPLY, STORE_PG__ARGS(&p, lo, hi), &r)) < 0)
            return rc;
        rc = PQntuples(r) == 1 ? 0 : PL_ECONFLICT; /* the checkpoint moved under us */
        PQclear(r);
        if (rc < 0)
            return rc;
        if ((rc = store_pg__analytics_latency(pg, lo, hi)) < 0)
            return rc;
    }
    st->refreshed = refresh;
    return refresh ? refresh_locked(pg, (flags & STORE_ANALYTICS_REFRESH_ALL) != 0) : 0;
}

/* Whether a step has work; when not, st->from and st->to are the
 * checkpoint. */
static int peek(struct store_pg *pg, bool *work, struct store_analytics_step *st)
{
    PGresult *r;
    int rc = run(pg, AN_PEEK, NULL, &r);
    if (rc < 0)
        return rc;
    int64_t pos = 0;
    rc = PQntuples(r) == 1 ? store_pg__get_i64(r, 0, 1, &pos) : PL_EINTERNAL;
    if (rc == 0) {
        *work = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        st->from = st->to = (uint64_t)pos;
    }
    PQclear(r);
    return rc;
}

int store_pg_analytics_step(struct store_pg *pg, unsigned max, unsigned flags,
                            store_analytics_hook *hook, void *ctx, struct store_analytics_step *st)
{
    *st = (struct store_analytics_step){0};
    bool work = true;
    int rc = flags & STORE_ANALYTICS_REFRESH_ALL ? 0 : peek(pg, &work, st);
    if (rc < 0 || !work)
        return rc; /* nothing arrived: caught up, nothing consumed */
    if ((rc = store_pg_tx_begin(pg)) < 0)
        return rc;
    bool got = false;
    if ((rc = run_bool(pg, AN_LOCK, NULL, &got)) == 0 && !got)
        st->busy = true;
    if (rc == 0 && got)
        rc = step_locked(pg, max, flags, st);
    if (rc == 0 && got && hook)
        hook(ctx);
    if (rc == 0 && got)
        return store_pg_tx_commit(pg);
    store_pg_tx_rollback(pg);
    return rc;
}

int store_pg_analytics_retention(struct store_pg *pg, unsigned keep_days, int *dropped)
{
    *dropped = -1;
    if (keep_days == 0)
        return 0;
    int rc = store_pg_tx_begin(pg);
    if (rc < 0)
        return rc;
    bool got = false;
    if ((rc = run_bool(pg, AN_LOCK, NULL, &got)) == 0 && got) {
        struct store_pg__args p;
        PGresult *r;
        if ((rc = run(pg, AN_RETENTION, STORE_PG__ARGS(&p, (int64_t)keep_days), &r)) == 0) {
            int64_t n = 0;
            rc = PQntuples(r) == 1 ? store_pg__get_i64(r, 0, 0, &n) : PL_EINTERNAL;
            *dropped = (int)n;
            PQclear(r);
        }
    }
    if (rc == 0 && got)
        return store_pg_tx_commit(pg);
    store_pg_tx_rollback(pg);
    return rc;
}

/* The rebuild's statements, inside its transaction and lock. */
static int rebuild_locked(struct store_pg *pg, const char *from, unsigned keep_days,
                          struct store_analytics_rebuild *out)
{
    char kb[24];
    snprintf(kb, sizeof(kb), "%u", keep_days);
    const char *v1[] = {from, kb};
    PGresult *r;
    int rc = run(pg, AN_REBUILD_FROM, v1, &r);
    if (rc < 0)
        return rc;
    int64_t pos = 0, parts = 0;
    rc = PQntuples(r) == 1 ? 0 : PL_EINTERNAL;
    if (rc == 0 && (rc = store_pg__get_i64(r, 0, 0, &pos)) == 0)
        rc = store_pg__get_i64(r, 0, 2, &parts);
    if (rc == 0)
        snprintf(out->from, sizeof(out->from), "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    out->checkpoint = (uint64_t)pos;
    out->partitions = (unsigned)parts;
    const char *v2[] = {out->from};
    for (int id = AN_REBUILD_CLEAR; rc == 0 && id <= AN_REBUILD_REGS; id++) {
        if ((rc = run(pg, id, v2, &r)) == 0 && id == AN_REBUILD_CLEAR && PQntuples(r) == 1)
            rc = store_pg__get_i64(r, 0, 0, &out->deleted);
        if (rc == 0)
            PQclear(r);
    }
    struct store_pg__args p;
    const char *const *v3 = STORE_PG__ARGS(&p, pos);
    p.v[1] = out->from;
    if (rc == 0 && (rc = run(pg, AN_REBUILD, v3, &r)) == 0) {
        rc = PQntuples(r) == 1 ? store_pg__get_i64(r, 0, 0, &out->written) : PL_EINTERNAL;
        PQclear(r);
    }
    return rc < 0 ? rc : store_pg__analytics_rebuild_more(pg, pos, out->from);
}

int store_pg_analytics_rebuild(struct store_pg *pg, const char *from, unsigned keep_days,
                               struct store_analytics_rebuild *out)
{
    *out = (struct store_analytics_rebuild){0};
    int rc = store_pg_tx_begin(pg);
    if (rc < 0)
        return rc;
    PGresult *r;
    if ((rc = run(pg, AN_LOCK_WAIT, NULL, &r)) == 0) {
        PQclear(r);
        rc = rebuild_locked(pg, from ? from : "-infinity", keep_days, out);
    }
    if (rc == 0)
        return store_pg_tx_commit(pg);
    store_pg_tx_rollback(pg);
    return rc;
}
