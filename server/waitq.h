/* SPDX-License-Identifier: MIT */
/* Parley - requests that wait for room in a full worker queue.        */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_SRV_WAITQ_H
#define PL_SRV_WAITQ_H

#include "pool.h"

#include "api/api.h"

/*
 * A full worker queue answers 503 at once, which is right for ordinary
 * requests (the client retries; memory stays bounded). Opening an event
 * stream is different: when every client of a node reconnects at once (a
 * restart, a network blip, a large group's members arriving together),
 * refusing most of them only makes them come back and be refused again.
 * Every stream open waits here, in arrival order, and goes to the pool in
 * a batch (api_handle_waiting(): one storage round trip per step for the
 * whole batch) while fewer than half the workers hold batches (checked
 * every WAITQ_RETRY_MS). Each waiting
 * request is a connection the node holds anyway; the queue is bounded too
 * (cap), and past it the request gets its 503.
 */
struct srv_waitq;

/* Loop thread. pool and env are borrowed for the queue's life. */
PL_MUST_CHECK int srv_waitq_new(struct pl_loop *loop, struct srv_pool *pool,
                                const struct api_env *env, unsigned cap, struct srv_waitq **out);
/* Loop thread: holds req (dispatched: owned by the server until it is
 * completed) until the pool takes it. 0, or PL_EBUSY when the queue is
 * full (the caller answers). */
PL_MUST_CHECK int srv_waitq_add(struct srv_waitq *q, struct http_req *req);
/* Loop thread: the server whose new HTTP/1.1 connections are held back
 * while many opens wait (http_server_h1_hold()); borrowed. */
void srv_waitq_set_http(struct srv_waitq *q, struct http_server *http);
/* Opens waiting now, and all that ever went through the queue. */
void srv_waitq_stats(const struct srv_waitq *q, unsigned *waiting, unsigned long long *total);
/* Loop thread, at shutdown while the pool still exists: every waiting
 * request is answered 503 (shutting down). NULL is fine. */
void srv_waitq_free(struct srv_waitq *q);

#endif
