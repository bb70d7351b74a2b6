/* SPDX-License-Identifier: MIT */
/* Parley - the group-commit writer: threads committing message sends.  */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_SRV_WRITER_H
#define PL_SRV_WRITER_H

#include "api/api.h"
#include "config.h"

/*
 * writer_connections lanes, each a thread with its own PostgreSQL
 * connection, commit message sends in batches from one queue: a lane takes
 * every send queued (up to writer_batch) and commits them in one
 * transaction (api_send_commit()), so under load one WAL flush and one turn
 * at the global position lock serve many sends, and an idle server still
 * commits a lone send at once. Between the two, when sends arrive steadily
 * but the queue is short, a lane holds the queued sends up to writer_hold_us
 * (from the oldest one's arrival) or until 48 are queued, so that batches
 * are not all fixed cost (writer.c says when). A send is
 * answered only after its batch committed. A conversation is in one lane's
 * batch at a time (its later sends wait in the queue, in order); while one
 * lane is busy, another starts once a quarter of writer_batch waits, so it
 * prepares its batch while the first one's commit flushes (writer.c says
 * why).
 *
 * The queue between the workers and the lanes holds writer_queue sends;
 * when it is full a send is turned away (503 overloaded) and counted.
 */
struct srv_writer;

/* Upper bounds of the batch size histogram buckets; the last bucket
 * counts everything above the last bound (+Inf). */
#define SRV_WRITER_BUCKETS 12
extern const unsigned srv_writer_bucket_le[SRV_WRITER_BUCKETS - 1];

struct srv_writer_stats {
    unsigned long long batches;        /* transactions attempted */
    unsigned long long failed_batches; /* of which failed (every send got a problem) */
    unsigned long long sends;          /* sends handled (answered) */
    unsigned long long rejected;       /* sends turned away: queue full */
    unsigned long long held;           /* times a lane held a small batch for company */
    unsigned long long size_buckets[SRV_WRITER_BUCKETS]; /* batches by size, not cumulative */
    unsigned queued;                                     /* sends waiting now, all lanes */
    unsigned capacity;                                   /* all lanes' queues together */
};

/* Starts the lanes and the indexer. cfg is read during the call; env is borrowed
 * for the writer's lifetime (api_send_commit() completes requests and
 * publishes through it). The connection is opened lazily, so a dead
 * PostgreSQL does not stop startup (sends then get 503). Returns 0,
 * PL_ENOMEM, or a negative errno from pthread_create. */
PL_MUST_CHECK int srv_writer_new(const struct srv_config *cfg, const struct api_env *env,
                                 struct srv_writer **out);

/* Any thread; matches api_env.send (ctx is the writer). Queues job; the
 * writer owns it and its request from then on and completes the request.
 * Returns 0, PL_EBUSY when the queue is full, or PL_ECANCELED once the
 * writer is stopping; on failure the caller still owns job and answers
 * the request. */
PL_MUST_CHECK int srv_writer_submit(void *ctx, struct api_send *job);

/* Stops taking sends, commits (and answers) every send still queued, joins
 * the thread and frees. Call after nothing submits any more (after the
 * worker pool is gone) and before the loop is drained, since the answers
 * go through it. NULL is fine. */
void srv_writer_free(struct srv_writer *w);

/* Any thread: a consistent snapshot of the counters. */
void srv_writer_stats(struct srv_writer *w, struct srv_writer_stats *out);

#endif
