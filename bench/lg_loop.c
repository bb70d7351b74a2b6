/* SPDX-License-Identifier: MIT */
/* Parley - load generator: the epoll loop, connections and connection pools. */
/* Copyright (c) 2026 Parley developers                                 */
#include "lg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct lg lg;

uint64_t lg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int lg_init(uint16_t port, unsigned n_src)
{
    memset(&lg, 0, sizeof(lg));
    lg.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (lg.epfd < 0)
        return -errno;
    lg.dst.sin_family = AF_INET;
    lg.dst.sin_port = htons(port);
    lg.dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    snprintf(lg.authority, sizeof(lg.authority), "127.0.0.1:%u", (unsigned)port);
    lg.n_src = n_src ? n_src : 1;
    return 0;
}

/* ---- connections ---------------------------------------------------- */

static void ready_add(struct lg_conn *cn)
{
    struct lg_client *c = cn->c;
    if (cn->in_ready || cn->closed || cn->closing || cn->active >= c->per_conn)
        return;
    cn->in_ready = true;
    cn->rprev = NULL;
    cn->rnext = c->ready;
    if (c->ready)
        c->ready->rprev = cn;
    c->ready = cn;
}

static void ready_remove(struct lg_conn *cn)
{
    if (!cn->in_ready)
        return;
    cn->in_ready = false;
    if (cn->rprev)
        cn->rprev->rnext = cn->rnext;
    else
        cn->c->ready = cn->rnext;
    if (cn->rnext)
        cn->rnext->rprev = cn->rprev;
}

static int watch(struct lg_conn *cn, uint32_t events)
{
    if (cn->events == events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = cn};
    if (epoll_ctl(lg.epfd, EPOLL_CTL_MOD, cn->fd, &ev) < 0)
        return -errno;
    cn->events = events;
    return 0;
}

void lg_conn_mark_dirty(struct lg_conn *cn)
{
    if (cn->dirty || cn->closed)
        return;
    cn->dirty = true;
    cn->dirty_next = lg.dirty;
    lg.dirty = cn;
}

static void pump(struct lg_client *c);

/* The connection is closed at once; it is freed at the end of the loop
 * iteration, because callers may be deep inside its callbacks. Requests on
 * it complete with err (their callbacks may submit elsewhere). */
void lg_conn_fail(struct lg_conn *cn, int err)
{
    if (cn->closed)
        return;
    struct lg_client *c = cn->c;
    ready_remove(cn);
    cn->closed = true;
    if (cn->connecting)
        lg.connecting--;
    epoll_ctl(lg.epfd, EPOLL_CTL_DEL, cn->fd, NULL);
    close(cn->fd);
    cn->fd = -1;
    if (cn->prev)
        cn->prev->next = cn->next;
    else
        c->all = cn->next;
    if (cn->next)
        cn->next->prev = cn->prev;
    c->n_conns--;
    if (err && err != -ECANCELED)
        c->conn_failed++;
    while (cn->reqs)
        lg_conn_req_done(cn, cn->reqs, err ? err : -ECONNRESET);
    cn->dead_next = lg.dead;
    lg.dead = cn;
    pump(c);
}

static struct lg_conn *conn_open(struct lg_client *c)
{
    struct lg_conn *cn = calloc(1, sizeof(*cn));
    if (!cn)
        return NULL;
    cn->c = c;
    pl_buf_init(&cn->out, 64u << 20);
    pl_buf_init(&cn->in, LG_RESP_MAX + 65536);
    cn->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (cn->fd < 0)
        goto fail;
    int one = 1;
    setsockopt(cn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (lg.n_src > 1) {
        /* Past ~28,000 connections one source address runs out of
         * ephemeral ports; the port is then chosen per 4-tuple at connect. */
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + lg.src_next++ % lg.n_src);
        setsockopt(cn->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(cn->fd, (struct sockaddr *)&src, sizeof(src)) < 0)
            goto fail_fd;
    }
    struct sockaddr_in dst = lg.dst;
    if (c->n_ports)
        dst.sin_port = htons(c->ports[c->conn_opened % c->n_ports]);
    if (connect(cn->fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS)
        goto fail_fd;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = cn};
    if (epoll_ctl(lg.epfd, EPOLL_CTL_ADD, cn->fd, &ev) < 0)
        goto fail_fd;
    cn->events = ev.events;
    cn->connecting = true;
    if (c->proto == LG_H2 && lg_h2_init(cn) < 0) {
        epoll_ctl(lg.epfd, EPOLL_CTL_DEL, cn->fd, NULL);
        goto fail_fd;
    }
    lg.connecting++;
    c->n_conns++;
    c->conn_opened++;
    cn->next = c->all;
    if (c->all)
        c->all->prev = cn;
    c->all = cn;
    ready_add(cn);
    return cn;
fail_fd:
    if (lg.verbose)
        fprintf(stderr, "loadgen: connect: %s\n", strerror(errno));
    close(cn->fd);
fail:
    pl_buf_deinit(&cn->out);
    pl_buf_deinit(&cn->in);
    free(cn);
    c->conn_failed++;
    return NULL;
}

