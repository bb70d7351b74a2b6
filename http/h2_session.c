/* SPDX-License-Identifier: MIT */
/* Parley - HTTP/2 sessions: requests in, abuse limits, life cycle.     */
/* Copyright (c) 2026 Parley developers                                 */

/*
 * One nghttp2 server session per h2c or h2 connection. nghttp2 parses
 * frames and enforces the protocol; this file turns what it reports into
 * struct http_req (one per stream), hands complete requests to the
 * dispatcher, and polices what the protocol allows but a server must not
 * tolerate: reset floods, CONTINUATION floods, request floods and idle
 * connections. h2_io.c moves the bytes and sends the responses.
 *
 * A request may still be held by a worker when its stream or its whole
 * connection closes. http__req_finish() then marks it orphaned and it is
 * freed when the worker completes it, so the session clears the stream's
 * user data first and never touches the request again.
 */
#include "h2_int.h"

#include "common/log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

PL_LOG_TOPIC("h2");

/* A legitimate header block needs one HEADERS frame and, with large
 * cookies, a few CONTINUATIONs; eight is far beyond what browsers send. */
#define H2_MAX_CONTINUATIONS 8
/* Compressed header block bytes allowed, in multiples of max_header_bytes.
 * Huffman coding saves little on random-looking values, so a block only a
 * little over the limit can take more than twice max_header_bytes on the
 * wire; four times leaves such requests their 431 answer, while a flood
 * is still cut off within a few frames. */
#define H2_HDR_BLOCK_FACTOR 4
/* Below this many refused requests in a second, 429 answers are cheap
 * enough not to judge (a burst of 5 must not mean GOAWAY at 21). */
#define H2_REFUSED_FLOOR 100
/* Per-stream receive window: a 1 MiB body arrives in a few round trips
 * without any one stream being able to hog the connection window. */
#define H2_STREAM_WINDOW (256 * 1024)
#define H2_CONN_WINDOW (1024 * 1024)
/* Below this many cancelled streams the cancel ratio is not judged. */
#define H2_CANCEL_FLOOR 100

static struct pl_loop *loop_of(struct h2_session *ss)
{
    return ss->conn.srv->loop;
}

static const struct http_limits *limits_of(struct h2_session *ss)
{
    return &ss->conn.srv->cfg.limits;
}

void h2__session_drain(struct h2_session *ss, uint32_t error_code)
{
    if (ss->draining || ss->closed)
        return;
    ss->draining = true;
    (void)nghttp2_session_terminate_session(ss->ng, error_code);
    pl_loop_timer_start(loop_of(ss), &ss->conn.timer, H2_LINGER_MS, h2__on_timer, ss);
    h2__schedule(ss);
}

/* GOAWAY(ENHANCE_YOUR_CALM): the client broke one of our limits. */
static void calm(struct h2_session *ss, const char *why)
{
    if (!ss->draining)
        pl_log_warn("%s: %s; sending GOAWAY", ss->conn.peer, why);
    h2__session_drain(ss, NGHTTP2_ENHANCE_YOUR_CALM);
}

/* Counters that are judged per second restart when a second has passed. */
static void roll_window(struct h2_session *ss)
{
    uint64_t now = pl_loop_now(loop_of(ss));
    if (now - ss->window_ms >= 1000) {
        ss->window_ms = now;
        ss->resets = 0;
        ss->refused = 0;
    }
}

/* ---- deadlines (deadline.c): half-open streams ---- */

/* How often a session with streams still receiving checks them: the
 * deadlines are whole seconds, so one check a second is exact enough. */
#define RX_TICK_MS 1000

static void on_rx_tick(void *ctx);

/*
 * (e) Half-open requests. HEADERS without END_STREAM and then silence kept
 * a stream (and, for an upload, a worker) forever; so did a body trickling
 * in a byte at a time. Each stream still receiving is checked once a second
 * against header_timeout / body_timeout / body_min_rate and reset with
 * CANCEL when late. Resetting ends the request like a client reset: a
 * handler reading its body gets PL_ECANCELED.
 */
static void rx_tick_arm(struct h2_session *ss)
{
    if (!pl_timer_armed(&ss->rx_timer))
        pl_loop_timer_start(loop_of(ss), &ss->rx_timer, RX_TICK_MS, on_rx_tick, ss);
}

