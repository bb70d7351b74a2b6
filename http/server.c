/* SPDX-License-Identifier: MIT */
/* Parley - listeners, accept, and the cleartext h1 / h2c sniffer.      */
/* Copyright (c) 2026 Parley developers                                 */

/*
 * The server owns two listening sockets. Cleartext connections are
 * classified by peeking at their first bytes: the HTTP/2 connection preface
 * means h2c with prior knowledge (our nghttp2 session), anything else is
 * HTTP/1.x and goes to libmicrohttpd. TLS connections go to tls.c, where
 * ALPN decides. Peeking (MSG_PEEK) leaves the bytes in the socket, so
 * whichever side takes the socket reads the request from its start.
 *
 * Connection objects we own (sniffers, TLS connections, h2 sessions) are
 * linked on the server so http_server_free() can close them all; those
 * handed to libmicrohttpd are closed by h1__free().
 */
#include "http_int.h"

#include "common/log.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

PL_LOG_TOPIC("http");

/* A reconnect storm (every stream of a node dropped at once) sends
 * thousands of SYNs together; a short queue drops them and each client
 * waits a full SYN retransmit (1 s, then 3 s). The kernel caps this at
 * net.core.somaxconn. */
#define LISTEN_BACKLOG 8192
/* A client that connects and says nothing holds a socket; ten seconds is
 * long enough for any real client's first packet. */
#define SNIFF_TIMEOUT_MS 10000
/* Pause accepting this long when the process is out of descriptors: the
 * listener stays readable, so retrying at once would spin. */
#define ACCEPT_PAUSE_MS 100

/* What http_server_new() allocates: the shared struct plus state only this
 * file needs. */
struct server {
    struct http_server pub;
    struct http__conn *live; /* head of the live connection list */
    struct pl_timer accept_timer;
    bool closing;
    /* http_server_h1_hold(): new HTTP/1.1 connections wait here, oldest
     * first, before libmicrohttpd reads them. */
    bool h1_hold;
    struct sniff *park_head, *park_tail;
    unsigned parked;
    char *bind, *tls_cert, *tls_key, *ip_exempt; /* copies of the config strings */
};

/* A cleartext socket waiting for enough bytes to pick a protocol. */
struct sniff {
    struct http__conn conn;
    struct pl_task free_task;
    bool parked;
    struct sniff *park_prev, *park_next;
};

static struct server *server_of(struct http_server *s)
{
    return PL_CONTAINER_OF(s, struct server, pub);
}

void http__conn_count(struct http_server *s, enum http_proto p, const char *peer, int delta)
{
    http__ip_count(s, peer, delta);
    if (p < HTTP_PROTO_N)
        s->conns[p] = (unsigned)((int)s->conns[p] + delta);
    s->total_conns = (unsigned)((int)s->total_conns + delta);
}

void http__conn_link(struct http__conn *c, void (*on_shutdown)(struct http__conn *c))
{
    struct server *sv = server_of(c->srv);
    c->on_shutdown = on_shutdown;
    c->live_prev = NULL;
    c->live_next = sv->live;
    if (sv->live)
        sv->live->live_prev = c;
    sv->live = c;
}

void http__conn_unlink(struct http__conn *c)
{
    struct server *sv = server_of(c->srv);
    if (!c->on_shutdown)
        return; /* not linked */
    if (c->live_prev)
        c->live_prev->live_next = c->live_next;
    else
        sv->live = c->live_next;
    if (c->live_next)
        c->live_next->live_prev = c->live_prev;
    c->live_prev = c->live_next = NULL;
    c->on_shutdown = NULL;
}

/* ---- sniffing cleartext connections ---- */

static void on_sniff_free(struct pl_task *t)
{
    free(PL_CONTAINER_OF(t, struct sniff, free_task));
}

static void park(struct sniff *sn)
{
    struct server *sv = server_of(sn->conn.srv);
    pl_loop_timer_stop(sn->conn.srv->loop, &sn->conn.timer); /* it waits for us, not the client */
    sn->parked = true;
    sn->park_next = NULL;
    sn->park_prev = sv->park_tail;
    if (sv->park_tail)
        sv->park_tail->park_next = sn;
    else
        sv->park_head = sn;
    sv->park_tail = sn;
    sv->parked++;
}

static void unpark(struct sniff *sn)
{
    struct server *sv = server_of(sn->conn.srv);
    if (!sn->parked)
        return;
    if (sn->park_prev)
        sn->park_prev->park_next = sn->park_next;
    else
        sv->park_head = sn->park_next;
    if (sn->park_next)
        sn->park_next->park_prev = sn->park_prev;
    else
        sv->park_tail = sn->park_prev;
    sn->parked = false;
    sv->parked--;
}

