/* SPDX-License-Identifier: MIT */
/* Parley - internals shared by the files of http/ only.                */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_HTTP_INT_H
#define PL_HTTP_INT_H

/* No file outside http/ includes this header (nghttp2's *_int.h rule). */

#include "http.h"

#include "common/buf.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

struct http_hdr {
    const char *name;
    const char *value;
};

enum http__req_state {
    HTTP_REQ_READING = 0, /* headers / body arriving */
    HTTP_REQ_DISPATCHED,  /* owned by on_request's callee until complete */
    HTTP_REQ_COMPLETE,    /* response ready, back on the loop */
    HTTP_REQ_STREAMING,   /* streamed response in progress */
    HTTP_REQ_SENT,
};

/* Transport callbacks a request carries; all run on the loop thread. */
struct http__req_ops {
    /* The response is ready (after http_req_complete): send it. */
    void (*send)(struct http_req *req);
    /* A streamed response has new bytes. */
    void (*wake)(struct http_req *req);
    /* A streamed request body: the handler took consumed bytes since the
     * last call, so the transport may take that much more from the client
     * (resume a paused connection, send WINDOW_UPDATE). Also called with
     * the unread rest when the request completes. */
    void (*body_resume)(struct http_req *req, size_t consumed);
};

struct http__body; /* the pipe of a streamed request body (body.c) */

/* ---- deadlines for what the client sends (deadline.c) ---- */
enum http__rx_phase {
    HTTP_RX_IDLE,    /* HTTP/1.1: between requests, waiting for a request line */
    HTTP_RX_HEADERS, /* the request line or HEADERS frame came; headers still due */
    HTTP_RX_BODY,    /* the body is arriving */
    HTTP_RX_DONE,    /* everything arrived: no deadline */
};
struct http__rx {
    enum http__rx_phase phase;
    uint64_t since_ms;     /* start of the phase, or of the current body window */
    uint64_t window_bytes; /* body bytes in the current window */
};
/* Enters phase at now_ms (loop time). */
void http__rx_set(struct http__rx *rx, enum http__rx_phase phase, uint64_t now_ms);
/* Counts body bytes that arrived. */
void http__rx_bytes(struct http__rx *rx, size_t n);
/* Returns PL_ETIMEDOUT when the client missed its deadline (cut the
 * request), else 0 and in *next_ms when to check again (0: no deadline
 * pending). held: the server is holding the client back right now (a
 * streamed body's pipe is not drained), so the body window restarts. */
int http__rx_check(struct http__rx *rx, const struct http_limits *lim, uint64_t now, bool held,
                   uint64_t *next_ms);

struct http_req {
    struct pl_task task; /* posts the completion to the loop */
    struct http_server *srv;
    struct pl_arena *arena;
    const struct http__req_ops *ops;
    void *tctx; /* the transport's per-request state */
    enum http_proto proto;
    enum http__req_state state;
    bool orphaned; /* the client left while the request was dispatched */
    int error;     /* see http_req_error() */
    uint64_t id;
    uint64_t start_us;
    const char *peer;

    const char *method, *target, *path;
    struct http_hdr *headers;
    unsigned n_headers, cap_headers;
    size_t header_bytes;
    struct http_hdr *query;
    unsigned n_query;
    const char *params[HTTP_MAX_PARAMS];
    unsigned n_params;
    struct pl_buf body;
    bool body_decoded;            /* http_req_decode_body() ran */
    bool resp_precompressed;      /* http_resp_set_doc(): never compress again */
    struct http__body *body_pipe; /* set when the body is streamed */

    int route_idx;
    const char *route_name;

    int status;
    const char *resp_ctype;
    struct http_hdr *resp_headers;
    unsigned n_resp_headers, cap_resp_headers;
    const char *resp_body;
    size_t resp_len;
    size_t bytes_sent; /* body bytes actually written, for the access log */

    const struct http_stream_ops *stream_ops;
    void *stream_ctx;
    bool stream_len_set; /* http_resp_stream_length() was called */
    uint64_t stream_len;
    bool stream_closed;
};

/* An accepted socket, cleartext or TLS, as the h2 session and the TLS
 * relay see it. */
