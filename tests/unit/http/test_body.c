/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for http/body.c (streamed request bodies).       */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "http/http_int.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* The test's main thread plays the transport on the loop thread; a
 * pthread plays the handler on its worker. */

static struct pl_loop *loop;
static struct http_server srv;
static size_t resumed_bytes;
static unsigned resume_calls;
static bool resumed;

static bool want_stream(void *ctx, struct http_req *req)
{
    (void)ctx, (void)req;
    return true;
}

static const struct http_server_ops sops = {.version = HTTP_SERVER_OPS_VERSION,
                                            .stream_body = want_stream};

static void on_resume(struct http_req *req, size_t n)
{
    (void)req;
    resumed_bytes += n;
    resume_calls++;
    resumed = true;
}

static const struct http__req_ops rops = {.body_resume = on_resume};

/* Runs the loop's posted tasks until a report resumed the body (the
 * transport's view of "the handler read some"), with a deadline. */
static void wait_resumed(void)
{
    uint64_t deadline = pl_now_ms() + 10000;
    resumed = false;
    while (!resumed && pl_now_ms() < deadline) {
        pl_loop_drain(loop);
        sched_yield();
    }
    PL_ASSERT(resumed);
}

static struct http_req *new_req(unsigned timeout_s)
{
    PL_ASSERT_INT_EQ(pl_loop_new(&loop), 0);
    memset(&srv, 0, sizeof(srv));
    srv.loop = loop;
    srv.ops = &sops;
    srv.cfg.limits.max_body = 1024;
    srv.cfg.limits.idle_timeout_s = timeout_s;
    struct http_req *req = http__req_new(&srv, HTTP_PROTO_H1, "test", &rops, NULL);
    PL_ASSERT(req != NULL);
    PL_ASSERT(http__body_want_stream(req));
    PL_ASSERT(http_req_body_streamed(req));
    req->state = HTTP_REQ_DISPATCHED;
    return req;
}

struct reader {
    struct http_req *req;
    size_t got;
    unsigned long long sum;
    ssize_t last;
};

static void *read_all(void *arg)
{
    struct reader *r = arg;
    char buf[100000];
    for (;;) {
        ssize_t n = http_req_body_read(r->req, buf, sizeof(buf));
        r->last = n;
        if (n <= 0)
            return NULL;
        for (ssize_t i = 0; i < n; i++)
            r->sum += (unsigned char)buf[i] * (unsigned long long)(r->got + (size_t)i + 1);
        r->got += (size_t)n;
    }
}

PLTEST(body_round_trip_with_backpressure)
{
    struct http_req *req = new_req(30);
    struct reader rd = {.req = req};
    pthread_t t;
    bool started = false;
    const size_t total = 5 * HTTP_BODY_WINDOW + 12345;
    char chunk[65536];
    unsigned long long want = 0;
    size_t sent = 0;
    unsigned pauses = 0;
    while (sent < total) {
        size_t n = PL_MIN(sizeof(chunk), total - sent), off = 0;
        for (size_t i = 0; i < n; i++) {
            chunk[i] = (char)((sent + i) * 7 + 3);
            want += (unsigned char)chunk[i] * (unsigned long long)(sent + i + 1);
        }
        while (off < n) {
            off += http__body_push(req, chunk + off, n - off);
            if (off < n) { /* full: wait for the reader's report, as a transport would */
                pauses++;
                /* The handler starts late, so the ring certainly fills once. */
                if (!started)
                    PL_ASSERT_INT_EQ(pthread_create(&t, NULL, read_all, &rd), 0);
                started = true;
                wait_resumed();
            }
        }
        sent += n;
    }
    http__body_end(req);
    PL_ASSERT(started);
    PL_ASSERT_INT_EQ(pthread_join(t, NULL), 0);
    pl_loop_drain(loop);
    PL_ASSERT_INT_EQ(rd.last, 0);
    PL_ASSERT_INT_EQ(rd.got, total);
    PL_ASSERT(rd.sum == want);
    PL_ASSERT(pauses > 0);
    PL_ASSERT(resume_calls > 0);
    /* Every byte is acknowledged exactly once: by reports, the rest at close. */
    size_t rest = http__body_close(req);
    PL_ASSERT_INT_EQ(resumed_bytes + rest, total);
    PL_ASSERT_INT_EQ(http__body_push(req, "late", 4), 4); /* dropped */
    PL_ASSERT_INT_EQ(http__body_close(req), 0);
    http__req_free(req);
    PL_ASSERT(srv.bodies == NULL);
    pl_loop_free(loop);
}

PLTEST(body_fail_wakes_reader)
{
    struct http_req *req = new_req(30);
    struct reader rd = {.req = req};
    pthread_t t;
    PL_ASSERT_INT_EQ(pthread_create(&t, NULL, read_all, &rd), 0);
    PL_ASSERT_INT_EQ(http__body_push(req, "abc", 3), 3);
    http__body_fail(req, PL_ECANCELED);
    PL_ASSERT_INT_EQ(pthread_join(t, NULL), 0);
    /* Bytes that arrived before the failure are still delivered. */
    PL_ASSERT_INT_EQ(rd.got, 3);
    PL_ASSERT_INT_EQ(rd.last, PL_ECANCELED);
    PL_ASSERT(!http__body_is_open(req));
    pl_loop_drain(loop);
    http__req_free(req);
    pl_loop_free(loop);
}

PLTEST(body_cancel_all_at_shutdown)
{
    struct http_req *req = new_req(30);
    struct reader rd = {.req = req};
    pthread_t t;
    PL_ASSERT_INT_EQ(pthread_create(&t, NULL, read_all, &rd), 0);
    http_server_cancel_bodies(&srv);
    PL_ASSERT_INT_EQ(pthread_join(t, NULL), 0);
    PL_ASSERT_INT_EQ(rd.last, PL_ECANCELED);
    pl_loop_drain(loop);
    http__req_free(req);
    pl_loop_free(loop);
}

PLTEST(body_idle_timeout)
{
    struct http_req *req = new_req(1);
    char buf[16];
    PL_ASSERT_INT_EQ(http_req_body_read(req, buf, sizeof(buf)), PL_ETIMEDOUT);
    http__req_free(req);
    pl_loop_free(loop);
}

PLTEST(body_not_streamed)
{
    PL_ASSERT_INT_EQ(pl_loop_new(&loop), 0);
    memset(&srv, 0, sizeof(srv));
    srv.loop = loop;
    static const struct http_server_ops none = {.version = HTTP_SERVER_OPS_VERSION};
    srv.ops = &none;
    srv.cfg.limits.max_body = 1024;
    struct http_req *req = http__req_new(&srv, HTTP_PROTO_H1, "test", &rops, NULL);
    PL_ASSERT(!http__body_want_stream(req));
    char buf[4];
    PL_ASSERT_INT_EQ(http_req_body_read(req, buf, sizeof(buf)), PL_EINVAL);
    PL_ASSERT_INT_EQ(http__body_close(req), 0);
    http__req_free(req);
    pl_loop_free(loop);
}
