/* SPDX-License-Identifier: MIT */
/* Parley - integration: HTTP/2 rapid reset, CONTINUATION flood.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * A raw h2c client: nghttp2's client session writes the preface and
 * parses what the server sends, so the tests see GOAWAY and SETTINGS as
 * frames; the abusive frames are either made by the session (rapid reset)
 * or written by hand (CONTINUATION flood).
 */
struct client {
    int fd;
    nghttp2_session *session;
    int closed;       /* EOF or a reset from the server */
    int send_failed;  /* a write failed: the server closed or stopped reading */
    int goaway;       /* the server sent GOAWAY */
    int settings;     /* the server's (non-ACK) SETTINGS arrived */
    long max_streams; /* its MAX_CONCURRENT_STREAMS, -1 when absent */
};

static ssize_t on_send(nghttp2_session *session, const uint8_t *data, size_t len, int flags,
                       void *ctx)
{
    struct client *c = ctx;
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return NGHTTP2_ERR_WOULDBLOCK;
    /* What the server sent before closing (its GOAWAY) may still be
     * waiting to be read, so this does not count as closed yet. */
    c->send_failed = 1;
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *f, void *ctx)
{
    struct client *c = ctx;
    if (f->hd.type == NGHTTP2_GOAWAY)
        c->goaway = 1;
    if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK)) {
        c->settings = 1;
        for (size_t i = 0; i < f->settings.niv; i++)
            if (f->settings.iv[i].settings_id == NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
                c->max_streams = (long)f->settings.iv[i].value;
    }
    return 0;
}

static void client_open(struct client *c, struct pt_server *s)
{
    memset(c, 0, sizeof(*c));
    c->max_streams = -1;
    c->fd = pt_connect(s);
    /* A server that stops reading must not hang the test in send(). */
    struct timeval tv = {5, 0};
    PL_ASSERT_INT_EQ(setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
    nghttp2_session_callbacks *cbs;
    PL_ASSERT_INT_EQ(nghttp2_session_callbacks_new(&cbs), 0);
    nghttp2_session_callbacks_set_send_callback(cbs, on_send);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    PL_ASSERT_INT_EQ(nghttp2_session_client_new(&c->session, cbs, c), 0);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
    PL_ASSERT_INT_EQ(nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 1), 0);
    PL_ASSERT_INT_EQ(nghttp2_session_send(c->session), 0);
}

static void client_close(struct client *c)
{
    nghttp2_session_del(c->session);
    close(c->fd);
}

/* Reads what the server sent within wait_ms (0: only what is there) and
 * feeds it to the session. Returns when done() is true, at EOF, or when
 * the time is up. */
static void client_pump(struct client *c, int wait_ms, int (*done)(const struct client *))
{
    uint64_t deadline = pt_now_ms() + (uint64_t)wait_ms;
    while (!c->closed && !(done && done(c))) {
        uint64_t now = pt_now_ms();
        int left = now >= deadline ? 0 : (int)(deadline - now);
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int n = poll(&pfd, 1, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        uint8_t buf[16384];
        ssize_t r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r <= 0) {
            c->closed = 1; /* EOF, or ECONNRESET: either way the server hung up */
            return;
        }
        /* Frames after GOAWAY or on streams we reset may upset the client
         * session; the test only cares what the server did. */
        if (nghttp2_session_mem_recv(c->session, buf, (size_t)r) < 0)
            return;
        (void)nghttp2_session_send(c->session);
    }
}

static int got_settings(const struct client *c)
{
    return c->settings;
}

static int got_goaway(const struct client *c)
{
    return c->goaway;
}

