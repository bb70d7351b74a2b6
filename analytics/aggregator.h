/* SPDX-License-Identifier: MIT */
/* Parley - the analytics aggregator: event positions into rollups.     */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_ANALYTICS_AGGREGATOR_H
#define PL_ANALYTICS_AGGREGATOR_H

#include "common/err.h"

#include <stdint.h>

/* Settings; the strings are borrowed for the aggregator's life. */
struct analytics_config {
    const char *conninfo;       /* PostgreSQL */
    unsigned connect_timeout_s; /* 0 picks 5 s */
    unsigned interval_ms;       /* between passes inside parleyd; 0: no thread */
    unsigned batch;             /* positions per transaction (0 picks 10,000) */
    unsigned retention_days;    /* rollups kept (whole months); 0: forever */
    /* This node's name: the in-server aggregator writes the node's sample
     * (analytics/samples.h) every 10 passes. NULL: no samples. */
    const char *node;
    /* Testing: "applied" makes the process _exit(86) inside the step's
     * transaction, after the rollups were written and before COMMIT. */
    const char *crash_at;
};

/* What a pass did. */
struct analytics_pass {
    unsigned steps;      /* transactions committed */
    uint64_t consumed;   /* positions consumed */
    uint64_t checkpoint; /* the checkpoint afterwards */
    int busy;            /* another node held the lock */
    int dropped;         /* partitions retention dropped (-1: not run) */
};

/*
 * One pass, blocking, on a connection of its own: steps (one transaction
 * each; storage/analytics.h) until the checkpoint reaches the committed
 * stream position or another node holds the aggregation lock, then applies
 * the retention (its own transaction). Returns 0 or
 * a negative code (what committed stays committed).
 */
PL_MUST_CHECK int analytics_aggregate(const struct analytics_config *cfg,
                                      struct analytics_pass *out);

/* The in-server aggregator: a thread that runs a pass every interval_ms
 * (never on the loop or a worker). NULL in *out when interval_ms is 0.
 * cfg is borrowed. Free with analytics_timer_free(), which wakes and joins
 * the thread. */
struct analytics_timer;
PL_MUST_CHECK int analytics_timer_new(const struct analytics_config *cfg,
                                      struct analytics_timer **out);
void analytics_timer_free(struct analytics_timer *t);

#endif
