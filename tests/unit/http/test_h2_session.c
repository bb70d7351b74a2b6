/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for http/h2_session.c, driven by an nghttp2 client. */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "http/http.h"

#include "common/loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * The server side is the real http/ server on its own loop thread, with a
 * dispatcher that answers by path; the test thread is an HTTP/2 client
 * built on nghttp2's client session. Every callback on both sides is
 * counted and the totals are exact; at the end the loop is stopped, the
 * server freed, and nothing may be left open (ASan reports leaks).
 */

#define DEADLINE_MS 10000
#define BIG_LEN (200 * 1000) /* three times the default stream window */
#define MAX_STREAMS 8

/* ---- the server ---- */

static char big[BIG_LEN];
static _Atomic(struct http_req *) held; /* the "/hold" request, once dispatched */
static atomic_uint requests, done_sent, done_lost, stream_closes;

struct chunks {
    unsigned left;
};

static ssize_t chunk_read(void *ctx, char *dst, size_t max)
{
    struct chunks *c = ctx;
    if (c->left == 0)
        return PL_ECANCELED; /* ends the response */
    c->left--;
    memcpy(dst, "data: x\n\n", 9);
    return 9;
}

static void chunk_close(void *ctx, int status)
{
    (void)status;
    free(ctx);
    atomic_fetch_add(&stream_closes, 1);
}

static const struct http_stream_ops chunk_ops = {HTTP_STREAM_OPS_VERSION, chunk_read, chunk_close};

static void on_request(void *ctx, struct http_req *req)
{
    (void)ctx;
    atomic_fetch_add(&requests, 1);
    const char *path = http_req_path(req);
    if (strcmp(path, "/hold") == 0) {
        atomic_store(&held, req); /* the test completes it */
        return;
    }
    if (strcmp(path, "/big") == 0) {
        http_resp_set(req, 200, "application/octet-stream", big, sizeof(big));
    } else if (strcmp(path, "/stream") == 0) {
        struct chunks *c = malloc(sizeof(*c));
        PL_ASSERT(c != NULL);
        c->left = 3;
        http_resp_stream(req, 200, "text/event-stream", &chunk_ops, c);
    } else {
        http_resp_set(req, strcmp(path, "/hello") == 0 ? 200 : 404, "text/plain", "hello", 5);
    }
    http_req_complete(req);
}

static void on_done(void *ctx, struct http_req *req, bool sent)
{
    (void)ctx, (void)req;
    atomic_fetch_add(sent ? &done_sent : &done_lost, 1);
}

static const struct http_server_ops server_ops = {
    .version = HTTP_SERVER_OPS_VERSION, .on_request = on_request, .on_done = on_done};

struct server {
    struct pl_loop *loop;
    struct http_server *http;
    pthread_t thread;
};

static void *run_loop(void *arg)
{
    struct server *s = arg;
    PL_ASSERT_INT_EQ(pl_loop_run(s->loop), 0);
    return NULL;
}

static void server_start(struct server *s)
{
    memset(big, 'b', sizeof(big));
    PL_ASSERT_INT_EQ(pl_loop_new(&s->loop), 0);
    /* Generous limits: these cases are about the session, not its limits. */
    struct http_server_config cfg = {.bind = "127.0.0.1"};
    struct http_limits *lim = &cfg.limits;
    lim->max_body = lim->max_conns = 1 << 20;
    lim->max_header_bytes = 16384;
    lim->max_headers = lim->h2_max_streams = lim->h2_max_resets = 100;
    lim->conn_rate = lim->conn_burst = 1000;
    lim->idle_timeout_s = 30; /* deadlines and per-address caps stay off (0) */
    PL_ASSERT_INT_EQ(http_server_new(s->loop, &cfg, &server_ops, NULL, &s->http), 0);
    PL_ASSERT_INT_EQ(pthread_create(&s->thread, NULL, run_loop, s), 0);
}

/* Stops the loop, then frees everything on this thread (the loop thread
 * is gone, so this one may act for it). */
static void server_stop(struct server *s)
{
    pl_loop_stop(s->loop);
    PL_ASSERT_INT_EQ(pthread_join(s->thread, NULL), 0);
    pl_loop_drain(s->loop);
    http_server_free(s->http);
    pl_loop_drain(s->loop);
    pl_loop_free(s->loop);
}

/* ---- the client ---- */

struct cstream {
    int32_t id;
    int status;
    size_t body;
    bool closed;
    uint32_t error_code;
};

struct client {
    int fd;
    nghttp2_session *ng;
    struct cstream st[MAX_STREAMS];
    unsigned n_st, closes, pings_acked, goaways;
    bool eof;
};

static struct cstream *find(struct client *c, int32_t id)
{
    for (unsigned i = 0; i < c->n_st; i++)
        if (c->st[i].id == id)
            return &c->st[i];
    return NULL;
}

