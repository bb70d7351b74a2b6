/* SPDX-License-Identifier: MIT */
/* Parley - the group-commit writer: one thread committing message sends. */
/* Copyright (c) 2026 Parley developers                                 */
#include "writer.h"

#include "common/log.h"
#include "storage/pg.h"
#include "storage/search.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

PL_LOG_TOPIC("writer");

/*
 * Why one thread: every send transaction ends by taking the global stream
 * position lock and holding it through its commit, so sends commit one
 * after the other anyway; several writers would only queue on that lock,
 * each paying its own WAL flush. One writer that takes whatever piled up
 * while the previous batch committed gets the most out of each flush, and
 * batches grow by themselves exactly when the load does (the classic group
 * commit). Workers keep running handlers meanwhile: the send handler only
 * validates and queues.
 */

/*
 * The search indexer (migration 0015) runs beside the writer, on a thread
 * and connection of its own: every INDEX_INTERVAL_MS it fills the search
 * vectors of the messages committed since the last step, up to INDEX_BATCH
 * per transaction (and at once again while there are more). So the sends'
 * transactions carry no full-text work, search lags the commits by about
 * the interval, and an idle server runs one tiny statement per interval.
 * A step is one short transaction, so its commit flush is paid ten times
 * a second, not per batch of sends.
 */
#define INDEX_INTERVAL_MS 100
#define INDEX_BATCH 1000

const unsigned srv_writer_bucket_le[SRV_WRITER_BUCKETS - 1] = {1,  2,   4,   8,   16,  32,
                                                               64, 128, 256, 512, 1024};

struct srv_writer {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct api_send **ring; /* fixed capacity: the queue never grows */
    unsigned cap, head, len;
    unsigned batch_max;
    bool stopping;
    bool started;
    pthread_t thread;
    struct api_worker api; /* env and the writer's own connection (no Redis) */
    struct api_send **batch;
    struct srv_writer_stats stats; /* queued/capacity filled on read */
    pthread_t indexer;
    pthread_cond_t index_cond; /* the indexer's own: submit signals only one waiter */
    bool indexer_started;
    struct store_pg *index_pg; /* the indexer's own connection */
};

/* Moves up to batch_max queued sends into w->batch; 0 once stopping and
 * drained. */
static unsigned take(struct srv_writer *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->len == 0 && !w->stopping)
        pthread_cond_wait(&w->cond, &w->lock);
    unsigned n = PL_MIN(w->len, w->batch_max);
    for (unsigned i = 0; i < n; i++) {
        w->batch[i] = w->ring[w->head];
        w->head = (w->head + 1) % w->cap;
    }
    w->len -= n;
    pthread_mutex_unlock(&w->lock);
    return n;
}

static unsigned bucket(unsigned n)
{
    unsigned b = 0;
    while (b < SRV_WRITER_BUCKETS - 1 && n > srv_writer_bucket_le[b])
        b++;
    return b;
}

static void *writer_main(void *arg)
{
    struct srv_writer *w = arg;
    unsigned n;
    /* Stopping ends the loop only once the queue is empty, so every send
     * that was accepted is committed and answered. */
    while ((n = take(w))) {
        int rc = api_send_commit(&w->api, w->batch, n);
        pthread_mutex_lock(&w->lock);
        w->stats.batches++;
        w->stats.failed_batches += rc < 0;
        w->stats.sends += n;
        w->stats.size_buckets[bucket(n)]++;
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
}

/* Waits up to ms or until stopping; under w->lock. */
static void indexer_wait(struct srv_writer *w, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (!w->stopping && pthread_cond_timedwait(&w->index_cond, &w->lock, &ts) != ETIMEDOUT)
        ;
}

static void *indexer_main(void *arg)
{
    struct srv_writer *w = arg;
    bool failing = false;
    pthread_mutex_lock(&w->lock);
    while (!w->stopping) {
        pthread_mutex_unlock(&w->lock);
        unsigned n = 0;
        int rc = store_pg_search_index_step(w->index_pg, INDEX_BATCH, &n);
        if (rc < 0 && !failing)
            pl_log_warn("search indexer: %s; retrying", pl_strerror(rc));
        failing = rc < 0;
        pthread_mutex_lock(&w->lock);
        if (rc < 0 || n < INDEX_BATCH)
            indexer_wait(w, rc < 0 ? 1000 : INDEX_INTERVAL_MS);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int srv_writer_submit(void *ctx, struct api_send *job)
{
    struct srv_writer *w = ctx;
    int rc = 0;
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        rc = PL_ECANCELED;
    } else if (w->len == w->cap) {
        w->stats.rejected++;
        rc = PL_EBUSY;
    } else {
        w->ring[(w->head + w->len) % w->cap] = job;
        /* One signal per empty-to-busy edge is enough: the writer drains
         * everything it finds before it waits again. */
        if (w->len++ == 0)
            pthread_cond_signal(&w->cond);
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

int srv_writer_new(const struct srv_config *cfg, const struct api_env *env, struct srv_writer **out)
{
    struct srv_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return PL_ENOMEM;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    pthread_cond_init(&w->index_cond, NULL);
    w->cap = cfg->writer_queue;
    w->batch_max = cfg->writer_batch;
    w->api.env = env;
    w->ring = calloc(w->cap, sizeof(*w->ring));
    w->batch = calloc(w->batch_max, sizeof(*w->batch));
    struct store_pg_config pgc = {.conninfo = cfg->pg,
                                  .connect_timeout_s = cfg->pg_connect_timeout_s,
                                  .key_lookups_only = true};
    int rc = w->ring && w->batch ? store_pg_new(&pgc, &w->api.pg) : PL_ENOMEM;
    if (rc == 0)
        rc = store_pg_new(&pgc, &w->index_pg);
    if (rc == 0) {
        rc = -pthread_create(&w->thread, NULL, writer_main, w);
        w->started = rc == 0;
    }
    if (rc == 0) {
        rc = -pthread_create(&w->indexer, NULL, indexer_main, w);
        w->indexer_started = rc == 0;
    }
    if (rc < 0) {
        srv_writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void srv_writer_free(struct srv_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    unsigned left = w->len;
    pthread_cond_broadcast(&w->cond);
    pthread_cond_broadcast(&w->index_cond);
    pthread_mutex_unlock(&w->lock);
    if (left)
        pl_log_info("committing %u queued sends before stopping", left);
    if (w->started)
        pthread_join(w->thread, NULL);
    if (w->indexer_started)
        pthread_join(w->indexer, NULL);
    if (w->stats.batches)
        pl_log_info("committed %llu sends in %llu batches (%llu failed); %llu turned away",
                    w->stats.sends, w->stats.batches, w->stats.failed_batches, w->stats.rejected);
    store_pg_free(w->api.pg);
    store_pg_free(w->index_pg);
    pthread_cond_destroy(&w->cond);
    pthread_cond_destroy(&w->index_cond);
    pthread_mutex_destroy(&w->lock);
    free(w->batch);
    free(w->ring);
    free(w);
}

void srv_writer_stats(struct srv_writer *w, struct srv_writer_stats *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->stats;
    out->queued = w->len;
    out->capacity = w->cap;
    pthread_mutex_unlock(&w->lock);
}
