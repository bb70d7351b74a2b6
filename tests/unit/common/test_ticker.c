/* SPDX-License-Identifier: MIT */
/* Parley - tests for common/ticker.c.                                  */
/* Copyright (c) 2026 Parley developers                                 */
#include "common/ticker.h"
#include "pltest.h"

#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <time.h>

struct counter {
    atomic_uint runs;
    unsigned post_at;
    sem_t reached;
};

static void on_tick(void *ctx)
{
    struct counter *c = ctx;
    if (atomic_fetch_add(&c->runs, 1) + 1 == c->post_at)
        sem_post(&c->reached);
}

PLTEST(ticker_refuses_a_zero_interval)
{
    struct counter c = {.post_at = 1};
    struct pl_ticker *t = (struct pl_ticker *)&c;
    PL_ASSERT_INT_EQ(pl_ticker_new(0, on_tick, &c, &t), PL_EINVAL);
    PL_ASSERT(t == NULL);
    pl_ticker_free(NULL);
}

PLTEST(ticker_runs_its_job_again_and_again)
{
    struct counter c = {.post_at = 3};
    PL_ASSERT_INT_EQ(sem_init(&c.reached, 0, 0), 0);
    struct pl_ticker *t;
    PL_ASSERT_INT_EQ(pl_ticker_new(1, on_tick, &c, &t), 0);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    int rc;
    while ((rc = sem_timedwait(&c.reached, &until)) < 0 && errno == EINTR)
        ;
    PL_ASSERT_INT_EQ(rc, 0);
    pl_ticker_free(t);
    /* Joined: the count can no longer move. */
    unsigned after = atomic_load(&c.runs);
    PL_ASSERT(after >= 3);
    sem_destroy(&c.reached);
}

/* Freeing wakes the thread at once: with an hour's interval, a ticker that
 * waited out its deadline would hang this case until meson's timeout. */
PLTEST(ticker_free_wakes_a_waiting_thread)
{
    struct counter c = {.post_at = 1};
    struct pl_ticker *t;
    PL_ASSERT_INT_EQ(pl_ticker_new(3600 * 1000, on_tick, &c, &t), 0);
    pl_ticker_free(t);
    PL_ASSERT_INT_EQ(atomic_load(&c.runs), 0);
}