/* Unhooks the sniffer from the loop and the server. The socket is left to
 * the caller: closed, or handed to h1 / h2. */
static void sniff_detach(struct sniff *sn)
{
    struct http_server *s = sn->conn.srv;
    unpark(sn);
    pl_loop_io_del(s->loop, &sn->conn.io);
    pl_loop_timer_stop(s->loop, &sn->conn.timer);
    http__conn_unlink(&sn->conn);
    http__conn_count(s, HTTP_PROTO_N, sn->conn.peer, -1);
}

static void sniff_close(struct sniff *sn)
{
    sniff_detach(sn);
    http__conn_deinit(&sn->conn);
    pl_loop_defer(sn->conn.srv->loop, &sn->free_task);
}

static void on_sniff_shutdown(struct http__conn *c)
{
    struct sniff *sn = PL_CONTAINER_OF(c, struct sniff, conn);
    sniff_detach(sn);
    http__conn_deinit(&sn->conn);
    free(sn);
}

static void on_sniff_timeout(void *ctx)
{
    struct sniff *sn = ctx;
    pl_log_debug("%s: no request line within %d ms", sn->conn.peer, SNIFF_TIMEOUT_MS);
    sniff_close(sn);
}

static void sniff_hand_over(struct sniff *sn, enum http_sniff kind)
{
    struct http_server *s = sn->conn.srv;
    if (kind == HTTP_SNIFF_H1 && server_of(s)->h1_hold && !sn->parked) {
        park(sn);
        return;
    }
    sniff_detach(sn);
    if (kind == HTTP_SNIFF_H2) {
        /* The session copies the connection and owns the socket even when
         * it fails to start, so there is nothing to undo here. */
        if (h2__session_start(&sn->conn, HTTP_PROTO_H2C) < 0)
            pl_log_warn("%s: cannot start h2c session", sn->conn.peer);
    } else {
        /* libmicrohttpd owns the socket from here on, and closes it itself
         * when it refuses the connection. */
        if (h1__conn_add(s->h1, sn->conn.fd, (struct sockaddr *)&sn->conn.addr, sn->conn.addrlen,
                         false) < 0)
            pl_log_debug("%s: HTTP/1.1 connection refused", sn->conn.peer);
    }
    sn->conn.fd = -1;
    pl_loop_defer(s->loop, &sn->free_task);
}

/* The socket is registered edge-triggered: peeking leaves the bytes
 * unread, so a level-triggered registration would report the same partial
 * preface again and again until the rest arrived. */
static void on_sniff_readable(void *ctx, uint32_t events)
{
    struct sniff *sn = ctx;
    char buf[24]; /* the length of the HTTP/2 connection preface */
    ssize_t n;
    if (sn->parked) {
        /* More bytes or a half-close wait for libmicrohttpd; a reset ends it. */
        if (events & (EPOLLHUP | EPOLLERR))
            sniff_close(sn);
        return;
    }
    do
        n = recv(sn->conn.fd, buf, sizeof(buf), MSG_PEEK);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) {
        sniff_close(sn);
        return;
    }
    enum http_sniff kind = http_sniff_preface(buf, (size_t)n);
    if (kind != HTTP_SNIFF_NEED_MORE) {
        sniff_hand_over(sn, kind);
        return;
    }
    /* A partial preface followed by FIN can never become a request; the
     * peeked bytes would hide the EOF from recv(). */
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        sniff_close(sn);
}

static int sniff_start(struct http_server *s, int fd, const struct sockaddr_storage *addr,
                       socklen_t len)
{
    struct sniff *sn = calloc(1, sizeof(*sn));
    if (!sn) {
        close(fd);
        return PL_ENOMEM;
    }
    sn->conn.srv = s;
    sn->conn.fd = fd;
    memcpy(&sn->conn.addr, addr, len);
    sn->conn.addrlen = len;
    http__format_peer((const struct sockaddr *)addr, sn->conn.peer, sizeof(sn->conn.peer));
    sn->free_task.run = on_sniff_free;
    int rc = pl_loop_io_add(s->loop, &sn->conn.io, fd, EPOLLIN | EPOLLRDHUP | EPOLLET,
                            on_sniff_readable, sn);
    if (rc < 0) {
        close(fd);
        free(sn);
        return rc;
    }
    http__conn_count(s, HTTP_PROTO_N, sn->conn.peer, 1);
    http__conn_link(&sn->conn, on_sniff_shutdown);
    pl_loop_timer_start(s->loop, &sn->conn.timer, SNIFF_TIMEOUT_MS, on_sniff_timeout, sn);
    return 0;
}

