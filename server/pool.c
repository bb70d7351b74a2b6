/* SPDX-License-Identifier: MIT */
/* Parley - worker threads that run handlers off the event loop.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "pool.h"

#include "common/log.h"
#include "storage/pg.h"
#include "storage/redis.h"

#include <pthread.h>
#include <stdlib.h>

PL_LOG_TOPIC("pool");

/* Sends (API_BATCH routes) a worker takes at once at most: their tokens
 * are checked with one statement instead of one each. */
#define POOL_BATCH 32

struct worker {
    struct srv_pool *pool;
    pthread_t thread;
    struct api_worker api;
    bool started;
    struct http_req *batch[POOL_BATCH];
};

struct job {
    srv_job_fn *fn;
    void *arg;
};

struct srv_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct job *ring; /* fixed capacity: the queue never grows */
    unsigned cap, head, len;
    bool stopping;
    unsigned busy, waiting;
    unsigned long long rejected, batched;
    unsigned n;
    struct worker *workers;
};

static void run_request(struct api_worker *w, void *arg);

static bool batches(const struct job *j)
{
    return j->fn == run_request && api_route_batches(j->arg);
}

/* Takes the next job; when it is a send, also the sends queued right
 * behind it (into w->batch, *n of them in all), but no more than this
 * worker's share: workers waiting for a job were signalled for the rest,
 * and a send taken here would only wait for the ones before it. */
static bool take(struct worker *w, struct job *out, unsigned *n)
{
    struct srv_pool *p = w->pool;
    pthread_mutex_lock(&p->lock);
    while (p->len == 0 && !p->stopping) {
        p->waiting++;
        pthread_cond_wait(&p->cond, &p->lock);
        p->waiting--;
    }
    bool got = false;
    *n = 1;
    if (p->len) {
        *out = p->ring[p->head];
        got = true;
        unsigned share = (p->len + p->waiting) / (p->waiting + 1);
        p->head = (p->head + 1) % p->cap;
        p->len--;
        p->busy++;
        if (batches(out)) {
            w->batch[0] = out->arg;
            while (*n < PL_MIN(share, POOL_BATCH) && p->len && batches(&p->ring[p->head])) {
                w->batch[(*n)++] = p->ring[p->head].arg;
                p->head = (p->head + 1) % p->cap;
                p->len--;
            }
            p->batched += *n > 1 ? *n : 0;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return got;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct srv_pool *p = w->pool;
    struct job job;
    unsigned n;
    store_pg_open(w->api.pg);
    /* Stopping only ends the loop once the queue is empty, so every
     * accepted request is answered. */
    while (take(w, &job, &n)) {
        if (n > 1)
            api_handle_batch(&w->api, w->batch, n);
        else
            job.fn(&w->api, job.arg);
        pthread_mutex_lock(&p->lock);
        p->busy--;
        pthread_mutex_unlock(&p->lock);
    }
    return NULL;
}

static void run_request(struct api_worker *w, void *arg)
{
    api_handle(w, arg);
}

int srv_pool_submit(struct srv_pool *p, struct http_req *req)
{
    return srv_pool_run(p, run_request, req);
}

int srv_pool_run(struct srv_pool *p, srv_job_fn *fn, void *arg)
{
    int rc = 0;
    bool wake = false;
    pthread_mutex_lock(&p->lock);
    if (p->stopping) {
        rc = PL_ECANCELED;
    } else if (p->len == p->cap) {
        p->rejected++;
        rc = PL_EBUSY;
    } else {
        p->ring[(p->head + p->len) % p->cap] = (struct job){fn, arg};
        p->len++;
        wake = p->waiting > 0;
    }
    pthread_mutex_unlock(&p->lock);
    /* After the unlock: a worker woken while we held the lock would only
     * block on it again (a second futex wake and switch per request). */
    if (wake)
        pthread_cond_signal(&p->cond);
    return rc;
}

static int worker_init(struct worker *w, struct srv_pool *p, const struct srv_config *cfg,
                       const struct api_env *env)
{
    w->pool = p;
    w->api.env = env;
    struct store_pg_config pgc = {.conninfo = cfg->pg,
                                  .connect_timeout_s = cfg->pg_connect_timeout_s};
    struct store_redis_config rc_ = {
        .addr = cfg->redis, .timeout_ms = cfg->redis_timeout_ms, .cluster = cfg->redis_cluster};
    int rc = store_pg_new(&pgc, &w->api.pg);
    if (rc < 0)
        return rc;
    if ((rc = store_redis_new(&rc_, &w->api.redis)) < 0)
        return rc;
    if (cfg->pg_standby && *cfg->pg_standby) {
        struct store_pg_config sbc = {.conninfo = cfg->pg_standby,
                                      .connect_timeout_s = cfg->pg_connect_timeout_s};
        if ((rc = store_pg_new(&sbc, &w->api.pg_ro)) < 0)
            return rc;
    }
    rc = -pthread_create(&w->thread, NULL, worker_main, w);
    w->started = rc == 0;
    return rc;
}

int srv_pool_new(const struct srv_config *cfg, const struct api_env *env, struct srv_pool **out)
{
    return srv_pool_new_n(cfg, env, cfg->workers, cfg->queue_max, out);
}

int srv_pool_new_n(const struct srv_config *cfg, const struct api_env *env, unsigned workers,
                   unsigned queue_max, struct srv_pool **out)
{
    struct srv_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return PL_ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->cap = queue_max;
    p->n = workers;
    p->ring = calloc(p->cap, sizeof(*p->ring));
    p->workers = calloc(p->n, sizeof(*p->workers));
    int rc = p->ring && p->workers ? 0 : PL_ENOMEM;
    for (unsigned i = 0; i < p->n && rc == 0; i++)
        rc = worker_init(&p->workers[i], p, cfg, env);
    if (rc < 0) {
        srv_pool_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void srv_pool_free(struct srv_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; p->workers && i < p->n; i++) {
        struct worker *w = &p->workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        store_pg_free(w->api.pg);
        store_pg_free(w->api.pg_ro);
        store_redis_free(w->api.redis);
    }
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->workers);
    free(p->ring);
    free(p);
}

void srv_pool_stats(struct srv_pool *p, struct srv_pool_stats *out)
{
    pthread_mutex_lock(&p->lock);
    out->workers = p->n;
    out->busy = p->busy;
    out->queued = p->len;
    out->rejected = p->rejected;
    out->batched = p->batched;
    pthread_mutex_unlock(&p->lock);
}
