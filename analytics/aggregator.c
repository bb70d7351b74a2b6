/* SPDX-License-Identifier: MIT */
/* Parley - the analytics aggregator: event positions into rollups.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "aggregator.h"

#include "samples.h"
#include "storage/analytics.h"

#include "common/log.h"
#include "common/ticker.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

PL_LOG_TOPIC("analytics");

/*
 * Exactly once: each step is one transaction that reads the checkpoint
 * under a row lock (and a transaction-scoped advisory lock, so only one
 * node aggregates at a time), adds the messages of the next positions to
 * the rollups, and moves the checkpoint. Positions are dense and
 * commit-ordered (docs/architecture.md), so "every position <= checkpoint
 * is counted" is the whole state: a crash before COMMIT loses the step's
 * rollups and its checkpoint together, a crash after it keeps both.
 */

#define CRASH_STATUS 86

static void crash_hook(void *ctx)
{
    const struct analytics_config *cfg = ctx;
    if (cfg->crash_at && strcmp(cfg->crash_at, "applied") == 0) {
        pl_log_warn("analytics_crash_at=applied: exiting as if killed");
        _exit(CRASH_STATUS);
    }
}

/* Steps between refreshes of the derived rollups while a pass is behind:
 * when the aggregator does not catch up, the days and quantiles still
 * move every this many steps. */
#define REFRESH_STEPS 16

/* Steps until caught up (or another node holds the lock); flags as in
 * storage/analytics.h. The derived rollups are refreshed once, by the
 * step that catches up, not by every step of a pass that is behind. */
static int pass(const struct analytics_config *cfg, struct store_pg *pg, unsigned flags,
                bool retention, struct analytics_pass *out)
{
    int rc = 0;
    unsigned batch = cfg->batch ? cfg->batch : 10000;
    for (;;) {
        struct store_analytics_step st;
        unsigned f = flags;
        if (out->steps % REFRESH_STEPS == REFRESH_STEPS - 1)
            f |= STORE_ANALYTICS_REFRESH_NOW;
        rc = store_pg_analytics_step(pg, batch, f, crash_hook, (void *)cfg, &st);
        if (rc < 0 || st.busy) {
            out->busy = st.busy;
            break;
        }
        out->steps++;
        out->consumed += st.to - st.from;
        out->checkpoint = st.to;
        if (st.pending == 0)
            break;
    }
    out->dropped = -1;
    if (rc == 0 && !out->busy && retention)
        rc = store_pg_analytics_retention(pg, cfg->retention_days, &out->dropped);
    return rc;
}

/* One pass on pg; first this node's sample when sample is set. */
static int sample_and_pass(const struct analytics_config *cfg, struct store_pg *pg, bool sample,
                           unsigned flags, bool retention, struct analytics_pass *out)
{
    *out = (struct analytics_pass){0};
    if (sample) {
        struct store_analytics_sample s;
        analytics_sample_take(&s);
        int rc = store_pg_analytics_sample_write(pg, cfg->node, &s);
        if (rc < 0)
            pl_log_warn("analytics sample lost: %s", pl_strerror(rc));
    }
    return pass(cfg, pg, flags, retention, out);
}

int analytics_aggregate(const struct analytics_config *cfg, struct analytics_pass *out)
{
    *out = (struct analytics_pass){0};
    struct store_pg_config pc = {.conninfo = cfg->conninfo,
                                 .connect_timeout_s = cfg->connect_timeout_s};
    struct store_pg *pg;
    int rc = store_pg_new(&pc, &pg);
    if (rc < 0)
        return rc;
    rc = sample_and_pass(cfg, pg, false, STORE_ANALYTICS_REFRESH | STORE_ANALYTICS_REFRESH_ALL,
                         true, out);
    store_pg_free(pg);
    return rc;
}

/* Node samples, and a refresh of the rollups that change without event
 * positions (registrations, media, node samples: every node's), every
 * this many passes (10 s at the default 1 s); retention every
 * RETENTION_EVERY passes. Between them a pass that finds no new position
 * runs one read-only statement (storage/analytics.h). */
#define SAMPLE_EVERY 10
#define RETENTION_EVERY 600

/* The thread keeps one connection across passes (store_pg reconnects a
 * broken one by itself): a new PostgreSQL backend every second cost the
 * database more CPU than an idle pass. */
struct analytics_timer {
    const struct analytics_config *cfg;
    struct pl_ticker *ticker;
    struct store_pg *pg; /* ticker thread only; NULL until the first tick connects */
    unsigned ticks;
};

static void on_tick(void *ctx)
{
    struct analytics_timer *t = ctx;
    struct analytics_pass p;
    unsigned tick = t->ticks++;
    bool all = tick % SAMPLE_EVERY == SAMPLE_EVERY - 1, sample = t->cfg->node && all;
    unsigned flags = STORE_ANALYTICS_REFRESH | (all ? STORE_ANALYTICS_REFRESH_ALL : 0);
    int rc = 0;
    if (!t->pg) {
        struct store_pg_config pc = {.conninfo = t->cfg->conninfo,
                                     .connect_timeout_s = t->cfg->connect_timeout_s};
        rc = store_pg_new(&pc, &t->pg);
    }
    if (rc == 0)
        rc = sample_and_pass(t->cfg, t->pg, sample, flags, tick % RETENTION_EVERY == 0, &p);
    if (rc < 0)
        pl_log_warn("analytics pass failed: %s", pl_strerror(rc));
}

int analytics_timer_new(const struct analytics_config *cfg, struct analytics_timer **out)
{
    *out = NULL;
    if (cfg->interval_ms == 0)
        return 0;
    struct analytics_timer *t = calloc(1, sizeof(*t));
    if (!t)
        return PL_ENOMEM;
    t->cfg = cfg;
    int rc = pl_ticker_new(cfg->interval_ms, on_tick, t, &t->ticker);
    if (rc < 0) {
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void analytics_timer_free(struct analytics_timer *t)
{
    if (!t)
        return;
    pl_ticker_free(t->ticker); /* joins the thread: no tick runs after it */
    store_pg_free(t->pg);
    free(t);
}
