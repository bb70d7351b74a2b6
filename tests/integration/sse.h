/* SPDX-License-Identifier: MIT */
/* Parley - integration harness: an SSE client for GET /v1/events.      */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PT_SSE_H
#define PT_SSE_H

#include "harness.h"

#include "common/err.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * An EventSource for tests. A stream is driven only while the test calls
 * into it (pt_sse_next(), pt_sse_pump()): between calls nothing reads its
 * socket, so a test can play a slow consumer simply by not calling. Over
 * h1 and h2 it is a libcurl multi handle; over h2c our own nghttp2 client
 * (libcurl 7.88 mishandles h2c prior knowledge, see harness_h2c.c).
 *
 * The stream is parsed as the WHATWG EventSource does: lines end in CRLF,
 * LF or CR; "id", "event", "data" and "retry" fields; ":" comments; a
 * blank line dispatches the event unless its data is empty; an event cut
 * off by the end of the stream is dropped.
 *
 * Like the rest of the harness, a stream belongs to one thread; streams on
 * one multiplexed connection belong to the same thread.
 *
 * Every event parsed is recorded for the OpenAPI check (see harness.h,
 * PARLEY_TEST_RECORD_DIR), and every stream's response when it is closed.
 * PT_SSE_DEBUG=1 in the environment prints each event, with a millisecond
 * timestamp, to stderr.
 */

/* pt_sse_next() and pt_sse_wait() return these besides 0. */
#define PT_SSE_TIMEOUT PL_ETIMEDOUT /* nothing arrived before the deadline */
#define PT_SSE_ENDED PL_ECANCELED   /* the stream ended and every event was taken */

struct pt_sse;

struct pt_sse_event {
    char name[64]; /* the event: field, "message" when there was none */
    char id[32];   /* this event's own id: field, "" when it had none */
    int64_t pos;   /* id as an integer; 0 when it had none or it is not one */
    char *data;    /* the data: lines joined with "\n", NUL-terminated */
    yajl_val json; /* data parsed, or NULL when it is not JSON */
};

/* Releases what an event owns and zeroes it; a zeroed event is fine. */
void pt_sse_event_free(struct pt_sse_event *ev);

/* How to open a stream; every member may be left zero. */
struct pt_sse_opts {
    const char *path;           /* "/v1/events" when NULL; may carry a query */
    const char *token;          /* sent as Authorization: Bearer */
    const char *last_event_id;  /* sent as the Last-Event-ID header */
    const char *const *headers; /* more "Name: value" lines, NULL-terminated */
    int rcvbuf;                 /* SO_RCVBUF for the socket when > 0 (slow consumers) */
    int h2c_window;             /* h2c: the stream window to offer when > 0 (default 16 MiB) */
};

/* Opens GET /v1/events over p and waits up to 10 s for the response head.
 * Returns 0 once a status arrived, whatever it is (see pt_sse_status()), or
 * -1 when the connection or request failed (reason in pt_req_error()).
 * *out is set in both cases when not NULL on return and must be closed. */
int pt_sse_open_opts(struct pt_server *s, enum pt_proto p, const struct pt_sse_opts *o,
                     struct pt_sse **out);
/* The common case: bearer token, optional Last-Event-ID header. Fails the
 * case unless the answer is 200 with Content-Type text/event-stream. */
struct pt_sse *pt_sse_open(struct pt_server *s, enum pt_proto p, const char *token,
                           const char *last_event_id);
/* pt_sse_open() for n tokens at once, all multiplexed on ONE HTTP/2
 * connection (p is PT_H2C or PT_H2). Fails the case unless every stream
 * answers 200 and they share one connection. Each stream is closed on its
 * own; the connection goes with the last. */
void pt_sse_open_many(struct pt_server *s, enum pt_proto p, size_t n, const char *const *tokens,
                      struct pt_sse **out);
/* Ends the stream (h1: closes the connection; h2: RST_STREAM, and closes
 * the connection with its last stream) and frees it. NULL is fine. */
void pt_sse_close(struct pt_sse *sse);

/* The response status (0 until known), its headers (the first called name,
 * trimmed, or NULL; borrowed until close) and, for an answer that is not
 * an event stream, its body so far (NUL-terminated; borrowed). */
long pt_sse_status(const struct pt_sse *sse);
const char *pt_sse_header(struct pt_sse *sse, const char *name);
const char *pt_sse_body(const struct pt_sse *sse);
/* The first bytes of the body as received (up to 63). */
const char *pt_sse_head(const struct pt_sse *sse);

/* Waits up to timeout_ms for the next event and moves it into *ev (free it
 * with pt_sse_event_free()). Returns 0, PT_SSE_TIMEOUT, or PT_SSE_ENDED
 * once the stream ended and its events were all taken. timeout_ms 0 only
 * takes what is already there or readable at once. */
int pt_sse_next(struct pt_sse *sse, int timeout_ms, struct pt_sse_event *ev);
/* pt_sse_next() that skips events not called name. */
int pt_sse_wait(struct pt_sse *sse, const char *name, int timeout_ms, struct pt_sse_event *ev);
/* pt_sse_wait() that fails the case (at the caller's line) unless the
 * event arrives in time; ev receives it. */
#define PT_SSE_EXPECT(sse, name, ms, ev)                                                           \
    pt__sse_expect(__FILE__, __LINE__, (sse), (name), (ms), (ev))
void pt__sse_expect(const char *file, int line, struct pt_sse *sse, const char *name,
                    int timeout_ms, struct pt_sse_event *ev);

/* Reads and parses whatever arrives within timeout_ms, without taking
 * events; returns early when anything (an event, a comment, the end)
 * arrived. Returns true when the stream has ended (events may remain). */
bool pt_sse_pump(struct pt_sse *sse, int timeout_ms);
/* True once the server ended the stream (EOF, END_STREAM, RST_STREAM or a
 * failed connection); events parsed before the end may still be queued. */
bool pt_sse_ended(const struct pt_sse *sse);
/* Comment lines seen, and the last one's text after the ':' (borrowed). */
unsigned pt_sse_comments(const struct pt_sse *sse);
const char *pt_sse_last_comment(const struct pt_sse *sse);
/* The last retry: value, or -1 when none came. */
long pt_sse_retry(const struct pt_sse *sse);
/* The EventSource's last event ID: what a browser would resume from. */
const char *pt_sse_last_id(const struct pt_sse *sse);
/* Events parsed but not yet taken. */
size_t pt_sse_queued(const struct pt_sse *sse);

/* ---- internal: the parser on its own, for its test ---- */

/* A stream without a transport, for feeding the parser bytes directly.
 * Free with pt_sse_close(). */
struct pt_sse *pt__sse_parser_new(void);
/* Parses len bytes of an event stream body. */
void pt__sse_feed(struct pt_sse *sse, const char *data, size_t len);

#endif
