/* SPDX-License-Identifier: MIT */
/* Parley - HTTP/2 sessions: socket I/O, timers and responses.          */
/* Copyright (c) 2026 Parley developers                                 */

/*
 * nghttp2 does no I/O itself: we read the socket into a stack buffer and
 * feed nghttp2_session_mem_recv(), and pull frames with
 * nghttp2_session_mem_send() into a bounded output buffer that is written
 * in one call per pass. Responses completed during a loop pass are
 * submitted as they arrive and go out together in the pump that
 * h2__schedule() queues for the end of the pass (redis-style batched
 * writes).
 *
 * Back-pressure: above H2_OUT_HIGH buffered bytes we stop pulling frames
 * and stop reading the socket, so a client that does not read cannot make
 * us buffer more; EPOLLOUT is requested only while bytes are pending, and
 * EPOLLIN only while we would read (level-triggered, so re-enabling it
 * picks up whatever arrived meanwhile).
 */
#include "h2_int.h"

#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

PL_LOG_TOPIC("h2");

/* One TLS record's worth of plaintext: SSL_read() then never leaves
 * decrypted bytes behind inside OpenSSL, where epoll cannot see them. */
#define H2_READ_CHUNK (16 * 1024)
/* Reads per pump: bounded so one busy client cannot starve the others;
 * level-triggered epoll brings us back for the rest. */
#define H2_READS_PER_PUMP 4
/* The pump ends in a close for these reasons, besides errors. */
#define H2_EOF 1

static struct pl_loop *loop_of(struct h2_session *ss)
{
    return ss->conn.srv->loop;
}

/* ---- writing ---- */

/* Returns 0 when everything was written, 1 when the socket is full, or a
 * negative code. An empty buffer gives its memory back: an idle session
 * holds no output buffer. */
static int flush_out(struct h2_session *ss)
{
    while (ss->out.len) {
        ssize_t n = http__conn_write(&ss->conn, pl_buf_head(&ss->out), ss->out.len);
        if (n == -EAGAIN)
            return 1;
        if (n < 0)
            return (int)n;
        pl_buf_consume(&ss->out, (size_t)n);
        ss->last_write_ms = pl_loop_now(loop_of(ss));
    }
    if (ss->out.data) {
        pl_buf_deinit(&ss->out);
        pl_buf_init(&ss->out, H2_OUT_MAX);
    }
    return 0;
}

/* Most passes produce less than this; reserving it at once saves the
 * doubling from pl_buf's small default on every pass (the buffer is
 * released whenever it drains). */
#define H2_OUT_FIRST (16 * 1024)

int h2__send_pending(struct h2_session *ss)
{
    for (;;) {
        bool more = true;
        if (ss->out.cap == 0) {
            int rc = 0;
            if (!pl_buf_reserve(&ss->out, H2_OUT_FIRST, &rc))
                return rc;
        }
        while (ss->out.len < H2_OUT_HIGH) {
            const uint8_t *data = NULL;
            ssize_t n = nghttp2_session_mem_send(ss->ng, &data);
            if (n < 0) {
                pl_log_warn("%s: nghttp2 send: %s", ss->conn.peer, nghttp2_strerror((int)n));
                return PL_EINTERNAL;
            }
            if (n == 0) {
                more = false;
                break;
            }
            /* The stall clock (see h2__on_timer) starts when bytes first
             * wait, not at the last write long ago. */
            if (ss->out.len == 0)
                ss->last_write_ms = pl_loop_now(loop_of(ss));
            int rc = pl_buf_append(&ss->out, data, (size_t)n);
            if (rc < 0)
                return rc;
        }
        int rc = flush_out(ss);
        if (rc != 0)
            return rc < 0 ? rc : 0;
        if (!more)
            return 0;
    }
}

/* ---- reading ---- */

static bool can_read(struct h2_session *ss)
{
    return !ss->draining && ss->out.len < H2_OUT_HIGH && nghttp2_session_want_read(ss->ng);
}

/* Returns 0, H2_EOF, or a negative code; PL_EMALFORMED means nghttp2
 * rejected the input (and has usually queued a GOAWAY saying why). */
static int recv_some(struct h2_session *ss)
{
    uint8_t buf[H2_READ_CHUNK];
    for (int i = 0; i < H2_READS_PER_PUMP; i++) {
        if (!can_read(ss))
            return 0;
        ssize_t n = http__conn_read(&ss->conn, buf, sizeof(buf));
        if (n == -EAGAIN)
            return 0;
        if (n == 0)
            return H2_EOF;
        if (n < 0)
            return (int)n;
        ss->last_active_ms = pl_loop_now(loop_of(ss));
        ssize_t used = nghttp2_session_mem_recv(ss->ng, buf, (size_t)n);
        if (used < 0) {
            pl_log_debug("%s: nghttp2 receive: %s", ss->conn.peer, nghttp2_strerror((int)used));
            return PL_EMALFORMED;
        }
        int rc = h2__send_pending(ss);
        if (rc < 0)
            return rc;
    }
    /* Out of turns with more to read: epoll will say so for the socket,
     * but not for bytes OpenSSL already decrypted. */
    if (ss->conn.ssl && SSL_pending(ss->conn.ssl) > 0) {
        ss->read_pending = true;
        h2__schedule(ss);
    }
    return 0;
}

