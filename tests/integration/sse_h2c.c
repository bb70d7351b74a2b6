/* SPDX-License-Identifier: MIT */
/* Parley - integration harness: SSE over h2c on nghttp2.               */
/* Copyright (c) 2026 Parley developers                                 */

/* One h2c connection carrying any number of event streams. harness_h2c.c
 * does one buffered request at a time; a stream needs its body as it
 * arrives and several of them on one connection, hence this second small
 * client. Nothing is read unless a test drives the connection. */
#include "sse_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Large enough that flow control never slows a reading test down; a test
 * that wants back-pressure stops reading the socket instead. */
#define WINDOW (16 * 1024 * 1024)

struct pt__sse_conn {
    int fd;
    unsigned port;
    nghttp2_session *session;
    struct pt_sse **streams; /* every stream still open on it */
    size_t n_streams, cap_streams;
    bool failed;
};

static ssize_t on_send(nghttp2_session *session, const uint8_t *data, size_t len, int flags,
                       void *ctx)
{
    struct pt__sse_conn *c = ctx;
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return NGHTTP2_ERR_WOULDBLOCK;
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static struct pt_sse *stream_of(nghttp2_session *session, int32_t id)
{
    return id > 0 ? nghttp2_session_get_stream_user_data(session, id) : NULL;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ctx)
{
    struct pt_sse *sse = stream_of(session, frame->hd.stream_id);
    if (!sse)
        return 0;
    if (nlen == 7 && memcmp(name, ":status", 7) == 0) {
        char st[8] = "";
        memcpy(st, value, vlen < 7 ? vlen : 7);
        pt__sse_set_status(sse, strtol(st, NULL, 10));
        sse->head_done = false;
        return 0;
    }
    pt__sse_add_header(sse, (const char *)name, nlen, (const char *)value, vlen);
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *ctx)
{
    struct pt_sse *sse = stream_of(session, frame->hd.stream_id);
    if (sse && frame->hd.type == NGHTTP2_HEADERS && sse->status >= 200)
        sse->head_done = true;
    return 0;
}

static int on_data(nghttp2_session *session, uint8_t flags, int32_t id, const uint8_t *data,
                   size_t len, void *ctx)
{
    struct pt_sse *sse = stream_of(session, id);
    if (sse)
        pt__sse_body(sse, (const char *)data, len);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t id, uint32_t code, void *ctx)
{
    struct pt_sse *sse = stream_of(session, id);
    if (sse) {
        pt__sse_end(sse);
        sse->stream_id = 0; /* nothing left to reset */
    }
    return 0;
}

struct pt__sse_conn *pt__sse_h2c_connect(unsigned port, int rcvbuf, int window, char *err,
                                         size_t errlen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    PL_ASSERT(fd >= 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(err, errlen, "connect to 127.0.0.1:%u: %s", port, strerror(errno));
        close(fd);
        return NULL;
    }
    struct pt__sse_conn *c = calloc(1, sizeof(*c));
    PL_ASSERT(c);
    c->fd = fd;
    c->port = port;
    nghttp2_session_callbacks *cbs;
    PL_ASSERT_INT_EQ(nghttp2_session_callbacks_new(&cbs), 0);
    nghttp2_session_callbacks_set_send_callback(cbs, on_send);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    PL_ASSERT_INT_EQ(nghttp2_session_client_new(&c->session, cbs, c), 0);
    nghttp2_session_callbacks_del(cbs);
    /* The connection window stays large; a small stream window is how a
     * test makes the server's flow control (not TCP) hold a stream back. */
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (uint32_t)(window > 0 ? window : WINDOW)},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    PL_ASSERT_INT_EQ(nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 2), 0);
    PL_ASSERT_INT_EQ(
        nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, WINDOW), 0);
    return c;
}

int pt__sse_h2c_submit(struct pt__sse_conn *c, const char *path, char **lines, struct pt_sse *sse,
                       char *err, size_t errlen)
{
    char authority[32];
    snprintf(authority, sizeof(authority), "127.0.0.1:%u", c->port);
    size_t cap = 4;
    for (size_t i = 0; lines[i]; i++)
        cap++;
    nghttp2_nv *nv = calloc(cap, sizeof(*nv));
    PL_ASSERT(nv);
    size_t n = 0;
#define NV(k, v) nv[n++] = (nghttp2_nv){(uint8_t *)(k), (uint8_t *)(v), strlen(k), strlen(v), 0}
    NV(":method", "GET");
    NV(":scheme", "http");
    NV(":authority", authority);
    NV(":path", path);
#undef NV
    for (size_t i = 0; lines[i]; i++) {
        char *colon = strchr(lines[i], ':');
        PL_ASSERT(colon);
        for (char *p = lines[i]; p < colon; p++)
            *p = (char)tolower((unsigned char)*p);
        char *v = colon + 1 + strspn(colon + 1, " ");
        nv[n++] = (nghttp2_nv){(uint8_t *)lines[i], (uint8_t *)v, (size_t)(colon - lines[i]),
                               strlen(v), 0};
    }
    int32_t id = nghttp2_submit_request(c->session, NULL, nv, n, NULL, sse);
    free(nv);
    if (id < 0) {
        snprintf(err, errlen, "submit: %s", nghttp2_strerror(id));
        return -1;
    }
    sse->h2c = c;
    sse->stream_id = id;
    if (c->n_streams == c->cap_streams) {
        c->cap_streams = c->cap_streams ? 2 * c->cap_streams : 8;
        c->streams = realloc(c->streams, c->cap_streams * sizeof(*c->streams));
        PL_ASSERT(c->streams);
    }
    c->streams[c->n_streams++] = sse;
    return 0;
}

/* The connection is gone: every stream on it has ended. */
static void fail_all(struct pt__sse_conn *c)
{
    c->failed = true;
    for (size_t i = 0; i < c->n_streams; i++) {
        if (!c->streams[i]->ended)
            pt__sse_end(c->streams[i]);
        c->streams[i]->stream_id = 0;
    }
}

void pt__sse_h2c_io(struct pt__sse_conn *c, int timeout_ms)
{
    if (c->failed)
        return;
    if (nghttp2_session_send(c->session) != 0) {
        fail_all(c);
        return;
    }
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    if (nghttp2_session_want_write(c->session))
        pfd.events |= POLLOUT;
    int n = poll(&pfd, 1, timeout_ms);
    if (n <= 0 || !(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
        return;
    uint8_t buf[65536];
    ssize_t r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0 || nghttp2_session_mem_recv(c->session, buf, (size_t)r) < 0) {
        fail_all(c);
        return;
    }
    /* WINDOW_UPDATEs for what was just consumed. */
    if (nghttp2_session_send(c->session) != 0)
        fail_all(c);
}

void pt__sse_h2c_close_stream(struct pt__sse_conn *c, struct pt_sse *sse)
{
    if (sse->stream_id > 0 && !c->failed) {
        nghttp2_session_set_stream_user_data(c->session, sse->stream_id, NULL);
        nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, sse->stream_id, NGHTTP2_CANCEL);
        if (nghttp2_session_send(c->session) != 0)
            c->failed = true;
    }
    sse->h2c = NULL;
    sse->stream_id = 0;
    for (size_t i = 0; i < c->n_streams; i++) {
        if (c->streams[i] == sse) {
            c->streams[i] = c->streams[--c->n_streams];
            break;
        }
    }
    if (c->n_streams == 0) {
        nghttp2_session_del(c->session);
        close(c->fd);
        free(c->streams);
        free(c);
    }
}