void http_server_h1_hold(struct http_server *s)
{
    server_of(s)->h1_hold = true;
}

unsigned http_server_h1_admit(struct http_server *s, unsigned n)
{
    struct server *sv = server_of(s);
    bool asked = n > 0;
    for (; n && sv->park_head; n--)
        sniff_hand_over(sv->park_head, HTTP_SNIFF_H1);
    if (asked && !sv->park_head)
        sv->h1_hold = false;
    return sv->parked;
}

/* ---- accepting ---- */

static void on_accept_resume(void *ctx)
{
    struct http_server *s = ctx;
    if (s->fd_plain >= 0 && pl_loop_io_mod(s->loop, &s->lsn_plain, EPOLLIN) < 0)
        pl_log_error("cannot resume accepting on port %u", s->port);
    if (s->fd_tls >= 0 && pl_loop_io_mod(s->loop, &s->lsn_tls, EPOLLIN) < 0)
        pl_log_error("cannot resume accepting on port %u", s->tls_port);
}

/* Out of descriptors or memory: stop polling both listeners for a moment
 * instead of spinning on a listener that stays readable. */
static void accept_pause(struct http_server *s, int err)
{
    pl_log_warn("accept: %s; pausing for %d ms", strerror(err), ACCEPT_PAUSE_MS);
    if (s->fd_plain >= 0)
        (void)!pl_loop_io_mod(s->loop, &s->lsn_plain, 0);
    if (s->fd_tls >= 0)
        (void)!pl_loop_io_mod(s->loop, &s->lsn_tls, 0);
    pl_loop_timer_start(s->loop, &server_of(s)->accept_timer, ACCEPT_PAUSE_MS, on_accept_resume, s);
}

static void accept_one(struct http_server *s, int fd, bool tls, struct sockaddr_storage *addr,
                       socklen_t len)
{
    if (s->cfg.limits.max_conns && s->total_conns >= s->cfg.limits.max_conns) {
        /* Closing at once (rather than leaving it in the backlog) tells the
         * client to go elsewhere instead of letting it time out. */
        pl_log_debug("connection limit %u reached; closing new socket", s->cfg.limits.max_conns);
        close(fd);
        return;
    }
    /* One address may not hold every descriptor: past max_conns_per_ip its
     * new connections are closed at once (a reverse proxy's address goes
     * in conn_ip_exempt). */
    unsigned per_ip = s->cfg.limits.max_conns_per_ip;
    if (per_ip) {
        char peer[64];
        http__format_peer((struct sockaddr *)addr, peer, sizeof(peer));
        if (http__ip_conns(s, peer) >= per_ip && !http__ip_exempt(s, peer)) {
            pl_log_debug("%s: %u connections from this address; closing new socket", peer, per_ip);
            close(fd);
            return;
        }
    }
    int one = 1;
    if (addr->ss_family != AF_UNIX)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = tls ? tls__accept(s, fd, (struct sockaddr *)addr, len) : sniff_start(s, fd, addr, len);
    if (rc < 0)
        pl_log_warn("cannot set up connection: %s", pl_strerror(rc));
}

static void accept_all(struct http_server *s, int lfd, bool tls)
{
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof(addr);
        int fd = accept4(lfd, (struct sockaddr *)&addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_one(s, fd, tls, &addr, len);
            continue;
        }
        switch (errno) {
        case EINTR:
        case ECONNABORTED: /* the client gave up while queued */
        case EPROTO: continue;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM: accept_pause(s, errno); return;
        default: /* EAGAIN: drained */ return;
        }
    }
}

static void on_accept_plain(void *ctx, uint32_t events)
{
    struct http_server *s = ctx;
    (void)events;
    accept_all(s, s->fd_plain, false);
}

static void on_accept_tls(void *ctx, uint32_t events)
{
    struct http_server *s = ctx;
    (void)events;
    accept_all(s, s->fd_tls, true);
}

/* ---- listening ---- */

static int listen_on(const char *host, unsigned port, int *fd_out, unsigned *port_out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    char serv[16];
    snprintf(serv, sizeof(serv), "%u", port);
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host && *host ? host : NULL, serv, &hints, &res);
    if (gai != 0) {
        pl_log_error("cannot resolve bind address %s: %s", host ? host : "*", gai_strerror(gai));
        return PL_EINVAL;
    }
    int rc = -EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_storage sa;
        socklen_t salen = sizeof(sa);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &salen) < 0) {
            rc = -errno;
            close(fd);
            continue;
        }
        *port_out = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                                   : ((struct sockaddr_in *)&sa)->sin_port);
        *fd_out = fd;
        rc = 0;
        break;
    }
    freeaddrinfo(res);
    if (rc < 0)
        pl_log_error("cannot listen on %s:%u: %s", host ? host : "*", port, pl_strerror(rc));
    return rc;
}

