/* SPDX-License-Identifier: MIT */
/* Parley - HTTP/1.1 transport on libmicrohttpd.                        */
/* Copyright (c) 2026 Parley developers                                 */

/*
 * libmicrohttpd runs in "external epoll" mode inside our loop: its epoll fd
 * is one fd of ours, and we call MHD_run() when it is readable or when its
 * timeout is due. It owns no listening socket; server.c accepts, sniffs the
 * HTTP/2 preface and hands HTTP/1.x sockets (and the plaintext end of the
 * TLS relay) to MHD_add_connection().
 *
 * A request is dispatched once its body is complete, and the connection is
 * suspended until the worker's response comes back; MHD then calls the
 * access handler again and we queue the response. Streams use a content
 * reader that suspends the connection when it has nothing to send
 * (libmicrohttpd allows suspending from the reader), so an idle SSE stream
 * costs no polling.
 */
#include "http_int.h"

#include "common/log.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

PL_LOG_TOPIC("h1");

struct h1 {
    struct http_server *srv;
    struct MHD_Daemon *d;
    struct pl_io io;
    struct pl_timer timer;
    struct pl_task kick;
    bool kick_pending;
    /* MHD refuses to stop while connections are suspended, so we keep
     * them listed and resume them all at shutdown. */
    struct h1_req *suspended;
    bool adding_tls; /* set around MHD_add_connection for the TLS relay */
    bool stopping;
};

/* Per-connection state, hung on MHD's socket context. */
struct h1_conn {
    struct http__bucket bucket;
    bool tls;
    char peer[64];
    struct h1 *h;
    struct MHD_Connection *conn;
    struct http__rx rx;    /* deadlines for what the client sends (deadline.c) */
    struct h1_req *cur;    /* the request being received, or NULL */
    struct pl_timer timer; /* the next deadline check */
};

/* Per-request transport state. */
struct h1_req {
    struct h1 *h;
    struct http_req *req;
    struct MHD_Connection *conn;
    bool suspended;
    bool ending;        /* shutdown: the stream ends at the next read */
    bool peer_gone;     /* the client closed while the stream was parked */
    struct pl_io watch; /* the socket, watched for hang-up while parked */
    bool watching;
    int detached_fd;            /* >= 0: an event stream that h1_stream.c will serve */
    bool queued;                /* the response went to MHD_queue_response() */
    bool body_paused;           /* suspended because the body pipe is full */
    struct h1_req *prev, *next; /* on h->suspended while suspended */
};

static void run_mhd(struct h1 *h);

static void suspend(struct h1_req *hr)
{
    MHD_suspend_connection(hr->conn);
    hr->suspended = true;
    hr->prev = NULL;
    hr->next = hr->h->suspended;
    if (hr->next)
        hr->next->prev = hr;
    hr->h->suspended = hr;
}

static void on_peer_hup(void *ctx, uint32_t events);

/* libmicrohttpd does not watch a suspended connection's socket, so an idle
 * event stream would only notice its client left at the next keep-alive
 * (and the user would look online until then). While a stream is parked we
 * watch the socket for hang-up ourselves, edge-triggered so pipelined
 * bytes cannot make it fire again and again. */
static void watch(struct h1_req *hr)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(hr->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci || hr->watching)
        return;
    if (pl_loop_io_add(hr->h->srv->loop, &hr->watch, ci->connect_fd, EPOLLRDHUP | EPOLLET,
                       on_peer_hup, hr) == 0)
        hr->watching = true;
}

static void unwatch(struct h1_req *hr)
{
    if (hr->watching)
        pl_loop_io_del(hr->h->srv->loop, &hr->watch);
    hr->watching = false;
}

static void unlist(struct h1_req *hr)
{
    unwatch(hr);
    if (hr->prev)
        hr->prev->next = hr->next;
    else
        hr->h->suspended = hr->next;
    if (hr->next)
        hr->next->prev = hr->prev;
    hr->prev = hr->next = NULL;
}

static void on_kick(struct pl_task *t)
{
    struct h1 *h = PL_CONTAINER_OF(t, struct h1, kick);
    h->kick_pending = false;
    run_mhd(h);
}