struct http__conn {
    struct http_server *srv;
    int fd;
    SSL *ssl; /* NULL for cleartext */
    struct pl_io io;
    struct pl_timer timer; /* handshake / idle timeout */
    char peer[64];
    struct sockaddr_storage addr;
    socklen_t addrlen;
    bool want_read;  /* TLS: the last write needs the socket readable */
    bool want_write; /* TLS: the last read needs the socket writable */
    /* Every connection object http/ owns (not libmicrohttpd's) is linked
     * on its server so http_server_free() can close it; on_shutdown must
     * close and free it synchronously. */
    struct http__conn *live_prev, *live_next;
    void (*on_shutdown)(struct http__conn *c);
};

struct h1;

struct http_server {
    struct pl_loop *loop;
    struct http_server_config cfg;
    const struct http_server_ops *ops;
    void *ctx;
    int fd_plain, fd_tls;
    struct pl_io lsn_plain, lsn_tls;
    unsigned port, tls_port;
    SSL_CTX *ssl_ctx;
    struct h1 *h1;
    unsigned conns[HTTP_PROTO_N];
    unsigned total_conns;
    uint64_t next_req_id;
    struct http__body *bodies;         /* streamed bodies in progress (body.c) */
    struct http__ip_node **ip_buckets; /* open connections per address (ipcount.c) */
};

/* ---- requests (req.c) ---- */

/* Returns a new request owned by the transport, or NULL (out of memory). */
struct http_req *http__req_new(struct http_server *s, enum http_proto proto, const char *peer,
                               const struct http__req_ops *ops, void *tctx);
/* Frees the request and its arena. Loop thread only. */
void http__req_free(struct http_req *req);
/* Stores method and target; parses path and query (percent-decoding).
 * Returns 0, PL_EMALFORMED (sets req->error too) or PL_ENOMEM. */
PL_MUST_CHECK int http__req_set_line(struct http_req *req, const char *method, size_t mlen,
                                     const char *target, size_t tlen);
/* Adds a request header, enforcing max_headers / max_header_bytes (sets
 * req->error = PL_EHDRTOOBIG and returns it). Names are lowercased. */
PL_MUST_CHECK int http__req_add_header(struct http_req *req, const char *name, size_t nlen,
                                       const char *value, size_t vlen);
/* Appends body bytes; past max_body sets req->error = PL_ETOOBIG. */
PL_MUST_CHECK int http__req_body_append(struct http_req *req, const void *p, size_t n);
/* Hands a fully read request to the server's on_request. */
void http__req_dispatch(struct http_req *req);
/* Loop thread: the transport finished with the request (sent or failed):
 * reports on_done and frees it, unless it is still dispatched, in which
 * case it is marked orphaned and freed when it completes. */
void http__req_finish(struct http_req *req, bool sent);
/* ---- streamed request bodies (body.c) ---- */
/* Loop thread, once the headers are complete and before any body byte:
 * asks the server's stream_body() hook and, when it wants the body
 * streamed, sets up the pipe. Returns true when the body is streamed (the
 * transport then dispatches the request at once). */
bool http__body_want_stream(struct http_req *req);
/* Loop thread: body bytes from the client. Returns how many were taken
 * (fewer than n when the pipe is full: pause and offer the rest after
 * body_resume). After the request completed, bytes are taken and dropped. */
size_t http__body_push(struct http_req *req, const void *p, size_t n);
/* Loop thread: the body is complete. */
void http__body_end(struct http_req *req);
/* Loop thread: the client is gone; a blocked reader gets PL_ECANCELED. */
void http__body_fail(struct http_req *req, int code);
/* True when the body is streamed and has not ended yet. */
bool http__body_is_open(const struct http_req *req);
/* True when a streamed body's pipe holds bytes the handler has not read:
 * the client is waiting for us, not the other way round. */
bool http__body_held(const struct http_req *req);
/* Loop thread, when the request completes: closes the pipe and returns the
 * bytes taken from the client but never acknowledged to it (so an HTTP/2
 * transport can give the flow-control window back). */
size_t http__body_close(struct http_req *req);
void http__body_free(struct http__body *b);

/* Status line, headers and reason phrase helpers. */
bool http__valid_header_value(const char *s);

/* Per-connection request rate limit: a token bucket refilled at
 * limits.conn_rate per second up to limits.conn_burst. Zero-initialise. */
struct http__bucket {
    double tokens;
    uint64_t last_ms;
};
/* Takes one token; false when the connection is over its rate. */
bool http__bucket_take(struct http__bucket *b, const struct http_limits *lim, uint64_t now_ms);

/* Formats a socket address as text ("127.0.0.1", "::1"). */
void http__format_peer(const struct sockaddr *sa, char *out, size_t n);

