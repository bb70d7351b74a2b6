/* SPDX-License-Identifier: MIT */
/* Parley - TLS: context, handshake, ALPN, and the HTTP/1.1 relay.      */
/* Copyright (c) 2026 Parley developers                                 */

/*
 * Every TLS connection starts here. After a non-blocking handshake (driven
 * by the loop, bounded by a timeout) ALPN decides:
 *
 *   "h2"                the socket and its SSL move into an nghttp2 session.
 *   "http/1.1" or none  libmicrohttpd, which cannot speak TLS through
 *                       OpenSSL, gets one end of a socketpair; we relay
 *                       plaintext between the SSL and the other end.
 *
 * The relay holds at most RELAY_BUF bytes per direction. A side is read
 * only while the buffer it fills has room, so a slow reader on one side
 * throttles the writer on the other through TCP flow control instead of
 * growing memory (back-pressure). Buffers are allocated on first use and
 * released whenever they drain, so an idle keep-alive connection costs no
 * relay memory.
 *
 * EOF is forwarded as a half-close: the client's FIN (or close_notify)
 * becomes shutdown(SHUT_WR) on the pair once buffered bytes are through,
 * and libmicrohttpd closing its end becomes close_notify and close once
 * its last bytes have reached the client.
 */
#include "http_int.h"

#include "common/log.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

PL_LOG_TOPIC("tls");

#define RELAY_BUF (16 * 1024)
/* Long enough for a slow mobile handshake, short enough that half-open
 * handshakes cannot pile up. */
#define HANDSHAKE_TIMEOUT_MS 10000
/* Once libmicrohttpd has closed its end, a client that stops reading gets
 * this long to take the rest of the response. */
#define LINGER_TIMEOUT_MS 10000
/* Relay passes per event: enough to move several buffers, bounded so one
 * busy connection cannot starve the others. */
#define RELAY_ROUNDS 8

struct relay_buf {
    char *data; /* RELAY_BUF bytes, or NULL while empty */
    size_t off, len;
};

struct tls_conn {
    struct http__conn conn; /* the client socket and its SSL */
    struct pl_task free_task;
    int pair_fd; /* our end of the socketpair, -1 until the relay starts */
    struct pl_io pair_io;
    struct relay_buf up;   /* client -> libmicrohttpd, plaintext */
    struct relay_buf down; /* libmicrohttpd -> client, plaintext */
    bool pending;          /* counted as a not-yet-classified connection */
    bool relaying;
    bool up_eof;   /* the client sent all it will send (or MHD refuses more) */
    bool up_shut;  /* EOF forwarded to libmicrohttpd */
    bool down_eof; /* libmicrohttpd closed its end */
    bool pair_hup; /* the pair left epoll after a hang-up; read it directly */
    bool closed;
};

/* ---- context ---- */

/* Server preference: h2 first, then HTTP/1.1. A client that offers only
 * protocols we do not speak gets no ALPN answer and is treated as
 * HTTP/1.1, as is one that sends no ALPN at all. */
