/* SPDX-License-Identifier: MIT */
/* Parley - the group-commit writer: threads committing message sends.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "writer.h"

#include "common/ids.h"
#include "common/log.h"
#include "common/loop.h"
#include "storage/pg.h"
#include "storage/search.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

PL_LOG_TOPIC("writer");

/*
 * Why several writers. A send's transaction is two round trips
 * (storage/messages.h): lock, check and read the audiences, then
 * advance-insert-and-commit. Only the last one takes the global stream
 * position lock, and it holds it through its commit's WAL flush, so
 * positions stay dense and commit in order whatever the number of writers
 * (and of nodes). With one writer everything else of a batch waited for
 * that flush too. With writer_connections lanes (a thread and a PostgreSQL
 * connection each) one lane locks and checks the next batch while another
 * lane's commit flushes, so the next batch is ready to take the position
 * lock the moment the previous one lets it go.
 *
 * All lanes take from one queue. A lane takes whatever piled up (group
 * commit: batches grow by themselves exactly when the load does, and an
 * idle server commits a lone send at once), except the sends whose
 * conversation is in a batch another lane has in flight: those stay queued,
 * in order, until that batch is done. So a conversation is in one
 * transaction at a time, its sends commit in the order they were queued,
 * and two lanes never want the same conversation or member row: the only
 * row they share is the position counter, which each takes last. (A device
 * reusing a client_msg_id in two conversations on two lanes cannot deadlock
 * them either: messages are only inserted by the holder of the position
 * lock, so the loser finds the winner's row committed, and its retry,
 * api/send.c TX_ATTEMPTS, answers that send with 409.)
 *
 * Overlap is not free: at a given rate, two lanes commit twice as many
 * transactions of half the size, and each transaction has a fixed cost
 * (statements, the commit's flush). So while a lane is busy, another lane
 * starts only once split_min sends wait (a quarter of writer_batch): under
 * light load one lane does everything with full batches, and the second
 * joins when a backlog shows that the position lock is the bottleneck.
 */

/*
 * Why a lane may wait a moment before it takes a small batch. A batch has
 * a fixed cost (two round trips, executor start-up for each statement,
 * the commit's WAL flush, the hand-offs between threads), paid whatever
 * its size: about 330 us of CPU, PostgreSQL's and ours, against about
 * 80 us per send (bench/README.md, "Batches gathered to a size"). Taking
 * "whatever piled up" keeps a lone send fast, but at a steady few
 * thousand sends a second it also means batches of three to seven, so the
 * fixed cost is most of what a send costs. So when fewer than HOLD_FILL
 * sends are queued and sends arrive fast enough that waiting gathers
 * company (at least HOLD_GAIN expected within hold_us), the lane waits
 * until the queue holds HOLD_FILL or the oldest queued send is hold_us
 * old, whichever comes first. A lone send on a quiet server is never held,
 * since the expected company is less than HOLD_GAIN; nor is a backlog of
 * HOLD_FILL or more (h2c saturation, a closed loop of clients, measured
 * the same with and without the hold). The arrival rate is a moving
 * average over windows of hold_us (rate_update()), restarted after a
 * quiet second, so a burst after a quiet spell goes out unheld.
 *
 * hold_us's default (3 ms) and HOLD_FILL: at 5,000 sends a second, 3 ms
 * of hold gathers batches of about 17, for about 100 us of CPU per message
 * against 138 us with batches of six, and a p99 of ~8 ms over h2c (4 ms:
 * batches of 22, ~94 us, but a p99 of 8.3-9.1 ms, too close to the
 * 10 ms that issue 13 asks). At 48 sends the fixed cost is a twelfth of a
 * send's; at 15,000/s filling to 48 rather than 24 cut the batches by a
 * third.
 */
#define HOLD_GAIN 2.0
#define HOLD_FILL 48

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

/* One group-commit lane: a thread and a connection. */
struct lane {
    struct srv_writer *w;
    bool started;
    bool busy; /* a batch in flight (under w->lock) */
    pthread_t thread;
    struct api_worker api; /* env and the lane's own connection (no Redis) */
    struct api_send **batch;
    int64_t *convs; /* the conversations of the batch in flight, ascending */
    unsigned n_convs;
};

