/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for http_server_h1_hold() / http_server_h1_admit(). */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "http/http.h"

#include "common/loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * The real http/ server on its own loop thread answers every request 200
 * with the request's path as the body. The test holds HTTP/1.1 connections
 * back (as server/waitq.c does in a burst of stream opens), checks that
 * held connections reach no handler, then lets them in a few at a time,
 * oldest first. Calls into the server run on its loop thread (a posted
 * task) and the test waits for them.
 */

#define DEADLINE_MS 10000

static atomic_uint requests;

static void on_request(void *ctx, struct http_req *req)
{
    (void)ctx;
    atomic_fetch_add(&requests, 1);
    const char *path = http_req_path(req);
    http_resp_set(req, 200, "text/plain", path, strlen(path));
    http_req_complete(req);
}

static void on_done(void *ctx, struct http_req *req, bool sent)
{
    (void)ctx, (void)req, (void)sent;
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
    PL_ASSERT_INT_EQ(pl_loop_new(&s->loop), 0);
    struct http_server_config cfg = {.bind = "127.0.0.1"};
    struct http_limits *lim = &cfg.limits;
    lim->max_body = lim->max_conns = 1 << 20;
    lim->max_header_bytes = 16384;
    lim->max_headers = lim->h2_max_streams = lim->h2_max_resets = 100;
    lim->conn_rate = lim->conn_burst = 1000;
    lim->idle_timeout_s = 30;
    PL_ASSERT_INT_EQ(http_server_new(s->loop, &cfg, &server_ops, NULL, &s->http), 0);
    PL_ASSERT_INT_EQ(pthread_create(&s->thread, NULL, run_loop, s), 0);
}

static void server_stop(struct server *s)
{
    pl_loop_stop(s->loop);
    PL_ASSERT_INT_EQ(pthread_join(s->thread, NULL), 0);
    pl_loop_drain(s->loop);
    http_server_free(s->http);
    pl_loop_drain(s->loop);
    pl_loop_free(s->loop);
}

/* ---- calls on the loop thread ---- */

struct call {
    struct pl_task task;
    struct server *s;
    bool hold;
    unsigned admit;
    atomic_int done;
    unsigned parked; /* what admit returned */
};

static void on_call(struct pl_task *t)
{
    struct call *c = PL_CONTAINER_OF(t, struct call, task);
    if (c->hold)
        http_server_h1_hold(c->s->http);
    c->parked = http_server_h1_admit(c->s->http, c->admit);
    atomic_store(&c->done, 1);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void pause_ms(unsigned ms)
{
    nanosleep(&(struct timespec){0, (long)ms * 1000000}, NULL);
}

/* Runs hold (when asked) then admit(n) on the loop; returns how many wait. */
static unsigned loop_call(struct server *s, bool hold, unsigned n)
{
    struct call c = {.task.run = on_call, .s = s, .hold = hold, .admit = n};
    pl_loop_post(s->loop, &c.task);
    for (uint64_t end = now_ms() + DEADLINE_MS; !atomic_load(&c.done) && now_ms() < end;)
        pause_ms(1);
    PL_ASSERT(atomic_load(&c.done));
    return c.parked;
}

/* Waits until admit(0) reports n connections waiting. */
static void wait_parked(struct server *s, unsigned n)
{
    uint64_t end = now_ms() + DEADLINE_MS;
    unsigned got;
    while ((got = loop_call(s, false, 0)) != n && now_ms() < end)
        pause_ms(2);
    PL_ASSERT_INT_EQ(got, n);
}

static void wait_requests(unsigned n)
{
    for (uint64_t end = now_ms() + DEADLINE_MS; atomic_load(&requests) < n && now_ms() < end;)
        pause_ms(2);
    PL_ASSERT_INT_EQ(atomic_load(&requests), n);
}

/* ---- the client ---- */

static int client_send(const struct server *s, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    PL_ASSERT(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(http_server_port(s->http))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    PL_ASSERT_INT_EQ(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    char req[128];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    PL_ASSERT_INT_EQ(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    return fd;
}

/* Reads the whole answer (Content-Length framed) and checks its body. */
static void client_expect(int fd, const char *path)
{
    char buf[1024];
    size_t len = 0;
    uint64_t end = now_ms() + DEADLINE_MS;
    char *body = NULL;
    while (now_ms() < end && len < sizeof(buf) - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        PL_ASSERT(n > 0);
        len += (size_t)n;
        buf[len] = '\0';
        if ((body = strstr(buf, "\r\n\r\n")) && strlen(body + 4) >= strlen(path))
            break;
    }
    PL_ASSERT(strncmp(buf, "HTTP/1.1 200", 12) == 0);
    PL_ASSERT(body != NULL);
    PL_ASSERT_STR_EQ(body + 4, path);
}

/* Nothing can arrive on fd while its connection waits. */
static void client_expect_nothing(int fd)
{
    char c;
    PL_ASSERT_INT_EQ(recv(fd, &c, 1, MSG_DONTWAIT), -1);
}

PLTEST(h1_hold_parks_connections_and_admits_oldest_first)
{
    struct server s;
    server_start(&s);
    PL_ASSERT_INT_EQ(loop_call(&s, true, 0), 0);
    int fd[3];
    char path[3][8];
    for (int i = 0; i < 3; i++) {
        snprintf(path[i], sizeof(path[i]), "/c%d", i);
        fd[i] = client_send(&s, path[i]);
        wait_parked(&s, (unsigned)i + 1); /* in this order */
    }
    /* Parked: sniffed as HTTP/1.1, never given to libmicrohttpd. */
    PL_ASSERT_INT_EQ(atomic_load(&requests), 0);
    for (int i = 0; i < 3; i++)
        client_expect_nothing(fd[i]);
    PL_ASSERT_INT_EQ(loop_call(&s, false, 1), 2);
    wait_requests(1);
    client_expect(fd[0], path[0]);
    client_expect_nothing(fd[1]);
    client_expect_nothing(fd[2]);
    /* Admitting more than wait lets every one in and ends the hold. */
    PL_ASSERT_INT_EQ(loop_call(&s, false, 5), 0);
    wait_requests(3);
    client_expect(fd[1], path[1]);
    client_expect(fd[2], path[2]);
    int late = client_send(&s, "/late");
    wait_requests(4);
    client_expect(late, "/late");
    for (int i = 0; i < 3; i++)
        close(fd[i]);
    close(late);
    server_stop(&s);
}

PLTEST(h1_hold_closes_parked_connections_at_shutdown)
{
    struct server s;
    server_start(&s);
    PL_ASSERT_INT_EQ(loop_call(&s, true, 0), 0);
    int fd = client_send(&s, "/never");
    wait_parked(&s, 1);
    server_stop(&s); /* ASan: the parked connection is freed with the server */
    char c;
    struct pollfd p = {fd, POLLIN, 0};
    PL_ASSERT_INT_EQ(poll(&p, 1, DEADLINE_MS), 1);
    PL_ASSERT(recv(fd, &c, 1, 0) <= 0);
    PL_ASSERT_INT_EQ(atomic_load(&requests), 0);
    close(fd);
}
