/* SPDX-License-Identifier: MIT */
/* Parley - non-blocking reads and writes over a socket or TLS.         */
/* Copyright (c) 2026 Parley developers                                 */

/*
 * The h2 session and the TLS relay read and write through these three
 * functions, so neither cares whether OpenSSL sits in between. Every
 * outcome is folded into the errno convention: bytes, 0 for EOF, -EAGAIN
 * when the socket is not ready, another negative errno (or -EIO for a TLS
 * protocol failure) otherwise.
 *
 * TLS can need the opposite readiness of the call in progress (a read that
 * must first flush a record, a write that must first read one); the flags
 * want_write / want_read tell the caller which event to wait for.
 */
#include "http_int.h"

#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <unistd.h>

PL_LOG_TOPIC("http");

/* After a fatal TLS error OpenSSL must not be asked to send close_notify;
 * quiet shutdown makes the later SSL_shutdown() in http__conn_deinit() a
 * no-op. */
static ssize_t ssl_failed(struct http__conn *c, int err)
{
    int saved = errno;
    unsigned long e = ERR_peek_last_error();
    if (e && pl_log_enabled(&pl__log_topic, PL_LOG_DEBUG)) {
        char msg[160];
        ERR_error_string_n(e, msg, sizeof(msg));
        pl_log_debug("%s: TLS error %d: %s", c->peer, err, msg);
    }
    ERR_clear_error();
    SSL_set_quiet_shutdown(c->ssl, 1);
    if (err == SSL_ERROR_SYSCALL && saved)
        return -saved;
    return -EIO;
}

static ssize_t ssl_result(struct http__conn *c, int r, bool reading)
{
    int err = SSL_get_error(c->ssl, r);
    switch (err) {
    case SSL_ERROR_WANT_READ:
        if (!reading)
            c->want_read = true;
        return -EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        if (reading)
            c->want_write = true;
        return -EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        /* close_notify, or (with SSL_OP_IGNORE_UNEXPECTED_EOF) a bare FIN. */
        return reading ? 0 : -EPIPE;
    default: return ssl_failed(c, err);
    }
}

ssize_t http__conn_read(struct http__conn *c, void *buf, size_t n)
{
    if (!c->ssl) {
        for (;;) {
            ssize_t r = recv(c->fd, buf, n, 0);
            if (r >= 0)
                return r;
            if (errno != EINTR)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
    }
    c->want_write = false;
    ERR_clear_error();
    errno = 0;
    int r = SSL_read(c->ssl, buf, (int)PL_MIN(n, (size_t)INT_MAX));
    if (r > 0)
        return r;
    return ssl_result(c, r, true);
}

ssize_t http__conn_write(struct http__conn *c, const void *buf, size_t n)
{
    if (!c->ssl) {
        for (;;) {
            /* MSG_NOSIGNAL: a peer that went away is an error code, never
             * a SIGPIPE. */
            ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
            if (r >= 0)
                return r;
            if (errno != EINTR)
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
    }
    if (n == 0)
        return 0; /* SSL_write() treats 0 bytes as an error */
    c->want_read = false;
    ERR_clear_error();
    errno = 0;
    int r = SSL_write(c->ssl, buf, (int)PL_MIN(n, (size_t)INT_MAX));
    if (r > 0)
        return r;
    return ssl_result(c, r, false);
}

void http__conn_deinit(struct http__conn *c)
{
    if (c->ssl) {
        /* Best effort: one non-blocking attempt to send close_notify. A
         * connection that never finished its handshake has nothing to
         * close. */
        if (SSL_is_init_finished(c->ssl)) {
            ERR_clear_error();
            (void)SSL_shutdown(c->ssl);
        }
        ERR_clear_error();
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->want_read = c->want_write = false;
}