struct srv_writer {
    pthread_mutex_t lock;   /* the queue, the lanes' busy and convs, stopping, stats */
    pthread_cond_t cond;    /* idle lanes wait here (CLOCK_MONOTONIC) */
    struct api_send **ring; /* fixed capacity: the queue never grows */
    uint64_t *queued_us;    /* when each ring entry was queued (pl_now_us()) */
    unsigned cap, head, len;
    /* Holding small batches (see above): hold_us 0 is off; the arrival
     * rate in sends/s, from the sends queued since rate_at. */
    unsigned hold_us;
    double rate;
    uint64_t rate_at, submitted, rate_base;
    struct lane *lanes;
    unsigned n_lanes, n_busy;
    unsigned batch_max, split_min, hold_fill;
    bool stopping;
    struct srv_writer_stats stats; /* queued/capacity filled on read */
    pthread_t indexer;
    pthread_cond_t index_cond; /* the indexer's own: submit signals only one waiter */
    bool indexer_started;
    struct store_pg *index_pg; /* the indexer's own connection */
};

/* Whether a lane other than self has conv in flight; under w->lock. */
static bool in_flight(const struct srv_writer *w, const struct lane *self, int64_t conv)
{
    for (unsigned i = 0; i < w->n_lanes; i++) {
        const struct lane *o = &w->lanes[i];
        if (o != self && o->busy && bsearch(&conv, o->convs, o->n_convs, sizeof(conv), pl_ids_cmp))
            return true;
    }
    return false;
}

/* Moves up to batch_max queued sends whose conversation no other lane has
 * in flight into l->batch, in queue order; the rest stay queued, in order.
 * Notes the batch's conversations. Under w->lock. */
static unsigned gather(struct srv_writer *w, struct lane *l)
{
    unsigned n = 0, kept = 0;
    for (unsigned i = 0; i < w->len; i++) {
        unsigned at = (w->head + i) % w->cap;
        struct api_send *job = w->ring[at];
        if (n < w->batch_max && !in_flight(w, l, api_send_conversation(job))) {
            l->batch[n++] = job;
        } else { /* kept <= i: never overwrites what is still to be read */
            unsigned to = (w->head + kept++) % w->cap;
            w->ring[to] = job;
            w->queued_us[to] = w->queued_us[at];
        }
    }
    w->len = kept;
    for (unsigned i = 0; i < n; i++)
        l->convs[i] = api_send_conversation(l->batch[i]);
    qsort(l->convs, n, sizeof(*l->convs), pl_ids_cmp);
    unsigned d = 0;
    for (unsigned i = 0; i < n; i++)
        if (d == 0 || l->convs[d - 1] != l->convs[i])
            l->convs[d++] = l->convs[i];
    l->n_convs = d;
    return n;
}

/* The arrival rate, updated at most once per hold_us (and a millisecond):
 * a moving average of the sends queued per second between batches. Over
 * shorter windows two sends that happen to come close together read as
 * thousands a second, and one such pair was enough to start holding the
 * sends of a server that gets a few hundred a second (the mixed
 * scenario's). Under w->lock. */
static void rate_update(struct srv_writer *w, uint64_t now)
{
    uint64_t dt = now - w->rate_at;
    if (dt < PL_MAX(1000u, w->hold_us))
        return;
    double inst = (double)(w->submitted - w->rate_base) * 1e6 / (double)dt;
    /* A gap longer than a second says more about the present than any
     * average: a quiet spell ends the old rate. */
    w->rate = dt > 1000000 ? inst : 0.75 * w->rate + 0.25 * inst;
    w->rate_at = now;
    w->rate_base = w->submitted;
}

/* Until when a lane should hold the queued sends (see the top): 0 for
 * "take them now". Under w->lock, with w->len > 0. */
static uint64_t hold_until(struct srv_writer *w, uint64_t now)
{
    if (!w->hold_us || w->stopping || w->len >= w->hold_fill)
        return 0;
    if (w->rate * w->hold_us / 1e6 < HOLD_GAIN)
        return 0;
    uint64_t until = w->queued_us[w->head] + w->hold_us;
    return until <= now ? 0 : until;
}

static void cond_wait_until(struct srv_writer *w, uint64_t until_us)
{
    struct timespec ts = {.tv_sec = (time_t)(until_us / 1000000u),
                          .tv_nsec = (long)(until_us % 1000000u) * 1000L};
    (void)pthread_cond_timedwait(&w->cond, &w->lock, &ts);
}

/* Waits for a batch for l and returns its size; 0 once stopping and the
 * queue is empty. A lane starts while another is busy only when split_min
 * sends wait (or when stopping, to drain); a small batch may be held for
 * company first. */