static void on_rx_tick(void *ctx)
{
    struct h2_session *ss = ctx;
    if (ss->closed || ss->draining)
        return;
    uint64_t now = pl_loop_now(loop_of(ss));
    bool pending = false, reset = false;
    for (struct h2_stream *st = ss->streams; st; st = st->next) {
        if (st->rx.phase == HTTP_RX_DONE || st->remote_done)
            continue;
        bool held = st->dispatched && http__body_held(st->req);
        uint64_t next = 0;
        if (http__rx_check(&st->rx, limits_of(ss), now, held, &next) < 0) {
            pl_log_debug("%s: stream %d: request %s too slow; resetting", ss->conn.peer, st->id,
                         st->rx.phase == HTTP_RX_HEADERS ? "headers" : "body");
            http__rx_set(&st->rx, HTTP_RX_DONE, now);
            (void)nghttp2_submit_rst_stream(ss->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
            reset = true;
        } else if (next) {
            pending = true;
        }
    }
    if (pending)
        rx_tick_arm(ss);
    if (reset)
        h2__schedule(ss);
}

/* ---- streams ---- */

static void stream_link(struct h2_session *ss, struct h2_stream *st)
{
    st->prev = NULL;
    st->next = ss->streams;
    if (ss->streams)
        ss->streams->prev = st;
    ss->streams = st;
    ss->n_streams++;
}

static void stream_unlink(struct h2_session *ss, struct h2_stream *st)
{
    if (st->prev)
        st->prev->next = st->next;
    else
        ss->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    ss->n_streams--;
    if (ss->n_streams == 0)
        ss->last_active_ms = pl_loop_now(loop_of(ss));
}

/* Forgets the stream, then gives its request back to req.c, which frees
 * it (and with it the stream) or orphans it if a worker still holds it. */
static void stream_finish(struct h2_session *ss, struct h2_stream *st, bool sent)
{
    stream_unlink(ss, st);
    /* Streamed body bytes nobody will read still hold connection window. */
    size_t unread = http__body_close(st->req);
    if (ss->ng && unread)
        (void)nghttp2_session_consume_connection(ss->ng, unread);
    if (ss->ng)
        (void)nghttp2_session_set_stream_user_data(ss->ng, st->id, NULL);
    http__req_finish(st->req, sent);
}

/*
 * (c) Request rate. Each request takes a token from a bucket refilled at
 * conn_rate per second up to conn_burst; without one it is still parsed but
 * answered 429 by the dispatcher (req->error = PL_ERATE), which is cheap. A
 * client that keeps sending more than four bursts' worth of refused
 * requests within a second (and at least H2_REFUSED_FLOOR) is not backing
 * off at all, and answering each with 429 is itself work, so it gets
 * GOAWAY instead.
 */
static void rate_check(struct h2_session *ss, struct http_req *req)
{
    const struct http_limits *lim = limits_of(ss);
    if (http__bucket_take(&ss->bucket, lim, pl_loop_now(loop_of(ss))))
        return;
    req->error = PL_ERATE;
    roll_window(ss);
    if (++ss->refused > PL_MAX(4u * lim->conn_burst, (unsigned)H2_REFUSED_FLOOR))
        calm(ss, "request rate far over the limit");
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    struct h2_session *ss = ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct http_req *req =
        http__req_new(ss->conn.srv, ss->proto, ss->conn.peer, &h2__req_ops, NULL);
    struct h2_stream *st = req ? pl_arena_zalloc(req->arena, sizeof(*st)) : NULL;
    if (!st) {
        http__req_free(req);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM(INTERNAL_ERROR) */
    }
    st->sess = ss;
    st->req = req;
    st->id = frame->hd.stream_id;
    req->tctx = st;
    if (nghttp2_session_set_stream_user_data(ng, st->id, st) != 0) {
        http__req_free(req);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    stream_link(ss, st);
    ss->opened++;
    http__rx_set(&st->rx, HTTP_RX_HEADERS, pl_loop_now(loop_of(ss)));
    rx_tick_arm(ss);
    rate_check(ss, req);
    return 0;
}

/* Pseudo-headers and cookie crumbs are kept aside until the header block
 * ends; their bytes count against max_header_bytes like any header. */
static int on_pseudo_header(struct h2_stream *st, const uint8_t *name, size_t nlen,
                            const uint8_t *value, size_t vlen)
{
    struct http_req *req = st->req;
    const char *v = (const char *)value;
    if (nlen == 10 && memcmp(name, ":authority", 10) == 0)
        return http__req_add_header(req, "host", 4, v, vlen);
    bool method = nlen == 7 && memcmp(name, ":method", 7) == 0;
    bool path = nlen == 5 && memcmp(name, ":path", 5) == 0;
    if (!method && !path)
        return 0; /* :scheme, :protocol: nothing to keep */
    req->header_bytes += nlen + vlen;
    if (req->header_bytes > limits_of(st->sess)->max_header_bytes) {
        if (!req->error)
            req->error = PL_EHDRTOOBIG;
        return 0;
    }
    char *copy = pl_arena_strndup(req->arena, v, vlen);
    if (!copy)
        return PL_ENOMEM;
    if (method) {
        st->method = copy;
        st->mlen = vlen;
    } else {
        st->path = copy;
        st->plen = vlen;
    }
    return 0;
}

static int on_cookie(struct h2_stream *st, const uint8_t *value, size_t vlen)
{
    struct http_req *req = st->req;
    size_t total = st->cookie_len + (st->cookie ? 2 : 0) + vlen;
    if (total > limits_of(st->sess)->max_header_bytes) {
        if (!req->error)
            req->error = PL_EHDRTOOBIG;
        return 0;
    }
    char *c = st->cookie ? pl_arena_sprintf(req->arena, "%s; %.*s", st->cookie, (int)vlen,
                                            (const char *)value)
                         : pl_arena_strndup(req->arena, (const char *)value, vlen);
    if (!c)
        return PL_ENOMEM;
    st->cookie = c;
    st->cookie_len = total;
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* trailers carry nothing we use */
    struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (!st)
        return 0;
    int rc;
    if (nlen && name[0] == ':')
        rc = on_pseudo_header(st, name, nlen, value, vlen);
    else if (nlen == 6 && memcmp(name, "cookie", 6) == 0)
        rc = on_cookie(st, value, vlen);
    else
        rc = http__req_add_header(st->req, (const char *)name, nlen, (const char *)value, vlen);
    /* Too many or too large headers keep the stream going: the dispatcher
     * answers 431. Only running out of memory resets the stream. */
    return rc == PL_ENOMEM ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
}

static void stream_dispatch(struct h2_stream *st)
{
    st->dispatched = true;
    http__req_dispatch(st->req);
}

/* The header block is complete: set the request line and the joined
 * cookie. A Content-Length over max_body is not refused here but when the
 * body actually overflows: answering before the client has sent anything
 * means resetting a stream it is still uploading on, which some clients
 * (curl 7.88) report as a failure even for a small body. */
static int on_request_headers(struct h2_stream *st)
{
    struct http_req *req = st->req;
    int rc = http__req_set_line(req, st->method ? st->method : "GET", st->method ? st->mlen : 3,
                                st->path ? st->path : "", st->path ? st->plen : 0);
    if (rc == PL_ENOMEM)
        return rc;
    if (st->cookie &&
        (rc = http__req_add_header(req, "cookie", 6, st->cookie, st->cookie_len)) == PL_ENOMEM)
        return rc;
    return 0;
}

/*
 * (a) Rapid Reset (CVE-2023-44487). A client can open a stream and reset it
 * at once, over and over: MAX_CONCURRENT_STREAMS never fills, yet each
 * stream costs us a request object and possibly a worker job. So the
 * RST_STREAM frames a client sends are counted per second and more than
 * h2_max_resets of them end the connection. A slower variant stays under
 * that rate but still has most of its requests cancelled after we start
 * working on them; past H2_CANCEL_FLOOR such cancellations, a client that
 * cancels more than half of the streams it opens is treated the same
 * (browsers cancel some requests when navigating, never most of them).
 */
static void on_client_reset(struct h2_session *ss, int32_t stream_id)
{
    const struct http_limits *lim = limits_of(ss);
    struct h2_stream *st = nghttp2_session_get_stream_user_data(ss->ng, stream_id);
    roll_window(ss);
    ss->resets++;
    if (st && !st->answered)
        ss->cancelled++;
    if (lim->h2_max_resets && ss->resets > lim->h2_max_resets)
        calm(ss, "RST_STREAM flood (rapid reset)");
    else if (ss->cancelled > PL_MAX(lim->h2_max_resets, (unsigned)H2_CANCEL_FLOOR) &&
             ss->cancelled > ss->opened / 2)
        calm(ss, "most streams cancelled before their response");
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    struct h2_session *ss = ud;
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
        on_client_reset(ss, frame->hd.stream_id);
        return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (!st)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        if (on_request_headers(st) < 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        http__rx_set(&st->rx, HTTP_RX_BODY, pl_loop_now(loop_of(st->sess)));
        /* An upload route takes its body as it comes: its window grows to
         * the pipe's size and is reopened only as the handler reads. */
        if (http__body_want_stream(st->req)) {
            (void)nghttp2_session_set_local_window_size(ng, NGHTTP2_FLAG_NONE, st->id,
                                                        HTTP_BODY_WINDOW);
            /* The connection window must not be the smaller one, or an
             * upload waits for WINDOW_UPDATEs it need not wait for. Every
             * stream's own window still bounds what it may send. */
            if (nghttp2_session_get_effective_local_window_size(ng) < 2 * HTTP_BODY_WINDOW)
                (void)nghttp2_session_set_local_window_size(ng, NGHTTP2_FLAG_NONE, 0,
                                                            2 * HTTP_BODY_WINDOW);
            stream_dispatch(st);
        }
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        st->remote_done = true;
        st->rx.phase = HTTP_RX_DONE;
        if (!st->dispatched)
            stream_dispatch(st);
        else
            http__body_end(st->req);
        if (st->reply_held) {
            st->reply_held = false;
            h2__stream_reply(st);
        }
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t stream_id, const uint8_t *data,
                         size_t len, void *ud)
{
    (void)flags;
    (void)ud;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, stream_id);
    if (st)
        http__rx_bytes(&st->rx, len);
    /* Window updates are ours to send (NO_AUTO_WINDOW_UPDATE): a streamed
     * body's bytes are acknowledged as its handler reads them (body.c and
     * h2_io.c), every other DATA byte at once. */
    if (st && st->dispatched && http__body_is_open(st->req)) {
        size_t took = http__body_push(st->req, data, len);
        if (took < len) { /* more than the window we granted */
            (void)nghttp2_session_consume(ng, stream_id, len - took);
            http__body_fail(st->req, PL_EMALFORMED);
        }
        return 0;
    }
    (void)nghttp2_session_consume(ng, stream_id, len);
    /* Once dispatched, the request (and its body) belong to the handler;
     * more DATA from a client we already answered is dropped. */
    if (!st || st->dispatched)
        return 0;
    /* A body past max_body is answered (413) at once rather than after the
     * client has uploaded all of it; the RST_STREAM(NO_ERROR) that follows
     * our response tells it to stop sending (RFC 9113 section 8.1). */
    int rc = http__req_body_append(st->req, data, len);
    if (rc == PL_ETOOBIG)
        stream_dispatch(st);
    else if (rc < 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t stream_id, uint32_t error_code, void *ud)
{
    struct h2_session *ss = ud;
    (void)error_code;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, stream_id);
    if (st)
        stream_finish(ss, st, st->eof_sent);
    return 0;
}

/*
 * (b) CONTINUATION flood (CVE-2024-27316 and its siblings in other
 * servers). A header block may go on in CONTINUATION frames without end,
 * and nghttp2 1.52 decodes every one of them; a client could keep us
 * decompressing forever without ever finishing a request. We count the
 * frames and compressed bytes of each header block and end the connection
 * past H2_MAX_CONTINUATIONS frames or H2_HDR_BLOCK_FACTOR times
 * max_header_bytes (a block that large would be refused with 431 anyway).
 */
static int on_begin_frame(nghttp2_session *ng, const nghttp2_frame_hd *hd, void *ud)
{
    struct h2_session *ss = ud;
    (void)ng;
    if (hd->type == NGHTTP2_HEADERS) {
        ss->cont_frames = 0;
        ss->hdr_block_bytes = hd->length;
    } else if (hd->type == NGHTTP2_CONTINUATION) {
        ss->cont_frames++;
        ss->hdr_block_bytes += hd->length;
    } else {
        return 0;
    }
    if (ss->cont_frames > H2_MAX_CONTINUATIONS ||
        ss->hdr_block_bytes > H2_HDR_BLOCK_FACTOR * limits_of(ss)->max_header_bytes) {
        calm(ss, "header block too long (CONTINUATION flood)");
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

static int on_error(nghttp2_session *ng, int code, const char *msg, size_t len, void *ud)
{
    struct h2_session *ss = ud;
    (void)ng;
    pl_log_debug("%s: nghttp2: %.*s (%d)", ss->conn.peer, (int)len, msg, code);
    return 0;
}

/* ---- life cycle ---- */

static int session_setup(struct h2_session *ss)
{
    const struct http_limits *lim = limits_of(ss);
    nghttp2_session_callbacks *cb = NULL;
    nghttp2_option *opt = NULL;
    int rv = nghttp2_session_callbacks_new(&cb);
    if (rv == 0)
        rv = nghttp2_option_new(&opt);
    if (rv != 0)
        goto out;
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, h2__on_frame_send);
    nghttp2_session_callbacks_set_error_callback2(cb, on_error);
    /* PING and SETTINGS floods (CVE-2019-9512, -9515): a client that makes
     * us queue acknowledgements faster than it reads them is cut off by
     * nghttp2 once this many are pending. */
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    /* Flow control is driven by what handlers consume (streamed uploads);
     * see on_data_chunk. */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    rv = nghttp2_session_server_new2(&ss->ng, cb, ss, opt);
    if (rv != 0)
        goto out;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, lim->h2_max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)lim->max_header_bytes},
    };
    rv = nghttp2_submit_settings(ss->ng, NGHTTP2_FLAG_NONE, iv, PL_ARRAY_LEN(iv));
    if (rv == 0)
        rv = nghttp2_session_set_local_window_size(ss->ng, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW);
out:
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0)
        pl_log_warn("%s: nghttp2 session setup: %s", ss->conn.peer, nghttp2_strerror(rv));
    return rv == 0 ? 0 : PL_ENOMEM;
}

