/* SPDX-License-Identifier: MIT */
/* Parley - a thread that runs one job at a fixed interval.             */
/* Copyright (c) 2026 Parley developers                                 */
#include "ticker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct pl_ticker {
    uint64_t interval_ms;
    pl_ticker_fn *fn;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
};

static void deadline_after(struct timespec *ts, uint64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *ticker_main(void *arg)
{
    struct pl_ticker *t = arg;
    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        struct timespec until;
        deadline_after(&until, t->interval_ms);
        /* A spurious wakeup returns 0: wait again for the same deadline. */
        while (!t->stopping && pthread_cond_timedwait(&t->wake, &t->lock, &until) == 0)
            ;
        if (t->stopping)
            break;
        /* The job runs unlocked, so pl_ticker_free() can set the flag
         * meanwhile; it then waits in pthread_join for the job to end. */
        pthread_mutex_unlock(&t->lock);
        t->fn(t->ctx);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int pl_ticker_new(uint64_t interval_ms, pl_ticker_fn *fn, void *ctx, struct pl_ticker **out)
{
    *out = NULL;
    if (interval_ms == 0 || !fn)
        return PL_EINVAL;
    struct pl_ticker *t = calloc(1, sizeof(*t));
    if (!t)
        return PL_ENOMEM;
    t->interval_ms = interval_ms;
    t->fn = fn;
    t->ctx = ctx;
    /* The deadline is on the monotonic clock, so a wall-clock step neither
     * delays nor repeats a pass. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&t->lock, NULL);
    int rc = pthread_create(&t->thread, NULL, ticker_main, t);
    if (rc != 0) {
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return -rc;
    }
    *out = t;
    return 0;
}

void pl_ticker_free(struct pl_ticker *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
