/* SPDX-License-Identifier: MIT */
/* Parley - load generator: a minimal HTTP/1.1 client (keep-alive, chunked). */
/* Copyright (c) 2026 Parley developers                                 */
#include "lg.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * One request at a time per connection, no pipelining: the pools in
 * lg_loop.c hold enough connections instead, which is also what browsers
 * do. The parser keeps unparsed bytes in cn->in and handles exactly what a
 * server may answer: a status line, headers, then a body framed by
 * Content-Length, by chunks (SSE streams) or by the end of the connection.
 */

int lg_h1_submit(struct lg_conn *cn, struct lg_req *r)
{
    struct pl_buf *o = &cn->out;
    int rc = pl_buf_printf(o, "%s %s HTTP/1.1\r\nHost: %s\r\n", r->method, r->path, lg.authority);
    if (rc == 0 && r->token)
        rc = pl_buf_printf(o, "Authorization: Bearer %s\r\n", r->token);
    if (rc == 0 && r->sse)
        rc = pl_buf_printf(o, "Accept: text/event-stream\r\nCache-Control: no-cache\r\n");
    if (rc == 0 && r->body)
        rc = pl_buf_printf(o, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                           r->body_len);
    if (rc == 0)
        rc = pl_buf_append(o, "\r\n", 2);
    if (rc == 0 && r->body)
        rc = pl_buf_append(o, r->body, r->body_len);
    cn->h1 = H1_HEAD;
    return rc;
}

/* Case-insensitive "does the header value contain this token" for the
 * comma lists of Connection and Transfer-Encoding. */
static bool has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= n; i++)
        if (strncasecmp(v + i, tok, tl) == 0)
            return true;
    return false;
}

/* Parses the head ending at end (the blank line excluded). Returns the
 * status, or negative on a malformed head. */
static int parse_head(struct lg_conn *cn, const char *h, const char *end, bool *chunked,
                      long long *clen)
{
    if (end - h < 12 || strncmp(h, "HTTP/1.", 7) != 0)
        return -EPROTO;
    int status = atoi(h + 9);
    if (status < 100 || status > 599)
        return -EPROTO;
    cn->h1_close = h[7] == '0';
    *chunked = false;
    *clen = -1;
    const char *line = memchr(h, '\n', (size_t)(end - h));
    while (line && line < end) {
        line++;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            eol = end;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon) {
            size_t nl = (size_t)(colon - line);
            const char *v = colon + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            size_t vl = (size_t)(eol - v);
            if (nl == 14 && strncasecmp(line, "content-length", 14) == 0)
                *clen = strtoll(v, NULL, 10);
            else if (nl == 17 && strncasecmp(line, "transfer-encoding", 17) == 0)
                *chunked = has_token(v, vl, "chunked");
            else if (nl == 10 && strncasecmp(line, "connection", 10) == 0) {
                if (has_token(v, vl, "close"))
                    cn->h1_close = true;
                else if (has_token(v, vl, "keep-alive"))
                    cn->h1_close = false;
            }
        }
        line = eol;
    }
    return status;
}

static void complete(struct lg_conn *cn, int status)
{
    cn->h1 = H1_HEAD;
    if (cn->h1_close)
        cn->closing = true; /* no new request may land here */
    if (cn->reqs)
        lg_conn_req_done(cn, cn->reqs, status);
}

static int on_head(struct lg_conn *cn, int *status)
{
    struct pl_buf *in = &cn->in;
    const char *h = pl_buf_head(in);
    const char *end = memmem(h, in->len, "\r\n\r\n", 4);
    if (!end)
        return in->len > 65536 ? -EPROTO : 0;
    bool chunked;
    long long clen;
    int st = parse_head(cn, h, end, &chunked, &clen);
    if (st < 0 || !cn->reqs)
        return -EPROTO;
    pl_buf_consume(in, (size_t)(end + 4 - h));
    if (st < 200) /* 100 Continue and friends: the real answer follows */
        return 1;
    *status = st;
    cn->reqs->status = st;
    /* 204 and 304 never have a body (RFC 9112 6.3), whatever the headers
     * say or leave out: waiting for the end of the connection instead would
     * hang the request until the server's idle timeout. */
    if (st == 204 || st == 304) {
        cn->h1 = H1_LEN;
        cn->h1_left = 0;
        complete(cn, st);
    } else if (chunked) {
        cn->h1 = H1_CHUNK_SIZE;
    } else if (clen >= 0) {
        cn->h1 = H1_LEN;
        cn->h1_left = (size_t)clen;
        if (clen == 0)
            complete(cn, st);
    } else {
        cn->h1 = H1_EOF;
        cn->h1_close = true;
    }
    return 1;
}

