/* SPDX-License-Identifier: MIT */
/* Parley - integration harness: a keep-alive h2c client on nghttp2.    */
/* Copyright (c) 2026 Parley developers                                 */

/*
 * pt_req(PT_H2C) comes here instead of going through libcurl: libcurl
 * before 8.0 (Debian 12 ships 7.88) fails every second request on a
 * reused prior-knowledge connection with "Error in the HTTP2 framing
 * layer" (curl issue 10634, fixed by PR 10643), and a fresh connection per
 * request would hide what the server does with a long-lived h2c session
 * (per-connection rate limits, stream bookkeeping). One request at a time,
 * like the curl handles of the other transports.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQ_DEADLINE_MS 30000

struct text {
    char *p;
    size_t len, cap;
};

struct pt__h2c {
    int fd;
    unsigned port;
    nghttp2_session *session;
    int broken; /* the connection failed, closed or sent GOAWAY */
    /* The request in flight. */
    int32_t stream;
    int done;
    uint32_t rst_code;
    long status;
    struct text body, hdrs;
    char *ctype;
    const char *req_body;
    size_t req_len, req_off;
};

static void text_add(struct text *t, const void *d, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->len + n + 1)
            cap *= 2;
        t->p = realloc(t->p, cap);
        PL_ASSERT(t->p);
        t->cap = cap;
    }
    memcpy(t->p + t->len, d, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static ssize_t on_send(nghttp2_session *session, const uint8_t *data, size_t len, int flags,
                       void *ctx)
{
    struct pt__h2c *c = ctx;
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return NGHTTP2_ERR_WOULDBLOCK;
    c->broken = 1;
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ctx)
{
    struct pt__h2c *c = ctx;
    if (frame->hd.stream_id != c->stream)
        return 0;
    if (nlen == 7 && memcmp(name, ":status", 7) == 0) {
        /* A 1xx response is followed by the real one: start over. */
        c->status = strtol((const char *)value, NULL, 10);
        c->hdrs.len = 0;
        char line[32];
        int n = snprintf(line, sizeof(line), "HTTP/2 %ld\r\n", c->status);
        text_add(&c->hdrs, line, (size_t)n);
        return 0;
    }
    if (nlen == 12 && memcmp(name, "content-type", 12) == 0) {
        free(c->ctype);
        c->ctype = strndup((const char *)value, vlen);
    }
    text_add(&c->hdrs, name, nlen);
    text_add(&c->hdrs, ": ", 2);
    text_add(&c->hdrs, value, vlen);
    text_add(&c->hdrs, "\r\n", 2);
    return 0;
}

static int on_data(nghttp2_session *session, uint8_t flags, int32_t stream, const uint8_t *data,
                   size_t len, void *ctx)
{
    struct pt__h2c *c = ctx;
    if (stream == c->stream)
        text_add(&c->body, data, len);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream, uint32_t code, void *ctx)
{
    struct pt__h2c *c = ctx;
    if (stream == c->stream) {
        c->done = 1;
        c->rst_code = code;
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *ctx)
{
    struct pt__h2c *c = ctx;
    /* Streams above last_stream_id are refused; ours may still finish,
     * but the next request needs a new connection. */
    if (frame->hd.type == NGHTTP2_GOAWAY)
        c->broken = 1;
    return 0;
}

static ssize_t read_body(nghttp2_session *session, int32_t stream, uint8_t *buf, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *ctx)
{
    struct pt__h2c *c = ctx;
    size_t left = c->req_len - c->req_off, n = len < left ? len : left;
    memcpy(buf, c->req_body + c->req_off, n);
    c->req_off += n;
    if (c->req_off == c->req_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

struct pt__h2c *pt__h2c_open(unsigned port)
{
    struct pt__h2c *c = calloc(1, sizeof(*c));
    PL_ASSERT(c);
    c->port = port;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    PL_ASSERT(c->fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* HEADERS and DATA go out in separate writes; without this, Nagle and
     * the server's delayed ACK add 40 ms to every request with a body. */
    int one = 1;
    PL_ASSERT_INT_EQ(setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(c->fd);
        free(c);
        return NULL;
    }
    nghttp2_session_callbacks *cbs;
    PL_ASSERT_INT_EQ(nghttp2_session_callbacks_new(&cbs), 0);
    nghttp2_session_callbacks_set_send_callback(cbs, on_send);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    PL_ASSERT_INT_EQ(nghttp2_session_client_new(&c->session, cbs, c), 0);
    nghttp2_session_callbacks_del(cbs);
    PL_ASSERT_INT_EQ(nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, NULL, 0), 0);
    return c;
}

int pt__h2c_usable(const struct pt__h2c *c)
{
    return c && !c->broken;
}

void pt__h2c_free(struct pt__h2c *c)
{
    if (!c)
        return;
    nghttp2_session_del(c->session);
    close(c->fd);
    free(c->body.p);
    free(c->hdrs.p);
    free(c->ctype);
    free(c);
}

/* Adds "Name: value" as a lowercase name (HTTP/2 forbids uppercase). */
static void add_nv(nghttp2_nv *nv, size_t *n, char *line)
{
    char *colon = strchr(line, ':');
    PL_ASSERT(colon);
    for (char *p = line; p < colon; p++)
        *p = (char)tolower((unsigned char)*p);
    char *v = colon + 1 + strspn(colon + 1, " ");
    nv[*n] = (nghttp2_nv){(uint8_t *)line, (uint8_t *)v, (size_t)(colon - line), strlen(v),
                          NGHTTP2_NV_FLAG_NONE};
    (*n)++;
}

/* Sends and receives until the stream closed, the connection failed or
 * the deadline passed. Returns 0 or -1 with err set. */
static int pump(struct pt__h2c *c, char *err, size_t errlen)
{
    uint64_t deadline = pt_now_ms() + REQ_DEADLINE_MS;
    while (!c->done) {
        int rc = nghttp2_session_send(c->session);
        if (rc != 0) {
            snprintf(err, errlen, "send: %s", nghttp2_strerror(rc));
            return -1;
        }
        uint64_t now = pt_now_ms();
        if (now >= deadline) {
            snprintf(err, errlen, "no answer within %d s", REQ_DEADLINE_MS / 1000);
            return -1;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (nghttp2_session_want_write(c->session))
            pfd.events |= POLLOUT;
        int n = poll(&pfd, 1, (int)(deadline - now));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || !(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        uint8_t buf[16384];
        ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r <= 0) {
            snprintf(err, errlen, "the server closed the connection%s%s", r < 0 ? ": " : "",
                     r < 0 ? strerror(errno) : "");
            return -1;
        }
        ssize_t used = nghttp2_session_mem_recv(c->session, buf, (size_t)r);
        if (used < 0) {
            snprintf(err, errlen, "protocol error: %s", nghttp2_strerror((int)used));
            return -1;
        }
    }
    return 0;
}

int pt__h2c_req(struct pt__h2c *c, const char *method, const char *path, char **headers,
                const char *body, size_t len, struct pt_resp *out, char *err, size_t errlen)
{
    char authority[32], clen[32];
    snprintf(authority, sizeof(authority), "127.0.0.1:%u", c->port);
    size_t cap = 5;
    for (size_t i = 0; headers && headers[i]; i++)
        cap++;
    nghttp2_nv *nv = calloc(cap, sizeof(*nv));
    PL_ASSERT(nv);
    size_t n = 0;
#define PSEUDO(k, v)                                                                               \
    nv[n++] = (nghttp2_nv){(uint8_t *)(k), (uint8_t *)(v), strlen(k), strlen(v),                   \
                           NGHTTP2_NV_FLAG_NO_COPY_NAME}
    PSEUDO(":method", method);
    PSEUDO(":scheme", "http");
    PSEUDO(":authority", authority);
    PSEUDO(":path", path);
    if (body) {
        snprintf(clen, sizeof(clen), "%zu", len);
        PSEUDO("content-length", clen);
    }
#undef PSEUDO
    for (size_t i = 0; headers && headers[i]; i++)
        add_nv(nv, &n, headers[i]);
    c->done = 0;
    c->rst_code = 0;
    c->status = 0;
    c->body.len = c->hdrs.len = 0;
    text_add(&c->body, "", 0);
    text_add(&c->hdrs, "", 0);
    free(c->ctype);
    c->ctype = NULL;
    c->req_body = body;
    c->req_len = len;
    c->req_off = 0;
    nghttp2_data_provider prd = {.read_callback = read_body};
    c->stream = nghttp2_submit_request(c->session, NULL, nv, n, body ? &prd : NULL, c);
    free(nv); /* nghttp2 copied the names and values it needs */
    if (c->stream < 0) {
        snprintf(err, errlen, "submit: %s", nghttp2_strerror(c->stream));
        c->broken = 1;
        return -1;
    }
    if (pump(c, err, errlen) < 0) {
        c->broken = 1;
        return -1;
    }
    if (c->status == 0) {
        snprintf(err, errlen, "stream reset without a response (error code %u)", c->rst_code);
        return -1;
    }
    /* The caller owns copies; the buffers stay with the connection. */
    out->status = c->status;
    out->body = malloc(c->body.len + 1);
    PL_ASSERT(out->body);
    memcpy(out->body, c->body.p, c->body.len + 1);
    out->len = c->body.len;
    out->headers_raw = strdup(c->hdrs.p);
    out->_ctype = c->ctype ? strdup(c->ctype) : NULL;
    out->http_version = 20;
    return 0;
}
