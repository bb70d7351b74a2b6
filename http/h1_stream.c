/* SPDX-License-Identifier: MIT */
/* Parley - HTTP/1.1 event streams served outside libmicrohttpd.       */
/* Copyright (c) 2026 Parley developers                                 */

/*
 * An event stream is a response that never ends. Left inside
 * libmicrohttpd, every idle stream is a suspended MHD connection: it keeps
 * its 64 KiB memory pool, and each MHD_resume_connection() makes MHD walk
 * the whole list of suspended connections, so with 10,000 open streams
 * every request and every delivered event paid for all of them (see
 * bench/README.md for the profile).
 *
 * So once a worker answers with a text/event-stream, h1_mhd.c hands us a
 * duplicate of the connection's socket and lets MHD close its own copy
 * (see detach() there). From then on the stream is ours: the status line
 * and headers, then one HTTP/1.1 chunk per batch of bytes the stream's
 * read() yields, written from a scratch buffer shared by all streams. A
 * stream keeps its own buffer only while the socket is full, so an idle
 * stream costs this struct, its request and its push/ queue. The
 * connection closes when the stream ends (Connection: close).
 */
#include "http_int.h"

#include "common/log.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

PL_LOG_TOPIC("h1");

/* Bytes read from a stream per write; also the most one wake-up sends
 * before it yields to the rest of the loop. */
#define SCRATCH_SIZE (32 * 1024)
#define CHUNK_HEAD 10 /* "xxxxxxxx\r\n" */

struct h1_stream {
    struct http__conn conn; /* fd, io, live-list link; first member */
    struct http_req *req;
    enum http_proto proto;
    char *out; /* unsent bytes, only while the socket is full */
    size_t out_len, out_off;
    bool pump_pending, want_out, ended;
    struct pl_task pump;
};

static char scratch[SCRATCH_SIZE + CHUNK_HEAD + 2];

static void finish(struct h1_stream *hs, bool sent)
{
    struct http_req *req = hs->req;
    if (hs->pump_pending) {
        /* The deferred pump still points at hs: let it find nothing. */
        hs->req = NULL;
        hs->ended = true;
    }
    pl_loop_io_del(hs->conn.srv->loop, &hs->conn.io);
    http__conn_unlink(&hs->conn);
    close(hs->conn.fd);
    http__conn_count(hs->conn.srv, hs->proto, hs->conn.peer, -1);
    free(hs->out);
    hs->out = NULL;
    if (!hs->pump_pending)
        free(hs);
    if (req)
        http__req_finish(req, sent);
}

static void set_want_out(struct h1_stream *hs, bool on)
{
    if (hs->want_out == on)
        return;
    uint32_t ev = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0);
    if (pl_loop_io_mod(hs->conn.srv->loop, &hs->conn.io, ev) == 0)
        hs->want_out = on;
}

/* Writes p[0..n); keeps what the socket does not take. Returns 0, or a
 * negative code when the peer is gone. */
static int send_bytes(struct h1_stream *hs, const char *p, size_t n)
{
    while (n) {
        ssize_t w = http__conn_write(&hs->conn, p, n);
        if (w == -EAGAIN)
            break;
        if (w < 0)
            return (int)w;
        p += w;
        n -= (size_t)w;
        hs->req->bytes_sent += (size_t)w;
    }
    if (n) {
        hs->out = malloc(n);
        if (!hs->out)
            return PL_ENOMEM;
        memcpy(hs->out, p, n);
        hs->out_len = n;
        hs->out_off = 0;
        set_want_out(hs, true);
    }
    return 0;
}

/* Sends what is pending, then what the stream has, until the stream has
 * nothing, the socket is full, or one scratch buffer went out. */
static void pump(struct h1_stream *hs)
{
    struct http_req *req = hs->req;
    if (hs->out) {
        while (hs->out_off < hs->out_len) {
            ssize_t w =
                http__conn_write(&hs->conn, hs->out + hs->out_off, hs->out_len - hs->out_off);
            if (w == -EAGAIN)
                return;
            if (w < 0) {
                finish(hs, false);
                return;
            }
            hs->out_off += (size_t)w;
            req->bytes_sent += (size_t)w;
        }
        free(hs->out);
        hs->out = NULL;
        set_want_out(hs, false);
    }
    if (hs->ended) {
        finish(hs, true);
        return;
    }
    size_t total = 0;
    while (total < SCRATCH_SIZE) {
        char *body = scratch + CHUNK_HEAD;
        ssize_t n = req->stream_ops->read(req->stream_ctx, body, SCRATCH_SIZE - total);
        if (n == 0)
            return;
        if (n < 0) {
            /* The stream ended: the last chunk, then close once it is out. */
            hs->ended = true;
            if (send_bytes(hs, "0\r\n\r\n", 5) < 0 || !hs->out)
                finish(hs, true);
            return;
        }
        char head[CHUNK_HEAD + 1];
        int hl = snprintf(head, sizeof(head), "%zx\r\n", (size_t)n);
        char *start = body - hl;
        memcpy(start, head, (size_t)hl);
        memcpy(body + n, "\r\n", 2);
        size_t before = req->bytes_sent;
        if (send_bytes(hs, start, (size_t)hl + (size_t)n + 2) < 0) {
            finish(hs, false);
            return;
        }
        /* The access log counts body bytes, not chunk framing. */
        req->bytes_sent = before + (size_t)n;
        if (hs->out)
            return;
        total += (size_t)n;
    }
    /* More may be waiting; give the rest of the loop a turn first. */
    hs->pump_pending = true;
    pl_loop_defer(hs->conn.srv->loop, &hs->pump);
}

