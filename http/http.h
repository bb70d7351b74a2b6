/* SPDX-License-Identifier: MIT */
/* Parley - one request / response / stream API for every transport.   */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_HTTP_H
#define PL_HTTP_H

#include "common/arena.h"
#include "common/err.h"
#include "common/loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Handlers see a request through this header only. HTTP/1.1 (libmicrohttpd,
 * cleartext or TLS) and HTTP/2 (nghttp2, h2c or h2) build the same
 * struct http_req and send whatever the handler put in its response, so
 * nothing above http/ knows which protocol carried a request.
 *
 * Life of a request:
 *   1. A transport reads the headers and the whole body (bounded), then
 *      calls http_server_ops.on_request() on its loop thread.
 *   2. The callee answers inline or hands the request to a worker; the
 *      worker may read the request and fill the response.
 *   3. Whoever filled the response calls http_req_complete() (any thread).
 *      From then on the caller must not touch the request.
 *   4. The transport sends the response on its loop thread, reports it via
 *      on_done(), and frees the request and its arena.
 * If the client goes away between 2 and 3, the transport keeps the request
 * alive until http_req_complete() and then drops it silently.
 */
struct http_req;
struct http_server;

enum http_proto {
    HTTP_PROTO_H1 = 0,
    HTTP_PROTO_H1_TLS,
    HTTP_PROTO_H2C,
    HTTP_PROTO_H2,
    HTTP_PROTO_N
};

#define HTTP_MAX_PARAMS 4

/* ---- reading the request: any thread holding the request ---- */

/* The request method ("GET", ...). Borrowed, valid until completion. */
const char *http_req_method(const struct http_req *req);
/* The percent-decoded path without the query, e.g. "/v1/users". */
const char *http_req_path(const struct http_req *req);
/* The first query parameter called name, percent-decoded, or NULL. */
const char *http_req_query(const struct http_req *req, const char *name);
/* Calls fn for every query parameter in order; stops when fn returns
 * nonzero and returns that value (repeated parameters, e.g. ?device=1&device=2). */
PL_MUST_CHECK int http_req_query_each(const struct http_req *req,
                                      int (*fn)(void *ctx, const char *name, const char *value),
                                      void *ctx);
/* The first header called name (case-insensitive), or NULL. Names of
 * HTTP/2 pseudo-headers are not visible here. */
const char *http_req_header(const struct http_req *req, const char *name);
/* The body (NUL-terminated for convenience; len excludes the NUL). */
const char *http_req_body(const struct http_req *req, size_t *len);
/* Path parameter i captured by the router ({id} segments), or NULL. */
const char *http_req_param(const struct http_req *req, unsigned i);
/* The request's arena: freed when the transport frees the request. */
struct pl_arena *http_req_arena(struct http_req *req);
enum http_proto http_req_proto(const struct http_req *req);
/* True when the request's Accept-Encoding accepts br (for bodies that
 * were compressed ahead of time). */
bool http_req_accepts_br(const struct http_req *req);
const char *http_req_proto_name(const struct http_req *req);
/* A per-process unique request id (also sent as X-Request-Id). */
uint64_t http_req_id(const struct http_req *req);
/* Microseconds since the request's headers arrived. */
uint64_t http_req_elapsed_us(const struct http_req *req);
/* Response body bytes written so far. */
size_t http_resp_bytes_sent(const struct http_req *req);
/* The client's address as text ("127.0.0.1"). */
const char *http_req_peer(const struct http_req *req);

/* An error the transport found before the handler could run: PL_ETOOBIG
 * (body over max_body), PL_EHDRTOOBIG, PL_ERATE (connection over its request
 * rate) or PL_EMALFORMED (unparseable request target); 0 when none. The
 * dispatcher must answer such a request with a problem document; only
 * api/problem.c chooses statuses. */
int http_req_error(const struct http_req *req);

/* The dispatcher's route, an opaque slot: http/ never looks at it. */
void http_req_set_route(struct http_req *req, int route_idx, const char *route_name);
int http_req_route(const struct http_req *req);
const char *http_req_route_name(const struct http_req *req);
/* Captured path parameters, set by the router. */
void http_req_set_params(struct http_req *req, const char *const *params, unsigned n);

