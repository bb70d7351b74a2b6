/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for server/pool.c (the worker pool's queue).     */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "common/loop.h"
#include "server/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

/*
 * Jobs here never touch storage: the workers' PostgreSQL and Redis
 * connections are opened lazily, so a pool over unreachable addresses
 * starts and runs plain jobs. Every job is counted; the totals are exact.
 */

#define DEADLINE_MS 10000

static const struct api_env env;
static atomic_uint ran, bad_worker;
static atomic_bool gate_open, in_gate;

static struct srv_pool *pool_new(unsigned workers, unsigned queue_max)
{
    struct srv_config cfg = {
        .pg = "host=/nonexistent dbname=none",
        .redis = "127.0.0.1:1",
        .pg_connect_timeout_s = 1,
        .redis_timeout_ms = 100,
        .workers = workers,
        .queue_max = queue_max,
    };
    atomic_store(&ran, 0);
    atomic_store(&bad_worker, 0);
    atomic_store(&gate_open, false);
    atomic_store(&in_gate, false);
    struct srv_pool *p;
    PL_ASSERT_INT_EQ(srv_pool_new(&cfg, &env, &p), 0);
    return p;
}

static void count_job(struct api_worker *w, void *arg)
{
    (void)arg;
    if (!w || w->env != &env || !w->pg || !w->redis)
        atomic_fetch_add(&bad_worker, 1);
    atomic_fetch_add(&ran, 1);
}

/* Holds its worker until the test opens the gate. */
static void gate_job(struct api_worker *w, void *arg)
{
    atomic_store(&in_gate, true);
    uint64_t deadline = pl_now_ms() + DEADLINE_MS;
    while (!atomic_load(&gate_open) && pl_now_ms() < deadline)
        sched_yield();
    count_job(w, arg);
}

static void wait_for(atomic_bool *flag)
{
    uint64_t deadline = pl_now_ms() + DEADLINE_MS;
    while (!atomic_load(flag)) {
        PL_ASSERT(pl_now_ms() < deadline);
        sched_yield();
    }
}

PLTEST(every_accepted_job_runs_exactly_once)
{
    struct srv_pool *p = pool_new(3, 256);
    for (int i = 0; i < 200; i++)
        PL_ASSERT_INT_EQ(srv_pool_run(p, count_job, NULL), 0);
    /* Freeing lets the queue drain before the threads are joined. */
    srv_pool_free(p);
    PL_ASSERT_INT_EQ(atomic_load(&ran), 200);
    PL_ASSERT_INT_EQ(atomic_load(&bad_worker), 0);
}

PLTEST(a_full_queue_turns_jobs_away_and_counts_them)
{
    struct srv_pool *p = pool_new(1, 2);
    PL_ASSERT_INT_EQ(srv_pool_run(p, gate_job, NULL), 0);
    wait_for(&in_gate); /* the one worker is busy, the queue empty */
    PL_ASSERT_INT_EQ(srv_pool_run(p, count_job, NULL), 0);
    PL_ASSERT_INT_EQ(srv_pool_run(p, count_job, NULL), 0);
    PL_ASSERT_INT_EQ(srv_pool_run(p, count_job, NULL), PL_EBUSY);
    PL_ASSERT_INT_EQ(srv_pool_run(p, count_job, NULL), PL_EBUSY);
    struct srv_pool_stats st;
    srv_pool_stats(p, &st);
    PL_ASSERT_INT_EQ(st.workers, 1);
    PL_ASSERT_INT_EQ(st.busy, 1);
    PL_ASSERT_INT_EQ(st.queued, 2);
    PL_ASSERT_INT_EQ(st.rejected, 2);
    atomic_store(&gate_open, true);
    srv_pool_free(p);
    /* The gate job and the two queued ones; the refused ones never ran. */
    PL_ASSERT_INT_EQ(atomic_load(&ran), 3);
}

struct stopper {
    struct srv_pool *p;
    unsigned accepted;
    int last;
};

/* Submits from inside a job until the pool refuses because it is
 * stopping: every job accepted before that must still run. */
static void resubmit_job(struct api_worker *w, void *arg)
{
    struct stopper *s = arg;
    atomic_store(&in_gate, true);
    uint64_t deadline = pl_now_ms() + DEADLINE_MS;
    while (pl_now_ms() < deadline) {
        s->last = srv_pool_run(s->p, count_job, NULL);
        if (s->last == PL_ECANCELED)
            break;
        if (s->last == 0)
            s->accepted++;
        sched_yield();
    }
    count_job(w, NULL);
}

static void *free_pool(void *arg)
{
    srv_pool_free(arg);
    return NULL;
}

PLTEST(stopping_refuses_new_jobs_and_finishes_queued_ones)
{
    struct srv_pool *p = pool_new(1, 1000000);
    struct stopper s = {.p = p};
    PL_ASSERT_INT_EQ(srv_pool_run(p, resubmit_job, &s), 0);
    wait_for(&in_gate);
    pthread_t t;
    PL_ASSERT_INT_EQ(pthread_create(&t, NULL, free_pool, p), 0);
    PL_ASSERT_INT_EQ(pthread_join(t, NULL), 0);
    PL_ASSERT_INT_EQ(s.last, PL_ECANCELED);
    PL_ASSERT_INT_EQ(atomic_load(&ran), s.accepted + 1);
    PL_ASSERT_INT_EQ(atomic_load(&bad_worker), 0);
}