static int on_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned int inlen, void *arg)
{
    static const char *const prefs[] = {"h2", "http/1.1"};
    (void)ssl;
    (void)arg;
    for (size_t i = 0; i < PL_ARRAY_LEN(prefs); i++) {
        size_t plen = strlen(prefs[i]);
        for (unsigned p = 0; p < inlen; p += 1u + in[p]) {
            unsigned l = in[p];
            if (p + 1 + l > inlen)
                break;
            if (l == plen && memcmp(in + p + 1, prefs[i], l) == 0) {
                *out = in + p + 1;
                *outlen = (unsigned char)l;
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

static int tls_error(const char *what, const char *path)
{
    char msg[200] = "unknown error";
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, msg, sizeof(msg));
    ERR_clear_error();
    pl_log_error("TLS: %s %s: %s", what, path ? path : "", msg);
    return PL_EINVAL;
}

static int load_material(SSL_CTX *ctx, const char *cert, const char *key)
{
    if (!cert || !*cert || !key || !*key) {
        pl_log_error("TLS: both tls_cert and tls_key must be set");
        return PL_EINVAL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        return tls_error("cannot load certificate chain from", cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        return tls_error("cannot load private key from", key);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return tls_error("private key does not match certificate", cert);
    return 0;
}

int tls__ctx_new(struct http_server *s)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return tls_error("cannot create context", NULL);
    /* TLS 1.2 is the floor HTTP/2 allows; its cipher list keeps to the
     * ECDHE + AEAD suites RFC 9113 section 9.2.2 requires. Renegotiation is
     * off so a write never has to wait for a read (and vice versa) mid
     * connection; a bare FIN counts as EOF because browsers and curl often
     * close without close_notify. */
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                                 SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Partial writes and moving buffers let us retry a write from a
     * buffer that has since been compacted or grown; released buffers keep
     * idle connections small. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
        SSL_CTX_free(ctx);
        return tls_error("cannot set cipher list", NULL);
    }
    int rc = load_material(ctx, s->cfg.tls_cert, s->cfg.tls_key);
    if (rc < 0) {
        SSL_CTX_free(ctx);
        return rc;
    }
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn_select, NULL);
    s->ssl_ctx = ctx;
    return 0;
}

void tls__ctx_free(struct http_server *s)
{
    if (s->ssl_ctx) {
        SSL_CTX_free(s->ssl_ctx);
        s->ssl_ctx = NULL;
    }
}

/* ---- closing ---- */

static void on_tls_free(struct pl_task *t)
{
    free(PL_CONTAINER_OF(t, struct tls_conn, free_task));
}

static void teardown(struct tls_conn *t)
{
    struct http_server *s = t->conn.srv;
    t->closed = true;
    if (t->conn.io.cb)
        pl_loop_io_del(s->loop, &t->conn.io);
    if (t->pair_io.cb)
        pl_loop_io_del(s->loop, &t->pair_io);
    pl_loop_timer_stop(s->loop, &t->conn.timer);
    http__conn_unlink(&t->conn);
    if (t->pending)
        http__conn_count(s, HTTP_PROTO_N, t->conn.peer, -1);
    t->pending = false;
    http__conn_deinit(&t->conn);
    if (t->pair_fd >= 0)
        close(t->pair_fd);
    t->pair_fd = -1;
    free(t->up.data);
    free(t->down.data);
    t->up.data = t->down.data = NULL;
}

/* Closes both sides; the struct is freed after this loop pass, since we
 * are usually inside one of its callbacks. */
static void tls_close(struct tls_conn *t)
{
    if (t->closed)
        return;
    teardown(t);
    pl_loop_defer(t->conn.srv->loop, &t->free_task);
}

static void on_tls_shutdown(struct http__conn *c)
{
    struct tls_conn *t = PL_CONTAINER_OF(c, struct tls_conn, conn);
    teardown(t);
    free(t);
}

static void on_tls_timeout(void *ctx)
{
    struct tls_conn *t = ctx;
    pl_log_debug("%s: %s timed out", t->conn.peer, t->relaying ? "TLS linger" : "TLS handshake");
    tls_close(t);
}

/* ---- relay ---- */

/* Where to put up to *room more bytes, allocating or compacting first. */
static char *rb_space(struct relay_buf *b, size_t *room)
{
    if (!b->data && !(b->data = malloc(RELAY_BUF)))
        return NULL;
    if (b->off && b->off + b->len == RELAY_BUF) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
    }
    *room = RELAY_BUF - b->off - b->len;
    return b->data + b->off + b->len;
}

static void rb_consume(struct relay_buf *b, size_t n)
{
    b->off += n;
    b->len -= n;
    if (b->len == 0) {
        free(b->data);
        b->data = NULL;
        b->off = 0;
    }
}

/* Each step returns 1 when it moved bytes or state, 0 when it could not,
 * or a negative code that ends the connection. */
static int up_read(struct tls_conn *t)
{
    size_t room = 0;
    if (t->up_eof || t->up.len == RELAY_BUF)
        return 0;
    char *p = rb_space(&t->up, &room);
    if (!p)
        return PL_ENOMEM;
    ssize_t n = http__conn_read(&t->conn, p, room);
    if (n == -EAGAIN) {
        rb_consume(&t->up, 0); /* drop the buffer again if it is empty */
        return 0;
    }
    if (n < 0)
        return (int)n;
    if (n == 0)
        t->up_eof = true;
    t->up.len += (size_t)n;
    rb_consume(&t->up, 0);
    return 1;
}

static int up_write(struct tls_conn *t)
{
    if (t->up.len == 0) {
        if (t->up_eof && !t->up_shut) {
            t->up_shut = true;
            (void)shutdown(t->pair_fd, SHUT_WR);
            return 1;
        }
        return 0;
    }
    ssize_t n = send(t->pair_fd, t->up.data + t->up.off, t->up.len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n < 0) {
        /* libmicrohttpd closed its end (a "Connection: close" response):
         * nothing more goes up, but the response still has to come down. */
        rb_consume(&t->up, t->up.len);
        t->up_eof = t->up_shut = true;
        return 1;
    }
    rb_consume(&t->up, (size_t)n);
    return 1;
}

static int down_read(struct tls_conn *t)
{
    size_t room = 0;
    if (t->down_eof || t->down.len == RELAY_BUF)
        return 0;
    char *p = rb_space(&t->down, &room);
    if (!p)
        return PL_ENOMEM;
    ssize_t n = recv(t->pair_fd, p, room, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        rb_consume(&t->down, 0);
        return 0;
    }
    if (n <= 0) {
        t->down_eof = true; /* EOF, or an error that amounts to one */
        rb_consume(&t->down, 0);
        return 1;
    }
    t->down.len += (size_t)n;
    return 1;
}

static int down_write(struct tls_conn *t)
{
    if (t->down.len == 0)
        return 0;
    ssize_t n = http__conn_write(&t->conn, t->down.data + t->down.off, t->down.len);
    if (n == -EAGAIN)
        return 0;
    if (n < 0)
        return (int)n;
    rb_consume(&t->down, (size_t)n);
    return 1;
}

static int relay_interest(struct tls_conn *t)
{
    struct pl_loop *l = t->conn.srv->loop;
    uint32_t ev = 0;
    if ((!t->up_eof && t->up.len < RELAY_BUF) || t->conn.want_read)
        ev |= EPOLLIN;
    if (t->down.len || t->conn.want_write)
        ev |= EPOLLOUT;
    int rc = pl_loop_io_mod(l, &t->conn.io, ev);
    if (rc < 0 || t->pair_hup)
        return rc;
    ev = 0;
    if (!t->down_eof && t->down.len < RELAY_BUF)
        ev |= EPOLLIN;
    if (t->up.len)
        ev |= EPOLLOUT;
    return pl_loop_io_mod(l, &t->pair_io, ev);
}

static void relay_pump(struct tls_conn *t)
{
    int rc = 0;
    for (int round = 0; round < RELAY_ROUNDS; round++) {
        int moved = 0;
        if ((rc = up_read(t)) < 0)
            goto fail;
        moved |= rc;
        if ((rc = up_write(t)) < 0)
            goto fail;
        moved |= rc;
        if ((rc = down_read(t)) < 0)
            goto fail;
        moved |= rc;
        if ((rc = down_write(t)) < 0)
            goto fail;
        moved |= rc;
        if (!moved)
            break;
    }
    if (t->down_eof && t->down.len == 0) {
        tls_close(t); /* sends close_notify */
        return;
    }
    if (t->down_eof && !pl_timer_armed(&t->conn.timer))
        pl_loop_timer_start(t->conn.srv->loop, &t->conn.timer, LINGER_TIMEOUT_MS, on_tls_timeout,
                            t);
    if ((rc = relay_interest(t)) < 0)
        goto fail;
    return;
fail:
    pl_log_debug("%s: TLS relay closed: %s", t->conn.peer, pl_strerror(rc));
    tls_close(t);
}

static void on_pair_io(void *ctx, uint32_t events)
{
    struct tls_conn *t = ctx;
    /* libmicrohttpd closed its end. A level-triggered hang-up would fire
     * on every pass while the down buffer waits for the client, so leave
     * epoll and read what is left directly as the buffer drains. */
    if (events & (EPOLLHUP | EPOLLERR)) {
        pl_loop_io_del(t->conn.srv->loop, &t->pair_io);
        t->pair_hup = true;
    }
    relay_pump(t);
}

static void relay_start(struct tls_conn *t)
{
    struct http_server *s = t->conn.srv;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
        pl_log_warn("%s: socketpair: %s", t->conn.peer, strerror(errno));
        tls_close(t);
        return;
    }
    t->pair_fd = sv[0];
    /* From here libmicrohttpd counts the connection as HTTP/1.1 over TLS. */
    http__conn_count(s, HTTP_PROTO_N, t->conn.peer, -1);
    t->pending = false;
    t->relaying = true;
    if (h1__conn_add(s->h1, sv[1], (struct sockaddr *)&t->conn.addr, t->conn.addrlen, true) < 0 ||
        pl_loop_io_add(s->loop, &t->pair_io, t->pair_fd, EPOLLIN, on_pair_io, t) < 0) {
        tls_close(t);
        return;
    }
    /* The client's first request may already sit decrypted inside the SSL
     * object, where epoll cannot see it: pump once now. */
    relay_pump(t);
}

