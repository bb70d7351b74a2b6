/* SPDX-License-Identifier: MIT */
/* Parley - analytics rollups, checkpoint and admins in PostgreSQL.     */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORAGE_ANALYTICS_H
#define PL_STORAGE_ANALYTICS_H

#include "pg.h"

#include "common/arena.h"
#include "common/err.h"

#include <stdbool.h>
#include <stdint.h>

/* What one aggregation step did. */
struct store_analytics_step {
    bool busy;        /* another connection holds the aggregation lock */
    bool refreshed;   /* it refreshed the derived rollups */
    uint64_t from;    /* positions (from, to] were consumed */
    uint64_t to;      /* the checkpoint after the step */
    uint64_t pending; /* positions left after it (0: caught up) */
};

/* Called inside the step's transaction, after the rollups were written and
 * before COMMIT (a test hook: it may _exit() to simulate a crash). */
typedef void store_analytics_hook(void *ctx);

/* A step's flags: when to refresh the derived rollups (the days,
 * quantiles and DAU/WAU/MAU of what changed) and when to recount the
 * recent hours' registrations, media and node samples. */
enum {
    /* When positions were consumed since the last refresh (this step's
     * or earlier steps' whose refresh was put off). */
    STORE_ANALYTICS_REFRESH = 1,
    /* Always, with the recount (the registrations, media and node samples
     * change without positions; only this flag recounts them). */
    STORE_ANALYTICS_REFRESH_ALL = 2,
    /* Even when positions remain after this step: without it a step that
     * leaves positions pending puts the refresh off to the one that
     * catches up. */
    STORE_ANALYTICS_REFRESH_NOW = 4,
};

/*
 * One aggregation step, in ONE transaction: takes the deployment-wide
 * aggregation lock (pg_try_advisory_xact_lock; when another node holds it,
 * st->busy and nothing happens), locks the checkpoint row, consumes event
 * positions (checkpoint, checkpoint + max] (never past the committed
 * stream position: positions are dense and commit-ordered), adds their
 * messages to the hourly rollups, their senders/receipt movers to the
 * daily active users and their receipts to the latency histograms, moves
 * the checkpoint and marks the derived rollups dirty from the oldest
 * moment the positions touched (analytics_checkpoint.dirty_from); then,
 * as flags say, refreshes the derived rollups and clears the mark;
 * commits. Without positions and without a refresh to do it runs two
 * statements and writes nothing. Blocking; the connection must not be in
 * a transaction. hook may be NULL. Returns 0 or a negative code (rolled
 * back: nothing of the step is kept).
 */
PL_MUST_CHECK int store_pg_analytics_step(struct store_pg *pg, unsigned max, unsigned flags,
                                          store_analytics_hook *hook, void *ctx,
                                          struct store_analytics_step *st);

/*
 * Retention: drops the monthly rollup partitions that ended keep_days or
 * more ago and the older daily sketches, in one transaction under the
 * aggregation lock (*dropped -1 when another node holds it, or keep_days
 * is 0: nothing to do). Blocking.
 */
PL_MUST_CHECK int store_pg_analytics_retention(struct store_pg *pg, unsigned keep_days,
                                               int *dropped);

/* What a rebuild did. */
struct store_analytics_rebuild {
    char from[64];       /* the start it used (PostgreSQL timestamptz text) */
    uint64_t checkpoint; /* the messages up to this position were counted */
    unsigned partitions; /* monthly partitions it had to create */
    int64_t deleted;     /* rollup rows removed */
    int64_t written;     /* rollup rows written */
};

/*
 * Recomputes the rollups from history: in ONE transaction that waits for
 * the aggregation lock (pg_advisory_xact_lock) and locks the checkpoint,
 * deletes every rollup from `from` (NULL: all; truncated to its UTC day,
 * never before the month that keep_days keeps) on, and counts again every
 * message up to the checkpoint created since then, hot or archived, the
 * receipt movers of receipt_log and the registrations. The aggregator then
 * carries on from the same checkpoint: nothing is lost or counted twice.
 * PL_EINVAL for a bad `from`.
 */
PL_MUST_CHECK int store_pg_analytics_rebuild(struct store_pg *pg, const char *from,
                                             unsigned keep_days,
                                             struct store_analytics_rebuild *out);

/* Latency histogram buckets of a node sample (floor(4 log2(ms)); the
 * last one holds everything above). */
#define STORE_ANALYTICS_HIST_N 64

/* One node's sample (analytics/samples.h). */
struct store_analytics_sample {
    int64_t streams, peak;
    int64_t opens[3]; /* HTTP/1.1, h2c, h2 */
    int64_t resumes, searches, downloads;
    int64_t search_hist[STORE_ANALYTICS_HIST_N];
};

/* Adds s to node's row of the current 10-second slot (created when
 * missing: counts add, streams and peak keep the latest and the most).
 * node is borrowed. Blocking. */