/* Runs MHD at the end of this loop iteration. Resuming a connection or
 * adding one changes MHD's state without necessarily making its epoll fd
 * readable, so we do not rely on the fd alone. */
static void kick(struct h1 *h)
{
    if (h->kick_pending)
        return;
    h->kick_pending = true;
    h->kick.run = on_kick;
    pl_loop_defer(h->srv->loop, &h->kick);
}

static void on_timer(void *ctx)
{
    run_mhd(ctx);
}

static void run_mhd(struct h1 *h)
{
    MHD_run(h->d);
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(h->d, &ms) == MHD_YES)
        pl_loop_timer_start(h->srv->loop, &h->timer, ms, on_timer, h);
    else
        pl_loop_timer_stop(h->srv->loop, &h->timer);
}

static void on_readable(void *ctx, uint32_t events)
{
    (void)events;
    run_mhd(ctx);
}

/* ---- deadlines for what the client sends (deadline.c) ---- */

static struct h1_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Ends a connection whose client missed a deadline. MHD has no call for
 * that, so the socket is shut down under it: its next read sees the end,
 * and it closes the connection (and fails a request still in progress, so
 * a handler reading a streamed body gets PL_ECANCELED). */
static void cut(struct h1_conn *hc)
{
    static const char *const what[] = {"request line", "headers", "body", ""};
    pl_log_debug("%s: %s too slow; closing the connection", hc->peer, what[hc->rx.phase]);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(hc->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci)
        (void)shutdown(ci->connect_fd, SHUT_RDWR);
    http__rx_set(&hc->rx, HTTP_RX_DONE, 0);
    kick(hc->h);
}

static void on_rx_timer(void *ctx);

/* Checks the connection's deadline now and arms the timer for the next. */
static void rx_arm(struct h1_conn *hc)
{
    struct pl_loop *loop = hc->h->srv->loop;
    const struct http_req *req = hc->cur ? hc->cur->req : NULL;
    bool held = req && (hc->cur->body_paused || http__body_held(req));
    uint64_t next = 0;
    if (http__rx_check(&hc->rx, &hc->h->srv->cfg.limits, pl_loop_now(loop), held, &next) < 0) {
        pl_loop_timer_stop(loop, &hc->timer);
        cut(hc);
    } else if (next) {
        pl_loop_timer_start(loop, &hc->timer, next, on_rx_timer, hc);
    } else {
        pl_loop_timer_stop(loop, &hc->timer);
    }
}

static void on_rx_timer(void *ctx)
{
    rx_arm(ctx);
}

static void rx_enter(struct h1_conn *hc, enum http__rx_phase phase)
{
    if (!hc)
        return;
    http__rx_set(&hc->rx, phase, pl_loop_now(hc->h->srv->loop));
    rx_arm(hc);
}

/* ---- sending ---- */

static void add_headers(struct MHD_Response *r, const struct http_req *req)
{
    if (req->resp_ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, req->resp_ctype);
    for (unsigned i = 0; i < req->n_resp_headers; i++)
        MHD_add_response_header(r, req->resp_headers[i].name, req->resp_headers[i].value);
}

static ssize_t on_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct http_req *req = cls;
    struct h1_req *hr = req->tctx;
    (void)pos;
    if (hr->ending)
        return MHD_CONTENT_READER_END_OF_STREAM;
    ssize_t n = req->stream_ops->read(req->stream_ctx, buf, max);
    if (n > 0) {
        req->bytes_sent += (size_t)n;
        return n;
    }
    if (n < 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (hr->peer_gone)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    /* Nothing to send: park the connection until http_stream_wake(). */
    suspend(hr);
    watch(hr);
    return 0;
}