static void on_pump(struct pl_task *t)
{
    struct h1_stream *hs = PL_CONTAINER_OF(t, struct h1_stream, pump);
    hs->pump_pending = false;
    if (!hs->req) {
        free(hs); /* finished while the pump was queued */
        return;
    }
    pump(hs);
}

static void on_wake(struct http_req *req)
{
    struct h1_stream *hs = req->tctx;
    if (hs->pump_pending || hs->out)
        return; /* the queued pump or EPOLLOUT will read */
    hs->pump_pending = true;
    pl_loop_defer(hs->conn.srv->loop, &hs->pump);
}

static void on_send(struct http_req *req)
{
    (void)req; /* the response was sent when the stream started */
}

static const struct http__req_ops stream_ops = {.send = on_send, .wake = on_wake};

static void on_io(void *ctx, uint32_t events)
{
    struct h1_stream *hs = ctx;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        /* A client says nothing more on an event stream: whatever it
         * sends is dropped, and end of file or an error means it left. */
        char sink[512];
        for (;;) {
            ssize_t r = http__conn_read(&hs->conn, sink, sizeof(sink));
            if (r == -EAGAIN)
                break;
            if (r <= 0) {
                finish(hs, false);
                return;
            }
        }
    }
    if (events & EPOLLOUT)
        pump(hs);
}

static void on_shutdown(struct http__conn *c)
{
    struct h1_stream *hs = (struct h1_stream *)c;
    /* Best effort: the terminating chunk, then close. A failed or short
     * write only means the client sees the stream cut instead of ended. */
    if (!hs->out && !hs->ended && http__conn_write(c, "0\r\n\r\n", 5) != 5)
        pl_log_debug("%s: stream closed without its last chunk", c->peer);
    finish(hs, true);
}

/* Status line and headers, with the framing this connection uses. */
static int format_head(const struct http_req *req, char *buf, size_t size)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    size_t n = (size_t)snprintf(buf, size, "HTTP/1.1 %d %s\r\nDate: %s\r\n", req->status,
                                http_status_text(req->status), date);
    if (req->resp_ctype && n < size)
        n += (size_t)snprintf(buf + n, size - n, "Content-Type: %s\r\n", req->resp_ctype);
    for (unsigned i = 0; i < req->n_resp_headers && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s: %s\r\n", req->resp_headers[i].name,
                              req->resp_headers[i].value);
    if (n < size)
        n += (size_t)snprintf(buf + n, size - n,
                              "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    return n < size ? (int)n : PL_ETOOBIG;
}

int h1__stream_start(struct http_server *s, struct http_req *req, int fd)
{
    char head[4096];
    int hl = format_head(req, head, sizeof(head));
    if (hl < 0)
        return hl;
    struct h1_stream *hs = calloc(1, sizeof(*hs));
    if (!hs)
        return PL_ENOMEM;
    hs->conn.srv = s;
    hs->conn.fd = fd;
    snprintf(hs->conn.peer, sizeof(hs->conn.peer), "%s", req->peer ? req->peer : "");
    hs->req = req;
    hs->proto = req->proto;
    hs->pump.run = on_pump;
    /* libmicrohttpd corks and uncorks as it sends; an event must leave at
     * once, whatever state it left the socket in (TLS relay sockets are
     * AF_UNIX and refuse both, harmlessly). */
    int one = 1, zero = 0;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof(zero));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = pl_loop_io_add(s->loop, &hs->conn.io, fd, EPOLLIN | EPOLLRDHUP, on_io, hs);
    if (rc < 0) {
        free(hs);
        return rc;
    }
    http__conn_link(&hs->conn, on_shutdown);
    http__conn_count(s, hs->proto, hs->conn.peer, 1);
    req->ops = &stream_ops;
    req->tctx = hs;
    size_t before = req->bytes_sent;
    rc = send_bytes(hs, head, (size_t)hl);
    req->bytes_sent = before;
    if (rc < 0)
        finish(hs, false); /* taken, and already over */
    else if (!hs->out)
        pump(hs);
    return 0;
}