static void conn_free(struct lg_conn *cn)
{
    if (cn->ng)
        lg_h2_deinit(cn);
    pl_buf_deinit(&cn->out);
    pl_buf_deinit(&cn->in);
    free(cn);
}

/* Writes what is pending; watches for writability only while some is left. */
static void conn_flush(struct lg_conn *cn)
{
    if (cn->closed || cn->connecting)
        return;
    for (int round = 0; round < 8; round++) {
        if (cn->ng && lg_h2_fill(cn) < 0) {
            lg_conn_fail(cn, -EPROTO);
            return;
        }
        if (!cn->out.len)
            break;
        ssize_t n = send(cn->fd, pl_buf_head(&cn->out), cn->out.len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n < 0) {
            lg_conn_fail(cn, -errno);
            return;
        }
        pl_buf_consume(&cn->out, (size_t)n);
        if (cn->out.len)
            break;
    }
    if (watch(cn, cn->out.len ? EPOLLIN | EPOLLOUT : EPOLLIN) < 0)
        lg_conn_fail(cn, -EIO);
}

static void on_connected(struct lg_conn *cn)
{
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(cn->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        if (lg.verbose)
            fprintf(stderr, "loadgen: connect: %s\n", strerror(err));
        lg_conn_fail(cn, -err);
        return;
    }
    cn->connecting = false;
    lg.connecting--;
    conn_flush(cn);
    for (unsigned i = 0; i < lg.n_clients; i++)
        pump(lg.clients[i]);
}

static void on_readable(struct lg_conn *cn)
{
    ssize_t n = recv(cn->fd, lg.rbuf, sizeof(lg.rbuf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        int rc = n == 0 && cn->c->proto == LG_H1 ? lg_h1_eof(cn) : 0;
        lg_conn_fail(cn, n < 0 ? -errno : rc);
        return;
    }
    int rc = cn->c->proto == LG_H1 ? lg_h1_recv(cn, lg.rbuf, (size_t)n)
                                   : lg_h2_recv(cn, lg.rbuf, (size_t)n);
    if (rc < 0)
        lg_conn_fail(cn, rc);
    else if (cn->closing && !cn->active)
        lg_conn_fail(cn, 0);
    else if (cn->ng)
        lg_conn_mark_dirty(cn);
}

static void on_io(struct lg_conn *cn, uint32_t ev)
{
    if (cn->closed)
        return;
    if (cn->connecting) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            on_connected(cn);
        return;
    }
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(cn);
    if (!cn->closed && (ev & EPOLLOUT))
        conn_flush(cn);
}

/* ---- requests and pools -------------------------------------------- */

struct lg_req *lg_req_new(const char *method, const char *path, const char *token, char *body,
                          size_t body_len, lg_done_cb *on_done, void *ctx)
{
    size_t plen = strlen(path) + 1;
    struct lg_req *r = calloc(1, sizeof(*r) + plen);
    if (!r) {
        free(body);
        return NULL;
    }
    memcpy(r->path, path, plen);
    r->method = method;
    r->token = token;
    r->body = body;
    r->body_len = body_len;
    r->on_done = on_done;
    r->ctx = ctx;
    pl_buf_init(&r->resp, LG_RESP_MAX);
    return r;
}

void lg_req_set_sse(struct lg_req *r, lg_event_cb *on_event)
{
    r->sse = true;
    r->on_event = on_event;
    lg_sse_init(&r->sse_p);
}

static void req_free(struct lg_req *r)
{
    if (r->sse)
        lg_sse_deinit(&r->sse_p);
    pl_buf_deinit(&r->resp);
    free(r->body);
    free(r);
}

int lg_req_body(struct lg_req *r, const char *p, size_t n)
{
    if (r->sse)
        return lg_sse_feed(r, p, n);
    return pl_buf_append(&r->resp, p, n);
}

void lg_conn_req_done(struct lg_conn *cn, struct lg_req *r, int status)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        cn->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    cn->active--;
    ready_add(cn);
    r->status = status;
    r->conn = NULL;
    if (r->on_done)
        r->on_done(r);
    req_free(r);
    pump(cn->c);
}

static int assign(struct lg_conn *cn, struct lg_req *r)
{
    r->conn = cn;
    r->prev = NULL;
    r->next = cn->reqs;
    if (cn->reqs)
        cn->reqs->prev = r;
    cn->reqs = r;
    if (++cn->active >= cn->c->per_conn)
        ready_remove(cn);
    int rc = cn->c->proto == LG_H1 ? lg_h1_submit(cn, r) : lg_h2_submit(cn, r);
    if (rc == 0)
        lg_conn_mark_dirty(cn);
    return rc;
}