static enum MHD_Result queue_response(struct http_req *req)
{
    struct h1_req *hr = req->tctx;
    struct MHD_Response *r;
    if (req->stream_ops && req->stream_len_set) /* a download: larger reads */
        r = MHD_create_response_from_callback(req->stream_len, 64 * 1024, on_stream_read, req,
                                              NULL);
    else if (req->stream_ops)
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, on_stream_read, req,
                                              NULL);
    else
        r = MHD_create_response_from_buffer(req->resp_len, (void *)req->resp_body,
                                            MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    add_headers(r, req);
    hr->queued = true;
    enum MHD_Result ok = MHD_queue_response(hr->conn, (unsigned)req->status, r);
    MHD_destroy_response(r);
    if (!req->stream_ops)
        req->bytes_sent = req->resp_len;
    return ok;
}

/*
 * Takes an event stream out of libmicrohttpd (see h1_stream.c for why).
 * MHD has no API to give up a connection other than the 101 upgrade, so,
 * while the connection is suspended (MHD has removed its socket from its
 * epoll set), we keep a duplicate of the socket and put a fresh unconnected
 * socket under MHD's descriptor number. MHD is then told to drop the
 * connection: its shutdown() and close() hit the stand-in, and once
 * on_completed() confirms MHD let go, h1_stream.c serves the real socket.
 * Any failure leaves the stream to MHD, as before.
 */
static bool detach(struct h1_req *hr)
{
    const struct http_req *req = hr->req;
    if (!req->resp_ctype || strncmp(req->resp_ctype, "text/event-stream", 17) != 0)
        return false;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(hr->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return false;
    int fd = ci->connect_fd, domain = AF_INET;
    socklen_t dl = sizeof(domain);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) < 0)
        return false;
    int mine = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (mine < 0)
        return false;
    int standin = socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (standin < 0 || dup3(standin, fd, O_CLOEXEC) < 0) {
        if (standin >= 0)
            close(standin);
        close(mine);
        return false;
    }
    close(standin);
    hr->detached_fd = mine;
    return true;
}

static void resume(struct http_req *req)
{
    struct h1_req *hr = req->tctx;
    if (!hr->suspended)
        return;
    if (req->state == HTTP_REQ_STREAMING && hr->detached_fd < 0 && !hr->queued && !hr->h->stopping)
        (void)detach(hr);
    hr->suspended = false;
    unlist(hr);
    MHD_resume_connection(hr->conn);
    kick(hr->h);
}

/* The handler read some of a streamed body: take more from the client. */
static void on_body_resume(struct http_req *req, size_t n)
{
    struct h1_req *hr = req->tctx;
    (void)n;
    if (hr->body_paused) {
        hr->body_paused = false;
        resume(req);
    }
}

static const struct http__req_ops h1_req_ops = {
    .send = resume, .wake = resume, .body_resume = on_body_resume};

static void on_peer_hup(void *ctx, uint32_t events)
{
    struct h1_req *hr = ctx;
    (void)events;
    hr->peer_gone = true;
    resume(hr->req);
}

/* ---- receiving ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct h1 *h = cls;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct h1_conn *hc = ci ? ci->socket_context : NULL;
    char peer[64] = "";
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr)
        http__format_peer(ci->client_addr, peer, sizeof(peer));
    enum http_proto proto = hc && hc->tls ? HTTP_PROTO_H1_TLS : HTTP_PROTO_H1;
    struct h1_req *hr = NULL;
    struct http_req *req = http__req_new(h->srv, proto, peer, &h1_req_ops, NULL);
    if (req)
        hr = pl_arena_zalloc(req->arena, sizeof(*hr));
    if (!hr) {
        http__req_free(req);
        return NULL; /* the access handler answers 503 without a request */
    }
    hr->h = h;
    hr->req = req;
    hr->conn = conn;
    hr->detached_fd = -1;
    req->tctx = hr;
    /* Keep the raw target; the method arrives with the access handler. */
    req->target = pl_arena_strdup(req->arena, uri);
    rx_enter(hc, HTTP_RX_HEADERS);
    return req;
}

static enum MHD_Result on_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    struct http_req *req = cls;
    (void)kind;
    /* Too many or too large headers are already recorded in req->error
     * (431). Out of memory is recorded too, so the request is answered 503
     * rather than run without a header. */
    int rc =
        http__req_add_header(req, key, strlen(key), value ? value : "", value ? strlen(value) : 0);
    if (rc == PL_ENOMEM && !req->error)
        req->error = PL_ENOMEM;
    return req->error == PL_EHDRTOOBIG || req->error == PL_ENOMEM ? MHD_NO : MHD_YES;
}