PL_MUST_CHECK int store_pg_analytics_sample_write(struct store_pg *pg, const char *node,
                                                  const struct store_analytics_sample *s);

/* One point of a series: t is RFC 3339 UTC (arena). A ratio
 * (stickiness) has is_real set and its value in real (value is 0). */
struct store_analytics_point {
    const char *t;
    int64_t value;
    double real;
    bool is_real;
};

/*
 * The series of metric over [from, to) (RFC 3339 or date strings, parsed
 * by PostgreSQL), one point per hour or per day ("hour" / "day"), missing
 * buckets as 0. Hourly-rollup metrics ("messages", "registrations", ...)
 * sum their hours; "dau", "wau" and "mau" (day granularity only) count
 * distinct active users over 1, 7, 30 days ending on each day, from the
 * union of the days' HyperLogLog sketches (exact for small sets, 0.8 %
 * standard error beyond); "stickiness" (day only) is DAU / MAU of each day
 * (a ratio to 4 decimals, 0 when MAU is 0); "active_groups" (day only) the
 * groups with a message that day. Quantile metrics read the quantiles
 * each aggregation step keeps per hour and day. At most
 * max_points points (PL_ETOOBIG past it). Returns 0, PL_EINVAL for a bad
 * timestamp, or a code.
 */
PL_MUST_CHECK int store_pg_analytics_series(struct store_pg *pg, struct pl_arena *a,
                                            const char *metric, const char *from, const char *to,
                                            const char *granularity, unsigned max_points,
                                            struct store_analytics_point **out, unsigned *n);

/* Whether metric is one of the daily-only series (dau, wau, mau,
 * stickiness, active_groups). */
bool store_pg_analytics_daily_metric(const char *metric);

/* Whether metric is a latency quantile: (delivery|read)_p(50|95|99)_ms,
 * optionally _direct or _group, or search_p(50|95|99)_ms; then its
 * histogram, conversation kind ("", "direct", "group") and quantile ("50",
 * "95", "99"): static strings. */
bool store_pg_analytics_quantile_metric(const char *metric, const char **hist, const char **dims,
                                        const char **q);

/* One retention cohort: the users registered in an ISO week (Monday,
 * RFC 3339 UTC, arena) and how many of them were active in each of the
 * weeks after it that have begun (n_weeks <= 8). A cohort smaller than
 * min_cohort is suppressed: size and active are 0. */
struct store_analytics_cohort {
    const char *week;
    int64_t size;
    bool suppressed;
    unsigned n_weeks;
    int64_t active[8];
};
PL_MUST_CHECK int store_pg_analytics_cohorts(struct store_pg *pg, struct pl_arena *a,
                                             const char *from, unsigned min_cohort,
                                             struct store_analytics_cohort **out, unsigned *n);

/* Groups by their number of members now: [min, max] (max 0: no upper
 * bound) and how many groups. */
struct store_analytics_size {
    int64_t min, max, groups;
};
PL_MUST_CHECK int store_pg_analytics_group_sizes(struct store_pg *pg, struct pl_arena *a,
                                                 struct store_analytics_size **out, unsigned *n);

/* The user's replies of the last 30 days (their message right after
 * someone else's in a conversation, within a day) and their average delay
 * in seconds (-1 when there were none). */
PL_MUST_CHECK int store_pg_activity_replies(struct store_pg *pg, int64_t user, int64_t *replies,
                                            int64_t *avg_s);

/* Whether user is an admin: granted in the admins table, or named in
 * names (comma-separated usernames, borrowed; may be empty). */
PL_MUST_CHECK int store_pg_analytics_is_admin(struct store_pg *pg, int64_t user, const char *names,
                                              bool *out);

/* Grants (grant) or revokes admin for username. PL_ENOTFOUND when there
 * is no such user. Idempotent. */
PL_MUST_CHECK int store_pg_analytics_admin_set(struct store_pg *pg, const char *username,
                                               bool grant);

/* The user's own activity: per ISO week (Monday, RFC 3339) the messages
 * they sent and received, last `weeks` weeks, newest first. */
struct store_activity_week {
    const char *week;
    int64_t sent, received;
};
PL_MUST_CHECK int store_pg_activity_weeks(struct store_pg *pg, struct pl_arena *a, int64_t user,
                                          unsigned weeks, struct store_activity_week **out,
                                          unsigned *n);

/* The user's most active conversations over the last 30 days. */
struct store_activity_conv {
    int64_t conversation_id;
    const char *kind; /* "direct" or "group" */
    int64_t messages; /* by anyone, visible to the user */
};
PL_MUST_CHECK int store_pg_activity_top(struct store_pg *pg, struct pl_arena *a, int64_t user,
                                        unsigned limit, struct store_activity_conv **out,
                                        unsigned *n);

#endif