static void teardown(struct h2_session *ss)
{
    struct http_server *s = ss->conn.srv;
    ss->closed = true;
    if (ss->conn.io.cb)
        pl_loop_io_del(s->loop, &ss->conn.io);
    pl_loop_timer_stop(s->loop, &ss->conn.timer);
    pl_loop_timer_stop(s->loop, &ss->rx_timer);
    http__conn_unlink(&ss->conn);
    while (ss->streams)
        stream_finish(ss, ss->streams, false);
    /* Safe here: never called from inside an nghttp2 callback. */
    nghttp2_session_del(ss->ng);
    ss->ng = NULL;
    http__conn_deinit(&ss->conn);
    pl_buf_deinit(&ss->out);
    http__conn_count(s, ss->proto, ss->conn.peer, -1);
}

static void on_session_free(struct pl_task *t)
{
    free(PL_CONTAINER_OF(t, struct h2_session, free_task));
}

void h2__session_close(struct h2_session *ss, const char *why)
{
    if (ss->closed)
        return;
    pl_log_debug("%s: %s session closed: %s", ss->conn.peer,
                 ss->proto == HTTP_PROTO_H2 ? "h2" : "h2c", why);
    teardown(ss);
    /* We are usually inside the session's own io callback or a task; the
     * memory goes at the end of the loop pass. */
    pl_loop_defer(loop_of(ss), &ss->free_task);
}