static unsigned take(struct lane *l)
{
    struct srv_writer *w = l->w;
    unsigned n = 0;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        if (w->len == 0 && w->stopping)
            break;
        if (w->len > 0 && (w->n_busy == 0 || w->len >= w->split_min || w->stopping)) {
            uint64_t now = pl_now_us(), until;
            rate_update(w, now);
            if ((until = hold_until(w, now))) {
                w->stats.held++;
                cond_wait_until(w, until);
                continue;
            }
            if ((n = gather(w, l)) > 0)
                break;
        }
        pthread_cond_wait(&w->cond, &w->lock);
    }
    if (n) {
        l->busy = true;
        w->n_busy++;
    }
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
    store_pg_open(l->api.pg);
    /* Stopping ends the loop only once the queue is empty, so every send
     * that was accepted is committed and answered. */
    while ((n = take(l))) {
        int rc = api_send_commit(&l->api, l->batch, n);
        pthread_mutex_lock(&w->lock);
        /* Its conversations are free again, and the lane count changed:
         * an idle lane may have work now, if anything is queued (with
         * nothing queued, the next submit wakes one). */
        l->busy = false;
        l->n_convs = 0;
        w->n_busy--;
        bool wake = w->len > 0;
        w->stats.batches++;
        w->stats.failed_batches += rc < 0;
        w->stats.sends += n;
        w->stats.size_buckets[bucket(n)]++;
        pthread_mutex_unlock(&w->lock);
        if (wake)
            pthread_cond_broadcast(&w->cond);
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
    store_pg_open(w->index_pg);
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
    bool wake = false;
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        rc = PL_ECANCELED;
    } else if (w->len == w->cap) {
        w->stats.rejected++;
        rc = PL_EBUSY;
    } else {
        unsigned at = (w->head + w->len) % w->cap;
        w->ring[at] = job;
        w->queued_us[at] = pl_now_us();
        w->submitted++;
        /* Idle lanes all wait for the same thing, so waking one is enough,
         * and only on the edges that can let one start: the queue became
         * non-empty, it reached split_min while a lane is busy, or it
         * reached hold_fill while a lane holds it. A busy
         * lane drains everything it may before it waits again. */
        w->len++;
        wake = w->len == 1 || w->len == w->split_min || w->len == w->hold_fill;
    }
    pthread_mutex_unlock(&w->lock);
    if (wake) /* after the unlock, as in server/pool.c */
        pthread_cond_signal(&w->cond);
    return rc;
}

/* The lane's batch and connection; its thread is started by the caller. */
static int lane_init(struct srv_writer *w, struct lane *l, const struct api_env *env,
                     const struct store_pg_config *pgc)
{
    l->w = w;
    l->api.env = env;
    l->batch = calloc(w->batch_max, sizeof(*l->batch));
    l->convs = calloc(w->batch_max, sizeof(*l->convs));
    return l->batch && l->convs ? store_pg_new(pgc, &l->api.pg) : PL_ENOMEM;
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
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* pl_now_us()'s clock */
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&w->index_cond, NULL);
    w->n_lanes = n;
    w->cap = cfg->writer_queue;
    w->batch_max = cfg->writer_batch;
    w->split_min = PL_MAX(1u, cfg->writer_batch / 4);
    w->hold_us = cfg->writer_hold_us;
    w->hold_fill = PL_MIN(HOLD_FILL, w->split_min);
    w->rate_at = pl_now_us();
    w->ring = calloc(w->cap, sizeof(*w->ring));
    w->queued_us = calloc(w->cap, sizeof(*w->queued_us));
    struct store_pg_config pgc = {.conninfo = cfg->pg,
                                  .connect_timeout_s = cfg->pg_connect_timeout_s,
                                  .key_lookups_only = true};
    int rc = w->ring && w->queued_us ? 0 : PL_ENOMEM;
    for (unsigned i = 0; i < n && rc == 0; i++)
        rc = lane_init(w, &w->lanes[i], env, &pgc);
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
    unsigned left = w->len;
    pthread_cond_broadcast(&w->cond);
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
        store_pg_free(w->lanes[i].api.pg);
        free(w->lanes[i].batch);
        free(w->lanes[i].convs);
    }
    store_pg_free(w->index_pg);
    pthread_cond_destroy(&w->cond);
    pthread_cond_destroy(&w->index_cond);
    pthread_mutex_destroy(&w->lock);
    free(w->lanes);
    free(w->ring);
    free(w->queued_us);
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