static void assert_healthy(struct pt_server *s)
{
    struct pt_resp r;
    pt_get(s, PT_H2C, "/healthz", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
}

PLTEST(h2_server_advertises_max_concurrent_streams)
{
    static const char *const args[] = {"--h2-max-streams", "77", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct client c;
    client_open(&c, s);
    client_pump(&c, 5000, got_settings);
    PL_ASSERT(c.settings);
    PL_ASSERT_INT_EQ(c.max_streams, 77);
    client_close(&c);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST(h2_rapid_reset_is_cut_off)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct client c;
    client_open(&c, s);
    client_pump(&c, 5000, got_settings);
    PL_ASSERT(c.settings);
    const nghttp2_nv nv[] = {
#define NV(n, v)                                                                                   \
    {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE}
        NV(":method", "GET"),
        NV(":scheme", "http"),
        NV(":path", "/healthz"),
        NV(":authority", "127.0.0.1"),
#undef NV
    };
    int sent = 0;
    /* Each stream's HEADERS goes out before its RST_STREAM: a reset of a
     * stream still queued would be dropped by the session unsent. */
    for (int i = 0; i < 2000 && !c.closed && !c.send_failed && !c.goaway; i++) {
        int32_t id = nghttp2_submit_request(c.session, NULL, nv, 4, NULL, NULL);
        if (id < 0)
            break; /* stream ids or the session ran out: the server cut us off */
        if (nghttp2_session_send(c.session) != 0)
            break;
        if (nghttp2_submit_rst_stream(c.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL) != 0 ||
            nghttp2_session_send(c.session) != 0)
            break;
        sent++;
        if (i % 50 == 49)
            client_pump(&c, 0, got_goaway);
    }
    client_pump(&c, 10000, got_goaway);
    fprintf(stderr, "rapid reset: %d streams opened and reset; %s\n", sent,
            c.goaway   ? "GOAWAY"
            : c.closed ? "closed"
                       : "neither GOAWAY nor close");
    if (!c.goaway && !c.closed)
        pltest_fail(__FILE__, __LINE__, "%d streams reset rapidly; no GOAWAY or close", sent);
    /* The limit is per second: a few hundred resets are not abuse. */
    PL_ASSERT(sent >= 100);
    client_close(&c);
    assert_healthy(s);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Writes a frame header and payload by hand. Returns 0, or -1 once the
 * server stopped taking bytes (closed, reset or not reading). */
static int put_frame(int fd, uint8_t type, uint8_t flags, uint32_t stream, const uint8_t *p,
                     size_t len)
{
    uint8_t hd[9] = {(uint8_t)(len >> 16),
                     (uint8_t)(len >> 8),
                     (uint8_t)len,
                     type,
                     flags,
                     (uint8_t)(stream >> 24),
                     (uint8_t)(stream >> 16),
                     (uint8_t)(stream >> 8),
                     (uint8_t)stream};
    if (send(fd, hd, sizeof(hd), MSG_NOSIGNAL) != (ssize_t)sizeof(hd))
        return -1;
    return len == 0 || send(fd, p, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* Literal header fields without indexing, new names: each a fresh header
 * the server must account for. Names and values stay under 127 bytes so
 * their lengths fit the 7-bit prefix. */
static size_t fill_block(uint8_t *p, size_t cap, unsigned *counter)
{
    size_t off = 0;
    while (off + 2 + 16 + 100 <= cap) {
        char name[17];
        int nlen = snprintf(name, sizeof(name), "x-flood-%08u", (*counter)++);
        p[off++] = 0x00;
        p[off++] = (uint8_t)nlen;
        memcpy(p + off, name, (size_t)nlen);
        off += (size_t)nlen;
        p[off++] = 98;
        memset(p + off, 'f', 98);
        off += 98;
    }
    return off;
}

PLTEST(h2_continuation_flood_is_cut_off)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct client c;
    client_open(&c, s);
    client_pump(&c, 5000, got_settings);
    PL_ASSERT(c.settings);
    /* :method GET, :scheme http, :path / (static table), :authority. */
    uint8_t block[16384];
    size_t n = 0;
    block[n++] = 0x82;
    block[n++] = 0x86;
    block[n++] = 0x84;
    block[n++] = 0x41;
    block[n++] = 9;
    memcpy(block + n, "127.0.0.1", 9);
    n += 9;
    unsigned counter = 0;
    n += fill_block(block + n, 4096, &counter);
    /* HEADERS with END_STREAM but without END_HEADERS, then CONTINUATION
     * frames that never end the block: up to 64 MiB of headers. */
    uint64_t t0 = pt_now_ms();
    int frames = 0;
    if (put_frame(c.fd, 0x1, 0x1, 1, block, n) == 0) {
        for (frames = 0; frames < 4096; frames++) {
            size_t len = fill_block(block, sizeof(block), &counter);
            if (put_frame(c.fd, 0x9, 0x0, 1, block, len) < 0)
                break;
            if (frames % 64 == 63) {
                client_pump(&c, 0, got_goaway);
                if (c.goaway || c.closed)
                    break;
            }
        }
    }
    client_pump(&c, 10000, got_goaway);
    fprintf(stderr, "CONTINUATION flood: %d frames taken; %s\n", frames,
            c.goaway   ? "GOAWAY"
            : c.closed ? "closed"
                       : "neither GOAWAY nor close");
    if (!c.goaway && !c.closed)
        pltest_fail(__FILE__, __LINE__, "%d CONTINUATION frames; no GOAWAY or close", frames);
    /* The default limits (100 headers, 16 KiB) are reached in the second
     * frame; a server that buffers the whole flood first is not cutting
     * it off. */
    if (frames >= 4096)
        pltest_fail(__FILE__, __LINE__, "the server took all %d frames (%llu ms)", frames,
                    (unsigned long long)(pt_now_ms() - t0));
    client_close(&c);
    assert_healthy(s);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