/* Server shutdown: GOAWAY, one non-blocking attempt to write it, close. */
static void on_session_shutdown(struct http__conn *c)
{
    struct h2_session *ss = PL_CONTAINER_OF(c, struct h2_session, conn);
    if (!ss->closed) {
        if (!ss->draining)
            (void)nghttp2_session_terminate_session(ss->ng, NGHTTP2_NO_ERROR);
        /* One non-blocking attempt; at shutdown a client that does not
         * read loses its GOAWAY, not its data. */
        if (h2__send_pending(ss) < 0)
            pl_log_debug("%s: GOAWAY not written at shutdown", ss->conn.peer);
        teardown(ss);
    }
    free(ss);
}

int h2__session_start(struct http__conn *conn, enum http_proto proto)
{
    struct http_server *s = conn->srv;
    struct h2_session *ss = calloc(1, sizeof(*ss));
    if (!ss) {
        http__conn_deinit(conn);
        return PL_ENOMEM;
    }
    ss->conn = *conn;
    ss->conn.io = (struct pl_io){.fd = -1};
    ss->conn.timer = (struct pl_timer){0};
    ss->conn.live_prev = ss->conn.live_next = NULL;
    ss->conn.on_shutdown = NULL;
    conn->fd = -1;
    conn->ssl = NULL;
    ss->proto = proto;
    ss->free_task.run = on_session_free;
    pl_buf_init(&ss->out, H2_OUT_MAX);
    ss->last_active_ms = ss->last_write_ms = ss->window_ms = pl_loop_now(s->loop);
    int rc = session_setup(ss);
    if (rc == 0)
        rc = pl_loop_io_add(s->loop, &ss->conn.io, ss->conn.fd, EPOLLIN, h2__on_io, ss);
    if (rc < 0) {
        nghttp2_session_del(ss->ng);
        http__conn_deinit(&ss->conn);
        free(ss);
        return rc;
    }
    http__conn_count(s, proto, ss->conn.peer, 1);
    http__conn_link(&ss->conn, on_session_shutdown);
    if (limits_of(ss)->idle_timeout_s)
        pl_loop_timer_start(s->loop, &ss->conn.timer, limits_of(ss)->idle_timeout_s * 1000ull,
                            h2__on_timer, ss);
    /* Our SETTINGS go out at the end of this pass. What the client already
     * sent waits in the socket (the sniffer only peeked, and OpenSSL reads
     * no further than the handshake), so epoll reports it. */
    h2__schedule(ss);
    return 0;
}
