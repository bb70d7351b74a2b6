/* SPDX-License-Identifier: MIT */
/* Parley - fuzz: the h2 frame path, bytes from a client through        */
/* nghttp2 into our callbacks (http/h2_session.c, h2_io.c).             */
/* Copyright (c) 2026 Parley developers                                 */
#include "fuzz.h"

#include "common/loop.h"
#include "http/h2_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * A real server session on a real loop: the accepted socket is one end of
 * a socketpair, the fuzzer's bytes are written (after the connection
 * preface, which nghttp2 insists on) into the other end, which is then
 * shut for writing. The loop runs until the session is gone, reading and
 * discarding what the server answers. Every request is answered 200 at
 * once, with its body echoed, so responses and DATA frames are exercised
 * too.
 */

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static struct pl_loop *loop;
static struct http_server *srv;
static struct pl_timer tick;
static int peer = -1;
static unsigned ticks;

static void on_request(void *ctx, struct http_req *req)
{
    size_t n = 0;
    const char *b = http_req_body(req, &n);
    (void)ctx;
    (void)http_req_header(req, "cookie");
    (void)http_req_query(req, "q");
    http_resp_set(req, 200, "text/plain", n ? b : "ok", n ? n : 2);
    http_req_complete(req);
}

static void on_done(void *ctx, struct http_req *req, bool sent)
{
    (void)ctx, (void)req, (void)sent;
}

static const struct http_server_ops ops = {
    .version = HTTP_SERVER_OPS_VERSION, .on_request = on_request, .on_done = on_done};

static void on_tick(void *ctx)
{
    char buf[65536];
    (void)ctx;
    while (peer >= 0 && read(peer, buf, sizeof(buf)) > 0) {
    }
    if (http_server_conns(srv, HTTP_PROTO_H2C) == 0) {
        pl_loop_stop(loop);
        return;
    }
    /* A session waiting for more (flow control, a half-sent frame) has
     * had its EOF; after a while the client goes away entirely. */
    if (++ticks == 20 && peer >= 0) {
        close(peer);
        peer = -1;
    }
    pl_loop_timer_start(loop, &tick, 1, on_tick, NULL);
}

/* A loop runs once (pl_loop_stop() is final), so each input gets its own
 * loop and server. */
static void server_open(void)
{
    struct http_server_config cfg = {.bind = "127.0.0.1",
                                     .limits = {.max_body = 65536,
                                                .max_header_bytes = 16384,
                                                .max_headers = 64,
                                                .conn_rate = 1000,
                                                .conn_burst = 1000,
                                                .h2_max_streams = 100,
                                                .h2_max_resets = 100,
                                                .idle_timeout_s = 5,
                                                .max_conns = 100}};
    if (pl_loop_new(&loop) < 0 || http_server_new(loop, &cfg, &ops, NULL, &srv) < 0)
        abort();
}

static void server_close(void)
{
    pl_loop_timer_stop(loop, &tick);
    http_server_free(srv);
    pl_loop_drain(loop);
    pl_loop_free(loop);
    srv = NULL;
    loop = NULL;
}

static bool write_all(int fd, const void *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p = (const char *)p + w;
        n -= (size_t)w;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 60000) /* stays within the socket buffer: no writer thread */
        return 0;
    server_open();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        abort();
    int big = 1 << 20;
    (void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    (void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    if (!write_all(sv[1], preface, sizeof(preface) - 1) || !write_all(sv[1], data, size))
        abort();
    (void)shutdown(sv[1], SHUT_WR);
    /* Accepted sockets are non-blocking, and so is our reading end. */
    (void)fcntl(sv[0], F_SETFL, O_NONBLOCK);
    (void)fcntl(sv[1], F_SETFL, O_NONBLOCK);
    struct http__conn conn = {.srv = srv, .fd = sv[0]};
    snprintf(conn.peer, sizeof(conn.peer), "fuzz");
    peer = sv[1];
    ticks = 0;
    if (h2__session_start(&conn, HTTP_PROTO_H2C) == 0) {
        pl_loop_timer_start(loop, &tick, 1, on_tick, NULL);
        (void)pl_loop_run(loop);
    }
    if (peer >= 0)
        close(peer);
    peer = -1;
    server_close();
    return 0;
}