/* Hands queued requests to connections with room, opening connections
 * (at most LG_MAX_CONNECTING at a time overall) while the pool may grow. */
static void pump(struct lg_client *c)
{
    while (c->qhead) {
        struct lg_conn *cn = c->ready;
        if (!cn) {
            if (c->n_conns >= c->max_conns || lg.connecting >= LG_MAX_CONNECTING)
                return;
            if (!(cn = conn_open(c)))
                return;
        }
        struct lg_req *r = c->qhead;
        c->qhead = r->next;
        if (!c->qhead)
            c->qtail = NULL;
        c->queued--;
        if (assign(cn, r) < 0)
            lg_conn_fail(cn, -EPROTO);
    }
}

void lg_client_submit(struct lg_client *c, struct lg_req *r)
{
    r->next = NULL;
    if (c->qtail)
        c->qtail->next = r;
    else
        c->qhead = r;
    c->qtail = r;
    c->queued++;
    pump(c);
}

struct lg_client *lg_client_new(enum lg_proto proto, unsigned max_conns, unsigned per_conn)
{
    if (lg.n_clients == PL_ARRAY_LEN(lg.clients))
        return NULL;
    struct lg_client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->proto = proto;
    c->max_conns = max_conns ? max_conns : 1;
    c->per_conn = proto == LG_H1 || !per_conn ? 1 : per_conn;
    lg.clients[lg.n_clients++] = c;
    return c;
}

void lg_client_add_port(struct lg_client *c, uint16_t port)
{
    if (c->n_ports < PL_ARRAY_LEN(c->ports))
        c->ports[c->n_ports++] = port;
}

static void free_dead(void)
{
    while (lg.dead) {
        struct lg_conn *cn = lg.dead;
        lg.dead = cn->dead_next;
        conn_free(cn);
    }
}

void lg_client_free(struct lg_client *c)
{
    if (!c)
        return;
    while (c->qhead) {
        struct lg_req *r = c->qhead;
        c->qhead = r->next;
        r->status = -ECANCELED;
        if (r->on_done)
            r->on_done(r);
        req_free(r);
    }
    c->qtail = NULL;
    c->max_conns = 0; /* callbacks may submit again; nothing reopens */
    while (c->all)
        lg_conn_fail(c->all, -ECANCELED);
    /* Dirty entries may point at the dead connections; drop them first. */
    struct lg_conn **pp = &lg.dirty;
    while (*pp) {
        if ((*pp)->closed)
            *pp = (*pp)->dirty_next;
        else
            pp = &(*pp)->dirty_next;
    }
    free_dead();
    for (unsigned i = 0; i < lg.n_clients; i++)
        if (lg.clients[i] == c) {
            lg.clients[i] = lg.clients[--lg.n_clients];
            break;
        }
    free(c);
}

void lg_deinit(void)
{
    while (lg.n_clients)
        lg_client_free(lg.clients[0]);
    if (lg.epfd >= 0)
        close(lg.epfd);
    lg.epfd = -1;
}

int lg_loop_run(lg_cond_cb *cond, lg_tick_cb *tick, void *ctx, unsigned tick_ms,
                uint64_t timeout_ms)
{
    struct epoll_event evs[512];
    uint64_t deadline = lg_now_ns() + timeout_ms * 1000000ull;
    for (;;) {
        if (cond && cond(ctx))
            return 0;
        uint64_t now = lg_now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        uint64_t left_ms = (deadline - now + 999999) / 1000000;
        int wait = (int)PL_MIN(left_ms, (uint64_t)(tick_ms ? tick_ms : 100));
        int n = epoll_wait(lg.epfd, evs, (int)PL_ARRAY_LEN(evs), wait);
        if (n < 0 && errno != EINTR)
            return -errno;
        for (int i = 0; i < n; i++)
            on_io(evs[i].data.ptr, evs[i].events);
        if (tick)
            tick(ctx);
        /* One write per dirty connection per pass batches everything the
         * callbacks of this pass queued (h2 frames, pooled requests). */
        while (lg.dirty) {
            struct lg_conn *cn = lg.dirty;
            lg.dirty = cn->dirty_next;
            cn->dirty = false;
            conn_flush(cn);
        }
        free_dead();
    }
}

void lg_req_cancel(struct lg_req *r)
{
    struct lg_conn *cn = r->conn;
    if (!cn || cn->closed)
        return;
    if (cn->c->proto == LG_H1)
        lg_conn_fail(cn, -ECANCELED);
    else
        lg_h2_cancel(cn, r);
}