/* True when the request came through an operator (admin) listener, one
 * started with http_server_config.admin. */
bool http_req_admin(const struct http_req *req);
/* Worker thread holding the request, never the loop: decodes a body sent
 * with Content-Encoding: br in place, into a buffer bounded by max_body (a
 * decompression bomb stops at max_body + 1 bytes). Returns 0 (nothing to
 * decode, identity, or decoded; calling it again does nothing),
 * PL_EENCODING (a coding other than br/identity, or br on a streamed body),
 * PL_ETOOBIG, PL_EMALFORMED (corrupt data) or PL_ENOMEM. Until it is called
 * http_req_body() returns the bytes as sent. */
PL_MUST_CHECK int http_req_decode_body(struct http_req *req);

/* ---- writing the response ---- */

/* Adds a response header; both strings are copied into the arena.
 * Returns 0, PL_ENOMEM, or PL_EINVAL for names or values with CR/LF. */
PL_MUST_CHECK int http_resp_header(struct http_req *req, const char *name, const char *value);
/* Sets status and body. body is borrowed and must stay valid until the
 * request is freed: use the request arena or static storage. A NULL
 * content type sends no Content-Type. Replaces any earlier body. */
void http_resp_set(struct http_req *req, int status, const char *content_type, const char *body,
                   size_t len);
int http_resp_status(const struct http_req *req);

/* A static document (the OpenAPI description...) with its brotli form,
 * compressed once at startup so no request compresses it again. */
struct http_doc {
    const char *ctype;
    const char *body; /* borrowed: static storage */
    size_t len;
    char *br; /* owned; NULL when compression did not pay */
    size_t br_len;
};
/* Startup: fills d for body (borrowed, must outlive d) and compresses it
 * once (brotli quality 7). Returns 0 or PL_ENOMEM. Free with
 * http_doc_deinit(). */
PL_MUST_CHECK int http_doc_init(struct http_doc *d, const char *ctype, const char *body,
                                size_t len);
void http_doc_deinit(struct http_doc *d);
/* Any thread: answers with d (borrowed for the request's life): the
 * brotli form for clients that take br, the plain one otherwise, with
 * Vary: Accept-Encoding; nothing is compressed per request. */
void http_resp_set_doc(struct http_req *req, int status, const struct http_doc *d);

/* Any thread: the response is ready; hands the request back to its loop.
 * The caller loses access to the request. */
void http_req_complete(struct http_req *req);

/* ---- streams (Server-Sent Events and other long responses) ---- */

/*
 * A streamed response is pull-based on both transports (the transport asks
 * for bytes when it can write; the producer never pushes into a socket):
 * read() copies ready bytes and returns how many, 0 for "nothing now" (the
 * transport parks the response until http_stream_wake()), or a negative
 * code to end the response. on_close() is called exactly once, on the loop
 * thread, when the response ends for any reason; status is 0 when read()
 * ended it and PL_ECANCELED when the client went away.
 */
struct http_stream_ops {
    unsigned version; /* HTTP_STREAM_OPS_VERSION */
    ssize_t (*read)(void *ctx, char *dst, size_t max);
    void (*on_close)(void *ctx, int status);
};
#define HTTP_STREAM_OPS_VERSION 1

/* Turns the response into a stream: status and content type are sent with
 * headers added so far, then the body comes from ops->read(). Call before
 * http_req_complete(). ops must outlive the stream; ctx is borrowed until
 * on_close(). */
void http_resp_stream(struct http_req *req, int status, const char *content_type,
                      const struct http_stream_ops *ops, void *ctx);
/* Optional, after http_resp_stream() and before http_req_complete(): the
 * streamed body is exactly len bytes, announced as Content-Length (file
 * downloads; read() must then deliver exactly that many). */
void http_resp_stream_length(struct http_req *req, uint64_t len);
/* Loop thread only: bytes are ready; the transport will call read() again. */
void http_stream_wake(struct http_req *req);

