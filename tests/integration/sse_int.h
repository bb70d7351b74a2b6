/* SPDX-License-Identifier: MIT */
/* Parley - integration harness: SSE client internals.                  */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PT_SSE_INT_H
#define PT_SSE_INT_H

#include "harness_int.h"
#include "sse.h"

#define PT__SSE_MAX_HEADERS 64

struct pt__text {
    char *p;
    size_t len, cap;
};

/* Appends n bytes and keeps the text NUL-terminated. */
void pt__text_add(struct pt__text *t, const void *d, size_t n);

struct pt__sse_node {
    struct pt__sse_node *next;
    struct pt_sse_event ev;
};

struct pt__sse_conn; /* an h2c connection (sse_h2c.c) */
struct pt__sse_curl; /* a libcurl multi handle (sse_curl.c) */

struct pt_sse {
    /* The transport: exactly one of these is set, or neither for a bare
     * parser. */
    struct pt__sse_curl *curl;
    void *easy; /* CURL *, with curl */
    struct curl_slist *req_headers;
    struct pt__sse_conn *h2c;
    int32_t stream_id; /* with h2c */
    char *path;        /* the request's, for the OpenAPI records; NULL for a bare parser */

    /* The response. */
    long status;
    bool head_done; /* every header of the final response arrived */
    bool ended;
    bool touched;                       /* something arrived since pt_sse_pump() started */
    char *headers[PT__SSE_MAX_HEADERS]; /* "name\0value\0" each */
    size_t n_headers;
    struct pt__text body; /* of an answer other than 200 */
    char head[64];        /* the first bytes of the body */
    size_t head_len;

    /* The parser. */
    struct pt__text line, data;
    bool skip_lf, past_bom;
    char name[64], id[32], last_id[32];
    long retry;
    unsigned comments;
    char last_comment[128];

    /* What the stream has promised: ids only grow, and start after the
     * position it resumed from or announced (ready, reset). */
    int64_t floor, max_pos;

    /* Parsed events not yet taken. */
    struct pt__sse_node *q_head, **q_tail;
    size_t queued;
};

/* ---- called by the transports (sse.c) ---- */

/* Response body bytes: parsed when the status is 200, kept otherwise. */
void pt__sse_body(struct pt_sse *sse, const char *d, size_t len);
/* The end of the stream: EOF, END_STREAM, RST_STREAM or a failure. */
void pt__sse_end(struct pt_sse *sse);
/* The status of a response (a 1xx one is followed by another). */
void pt__sse_set_status(struct pt_sse *sse, long status);
void pt__sse_add_header(struct pt_sse *sse, const char *name, size_t nlen, const char *value,
                        size_t vlen);

/* ---- libcurl: h1 and h2 (sse_curl.c) ---- */

/* A multi handle; with multiplex, its transfers share one connection. */
struct pt__sse_curl *pt__sse_curl_new(bool multiplex);
/* Starts GET path on s over p with the given "Name: value" lines, bound
 * to sse. */
void pt__sse_curl_submit(struct pt__sse_curl *m, struct pt_server *s, enum pt_proto p,
                         const char *path, char **lines, int rcvbuf, struct pt_sse *sse);
/* One round of I/O for every transfer of m, waiting up to timeout_ms. */
void pt__sse_curl_io(struct pt__sse_curl *m, int timeout_ms);
/* Ends sse's transfer; frees m with its last one. */
void pt__sse_curl_close_stream(struct pt__sse_curl *m, struct pt_sse *sse);
/* Fails the case unless the n transfers use one connection. */
void pt__sse_curl_assert_one_conn(struct pt_sse **v, size_t n);

/* ---- our nghttp2 client: h2c (sse_h2c.c) ---- */

/* Connects to the cleartext port; NULL with err set when it cannot. */
struct pt__sse_conn *pt__sse_h2c_connect(unsigned port, int rcvbuf, int window, char *err,
                                         size_t errlen);
/* Submits GET path with the given "Name: value" lines (lowercased in
 * place) for sse. Returns 0 or -1 with err set. */
int pt__sse_h2c_submit(struct pt__sse_conn *c, const char *path, char **lines, struct pt_sse *sse,
                       char *err, size_t errlen);
/* One round of I/O: sends what is pending, waits up to timeout_ms for the
 * socket, reads what is there and hands it to its streams. A failed
 * connection ends every stream on it. */
void pt__sse_h2c_io(struct pt__sse_conn *c, int timeout_ms);
/* Resets sse's stream; closes the connection with its last stream. */
void pt__sse_h2c_close_stream(struct pt__sse_conn *c, struct pt_sse *sse);

#endif