static int update_interest(struct h2_session *ss)
{
    uint32_t ev = 0;
    if (can_read(ss) || ss->conn.want_read)
        ev |= EPOLLIN;
    if (ss->out.len || ss->conn.want_write)
        ev |= EPOLLOUT;
    return pl_loop_io_mod(loop_of(ss), &ss->conn.io, ev);
}

/* Nothing left to say in either direction: both sides are done (GOAWAY
 * exchanged, or ours written while draining). */
static bool session_done(struct h2_session *ss)
{
    if (ss->out.len || nghttp2_session_want_write(ss->ng))
        return false;
    return ss->draining || !nghttp2_session_want_read(ss->ng);
}

void h2__pump(struct h2_session *ss, bool readable)
{
    if (ss->closed)
        return;
    int rc = readable ? recv_some(ss) : 0;
    if (rc == 0)
        rc = h2__send_pending(ss);
    if (rc == PL_EMALFORMED) {
        /* Best effort: the GOAWAY nghttp2 queued; the session closes next
         * whatever the write does. */
        if (h2__send_pending(ss) < 0)
            pl_log_debug("%s: GOAWAY not written", ss->conn.peer);
        h2__session_close(ss, "protocol error");
        return;
    }
    if (rc != 0) {
        h2__session_close(ss, rc == H2_EOF ? "client closed the connection" : pl_strerror(rc));
        return;
    }
    if (session_done(ss)) {
        h2__session_close(ss, "done");
        return;
    }
    if ((rc = update_interest(ss)) < 0)
        h2__session_close(ss, pl_strerror(rc));
}

static void on_pump_task(struct pl_task *t)
{
    struct h2_session *ss = PL_CONTAINER_OF(t, struct h2_session, pump_task);
    bool readable = ss->read_pending;
    ss->pump_queued = false;
    ss->read_pending = false;
    h2__pump(ss, readable);
}

void h2__schedule(struct h2_session *ss)
{
    if (ss->pump_queued || ss->closed)
        return;
    ss->pump_queued = true;
    ss->pump_task.run = on_pump_task;
    /* The free task of a closed session is always queued after this one,
     * so the pump finds the session closed, never freed. */
    pl_loop_defer(loop_of(ss), &ss->pump_task);
}

void h2__on_io(void *ctx, uint32_t events)
{
    struct h2_session *ss = ctx;
    h2__pump(ss, true);
    /* Our side never half-closes TCP, so a hang-up means the client is
     * gone. Staying registered would report it on every pass. */
    if (!ss->closed && (events & (EPOLLHUP | EPOLLERR)))
        h2__session_close(ss, "connection reset");
}

/*
 * (d) Idle connections. A connection with no open stream and no bytes from
 * the client for idle_timeout gets GOAWAY(NO_ERROR) and is closed, so
 * abandoned connections do not hold descriptors and memory forever. A
 * connection with open streams (an SSE stream may be silent for long) is
 * kept, unless its responses have been stuck unread in our buffer for
 * idle_timeout: a client that stopped reading is as good as gone.
 */
void h2__on_timer(void *ctx)
{
    struct h2_session *ss = ctx;
    if (ss->closed)
        return;
    if (ss->draining) {
        h2__session_close(ss, "GOAWAY not taken in time");
        return;
    }
    uint64_t idle = ss->conn.srv->cfg.limits.idle_timeout_s * 1000ull;
    uint64_t now = pl_loop_now(loop_of(ss)), next = idle;
    if (!idle)
        return;
    if (ss->out.len && now - ss->last_write_ms >= idle) {
        h2__session_close(ss, "client stopped reading");
        return;
    }
    if (ss->n_streams == 0 && now - ss->last_active_ms >= idle) {
        pl_log_debug("%s: idle for %u s", ss->conn.peer, ss->conn.srv->cfg.limits.idle_timeout_s);
        h2__session_drain(ss, NGHTTP2_NO_ERROR);
        return;
    }
    if (ss->n_streams == 0)
        next = idle - (now - ss->last_active_ms);
    if (ss->out.len)
        next = PL_MIN(next, idle - (now - ss->last_write_ms));
    pl_loop_timer_start(loop_of(ss), &ss->conn.timer, PL_MAX(next, 1u), h2__on_timer, ss);
}

/* ---- responses ---- */

