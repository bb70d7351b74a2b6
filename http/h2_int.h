/* SPDX-License-Identifier: MIT */
/* Parley - internals shared by h2_session.c and h2_io.c only.          */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_H2_INT_H
#define PL_H2_INT_H

/*
 * h2_session.c owns the session's life and everything nghttp2 reports about
 * what the client sends (requests, resets, abuse accounting); h2_io.c moves
 * bytes between the socket and nghttp2 and sends responses. Everything here
 * runs on the loop thread.
 */
#include "http_int.h"

#include <nghttp2/nghttp2.h>

/* Output the session buffers before it stops pulling frames from nghttp2
 * and stops reading the socket: a client that does not read its responses
 * cannot make us queue more. */
#define H2_OUT_HIGH (64 * 1024)
/* Hard cap on the output buffer: the high-water mark plus more than one
 * frame or header block, which is all one pull can add past it. */
#define H2_OUT_MAX (1024 * 1024)
/* After GOAWAY, how long the client gets to take the last frames. */
#define H2_LINGER_MS 5000

/* One request stream. Allocated in its request's arena, so it lives
 * exactly as long as the request; the session forgets it (and clears the
 * nghttp2 stream user data) before http__req_finish(). */
struct h2_stream {
    struct h2_session *sess;
    struct http_req *req;
    struct h2_stream *prev, *next;
    int32_t id;
    const char *method, *path; /* pseudo-headers, until the end of headers */
    size_t mlen, plen;
    char *cookie; /* cookie crumbs joined with "; " (RFC 9113 8.2.3) */
    size_t cookie_len;
    size_t body_off;    /* bytes of resp_body handed to nghttp2 */
    bool dispatched;    /* handed to on_request: its body is no longer ours */
    bool remote_done;   /* the client sent END_STREAM */
    bool answered;      /* response submitted */
    bool deferred;      /* the stream reader returned "nothing now" */
    bool eof_sent;      /* we sent END_STREAM: the response went out whole */
    bool reply_held;    /* streamed upload answered early: reply at END_STREAM */
    struct http__rx rx; /* deadlines for the request's headers and body */
};

struct h2_session {
    struct http__conn conn;
    struct pl_task free_task;
    struct pl_task pump_task;
    bool pump_queued;
    bool read_pending; /* OpenSSL holds decrypted bytes epoll cannot see */
    bool draining;     /* GOAWAY queued: read nothing more, close once flushed */
    bool closed;
    nghttp2_session *ng;
    enum http_proto proto;
    struct pl_buf out; /* frames nghttp2 produced that the socket refused */
    struct h2_stream *streams;
    unsigned n_streams;
    struct pl_timer rx_timer; /* checks the receiving streams' deadlines */
    uint64_t last_active_ms;  /* last read, or when the last stream closed */
    uint64_t last_write_ms;   /* last time the socket took bytes */

    /* Abuse accounting; see h2_session.c for the reasons. */
    uint64_t window_ms; /* start of the current one-second window */
    unsigned resets;    /* RST_STREAM frames received in the window */
    unsigned refused;   /* requests refused by the rate limit in the window */
    unsigned opened;    /* streams opened by the client, ever */
    unsigned cancelled; /* of those, reset by the client before we answered */
    unsigned cont_frames;
    size_t hdr_block_bytes;
    struct http__bucket bucket;
};

/* ---- h2_io.c ---- */
/* The request ops h2 requests carry (send the response, wake a stream). */
extern const struct http__req_ops h2__req_ops;
/* Reads what the socket has (only when readable: epoll said so, or
 * OpenSSL holds bytes), feeds nghttp2, writes what nghttp2 produced,
 * updates the epoll interest, and closes the session when it is done. */
void h2__pump(struct h2_session *ss, bool readable);
/* Runs h2__pump() at the end of this loop pass (once, however often it is
 * asked), so responses completed in one pass go out in one write. That
 * pump only writes: reading is left to epoll, so a pass that merely
 * drains completions (at shutdown) never takes in new requests. */
void h2__schedule(struct h2_session *ss);
/* Pulls frames from nghttp2 and writes them until the socket or nghttp2
 * has no more; returns 0 or a negative code (the session must close). */
PL_MUST_CHECK int h2__send_pending(struct h2_session *ss);
/* Socket readiness and the session timer (idle timeout, GOAWAY linger). */
void h2__on_io(void *ctx, uint32_t events);
void h2__on_timer(void *ctx);
/* Submits the response of st's completed request (also from nghttp2
 * callbacks) and schedules a pump. */
void h2__stream_reply(struct h2_stream *st);
/* nghttp2 on_frame_send callback: counts body bytes and notes END_STREAM. */
int h2__on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *ud);

/* ---- h2_session.c ---- */
/* Closes the socket, finishes every open stream's request and frees the
 * session after this loop pass. Never call it from an nghttp2 callback. */
void h2__session_close(struct h2_session *ss, const char *why);
/* Queues GOAWAY with error_code and stops reading; the session closes
 * once GOAWAY is written, or after H2_LINGER_MS. */
void h2__session_drain(struct h2_session *ss, uint32_t error_code);

#endif