static int open_listeners(struct http_server *s)
{
    int rc = listen_on(s->cfg.bind, s->cfg.port, &s->fd_plain, &s->port);
    if (rc < 0)
        return rc;
    rc = pl_loop_io_add(s->loop, &s->lsn_plain, s->fd_plain, EPOLLIN, on_accept_plain, s);
    if (rc < 0)
        return rc;
    if (!s->cfg.tls)
        return 0;
    rc = listen_on(s->cfg.bind, s->cfg.tls_port, &s->fd_tls, &s->tls_port);
    if (rc < 0)
        return rc;
    return pl_loop_io_add(s->loop, &s->lsn_tls, s->fd_tls, EPOLLIN, on_accept_tls, s);
}

static void close_listener(struct http_server *s, struct pl_io *io, int *fd)
{
    if (*fd < 0)
        return;
    if (io->cb)
        pl_loop_io_del(s->loop, io);
    close(*fd);
    *fd = -1;
}

static char *dup_opt(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

int http_server_new(struct pl_loop *loop, const struct http_server_config *cfg,
                    const struct http_server_ops *ops, void *ctx, struct http_server **out)
{
    if (!loop || !cfg || !ops || !out || ops->version != HTTP_SERVER_OPS_VERSION ||
        !ops->on_request || !ops->on_done)
        return PL_EINVAL;
    struct server *sv = calloc(1, sizeof(*sv));
    if (!sv)
        return PL_ENOMEM;
    struct http_server *s = &sv->pub;
    bool oom = false;
    s->loop = loop;
    s->cfg = *cfg;
    s->cfg.bind = sv->bind = dup_opt(cfg->bind, &oom);
    s->cfg.tls_cert = sv->tls_cert = dup_opt(cfg->tls_cert, &oom);
    s->cfg.tls_key = sv->tls_key = dup_opt(cfg->tls_key, &oom);
    s->cfg.limits.conn_ip_exempt = sv->ip_exempt = dup_opt(cfg->limits.conn_ip_exempt, &oom);
    s->ops = ops;
    s->ctx = ctx;
    s->fd_plain = s->fd_tls = -1;
    int rc = PL_ENOMEM;
    if (oom)
        goto fail;
    if ((rc = h1__new(s, &s->h1)) < 0)
        goto fail;
    if (cfg->tls && (rc = tls__ctx_new(s)) < 0)
        goto fail;
    if ((rc = open_listeners(s)) < 0)
        goto fail;
    if (s->cfg.tls)
        pl_log_debug("listening on %s port %u (h1, h2c) and %u (TLS: h2, h1)",
                     s->cfg.bind ? s->cfg.bind : "*", s->port, s->tls_port);
    else
        pl_log_debug("listening on %s port %u (h1, h2c)", s->cfg.bind ? s->cfg.bind : "*", s->port);
    *out = s;
    return 0;
fail:
    http_server_free(s);
    return rc;
}

void http_server_free(struct http_server *s)
{
    if (!s)
        return;
    struct server *sv = server_of(s);
    sv->closing = true;
    pl_loop_timer_stop(s->loop, &sv->accept_timer);
    close_listener(s, &s->lsn_plain, &s->fd_plain);
    close_listener(s, &s->lsn_tls, &s->fd_tls);
    /* Each on_shutdown unlinks and frees its connection, so the head moves
     * on every round. h2 sessions send GOAWAY first. */
    while (sv->live) {
        struct http__conn *c = sv->live;
        c->on_shutdown(c);
        if (sv->live == c) /* a buggy on_shutdown would loop forever */
            http__conn_unlink(c);
    }
    h1__free(s->h1);
    tls__ctx_free(s);
    http__ip_free(s);
    free(sv->ip_exempt);
    free(sv->bind);
    free(sv->tls_cert);
    free(sv->tls_key);
    free(sv);
}

unsigned http_server_port(const struct http_server *s)
{
    return s->port;
}

unsigned http_server_tls_port(const struct http_server *s)
{
    return s->tls_port;
}

unsigned http_server_conns(const struct http_server *s, enum http_proto p)
{
    return p < HTTP_PROTO_N ? s->conns[p] : 0;
}
