/* SPDX-License-Identifier: MIT */
/* Parley - streamed request bodies: a bounded pipe from loop to worker. */
/* Copyright (c) 2026 Parley developers                                 */

/*
 * The transport (loop thread) pushes body bytes into a ring buffer of
 * RING_BYTES bytes; the handler (worker thread) pulls them out with
 * http_req_body_read(), blocking on a condition variable while the ring is
 * empty. The ring never grows: a full ring makes the transport pause
 * (HTTP/1.1) and HTTP/2 cannot overflow it because the stream's window
 * is half the ring and is only reopened for bytes the reader took.
 *
 * The reader reports what it took back to the loop through one task,
 * posted at most once at a time: the transport then resumes the connection
 * or sends WINDOW_UPDATE. Tasks run in the order they were posted, and the
 * handler completes the request after its last read, so the report always
 * runs before the completion and never sees a freed request. A request
 * whose client left (orphaned) ignores reports.
 */
#include "http_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The ring holds twice the window an HTTP/2 stream is granted: a client
 * that sent its first request before it acknowledged our SETTINGS may
 * legitimately send up to the window plus the difference between our
 * initial window and the default one (nghttp2 applies that difference to
 * open streams when the ACK arrives). HTTP/1.1 pauses at the ring's end. */
#define RING_BYTES (2 * (size_t)HTTP_BODY_WINDOW)

/* Report consumption to the transport in steps of this much, or when the
 * ring runs empty, so WINDOW_UPDATE frames stay few but the client never
 * waits for a window that is already free. */
#define BODY_ACK_STEP (256 * 1024)

struct http__body {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct http_req *req;
    char *ring;
    size_t head, len;
    size_t unacked;   /* taken by the reader, not yet reported */
    bool task_posted; /* the report task is queued */
    bool eof;         /* the client sent the whole body */
    bool closed;      /* the request completed: drop further bytes */
    int error;        /* PL_ECANCELED once the client left */
    unsigned timeout_s;
    /* Asynchronous readers (http_req_body_async): ready() is due when
     * armed and something waits. */
    void (*ready)(void *ctx);
    void *ready_ctx;
    bool armed;
    struct pl_task task;
    struct http__body *prev, *next; /* on srv->bodies (loop thread) */
};

bool http__body_want_stream(struct http_req *req)
{
    const struct http_server_ops *ops = req->srv->ops;
    if (req->error || !ops->stream_body || !ops->stream_body(req->srv->ctx, req))
        return false;
    struct http__body *b = calloc(1, sizeof(*b));
    char *ring = malloc(RING_BYTES);
    if (!b || !ring) {
        free(b);
        free(ring);
        req->error = PL_ENOMEM;
        return false;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    b->req = req;
    b->ring = ring;
    b->timeout_s = req->srv->cfg.limits.idle_timeout_s;
    b->next = req->srv->bodies;
    if (b->next)
        b->next->prev = b;
    req->srv->bodies = b;
    req->body_pipe = b;
    return true;
}

void http__body_free(struct http__body *b)
{
    if (!b)
        return;
    if (b->prev)
        b->prev->next = b->next;
    else
        b->req->srv->bodies = b->next;
    if (b->next)
        b->next->prev = b->prev;
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b->ring);
    free(b);
}

/* With the lock held: true (and disarmed) when an asynchronous reader is
 * waiting to be told that something is there. */
static bool disarm(struct http__body *b)
{
    if (!b->armed)
        return false;
    b->armed = false;
    return true;
}

size_t http__body_push(struct http_req *req, const void *p, size_t n)
{
    struct http__body *b = req->body_pipe;
    pthread_mutex_lock(&b->mu);
    if (b->closed || b->eof || b->error) {
        pthread_mutex_unlock(&b->mu);
        return n; /* nobody will read it */
    }
    size_t take = PL_MIN(n, RING_BYTES - b->len);
    size_t tail = (b->head + b->len) % RING_BYTES;
    size_t first = PL_MIN(take, RING_BYTES - tail);
    memcpy(b->ring + tail, p, first);
    memcpy(b->ring, (const char *)p + first, take - first);
    bool was_empty = b->len == 0;
    b->len += take;
    bool call = take && disarm(b);
    pthread_mutex_unlock(&b->mu);
    if (was_empty && take)
        pthread_cond_signal(&b->cv);
    if (call)
        b->ready(b->ready_ctx);
    return take;
}

static void settle(struct http_req *req, bool eof, int error)
{
    struct http__body *b = req->body_pipe;
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    if (eof)
        b->eof = true;
    if (error && !b->error)
        b->error = error;
    bool call = disarm(b);
    pthread_mutex_unlock(&b->mu);
    pthread_cond_broadcast(&b->cv);
    if (call)
        b->ready(b->ready_ctx);
}

