/* SPDX-License-Identifier: MIT */
/* Parley - load generator: h2c (prior knowledge) on nghttp2's client API. */
/* Copyright (c) 2026 Parley developers                                 */
#include "lg.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * nghttp2 does the framing; we feed it what recv() returned and pull what
 * it wants to send into cn->out, which lg_loop.c writes once per loop pass
 * (so a burst of submits becomes one write). Each request is the stream's
 * user data; it is detached before its callback runs, so a stream closed
 * later (or a session freed) never reaches a freed request.
 *
 * Windows: an SSE stream is an endless response, so the receive windows are
 * made large (16 MiB for the connection, 1 MiB per stream) and nghttp2's
 * automatic WINDOW_UPDATEs keep them open as we consume; a fan-out burst
 * then never waits for a round trip of window updates.
 */

#define LG_H2_CONN_WINDOW (16 << 20)
#define LG_H2_STREAM_WINDOW (1 << 20)

static nghttp2_session_callbacks *callbacks;

static struct lg_req *req_of(nghttp2_session *s, int32_t sid)
{
    return nghttp2_session_get_stream_user_data(s, sid);
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    if (f->hd.type != NGHTTP2_HEADERS || namelen != 7 || memcmp(name, ":status", 7) != 0)
        return 0;
    struct lg_req *r = req_of(s, f->hd.stream_id);
    if (r && valuelen == 3)
        r->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data, size_t len,
                   void *ud)
{
    struct lg_req *r = req_of(s, sid);
    if (r && lg_req_body(r, (const char *)data, len) < 0) {
        nghttp2_session_set_stream_user_data(s, sid, NULL);
        lg_conn_req_done(ud, r, -EPROTO);
        return nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, sid, NGHTTP2_CANCEL) == 0
                   ? 0
                   : NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

static int on_close(nghttp2_session *s, int32_t sid, uint32_t error_code, void *ud)
{
    struct lg_req *r = req_of(s, sid);
    if (!r)
        return 0;
    nghttp2_session_set_stream_user_data(s, sid, NULL);
    int status = r->status;
    if (error_code != NGHTTP2_NO_ERROR || status == 0) {
        if (lg.verbose)
            fprintf(stderr, "loadgen: h2 stream %d closed: %s\n", sid,
                    nghttp2_http2_strerror(error_code));
        status = -ECONNRESET;
    }
    lg_conn_req_done(ud, r, status);
    return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct lg_conn *cn = ud;
    /* After GOAWAY the server takes no new streams: let requests already on
     * it finish, and let the pool open a new connection for the rest. */
    if (f->hd.type == NGHTTP2_GOAWAY)
        cn->closing = true;
    return 0;
}

static int init_callbacks(void)
{
    if (callbacks)
        return 0;
    if (nghttp2_session_callbacks_new(&callbacks) != 0)
        return PL_ENOMEM;
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame);
    return 0;
}

int lg_h2_init(struct lg_conn *cn)
{
    int rc = init_callbacks();
    if (rc < 0)
        return rc;
    nghttp2_session *ng;
    if (nghttp2_session_client_new(&ng, callbacks, cn) != 0)
        return PL_ENOMEM;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, LG_H2_STREAM_WINDOW},
    };
    if (nghttp2_submit_settings(ng, NGHTTP2_FLAG_NONE, iv, PL_ARRAY_LEN(iv)) != 0 ||
        nghttp2_session_set_local_window_size(ng, NGHTTP2_FLAG_NONE, 0, LG_H2_CONN_WINDOW) != 0) {
        nghttp2_session_del(ng);
        return PL_ENOMEM;
    }
    cn->ng = ng;
    return 0;
}

void lg_h2_deinit(struct lg_conn *cn)
{
    nghttp2_session_del(cn->ng);
    cn->ng = NULL;
}

static ssize_t read_body(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    struct lg_req *r = src->ptr;
    size_t n = PL_MIN(len, r->body_len - r->body_off);
    memcpy(buf, r->body + r->body_off, n);
    r->body_off += n;
    if (r->body_off == r->body_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

#define NV(n, v, vl)                                                                               \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vl), NGHTTP2_NV_FLAG_NONE                  \
    }

int lg_h2_submit(struct lg_conn *cn, struct lg_req *r)
{
    char auth[160], clen[24];
    nghttp2_nv nva[8] = {
        NV(":method", r->method, strlen(r->method)),
        NV(":scheme", "http", 4),
        NV(":authority", lg.authority, strlen(lg.authority)),
        NV(":path", r->path, strlen(r->path)),
    };
    size_t n = 4;
    if (r->token) {
        int al = snprintf(auth, sizeof(auth), "Bearer %s", r->token);
        if (al < 0 || (size_t)al >= sizeof(auth))
            return PL_EINVAL;
        nva[n++] = (nghttp2_nv)NV("authorization", auth, (size_t)al);
    }
    if (r->sse)
        nva[n++] = (nghttp2_nv)NV("accept", "text/event-stream", 17);
    if (r->body) {
        int cl = snprintf(clen, sizeof(clen), "%zu", r->body_len);
        nva[n++] = (nghttp2_nv)NV("content-type", "application/json", 16);
        nva[n++] = (nghttp2_nv)NV("content-length", clen, (size_t)cl);
    }
    nghttp2_data_provider prd = {.source.ptr = r, .read_callback = read_body};
    int32_t sid =
        nghttp2_submit_request(cn->ng, NULL, nva, n, r->body ? &prd : NULL, r); /* copies nva */
    if (sid < 0)
        return PL_EINVAL;
    r->stream_id = sid;
    return 0;
}

int lg_h2_recv(struct lg_conn *cn, const char *p, size_t n)
{
    ssize_t rv = nghttp2_session_mem_recv(cn->ng, (const uint8_t *)p, n);
    if (rv < 0) {
        if (lg.verbose)
            fprintf(stderr, "loadgen: h2: %s\n", nghttp2_strerror((int)rv));
        return -EPROTO;
    }
    if (!nghttp2_session_want_read(cn->ng) && !nghttp2_session_want_write(cn->ng))
        cn->closing = true;
    return 0;
}

int lg_h2_fill(struct lg_conn *cn)
{
    while (cn->out.len < LG_OUT_HIGH) {
        const uint8_t *d;
        ssize_t n = nghttp2_session_mem_send(cn->ng, &d);
        if (n < 0)
            return -EPROTO;
        if (n == 0)
            break;
        int rc = pl_buf_append(&cn->out, d, (size_t)n);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void lg_h2_cancel(struct lg_conn *cn, struct lg_req *r)
{
    if (nghttp2_submit_rst_stream(cn->ng, NGHTTP2_FLAG_NONE, r->stream_id, NGHTTP2_CANCEL) == 0)
        lg_conn_mark_dirty(cn);
}
