/* SPDX-License-Identifier: MIT */
/* Parley - requests that wait for room in a full worker queue.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "waitq.h"

#include "common/log.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

PL_LOG_TOPIC("server");

/* A worker takes a stream open in well under a millisecond; polling at
 * this period keeps the queue fed without a wake-up per completion. */
#define WAITQ_RETRY_MS 2
#define WAITQ_MIN 1024
/* Opens handed to one worker at once: each step of an open is one storage
 * round trip for the whole batch. */
#define WAITQ_BATCH 128
/* HTTP/1.1 requests wait inside libmicrohttpd connections (a memory pool
 * each, ~10 KiB touched): past this many waiting opens, new HTTP/1.1
 * connections are held back before libmicrohttpd reads them, and let in
 * as fast as opens leave (http_server_h1_hold()). */
#define WAITQ_HOLD 256

struct srv_waitq {
    struct pl_loop *loop;
    struct srv_pool *pool;
    const struct api_env *env;
    struct http_req **ring;
    unsigned head, len, size, cap;
    unsigned long long total;
    struct pl_timer timer;
    unsigned max_jobs; /* batches on workers at once */
    atomic_uint jobs;  /* batches submitted and not finished */
    unsigned long long batches;
    struct http_server *http; /* NULL: no hold */
    bool holding;
    unsigned left; /* opens handed to workers since the last admit */
};

struct batch {
    struct srv_waitq *q;
    unsigned n;
    struct http_req *reqs[];
};

int srv_waitq_new(struct pl_loop *loop, struct srv_pool *pool, const struct api_env *env,
                  unsigned cap, struct srv_waitq **out)
{
    struct srv_waitq *q = calloc(1, sizeof(*q));
    if (!q)
        return PL_ENOMEM;
    *q = (struct srv_waitq){.loop = loop, .pool = pool, .env = env, .cap = cap};
    /* Half the workers (at least one) may be opening streams; the rest
     * stay free for everything else. */
    struct srv_pool_stats st;
    srv_pool_stats(pool, &st);
    q->max_jobs = PL_MAX(1u, st.workers / 2);
    *out = q;
    return 0;
}

static void run_batch(struct api_worker *w, void *arg)
{
    struct batch *b = arg;
    api_handle_waiting(w, b->reqs, b->n);
    atomic_fetch_sub(&b->q->jobs, 1);
    free(b);
}

static void on_timer(void *ctx);

/* Hands waiting opens to the pool in batches while fewer than max_jobs
 * batches are out; polls again while some wait. */
static void drain(struct srv_waitq *q)
{
    while (q->len && atomic_load(&q->jobs) < q->max_jobs) {
        unsigned n = PL_MIN(q->len, (unsigned)WAITQ_BATCH);
        struct batch *b = malloc(sizeof(*b) + n * sizeof(b->reqs[0]));
        if (!b)
            break;
        b->q = q;
        b->n = n;
        for (unsigned i = 0; i < n; i++)
            b->reqs[i] = q->ring[(q->head + i) % q->size];
        atomic_fetch_add(&q->jobs, 1);
        int rc = srv_pool_run(q->pool, run_batch, b);
        if (rc < 0) {
            atomic_fetch_sub(&q->jobs, 1);
            free(b);
            if (rc == PL_EBUSY)
                break;
            for (unsigned i = 0; i < n; i++)
                api_reject(q->env, q->ring[(q->head + i) % q->size], rc);
        }
        q->head = (q->head + n) % q->size;
        q->len -= n;
        q->left += n;
        q->batches++;
    }
    /* While holding, let in as many connections as opens left (and some
     * when none wait, since a held connection need not be an open). */
    if (q->holding && q->len < WAITQ_HOLD) {
        unsigned n = q->left + (q->len == 0 ? WAITQ_BATCH : 0);
        q->left = 0;
        if (n && http_server_h1_admit(q->http, n) == 0)
            q->holding = false;
    }
    if ((q->len || q->holding) && !pl_timer_armed(&q->timer))
        pl_loop_timer_start(q->loop, &q->timer, WAITQ_RETRY_MS, on_timer, q);
}

static void on_timer(void *ctx)
{
    drain(ctx);
}

static int grow(struct srv_waitq *q)
{
    unsigned size = q->size ? q->size * 2 : WAITQ_MIN;
    struct http_req **r = malloc(size * sizeof(*r));
    if (!r)
        return PL_ENOMEM;
    for (unsigned i = 0; i < q->len; i++)
        r[i] = q->ring[(q->head + i) % q->size];
    free(q->ring);
    q->ring = r;
    q->size = size;
    q->head = 0;
    return 0;
}

int srv_waitq_add(struct srv_waitq *q, struct http_req *req)
{
    if (q->len >= q->cap || (q->len == q->size && grow(q) < 0))
        return PL_EBUSY;
    q->ring[(q->head + q->len) % q->size] = req;
    q->len++;
    q->total++;
    if (q->http && !q->holding && q->len >= WAITQ_HOLD) {
        q->holding = true;
        q->left = 0;
        http_server_h1_hold(q->http);
    }
    /* The first open goes at once; those arriving while batches are out
     * gather into the next batch. */
    drain(q);
    return 0;
}

void srv_waitq_set_http(struct srv_waitq *q, struct http_server *http)
{
    q->http = http;
}

void srv_waitq_stats(const struct srv_waitq *q, unsigned *waiting, unsigned long long *total)
{
    *waiting = q ? q->len : 0;
    *total = q ? q->total : 0;
}

void srv_waitq_free(struct srv_waitq *q)
{
    if (!q)
        return;
    pl_loop_timer_stop(q->loop, &q->timer);
    for (; q->len; q->len--, q->head = (q->head + 1) % q->size)
        api_reject(q->env, q->ring[q->head], PL_ECANCELED);
    /* Batches still on workers point at q: they finish on their own (the
     * pool still runs), so wait for them. */
    for (unsigned i = 0; atomic_load(&q->jobs) && i < 10000; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    free(q->ring);
    free(q);
}