void http__body_end(struct http_req *req)
{
    settle(req, true, 0);
}

void http__body_fail(struct http_req *req, int code)
{
    settle(req, false, code);
}

bool http__body_is_open(const struct http_req *req)
{
    struct http__body *b = req->body_pipe;
    if (!b)
        return false;
    pthread_mutex_lock(&b->mu);
    bool open = !b->eof && !b->error && !b->closed;
    pthread_mutex_unlock(&b->mu);
    return open;
}

bool http__body_held(const struct http_req *req)
{
    struct http__body *b = req->body_pipe;
    if (!b)
        return false;
    pthread_mutex_lock(&b->mu);
    bool held = b->len > 0;
    pthread_mutex_unlock(&b->mu);
    return held;
}

size_t http__body_close(struct http_req *req)
{
    struct http__body *b = req->body_pipe;
    if (!b)
        return 0;
    pthread_mutex_lock(&b->mu);
    size_t n = b->unacked + b->len;
    b->unacked = b->len = 0;
    b->closed = true;
    pthread_mutex_unlock(&b->mu);
    return n;
}

static void on_report(struct pl_task *t)
{
    struct http__body *b = PL_CONTAINER_OF(t, struct http__body, task);
    pthread_mutex_lock(&b->mu);
    size_t n = b->unacked;
    b->unacked = 0;
    b->task_posted = false;
    bool closed = b->closed;
    pthread_mutex_unlock(&b->mu);
    struct http_req *req = b->req;
    if (n && !closed && !req->orphaned && req->ops->body_resume)
        req->ops->body_resume(req, n);
}

bool http_req_body_streamed(const struct http_req *req)
{
    return req->body_pipe != NULL;
}

static int wait_for_bytes(struct http__body *b)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += b->timeout_s ? b->timeout_s : 60;
    while (b->len == 0 && !b->eof && !b->error && !b->closed)
        if (pthread_cond_timedwait(&b->cv, &b->mu, &dl) == ETIMEDOUT && b->len == 0 && !b->eof &&
            !b->error && !b->closed)
            return PL_ETIMEDOUT;
    return 0;
}

/* With the lock held and bytes in the ring: copies them out, and reports
 * the consumption to the loop in steps (see BODY_ACK_STEP). Unlocks. */
static ssize_t take_locked(struct http_req *req, struct http__body *b, void *buf, size_t max)
{
    size_t n = PL_MIN(max, b->len);
    size_t first = PL_MIN(n, RING_BYTES - b->head);
    memcpy(buf, b->ring + b->head, first);
    memcpy((char *)buf + first, b->ring, n - first);
    b->head = (b->head + n) % RING_BYTES;
    b->len -= n;
    b->unacked += n;
    bool post = !b->task_posted && !b->eof && (b->unacked >= BODY_ACK_STEP || b->len == 0);
    if (post)
        b->task_posted = true;
    pthread_mutex_unlock(&b->mu);
    if (post) {
        b->task.run = on_report;
        pl_loop_post(req->srv->loop, &b->task);
    }
    return (ssize_t)n;
}

ssize_t http_req_body_read(struct http_req *req, void *buf, size_t max)
{
    struct http__body *b = req->body_pipe;
    if (!b)
        return PL_EINVAL;
    pthread_mutex_lock(&b->mu);
    int rc = wait_for_bytes(b);
    if (rc == 0 && b->len == 0)
        rc = b->error ? b->error : b->closed ? PL_ECANCELED : 0; /* 0: the end */
    if (rc < 0 || b->len == 0) {
        pthread_mutex_unlock(&b->mu);
        return rc;
    }
    return take_locked(req, b, buf, max);
}

ssize_t http_req_body_read_nowait(struct http_req *req, void *buf, size_t max)
{
    struct http__body *b = req->body_pipe;
    if (!b)
        return PL_EINVAL;
    pthread_mutex_lock(&b->mu);
    if (b->len == 0) {
        int rc = b->error ? b->error : b->closed ? PL_ECANCELED : b->eof ? 0 : -EAGAIN;
        b->armed = rc == -EAGAIN; /* the next push or settle calls ready() */
        pthread_mutex_unlock(&b->mu);
        return rc;
    }
    return take_locked(req, b, buf, max);
}

void http_req_body_async(struct http_req *req, void (*ready)(void *ctx), void *ctx)
{
    struct http__body *b = req->body_pipe;
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->ready = ready;
    b->ready_ctx = ctx;
    /* Something may have arrived while the handler started: call now. */
    bool now = b->len || b->eof || b->error || b->closed;
    b->armed = !now;
    pthread_mutex_unlock(&b->mu);
    if (now)
        ready(ctx);
}

void http_server_cancel_bodies(struct http_server *s)
{
    for (struct http__body *b = s->bodies; b; b = b->next)
        settle(b->req, false, PL_ECANCELED);
}