/* ---- streamed request bodies (uploads) ---- */

/*
 * A request body normally arrives whole (up to max_body) before
 * on_request(). A route meant for large uploads instead asks for its body
 * in chunks: the server's stream_body() hook answers true once the headers
 * are in, the transport dispatches the request at once, and the handler
 * pulls the body on its worker thread with http_req_body_read(). Between
 * the two, at most 2 * HTTP_BODY_WINDOW bytes wait in memory (an HTTP/2
 * stream is granted HTTP_BODY_WINDOW; see body.c for the slack): past that the
 * transport stops taking bytes from the client (HTTP/1.1: the connection
 * is suspended; HTTP/2: the stream's WINDOW_UPDATE is held back until the
 * handler has read the data), so a slow disk slows the client down instead
 * of filling memory. max_body does not apply; the handler enforces its own
 * limit. A handler may complete the request before reading everything
 * (413, 403): the rest of the body is then discarded.
 */
#define HTTP_BODY_WINDOW (2 * 1024 * 1024)

/* True when the request's body is streamed (http_req_body() is empty). */
bool http_req_body_streamed(const struct http_req *req);
/* Worker thread holding the request: blocks until body bytes are available
 * and copies up to max of them into buf. Returns the count, 0 at the end of
 * the body, PL_ECANCELED when the client went away or reset the stream,
 * PL_ETIMEDOUT when no byte arrived for idle_timeout seconds, PL_EINVAL
 * when the body is not streamed. Never call it on a loop thread. */
PL_MUST_CHECK ssize_t http_req_body_read(struct http_req *req, void *buf, size_t max);
/*
 * The same body without holding a worker while the client is slow: after
 * http_req_body_async(), ready(ctx) is called whenever bytes, the end of
 * the body or an error wait and the callee is not already being served;
 * the callee (typically a job it hands to a worker) reads with
 * http_req_body_read_nowait() until that returns -EAGAIN, which arms the
 * next ready() call. ready() runs on the loop thread, or on the caller of
 * http_req_body_async() when something is already waiting; it must not
 * block. ctx is borrowed until the request completes. Call it once, from
 * the thread holding the request, as the handler's last step.
 */
void http_req_body_async(struct http_req *req, void (*ready)(void *ctx), void *ctx);
/* Any thread serving a ready() call: like http_req_body_read() but never
 * waits: -EAGAIN when nothing is there yet (ready() follows when there
 * is). 0 at the end of the body; PL_ECANCELED, PL_EMALFORMED (h2: more
 * than the window) or a deadline's PL_ECANCELED when the client is gone. */
PL_MUST_CHECK ssize_t http_req_body_read_nowait(struct http_req *req, void *buf, size_t max);

/* ---- the server ---- */

struct http_limits {
    size_t max_body;         /* bytes; larger bodies get 413 */
    size_t max_header_bytes; /* sum of header names and values; 431 past it */
    unsigned max_headers;    /* header count; 431 past it */
    unsigned conn_rate;      /* requests per second per connection (token refill) */
    unsigned conn_burst;     /* bucket size; 429 when empty */
    unsigned h2_max_streams; /* SETTINGS_MAX_CONCURRENT_STREAMS */
    unsigned h2_max_resets;  /* client RST_STREAMs per second before GOAWAY */
    unsigned idle_timeout_s; /* connection idle timeout */
    unsigned max_conns;      /* open connections per server */
    /* Slow clients (see deadline.c): a request's headers must be complete
     * header_timeout_s after its first line (h1) or HEADERS frame (h2);
     * its body must bring at least max(1, body_min_rate * body_timeout_s)
     * bytes in every body_timeout_s window, except while the server itself
     * holds the client back. Past either, the request is cut. 0 = off. */
    unsigned header_timeout_s;
    unsigned body_timeout_s;
    unsigned body_min_rate; /* bytes per second */
    /* Open connections per client address; past it a new connection is
     * closed at once. 0 = unlimited. Addresses in conn_ip_exempt (a
     * comma-separated list of exact addresses, e.g. a local reverse proxy)
     * are not counted. */
    unsigned max_conns_per_ip;
    char *conn_ip_exempt;
};