static ssize_t c_send(nghttp2_session *ng, const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)ng, (void)flags;
    struct client *c = ud;
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    return n >= 0 ? n : NGHTTP2_ERR_CALLBACK_FAILURE; /* the socket blocks */
}

static int c_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                    const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    (void)ng, (void)flags, (void)vlen;
    struct cstream *s = find(ud, f->hd.stream_id);
    if (s && nlen == 7 && memcmp(name, ":status", 7) == 0)
        s->status = atoi((const char *)value);
    return 0;
}

static int c_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                  void *ud)
{
    (void)ng, (void)flags, (void)data;
    struct cstream *s = find(ud, id);
    if (s)
        s->body += len;
    return 0;
}

static int c_close(nghttp2_session *ng, int32_t id, uint32_t error_code, void *ud)
{
    (void)ng;
    struct client *c = ud;
    struct cstream *s = find(c, id);
    PL_ASSERT(s != NULL && !s->closed);
    s->closed = true;
    s->error_code = error_code;
    c->closes++;
    return 0;
}

static int c_frame(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    (void)ng;
    struct client *c = ud;
    if (f->hd.type == NGHTTP2_PING && (f->hd.flags & NGHTTP2_FLAG_ACK))
        c->pings_acked++;
    if (f->hd.type == NGHTTP2_GOAWAY)
        c->goaways++;
    return 0;
}

static void client_open(struct client *c, unsigned port)
{
    memset(c, 0, sizeof(*c));
    nghttp2_session_callbacks *cb;
    PL_ASSERT_INT_EQ(nghttp2_session_callbacks_new(&cb), 0);
    nghttp2_session_callbacks_set_send_callback(cb, c_send);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, c_frame);
    /* What the cases look at: status, body bytes, how each stream ended. */
    nghttp2_session_callbacks_set_on_header_callback(cb, c_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_data);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    PL_ASSERT(c->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    PL_ASSERT_INT_EQ(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, c_close);
    PL_ASSERT_INT_EQ(nghttp2_session_client_new(&c->ng, cb, c), 0);
    nghttp2_session_callbacks_del(cb);
    PL_ASSERT_INT_EQ(nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, NULL, 0), 0);
}

static void client_close(struct client *c)
{
    nghttp2_session_del(c->ng);
    close(c->fd);
}

static int32_t get(struct client *c, const char *path)
{
    const nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":authority", (uint8_t *)"test", 10, 4, 0},
        {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0},
    };
    PL_ASSERT(c->n_st < MAX_STREAMS);
    int32_t id = nghttp2_submit_request(c->ng, NULL, nv, 4, NULL, NULL);
    PL_ASSERT(id > 0);
    c->st[c->n_st++] = (struct cstream){.id = id};
    return id;
}

/* Sends what nghttp2 queued and feeds it what arrives until done(c) holds;
 * fails the case at the deadline. */
static void pump_until(struct client *c, bool (*done)(const struct client *c, const void *arg),
                       const void *arg)
{
    uint64_t deadline = pl_now_ms() + DEADLINE_MS;
    for (;;) {
        PL_ASSERT_INT_EQ(nghttp2_session_send(c->ng), 0);
        if (done(c, arg))
            return;
        uint64_t now = pl_now_ms();
        PL_ASSERT(now < deadline);
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, (int)(deadline - now)) <= 0)
            continue;
        uint8_t buf[16384];
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            c->eof = true;
            PL_ASSERT(done(c, arg));
            return;
        }
        PL_ASSERT_INT_EQ(nghttp2_session_mem_recv(c->ng, buf, (size_t)n), n);
    }
}

static bool all_closed(const struct client *c, const void *arg)
{
    (void)arg;
    return c->closes == c->n_st;
}

static bool acked(const struct client *c, const void *arg)
{
    return c->pings_acked >= *(const unsigned *)arg;
}

static bool at_eof(const struct client *c, const void *arg)
{
    (void)arg;
    return c->eof;
}

static void reset_counters(void)
{
    atomic_store(&requests, 0);
    atomic_store(&done_sent, 0);
    atomic_store(&done_lost, 0);
    atomic_store(&stream_closes, 0);
    atomic_store(&held, NULL);
}

/* Waits until the server reported n requests done (sent or lost). */
static void wait_done(unsigned n)
{
    uint64_t deadline = pl_now_ms() + DEADLINE_MS;
    while (atomic_load(&done_sent) + atomic_load(&done_lost) < n) {
        PL_ASSERT(pl_now_ms() < deadline);
        sched_yield();
    }
}