/* ---- connection accounting (server.c, ipcount.c) ---- */
/* Adds delta to the open connections of proto p, to the total that
 * max_conns bounds, and to those of the client address peer (text, as
 * http__format_peer() writes it; may be NULL); p == HTTP_PROTO_N counts
 * sockets whose protocol is not known yet (sniffing, TLS handshake). */
void http__conn_count(struct http_server *s, enum http_proto p, const char *peer, int delta);
/* Open connections of peer, and whether max_conns_per_ip skips it. */
unsigned http__ip_conns(struct http_server *s, const char *peer);
bool http__ip_exempt(const struct http_server *s, const char *peer);
void http__ip_count(struct http_server *s, const char *peer, int delta);
void http__ip_free(struct http_server *s);
/* Links c on its server's list of live connections (see on_shutdown). */
void http__conn_link(struct http__conn *c, void (*on_shutdown)(struct http__conn *c));
void http__conn_unlink(struct http__conn *c);

/* ---- HTTP/1.1 via libmicrohttpd (h1_mhd.c) ---- */
PL_MUST_CHECK int h1__new(struct http_server *s, struct h1 **out);
void h1__free(struct h1 *h);
/* Hands an accepted socket to libmicrohttpd, which owns it from now on.
 * tls marks sockets that carry decrypted TLS traffic from the relay. */
PL_MUST_CHECK int h1__conn_add(struct h1 *h, int fd, const struct sockaddr *addr, socklen_t len,
                               bool tls);
/* ---- brotli (compress.c) ---- */
/* Responses smaller than this go out as they are. */
#define HTTP_BR_MIN_BODY 1024
/* True when the request's Accept-Encoding takes br. */
bool http__accepts_br(const struct http_req *req);
/* Any thread, when the response is complete: compresses a compressible
 * body for a client that takes br; adds Vary. */
void http__compress_response(struct http_req *req);
/* After http_resp_stream(): wraps an event stream in a flushing encoder
 * for a client that takes br (within the configured bound). */
void http__compress_stream(struct http_req *req);
/* Decodes a Content-Encoding: br body in place, bounded by max_body.
 * 0, PL_EENCODING (a coding other than br/identity), PL_ETOOBIG,
 * PL_EMALFORMED (corrupt data) or PL_ENOMEM. */
PL_MUST_CHECK int http__decode_body(struct http_req *req);

/* ---- HTTP/1.1 event streams outside libmicrohttpd (h1_stream.c) ---- */
/* Serves req's streamed response (status, headers, then chunks) on fd, a
 * socket libmicrohttpd no longer uses, and closes it when the stream ends.
 * Returns 0 when fd and req were taken (the stream may already be over),
 * or a negative code, leaving both to the caller. */
PL_MUST_CHECK int h1__stream_start(struct http_server *s, struct http_req *req, int fd);

/* ---- HTTP/2 via nghttp2 (h2_session.c) ---- */
/* Starts an h2 session on conn's socket (and SSL), which the session owns
 * from now on, even on failure: the struct is copied, so the caller must
 * have unregistered conn->io, stopped conn->timer and unlinked conn, and
 * frees its own storage afterwards. Bytes already read off the socket
 * (none, for now) are not supported. Returns 0 or PL_ENOMEM. */
PL_MUST_CHECK int h2__session_start(struct http__conn *conn, enum http_proto proto);

/* ---- TLS (tls.c) ---- */
PL_MUST_CHECK int tls__ctx_new(struct http_server *s);
void tls__ctx_free(struct http_server *s);
/* Starts the handshake on an accepted socket; afterwards ALPN picks h2 or
 * the HTTP/1.1 relay. Takes ownership of fd. */
PL_MUST_CHECK int tls__accept(struct http_server *s, int fd, const struct sockaddr *addr,
                              socklen_t len);

/* ---- connection I/O shared by h2 and the TLS relay (conn.c) ---- */
/* Returns bytes (>0), 0 at EOF, -EAGAIN when it would block (check
 * conn->want_write for TLS renegotiation), or another negative errno. */
PL_MUST_CHECK ssize_t http__conn_read(struct http__conn *c, void *buf, size_t n);
PL_MUST_CHECK ssize_t http__conn_write(struct http__conn *c, const void *buf, size_t n);
/* Closes the socket and frees SSL; the struct itself is the owner's. */
void http__conn_deinit(struct http__conn *c);

#endif