static ssize_t on_data_read(nghttp2_session *ng, int32_t stream_id, uint8_t *buf, size_t len,
                            uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    struct h2_stream *st = src->ptr;
    struct http_req *req = st->req;
    (void)ng;
    (void)stream_id;
    (void)ud;
    if (req->stream_ops) {
        ssize_t n = req->stream_ops->read(req->stream_ctx, (char *)buf, len);
        if (n > 0)
            return (ssize_t)PL_MIN((size_t)n, len);
        if (n == 0) {
            /* Parked until http_stream_wake() resumes it. */
            st->deferred = true;
            return NGHTTP2_ERR_DEFERRED;
        }
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return 0;
    }
    size_t n = PL_MIN(len, req->resp_len - st->body_off);
    if (n)
        memcpy(buf, req->resp_body + st->body_off, n);
    st->body_off += n;
    if (st->body_off == req->resp_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* Connection-specific headers are forbidden in HTTP/2 (RFC 9113 section
 * 8.2.2) and clients reset streams that carry them; Content-Length is
 * ours to set from the body. */
static bool skip_header(const char *name)
{
    static const char *const names[] = {"connection",        "keep-alive", "proxy-connection",
                                        "transfer-encoding", "upgrade",    "content-length"};
    for (size_t i = 0; i < PL_ARRAY_LEN(names); i++)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}

static nghttp2_nv make_nv(const char *name, const char *value)
{
    return (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
                        NGHTTP2_NV_FLAG_NONE};
}

/* HTTP/2 field names must be lowercase. */
static char *lower_dup(struct pl_arena *a, const char *s)
{
    char *d = pl_arena_strdup(a, s);
    for (char *p = d; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

static int submit_response(struct h2_stream *st)
{
    struct http_req *req = st->req;
    nghttp2_nv *nva = pl_arena_alloc(req->arena, (3 + req->n_resp_headers) * sizeof(*nva));
    int status = req->status >= 100 && req->status <= 999 ? req->status : 500;
    char *code = pl_arena_sprintf(req->arena, "%d", status);
    char *clen = req->stream_len_set
                     ? pl_arena_sprintf(req->arena, "%llu", (unsigned long long)req->stream_len)
                     : pl_arena_sprintf(req->arena, "%zu", req->resp_len);
    if (!nva || !code || !clen)
        return PL_ENOMEM;
    bool bodyless = status < 200 || status == 204 || status == 304;
    bool head = req->method && strcmp(req->method, "HEAD") == 0;
    size_t n = 0;
    nva[n++] = make_nv(":status", code);
    if (req->resp_ctype)
        nva[n++] = make_nv("content-type", req->resp_ctype);
    if ((!req->stream_ops || req->stream_len_set) && !bodyless)
        nva[n++] = make_nv("content-length", clen);
    for (unsigned i = 0; i < req->n_resp_headers; i++) {
        const struct http_hdr *h = &req->resp_headers[i];
        if (skip_header(h->name))
            continue;
        char *name = lower_dup(req->arena, h->name);
        if (!name)
            return PL_ENOMEM;
        nva[n++] = make_nv(name, h->value);
    }
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = on_data_read};
    bool body = !head && !bodyless && (req->stream_ops || req->resp_len > 0);
    st->answered = true;
    int rv = nghttp2_submit_response(st->sess->ng, st->id, nva, n, body ? &prd : NULL);
    if (rv != 0) {
        pl_log_warn("%s: stream %d: cannot submit response: %s", st->sess->conn.peer, st->id,
                    nghttp2_strerror(rv));
        return PL_EINTERNAL;
    }
    return 0;
}

/* The response is ready (req.c calls this from the completion task, so
 * never from inside nghttp2). The session and stream are alive: had
 * either closed, the request would have been orphaned instead. */
void h2__stream_reply(struct h2_stream *st)
{
    struct h2_session *ss = st->sess;
    if (submit_response(st) < 0)
        (void)nghttp2_submit_rst_stream(ss->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
    h2__schedule(ss);
}

static void on_req_send(struct http_req *req)
{
    struct h2_stream *st = req->tctx;
    /* A streamed upload answered before its end: clients (curl) treat the
     * RST_STREAM that would have to follow the response as a failure, so
     * the rest of the body is taken and dropped, and the answer goes out
     * at END_STREAM (h2_session.c). */
    if (req->body_pipe && !st->remote_done) {
        st->reply_held = true;
        return;
    }
    h2__stream_reply(st);
}

static void on_req_wake(struct http_req *req)
{
    struct h2_stream *st = req->tctx;
    struct h2_session *ss = st->sess;
    if (!st->answered || ss->closed)
        return;
    if (st->deferred) {
        st->deferred = false;
        (void)nghttp2_session_resume_data(ss->ng, st->id);
    }
    h2__schedule(ss);
}

/* The handler read n bytes of a streamed body: reopen that much window. */
static void on_req_body_resume(struct http_req *req, size_t n)
{
    struct h2_stream *st = req->tctx;
    struct h2_session *ss = st->sess;
    if (ss->closed || !ss->ng)
        return;
    (void)nghttp2_session_consume(ss->ng, st->id, n);
    h2__schedule(ss);
}

const struct http__req_ops h2__req_ops = {
    .send = on_req_send, .wake = on_req_wake, .body_resume = on_req_body_resume};

int h2__on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    (void)ud;
    if (frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (!st)
        return 0;
    if (frame->hd.type == NGHTTP2_DATA)
        st->req->bytes_sent += frame->hd.length;
    if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    st->eof_sent = true;
    /* We answered before the client finished sending (413): ask it to
     * stop, without error (RFC 9113 section 8.1). */
    if (!st->remote_done)
        (void)nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
    return 0;
}