/* Moves up to h1_left (or everything, for H1_EOF) of the buffered body to
 * the request. */
static int body(struct lg_conn *cn)
{
    struct pl_buf *in = &cn->in;
    size_t n = cn->h1 == H1_EOF ? in->len : PL_MIN(in->len, cn->h1_left);
    int rc = cn->reqs ? lg_req_body(cn->reqs, pl_buf_head(in), n) : -EPROTO;
    pl_buf_consume(in, n);
    if (cn->h1 != H1_EOF)
        cn->h1_left -= n;
    return rc < 0 ? rc : (int)(n > 0);
}

/* A line ending in CRLF at the front of cn->in; NULL when incomplete. */
static const char *line_end(struct lg_conn *cn)
{
    return memmem(pl_buf_head(&cn->in), cn->in.len, "\r\n", 2);
}

/* One parsing step. Returns 1 when it made progress, 0 when it needs more
 * bytes, negative on a protocol error. */
static int step(struct lg_conn *cn)
{
    struct pl_buf *in = &cn->in;
    const char *h = pl_buf_head(in), *e;
    int status = cn->reqs ? cn->reqs->status : 0;
    switch (cn->h1) {
    case H1_HEAD: return in->len ? on_head(cn, &status) : 0;
    case H1_LEN: {
        int rc = body(cn);
        if (rc >= 0 && cn->h1_left == 0)
            complete(cn, status);
        return rc;
    }
    case H1_EOF: return body(cn);
    case H1_CHUNK_SIZE:
        if (!(e = line_end(cn)))
            return in->len > 1024 ? -EPROTO : 0;
        if (!isxdigit((unsigned char)h[0]))
            return -EPROTO;
        cn->h1_left = strtoull(h, NULL, 16);
        pl_buf_consume(in, (size_t)(e + 2 - h));
        cn->h1 = cn->h1_left ? H1_CHUNK_DATA : H1_TRAILER;
        return 1;
    case H1_CHUNK_DATA: {
        int rc = body(cn);
        if (rc >= 0 && cn->h1_left == 0)
            cn->h1 = H1_CHUNK_END;
        return rc;
    }
    case H1_CHUNK_END:
        if (in->len < 2)
            return 0;
        if (h[0] != '\r' || h[1] != '\n')
            return -EPROTO;
        pl_buf_consume(in, 2);
        cn->h1 = H1_CHUNK_SIZE;
        return 1;
    case H1_TRAILER:
        if (!(e = line_end(cn)))
            return in->len > 65536 ? -EPROTO : 0;
        pl_buf_consume(in, (size_t)(e + 2 - h));
        if (e == h)
            complete(cn, status);
        return 1;
    }
    return -EPROTO;
}

int lg_h1_recv(struct lg_conn *cn, const char *p, size_t n)
{
    int rc = pl_buf_append(&cn->in, p, n);
    if (rc < 0)
        return rc;
    /* Bounded: every step consumes bytes or changes state, and a response
     * needs a handful of state changes per byte at most. */
    for (size_t i = 0; i < 4 * n + 64; i++) {
        if (cn->closed)
            return 0;
        if ((rc = step(cn)) <= 0)
            return rc;
    }
    return 0;
}

int lg_h1_eof(struct lg_conn *cn)
{
    if (cn->h1 == H1_EOF && cn->reqs) {
        complete(cn, cn->reqs->status);
        return 0;
    }
    return cn->reqs ? -ECONNRESET : 0;
}
