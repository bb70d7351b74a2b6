/* SPDX-License-Identifier: MIT */
/* Parley - worker threads that run handlers off the event loop.        */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_SRV_POOL_H
#define PL_SRV_POOL_H

#include "api/api.h"
#include "config.h"

/*
 * N threads, each owning one PostgreSQL and one Redis connection, take
 * requests from one bounded FIFO. Handlers block on libpq and hiredis here,
 * never on the loop. A worker finishes a request with http_req_complete(),
 * which posts it back to the loop.
 */
struct srv_pool;

struct srv_pool_stats {
    unsigned workers;
    unsigned busy;
    unsigned queued;
    unsigned long long rejected;
    unsigned long long batched; /* requests taken in batches of two or more */
};

/* Starts cfg->workers threads. env is borrowed for the pool's lifetime.
 * Returns 0, PL_ENOMEM, or a negative errno from pthread_create. Connections
 * are opened lazily, so a dead PostgreSQL does not stop startup. */
PL_MUST_CHECK int srv_pool_new(const struct srv_config *cfg, const struct api_env *env,
                               struct srv_pool **out);
/* The same with workers threads and a queue of queue_max (the password-
 * hashing pool: pwhash_threads, pwhash_queue). */
PL_MUST_CHECK int srv_pool_new_n(const struct srv_config *cfg, const struct api_env *env,
                                 unsigned workers, unsigned queue_max, struct srv_pool **out);
/* Any thread: queues req for a worker. Returns 0, or PL_EBUSY when the queue
 * is full / PL_ECANCELED when stopping (the caller answers the request). */
PL_MUST_CHECK int srv_pool_submit(struct srv_pool *p, struct http_req *req);
/* A unit of work for a worker: fn runs with the worker's connections. */
typedef void srv_job_fn(struct api_worker *w, void *arg);
/* Any thread: queues fn(worker, arg). Same codes as srv_pool_submit; on
 * failure fn is not called and arg stays the caller's. */
PL_MUST_CHECK int srv_pool_run(struct srv_pool *p, srv_job_fn *fn, void *arg);
/* Lets queued requests finish, stops and joins the threads, frees. */
void srv_pool_free(struct srv_pool *p);
void srv_pool_stats(struct srv_pool *p, struct srv_pool_stats *out);

#endif