/* ---- handshake ---- */

static void handshake_done(struct tls_conn *t)
{
    struct http_server *s = t->conn.srv;
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    pl_loop_timer_stop(s->loop, &t->conn.timer);
    SSL_get0_alpn_selected(t->conn.ssl, &alpn, &alpn_len);
    if (alpn_len == 2 && memcmp(alpn, "h2", 2) == 0) {
        pl_loop_io_del(s->loop, &t->conn.io);
        http__conn_unlink(&t->conn);
        http__conn_count(s, HTTP_PROTO_N, t->conn.peer, -1);
        t->pending = false;
        /* The session copies the connection and owns socket and SSL from
         * here on, even when it fails to start. */
        if (h2__session_start(&t->conn, HTTP_PROTO_H2) < 0)
            pl_log_warn("%s: cannot start h2 session", t->conn.peer);
        t->conn.fd = -1;
        t->conn.ssl = NULL;
        t->closed = true;
        pl_loop_defer(s->loop, &t->free_task);
        return;
    }
    relay_start(t);
}

static void handshake_step(struct tls_conn *t)
{
    ERR_clear_error();
    int r = SSL_do_handshake(t->conn.ssl);
    if (r == 1) {
        handshake_done(t);
        return;
    }
    int err = SSL_get_error(t->conn.ssl, r);
    uint32_t ev = err == SSL_ERROR_WANT_READ ? EPOLLIN : err == SSL_ERROR_WANT_WRITE ? EPOLLOUT : 0;
    if (ev && pl_loop_io_mod(t->conn.srv->loop, &t->conn.io, ev) == 0)
        return;
    if (pl_log_enabled(&pl__log_topic, PL_LOG_DEBUG)) {
        char msg[200] = "connection closed";
        unsigned long e = ERR_peek_last_error();
        if (e)
            ERR_error_string_n(e, msg, sizeof(msg));
        pl_log_debug("%s: TLS handshake failed: %s", t->conn.peer, msg);
    }
    ERR_clear_error();
    SSL_set_quiet_shutdown(t->conn.ssl, 1);
    tls_close(t);
}