PLTEST(requests_multiplexed_on_one_session)
{
    reset_counters();
    struct server s;
    server_start(&s);
    struct client c;
    client_open(&c, http_server_port(s.http));
    int32_t a = get(&c, "/hello"), b = get(&c, "/big"), d = get(&c, "/nope"),
            e = get(&c, "/stream");
    pump_until(&c, all_closed, NULL);
    PL_ASSERT_INT_EQ(find(&c, a)->status, 200);
    PL_ASSERT_INT_EQ(find(&c, a)->body, 5);
    /* Larger than the stream window: WINDOW_UPDATEs from the client's
     * nghttp2 let the server's data source go on. */
    PL_ASSERT_INT_EQ(find(&c, b)->status, 200);
    PL_ASSERT_INT_EQ(find(&c, b)->body, BIG_LEN);
    PL_ASSERT_INT_EQ(find(&c, d)->status, 404);
    PL_ASSERT_INT_EQ(find(&c, e)->status, 200);
    PL_ASSERT_INT_EQ(find(&c, e)->body, 27); /* three 9-byte chunks */
    for (unsigned i = 0; i < c.n_st; i++)
        PL_ASSERT_INT_EQ(c.st[i].error_code, NGHTTP2_NO_ERROR);
    wait_done(4);
    PL_ASSERT_INT_EQ(atomic_load(&requests), 4);
    PL_ASSERT_INT_EQ(atomic_load(&done_sent), 4);
    PL_ASSERT_INT_EQ(atomic_load(&done_lost), 0);
    PL_ASSERT_INT_EQ(atomic_load(&stream_closes), 1);
    /* The client goes: the server sees EOF and closes the session. */
    PL_ASSERT_INT_EQ(nghttp2_session_terminate_session(c.ng, NGHTTP2_NO_ERROR), 0);
    PL_ASSERT_INT_EQ(nghttp2_session_send(c.ng), 0);
    shutdown(c.fd, SHUT_WR);
    pump_until(&c, at_eof, NULL);
    client_close(&c);
    server_stop(&s);
    PL_ASSERT_INT_EQ(c.closes, 4);
}

PLTEST(reset_stream_orphans_the_dispatched_request)
{
    reset_counters();
    struct server s;
    server_start(&s);
    struct client c;
    client_open(&c, http_server_port(s.http));
    int32_t id = get(&c, "/hold");
    uint64_t deadline = pl_now_ms() + DEADLINE_MS;
    while (!atomic_load(&held)) {
        PL_ASSERT_INT_EQ(nghttp2_session_send(c.ng), 0);
        PL_ASSERT(pl_now_ms() < deadline);
        sched_yield();
    }
    PL_ASSERT_INT_EQ(nghttp2_submit_rst_stream(c.ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL), 0);
    /* The server handles frames in the order they arrive: once a PING
     * written after the reset is answered, the server has seen the reset.
     * nghttp2 queues PING ahead of RST_STREAM, so the reset is written
     * first, on its own, and the PING submitted only then. */
    PL_ASSERT_INT_EQ(nghttp2_session_send(c.ng), 0);
    PL_ASSERT(!nghttp2_session_want_write(c.ng));
    PL_ASSERT_INT_EQ(nghttp2_submit_ping(c.ng, NGHTTP2_FLAG_NONE, NULL), 0);
    unsigned one = 1;
    pump_until(&c, acked, &one);
    PL_ASSERT_INT_EQ(c.closes, 1);
    PL_ASSERT_INT_EQ(find(&c, id)->error_code, NGHTTP2_CANCEL);
    PL_ASSERT_INT_EQ(atomic_load(&done_sent) + atomic_load(&done_lost), 0);
    /* The handler answers late, from this thread as a worker would: the
     * request is freed as lost, and nothing reaches the client. */
    struct http_req *req = atomic_load(&held);
    http_resp_set(req, 200, "text/plain", "late", 4);
    http_req_complete(req);
    wait_done(1);
    PL_ASSERT_INT_EQ(atomic_load(&done_lost), 1);
    PL_ASSERT_INT_EQ(atomic_load(&done_sent), 0);
    /* The session is still good for another request. */
    int32_t ok = get(&c, "/hello");
    pump_until(&c, all_closed, NULL);
    PL_ASSERT_INT_EQ(find(&c, ok)->status, 200);
    wait_done(2);
    PL_ASSERT_INT_EQ(atomic_load(&requests), 2);
    PL_ASSERT_INT_EQ(atomic_load(&done_sent), 1);
    client_close(&c);
    server_stop(&s);
}

PLTEST(protocol_error_gets_goaway)
{
    reset_counters();
    struct server s;
    server_start(&s);
    struct client c;
    client_open(&c, http_server_port(s.http));
    PL_ASSERT_INT_EQ(nghttp2_session_send(c.ng), 0);
    /* A DATA frame on stream 0 is a connection error (RFC 9113 6.1). */
    static const uint8_t bad[] = {0, 0, 1, NGHTTP2_DATA, 0, 0, 0, 0, 0, 'x'};
    PL_ASSERT_INT_EQ(send(c.fd, bad, sizeof(bad), MSG_NOSIGNAL), sizeof(bad));
    pump_until(&c, at_eof, NULL);
    PL_ASSERT_INT_EQ(c.goaways, 1);
    PL_ASSERT_INT_EQ(atomic_load(&requests), 0);
    client_close(&c);
    server_stop(&s);
}