/* brotli for event streams (responses are always compressed when it pays). */
struct http_br_config {
    unsigned stream_quality; /* 0..11; memory per stream grows steeply from 2 */
    unsigned stream_max;     /* compressed streams open at once; 0 = never compress */
};

/* Compressed event streams open now (all servers), for /metrics. */
unsigned http_br_streams(void);

struct http_server_ops {
    unsigned version; /* HTTP_SERVER_OPS_VERSION */
    /* Loop thread: a complete request arrived. The callee owns the duty to
     * call http_req_complete() exactly once, from any thread. */
    void (*on_request)(void *ctx, struct http_req *req);
    /* Loop thread: the response was sent or the client vanished (sent is
     * false). For logs and metrics; the request is freed right after. */
    void (*on_done)(void *ctx, struct http_req *req, bool sent);
    /* Loop thread, optional: the request's headers are complete (method,
     * path, query and headers readable; no body yet). Return true to have
     * its body streamed (see http_req_body_read) and the request
     * dispatched to on_request() right away. Not called for requests the
     * transport already refused (http_req_error() set). */
    bool (*stream_body)(void *ctx, struct http_req *req);
};
#define HTTP_SERVER_OPS_VERSION 1

struct http_server_config {
    const char *bind;     /* address to bind, e.g. "127.0.0.1" */
    unsigned port;        /* cleartext h1 + h2c; 0 = pick a free port */
    unsigned tls_port;    /* h2 + h1 over TLS; 0 = pick a free port */
    bool tls;             /* serve TLS at all */
    const char *tls_cert; /* PEM paths */
    const char *tls_key;
    struct http_limits limits;
    struct http_br_config br;
    bool admin; /* an operator listener: http_req_admin() is true */
};

/* Binds both ports and starts serving on loop. cfg is copied; ops and ctx
 * are borrowed for the server's lifetime. Returns 0, a negative errno
 * (EADDRINUSE, ...), or PL_EINVAL for unusable TLS material. */
PL_MUST_CHECK int http_server_new(struct pl_loop *loop, const struct http_server_config *cfg,
                                  const struct http_server_ops *ops, void *ctx,
                                  struct http_server **out);
/* Loop thread, at shutdown before the workers are joined: every handler
 * blocked in http_req_body_read() gets PL_ECANCELED at once, so no worker
 * waits for upload bytes that will never come. */
void http_server_cancel_bodies(struct http_server *s);
/* Stops accepting and closes every connection. Loop thread only. */
void http_server_free(struct http_server *s);
/* The bound ports (useful with port 0). */
/* Loop thread: back-pressure for bursts of HTTP/1.1 requests. While held,
 * each new cleartext HTTP/1.1 connection waits after the protocol sniff,
 * its bytes unread in the kernel (a few hundred bytes of ours instead of a
 * libmicrohttpd connection with its memory pool). admit hands up to n of
 * them to libmicrohttpd, oldest first, and (n > 0) ends the hold once none
 * wait; it returns how many still wait. h2c and TLS connections never wait. */
void http_server_h1_hold(struct http_server *s);
unsigned http_server_h1_admit(struct http_server *s, unsigned n);
unsigned http_server_port(const struct http_server *s);
unsigned http_server_tls_port(const struct http_server *s);
/* Open connections per protocol, for /metrics. */
unsigned http_server_conns(const struct http_server *s, enum http_proto p);

/* ---- helpers shared by transports and tests ---- */

enum http_sniff { HTTP_SNIFF_NEED_MORE, HTTP_SNIFF_H1, HTTP_SNIFF_H2 };
/* Classifies the first bytes of a cleartext connection: the HTTP/2
 * connection preface means h2c with prior knowledge, anything else that
 * departs from it is HTTP/1.x. */
enum http_sniff http_sniff_preface(const void *buf, size_t len);

/* Reason phrase for a status ("Not Found"); "Unknown" when not known. */
const char *http_status_text(int status);

#endif
