/* SPDX-License-Identifier: MIT */
/* Parley - a thread that runs one job at a fixed interval.             */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_TICKER_H
#define PL_TICKER_H

#include "err.h"

#include <stdint.h>

/* Background passes (the archiver, the analytics aggregator) that block on
 * PostgreSQL or the disk run on a thread of their own, never on a loop or a
 * worker. The job runs first interval_ms after start, then interval_ms
 * after the end of each run; stopping wakes the thread at once. */
struct pl_ticker;

/* The job; runs on the ticker's thread with the ctx given to _new. */
typedef void pl_ticker_fn(void *ctx);

/* Starts a ticker running fn(ctx) every interval_ms (> 0). ctx is borrowed
 * and must outlive the ticker. On success *out is the caller's: free it with
 * pl_ticker_free(). Returns 0, PL_EINVAL, PL_ENOMEM or -errno from
 * pthread_create. Any thread. */
PL_MUST_CHECK int pl_ticker_new(uint64_t interval_ms, pl_ticker_fn *fn, void *ctx,
                                struct pl_ticker **out);

/* Stops the ticker: waits for a running job to finish, joins the thread and
 * frees it. NULL is a no-op. Not from the ticker's own job. */
void pl_ticker_free(struct pl_ticker *t);

#endif
