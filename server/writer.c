/* SPDX-License-Identifier: MIT */
/* Parley - the group-commit writer: threads committing message sends.  */
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
 * Why several writers, and why partitioned by conversation. A send's
 * transaction is three round trips (storage/messages.h): lock and check,
 * assign seqs, then insert-and-commit. Only the last one takes the global
 * stream position lock, and it holds it through its commit's WAL flush,
 * so positions stay dense and commit in order whatever the number of
 * writers (and of nodes). With one writer everything else of a batch
 * waited for that flush too; with writer_connections lanes (a thread, a
 * queue and a PostgreSQL connection each) lane B checks and assigns its
 * batch while lane A's commit is flushing, and batch N+1 is ready to take
 * the position lock the moment batch N lets it go. Each lane still takes
 * whatever piled up while its previous batch committed (group commit), so
 * batches grow by themselves exactly when the load does, and an idle
 * server commits a lone send at once.
 *
 * A conversation's sends always go to the same lane (by its id), so they
 * are committed in the order they were queued, and two lanes never want
 * the same conversation row (SEND_LOCK's FOR NO KEY UPDATE) or member row:
 * the only row they share is the position counter, which each takes last.
 * A device that reuses a client_msg_id in two conversations on two lanes
 * cannot deadlock them either: messages are only inserted by the holder of
 * the position lock, so the loser finds the winner's row committed, and its
 * retry (api/send.c, TX_ATTEMPTS) answers that send with 409.
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

/* One group-commit lane: a queue, a thread and a connection. */
struct lane {
    struct srv_writer *w;
    pthread_cond_t cond;
    struct api_send **ring; /* fixed capacity: the queue never grows */
    unsigned cap, head, len;
    bool started;
    pthread_t thread;
    struct api_worker api; /* env and the lane's own connection (no Redis) */
    struct api_send **batch;
};

struct srv_writer {
    pthread_mutex_t lock; /* every lane's queue, stopping and stats */
    struct lane *lanes;
    unsigned n_lanes;
    unsigned batch_max;
    bool stopping;
    struct srv_writer_stats stats; /* queued/capacity filled on read */
    pthread_t indexer;
    pthread_cond_t index_cond; /* the indexer's own: submit signals only one waiter */
    bool indexer_started;
    struct store_pg *index_pg; /* the indexer's own connection */
};

/* Moves up to batch_max of the lane's queued sends into l->batch; 0 once
 * stopping and drained. */
static unsigned take(struct lane *l)
{
    struct srv_writer *w = l->w;
    pthread_mutex_lock(&w->lock);
    while (l->len == 0 && !w->stopping)
        pthread_cond_wait(&l->cond, &w->lock);
    unsigned n = PL_MIN(l->len, w->batch_max);
    for (unsigned i = 0; i < n; i++) {
        l->batch[i] = l->ring[l->head];
        l->head = (l->head + 1) % l->cap;
    }
    l->len -= n;
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
    struct lane *l = arg;
    struct srv_writer *w = l->w;
    unsigned n;
    /* Stopping ends the loop only once the queue is empty, so every send
     * that was accepted is committed and answered. */
    while ((n = take(l))) {
        int rc = api_send_commit(&l->api, l->batch, n);
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
    uint64_t conv = (uint64_t)api_send_conversation(job);
    struct lane *l = &w->lanes[conv % w->n_lanes];
    int rc = 0;
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        rc = PL_ECANCELED;
    } else if (l->len == l->cap) {
        w->stats.rejected++;
        rc = PL_EBUSY;
    } else {
        l->ring[(l->head + l->len) % l->cap] = job;
        /* One signal per empty-to-busy edge is enough: the lane drains
         * everything it finds before it waits again. */
        if (l->len++ == 0)
            pthread_cond_signal(&l->cond);
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

/* The lane's queue and connection; its thread is started by the caller. */
static int lane_init(struct srv_writer *w, struct lane *l, const struct srv_config *cfg,
                     const struct api_env *env, const struct store_pg_config *pgc)
{
    l->w = w;
    pthread_cond_init(&l->cond, NULL);
    /* writer_queue bounds all lanes together. */
    l->cap = (cfg->writer_queue + w->n_lanes - 1) / w->n_lanes;
    l->api.env = env;
    l->ring = calloc(l->cap, sizeof(*l->ring));
    l->batch = calloc(w->batch_max, sizeof(*l->batch));
    return l->ring && l->batch ? store_pg_new(pgc, &l->api.pg) : PL_ENOMEM;
}

int srv_writer_new(const struct srv_config *cfg, const struct api_env *env, struct srv_writer **out)
{
    struct srv_writer *w = calloc(1, sizeof(*w));
    unsigned n = cfg->writer_connections ? cfg->writer_connections : 1;
    if (!w || !(w->lanes = calloc(n, sizeof(*w->lanes)))) {
        free(w);
        return PL_ENOMEM;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->index_cond, NULL);
    w->n_lanes = n;
    w->batch_max = cfg->writer_batch;
    struct store_pg_config pgc = {.conninfo = cfg->pg,
                                  .connect_timeout_s = cfg->pg_connect_timeout_s,
                                  .key_lookups_only = true};
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++)
        rc = lane_init(w, &w->lanes[i], cfg, env, &pgc);
    if (rc == 0)
        rc = store_pg_new(&pgc, &w->index_pg);
    for (unsigned i = 0; i < n && rc == 0; i++) {
        rc = -pthread_create(&w->lanes[i].thread, NULL, writer_main, &w->lanes[i]);
        w->lanes[i].started = rc == 0;
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
    unsigned left = 0;
    for (unsigned i = 0; i < w->n_lanes; i++) {
        left += w->lanes[i].len;
        pthread_cond_broadcast(&w->lanes[i].cond);
    }
    pthread_cond_broadcast(&w->index_cond);
    pthread_mutex_unlock(&w->lock);
    if (left)
        pl_log_info("committing %u queued sends before stopping", left);
    for (unsigned i = 0; i < w->n_lanes; i++)
        if (w->lanes[i].started)
            pthread_join(w->lanes[i].thread, NULL);
    if (w->indexer_started)
        pthread_join(w->indexer, NULL);
    if (w->stats.batches)
        pl_log_info("committed %llu sends in %llu batches (%llu failed); %llu turned away",
                    w->stats.sends, w->stats.batches, w->stats.failed_batches, w->stats.rejected);
    for (unsigned i = 0; i < w->n_lanes; i++) {
        struct lane *l = &w->lanes[i];
        store_pg_free(l->api.pg);
        if (l->w)
            pthread_cond_destroy(&l->cond);
        free(l->batch);
        free(l->ring);
    }
    store_pg_free(w->index_pg);
    pthread_cond_destroy(&w->index_cond);
    pthread_mutex_destroy(&w->lock);
    free(w->lanes);
    free(w);
}

void srv_writer_stats(struct srv_writer *w, struct srv_writer_stats *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->stats;
    out->queued = out->capacity = 0;
    for (unsigned i = 0; i < w->n_lanes; i++) {
        out->queued += w->lanes[i].len;
        out->capacity += w->lanes[i].cap;
    }
    pthread_mutex_unlock(&w->lock);
}