/* First call for a request: method, headers, limits known before the body. */
static void begin_request(struct h1 *h, struct http_req *req, struct MHD_Connection *conn,
                          const char *method)
{
    const char *target = req->target ? req->target : "/";
    /* A malformed target is recorded in req->error by http__req_set_line;
     * out of memory is recorded here, and both are answered at dispatch. */
    if (http__req_set_line(req, method, strlen(method), target, strlen(target)) == PL_ENOMEM &&
        !req->error)
        req->error = PL_ENOMEM;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, on_header, req);
    struct h1_conn *hc = conn_of(conn);
    if (hc && !http__bucket_take(&hc->bucket, &h->srv->cfg.limits, pl_loop_now(h->srv->loop)))
        req->error = PL_ERATE;
    if (hc) {
        hc->cur = req->tctx;
        rx_enter(hc, HTTP_RX_BODY);
    }
    if (http__body_want_stream(req))
        return; /* the handler judges the size of a streamed body */
    const char *cl = http_req_header(req, "content-length");
    if (cl && strtoull(cl, NULL, 10) > h->srv->cfg.limits.max_body)
        req->error = PL_ETOOBIG;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    struct h1 *h = cls;
    struct http_req *req = *con_cls;
    (void)url;
    (void)version;
    if (!req)
        return MHD_NO; /* out of memory in on_uri: drop the connection */
    struct h1_req *hr = req->tctx;
    switch (req->state) {
    case HTTP_REQ_READING:
        if (!req->method) {
            begin_request(h, req, conn, method);
            if (!req->error && req->body_pipe) {
                http__req_dispatch(req); /* the body follows through the pipe */
                return MHD_YES;
            }
            if (!req->error)
                return MHD_YES; /* the body, if any, comes next */
        } else if (*upload_size) {
            struct h1_conn *hc = conn_of(conn);
            if (hc)
                http__rx_bytes(&hc->rx, *upload_size);
            /* Over max_body sets req->error (413); out of memory is
             * recorded so the request is answered 503, not run short. */
            if (http__req_body_append(req, upload, *upload_size) == PL_ENOMEM && !req->error)
                req->error = PL_ENOMEM;
            *upload_size = 0;
            if (req->error != PL_ETOOBIG && req->error != PL_ENOMEM)
                return MHD_YES;
        }
        /* Body complete, or an early error that the dispatcher answers
         * without reading the rest (MHD closes the connection after the
         * response when a body is left unread). */
        rx_enter(conn_of(conn), HTTP_RX_DONE);
        http__req_dispatch(req);
        suspend(hr);
        return MHD_YES;
    case HTTP_REQ_DISPATCHED:
        if (http__body_is_open(req)) {
            if (*upload_size) {
                size_t took = http__body_push(req, upload, *upload_size);
                struct h1_conn *hc = conn_of(conn);
                if (hc)
                    http__rx_bytes(&hc->rx, took);
                *upload_size -= took;
                if (*upload_size) { /* the pipe is full: wait for the handler */
                    hr->body_paused = true;
                    suspend(hr);
                }
                return MHD_YES;
            }
            http__body_end(req);
            rx_enter(conn_of(conn), HTTP_RX_DONE);
        }
        *upload_size = 0;
        /* Wait for the handler's response without being polled. */
        if (!hr->suspended)
            suspend(hr);
        return MHD_YES;
    case HTTP_REQ_COMPLETE:
    case HTTP_REQ_STREAMING:
        /* libmicrohttpd takes a response only before the body or after
         * all of it, so a handler that answered a streamed upload early
         * (413, 403) has the rest of the body read and dropped first. */
        if (req->body_pipe && *upload_size) {
            *upload_size = 0;
            return MHD_YES;
        }
        *upload_size = 0;
        if (hr->detached_fd >= 0)
            return MHD_NO; /* let go of the stand-in socket (see detach()) */
        if (req->status == 0)
            return MHD_NO; /* no response was set: close rather than hang */
        return queue_response(req);
    default: *upload_size = 0; return MHD_YES;
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct h1 *h = cls;
    struct http_req *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
    struct h1_req *hr = req->tctx;
    struct h1_conn *hc = conn_of(conn);
    if (hc) {
        hc->cur = NULL;
        if (!h->stopping)
            rx_enter(hc, HTTP_RX_IDLE); /* keep-alive: the next request line is due */
    }
    if (hr && hr->detached_fd >= 0) {
        int fd = hr->detached_fd;
        hr->detached_fd = -1;
        if (!h->stopping && h1__stream_start(h->srv, req, fd) == 0)
            return;
        close(fd);
        http__req_finish(req, false);
        return;
    }
    http__req_finish(req, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct h1 *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct h1_conn *hc = calloc(1, sizeof(*hc));
        if (hc) {
            hc->tls = h->adding_tls;
            hc->h = h;
            hc->conn = conn;
            const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
            if (ci && ci->client_addr)
                http__format_peer(ci->client_addr, hc->peer, sizeof(hc->peer));
        }
        *socket_context = hc;
        rx_enter(hc, HTTP_RX_IDLE);
        http__conn_count(h->srv, h->adding_tls ? HTTP_PROTO_H1_TLS : HTTP_PROTO_H1,
                         hc ? hc->peer : NULL, 1);
    } else {
        struct h1_conn *hc = *socket_context;
        if (hc)
            pl_loop_timer_stop(h->srv->loop, &hc->timer);
        http__conn_count(h->srv, hc && hc->tls ? HTTP_PROTO_H1_TLS : HTTP_PROTO_H1,
                         hc ? hc->peer : NULL, -1);
        free(hc);
        *socket_context = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    pl_log_debug("libmicrohttpd: %s", msg);
}

int h1__new(struct http_server *s, struct h1 **out)
{
    struct h1 *h = calloc(1, sizeof(*h));
    if (!h)
        return PL_ENOMEM;
    h->srv = s;
    const struct http_limits *lim = &s->cfg.limits;
    /* MHD answers on its own when headers overflow its per-connection
     * memory. Give it room beyond our own header limit so our check (and
     * its problem document) trips first. */
    size_t mem = lim->max_header_bytes * 2 + 32 * 1024;
    h->d = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG, 0,
        NULL, NULL, on_access, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)lim->idle_timeout_s, MHD_OPTION_CONNECTION_LIMIT, lim->max_conns,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, MHD_OPTION_END);
    if (!h->d) {
        free(h);
        pl_log_error("libmicrohttpd failed to start");
        return PL_EINTERNAL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
    int rc = pl_loop_io_add(s->loop, &h->io, di->epoll_fd, EPOLLIN, on_readable, h);
    if (rc < 0) {
        MHD_stop_daemon(h->d);
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}

void h1__free(struct h1 *h)
{
    if (!h)
        return;
    pl_loop_io_del(h->srv->loop, &h->io);
    pl_loop_timer_stop(h->srv->loop, &h->timer);
    /* Streams still parked are ended (their read sees the close) and
     * resumed, because MHD_stop_daemon() aborts while any connection is
     * suspended. Requests cannot be parked for a worker here: the pool
     * has drained before the transports are freed. */
    h->stopping = true;
    while (h->suspended) {
        struct http_req *req = h->suspended->req;
        h->suspended->ending = true;
        resume(req);
    }
    MHD_run(h->d);
    /* MHD_quiesce first so no new work starts, then stop: this closes
     * every connection and runs the completion callbacks. */
    MHD_quiesce_daemon(h->d);
    MHD_stop_daemon(h->d);
    free(h);
}

int h1__conn_add(struct h1 *h, int fd, const struct sockaddr *addr, socklen_t len, bool tls)
{
    h->adding_tls = tls;
    enum MHD_Result ok = MHD_add_connection(h->d, fd, addr, len);
    h->adding_tls = false;
    if (ok != MHD_YES) {
        /* MHD closes the socket itself on failure. */
        pl_log_warn("libmicrohttpd refused a connection");
        return PL_EBUSY;
    }
    kick(h);
    return 0;
}