static void on_tls_io(void *ctx, uint32_t events)
{
    struct tls_conn *t = ctx;
    if (!t->relaying) {
        handshake_step(t);
        return;
    }
    /* Our side of TCP never half-closes, so a hang-up means the client
     * reset the connection: nothing can reach it any more. */
    if (events & (EPOLLHUP | EPOLLERR)) {
        tls_close(t);
        return;
    }
    relay_pump(t);
}

int tls__accept(struct http_server *s, int fd, const struct sockaddr *addr, socklen_t len)
{
    struct tls_conn *t = calloc(1, sizeof(*t));
    SSL *ssl = s->ssl_ctx ? SSL_new(s->ssl_ctx) : NULL;
    if (!t || !ssl || SSL_set_fd(ssl, fd) != 1) {
        ERR_clear_error();
        SSL_free(ssl);
        free(t);
        close(fd);
        return PL_ENOMEM;
    }
    SSL_set_accept_state(ssl);
    t->conn.srv = s;
    t->conn.fd = fd;
    t->conn.ssl = ssl;
    memcpy(&t->conn.addr, addr, PL_MIN((size_t)len, sizeof(t->conn.addr)));
    t->conn.addrlen = len;
    http__format_peer(addr, t->conn.peer, sizeof(t->conn.peer));
    t->pair_fd = -1;
    t->pair_io.fd = -1;
    t->free_task.run = on_tls_free;
    int rc = pl_loop_io_add(s->loop, &t->conn.io, fd, EPOLLIN, on_tls_io, t);
    if (rc < 0) {
        http__conn_deinit(&t->conn);
        free(t);
        return rc;
    }
    t->pending = true;
    http__conn_count(s, HTTP_PROTO_N, t->conn.peer, 1);
    http__conn_link(&t->conn, on_tls_shutdown);
    pl_loop_timer_start(s->loop, &t->conn.timer, HANDSHAKE_TIMEOUT_MS, on_tls_timeout, t);
    return 0;
}
