/* SPDX-License-Identifier: MIT */
/* Parley - integration: access-log injection, deadlines, connection caps. */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The whole server log, NUL-terminated (caller frees). */
static char *read_log(struct pt_server *s)
{
    FILE *f = fopen(pt_server_log(s), "re");
    PL_ASSERT(f != NULL);
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    PL_ASSERT(buf != NULL);
    n = fread(buf, 1, cap, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Waits up to 10 s for needle to appear in the log. */
static char *wait_log(struct pt_server *s, const char *needle)
{
    uint64_t deadline = pt_now_ms() + 10000;
    for (;;) {
        char *log = read_log(s);
        if (strstr(log, needle) || pt_now_ms() > deadline)
            return log;
        free(log);
        pt_sleep_ms(20);
    }
}

/* Issue 9, item 13: "%0A" in a path is decoded before routing; written raw
 * it would end the access-log line and forge the next one. */
PLTEST_PROTO(access_log_escapes_request_data)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_resp r;
    pt_get(s, proto, "/v1/nope%0Areq%201%20GET%20/admin%20200%1B[31m", NULL, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    char *log = wait_log(s, "/v1/nope\\x0areq");
    PL_ASSERT(strstr(log, "/v1/nope\\x0areq\\x201\\x20GET\\x20/admin\\x20200\\x1b[31m") != NULL);
    /* No line of the log starts with the forged text, and no ESC byte. */
    PL_ASSERT(strstr(log, "\nreq 1 GET") == NULL);
    PL_ASSERT(strchr(log, '\x1b') == NULL);
    free(log);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* A free loopback port (bound, read back, released). */
static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    PL_ASSERT(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    PL_ASSERT_INT_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    PL_ASSERT_INT_EQ(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A connected blocking socket to 127.0.0.1:port. */
static int connect_port(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    PL_ASSERT(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    PL_ASSERT_INT_EQ(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* GET path over HTTP/1.1 with Connection: close; returns the status and
 * the whole response in out (cap bytes). */
static int raw_get(unsigned port, const char *path, char *out, size_t cap)
{
    int fd = connect_port(port);
    char req[512];
    int n =
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    PL_ASSERT(write(fd, req, (size_t)n) == n);
    size_t got = 0;
    ssize_t k;
    while (got + 1 < cap && (k = read(fd, out + got, cap - 1 - got)) > 0)
        got += (size_t)k;
    out[got] = '\0';
    close(fd);
    int status = 0;
    sscanf(out, "HTTP/1.1 %d", &status);
    return status;
}

/* Issue 9, item 9: /metrics is not public. On the public ports it takes the
 * metrics_token; the admin listener serves it (and only the probes). */
PLTEST_PROTO(metrics_need_the_token_on_public_ports)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_resp r;
    pt_get(s, proto, "/metrics", NULL, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    pt_get(s, proto, "/metrics", "pt-metrics-tokem", &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    pt_get(s, proto, "/metrics", PT_METRICS_TOKEN, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT(strstr(r.body, "parley_http_requests_total") != NULL);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST(metrics_on_the_admin_listener)
{
    unsigned admin = free_port();
    char port[16];
    snprintf(port, sizeof(port), "%u", admin);
    const char *args[] = {"--admin-port", port, NULL};
    struct pt_server *s = PT_SERVER_START(args);
    static char out[1 << 20];
    PL_ASSERT_INT_EQ(raw_get(admin, "/metrics", out, sizeof(out)), 200);
    PL_ASSERT(strstr(out, "parley_http_requests_total") != NULL);
    PL_ASSERT_INT_EQ(raw_get(admin, "/healthz", out, sizeof(out)), 200);
    PL_ASSERT_INT_EQ(raw_get(admin, "/readyz", out, sizeof(out)), 200);
    /* Nothing of the API answers there. */
    PL_ASSERT_INT_EQ(raw_get(admin, "/openapi.yaml", out, sizeof(out)), 404);
    PL_ASSERT_INT_EQ(raw_get(admin, "/v1/me", out, sizeof(out)), 404);
    /* The port file names it third. */
    char pf[400];
    snprintf(pf, sizeof(pf), "%s", pt_server_log(s));
    strcpy(strrchr(pf, '/') + 1, "ports");
    FILE *f = fopen(pf, "re");
    PL_ASSERT(f != NULL);
    unsigned a = 0, b = 0, c = 0;
    PL_ASSERT_INT_EQ(fscanf(f, "%u %u %u", &a, &b, &c), 3);
    fclose(f);
    PL_ASSERT_INT_EQ(c, admin);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* ---- issue 9, item 8: deadlines and caps ---- */

/* A raw h2c client: an nghttp2 client session over a blocking socket, with
 * a request body the test releases byte by byte. */
struct h2c {
    int fd;
    nghttp2_session *ng;
    int closed;           /* EOF or reset from the server */
    int32_t reset_stream; /* a stream the server reset */
    uint32_t reset_code;
    int status;          /* :status of a response, when one came */
    size_t body_allowed; /* body bytes the data source may send now */
    int body_end;        /* ... and then END_STREAM */
};

static ssize_t h2c_send(nghttp2_session *ng, const uint8_t *data, size_t len, int flags, void *ud)
{
    struct h2c *c = ud;
    (void)ng, (void)flags;
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    if (n >= 0)
        return n;
    return errno == EAGAIN ? NGHTTP2_ERR_WOULDBLOCK : NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int h2c_on_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
    struct h2c *c = ud;
    (void)ng;
    if (code != NGHTTP2_NO_ERROR || !c->status) {
        c->reset_stream = id;
        c->reset_code = code;
    }
    return 0;
}

static int h2c_on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                         size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    struct h2c *c = ud;
    (void)ng, (void)f, (void)flags, (void)vlen;
    if (nlen == 7 && memcmp(name, ":status", 7) == 0)
        c->status = atoi((const char *)value);
    return 0;
}

static ssize_t h2c_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                        nghttp2_data_source *src, void *ud)
{
    struct h2c *c = ud;
    (void)ng, (void)id, (void)src;
    if (!c->body_allowed) {
        if (c->body_end) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
            return 0;
        }
        return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = c->body_allowed < len ? c->body_allowed : len;
    memset(buf, 'x', n);
    c->body_allowed -= n;
    return (ssize_t)n;
}

static void h2c_open(struct h2c *c, struct pt_server *s)
{
    memset(c, 0, sizeof(*c));
    c->fd = pt_connect(s);
    nghttp2_session_callbacks *cbs;
    PL_ASSERT_INT_EQ(nghttp2_session_callbacks_new(&cbs), 0);
    nghttp2_session_callbacks_set_send_callback(cbs, h2c_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2c_on_close);
    nghttp2_session_callbacks_set_on_header_callback(cbs, h2c_on_header);
    PL_ASSERT_INT_EQ(nghttp2_session_client_new(&c->ng, cbs, c), 0);
    nghttp2_session_callbacks_del(cbs);
    PL_ASSERT_INT_EQ(nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, NULL, 0), 0);
    PL_ASSERT_INT_EQ(nghttp2_session_send(c->ng), 0);
}

static void h2c_close(struct h2c *c)
{
    nghttp2_session_del(c->ng);
    close(c->fd);
}

/* Feeds what the server sends for up to wait_ms, or until the stream was
 * reset, a response came, or the connection closed. */
static void h2c_pump(struct h2c *c, int wait_ms)
{
    uint64_t deadline = pt_now_ms() + (uint64_t)wait_ms;
    while (!c->closed && !c->reset_stream && !c->status) {
        uint64_t now = pt_now_ms();
        if (now >= deadline)
            return;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int n = poll(&pfd, 1, (int)(deadline - now));
        if (n <= 0)
            continue;
        uint8_t buf[16384];
        ssize_t r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r <= 0) {
            c->closed = 1;
            return;
        }
        if (nghttp2_session_mem_recv(c->ng, buf, (size_t)r) < 0)
            return;
        (void)nghttp2_session_send(c->ng);
    }
}

/* Opens a request whose body the test releases; returns its stream id. */
static int32_t h2c_request(struct h2c *c, const char *method, const char *path,
                           const char *const *extra, size_t n_extra)
{
    nghttp2_nv nv[12];
    size_t n = 0;
#define NV(k, v)                                                                                   \
    nv[n++] =                                                                                      \
        (nghttp2_nv){(uint8_t *)(k), (uint8_t *)(v), strlen(k), strlen(v), NGHTTP2_NV_FLAG_NONE}
    NV(":method", method);
    NV(":scheme", "http");
    NV(":path", path);
    NV(":authority", "127.0.0.1");
    for (size_t i = 0; i + 1 < n_extra && n < 12; i += 2)
        NV(extra[i], extra[i + 1]);
#undef NV
    nghttp2_data_provider dp = {.read_callback = h2c_body};
    int32_t id = nghttp2_submit_request(c->ng, NULL, nv, n, &dp, NULL);
    PL_ASSERT(id > 0);
    PL_ASSERT_INT_EQ(nghttp2_session_send(c->ng), 0);
    return id;
}

/* Releases one more body byte of stream id and sends it. */
static void h2c_trickle(struct h2c *c, int32_t id)
{
    c->body_allowed++;
    (void)nghttp2_session_resume_data(c->ng, id);
    (void)nghttp2_session_send(c->ng);
}

/* HEADERS without END_STREAM, then silence: reset after body_timeout. */
PLTEST(h2_half_open_request_is_reset)
{
    const char *args[] = {"--body-timeout", "1", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct h2c c;
    h2c_open(&c, s);
    static const char *const ct[] = {"content-type", "application/json"};
    int32_t id = h2c_request(&c, "POST", "/v1/users", ct, 2);
    h2c_pump(&c, 15000);
    if (c.reset_stream != id)
        pltest_fail(__FILE__, __LINE__, "stream %d not reset (closed %d, status %d)", id, c.closed,
                    c.status);
    PL_ASSERT_INT_EQ(c.reset_code, NGHTTP2_CANCEL);
    PL_ASSERT(!c.closed); /* the connection itself stays usable */
    h2c_close(&c);
    struct pt_resp r;
    pt_get(s, PT_H2C, "/healthz", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* True when the server closed fd within wait_ms (EOF or reset). */
static bool closed_within(int fd, int wait_ms)
{
    uint64_t deadline = pt_now_ms() + (uint64_t)wait_ms;
    while (pt_now_ms() < deadline) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        char buf[4096];
        ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            return true;
    }
    return false;
}

/* Slowloris: headers that never end, one line every 300 ms. MHD's idle
 * timeout restarts with each byte; header_timeout does not. */
PLTEST(h1_partial_headers_are_closed)
{
    const char *args[] = {"--header-timeout", "2", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    int fd = pt_connect(s);
    const char *start = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    PL_ASSERT(write(fd, start, strlen(start)) == (ssize_t)strlen(start));
    bool closed = false;
    uint64_t deadline = pt_now_ms() + 15000;
    for (int i = 0; !closed && pt_now_ms() < deadline; i++) {
        char line[32];
        int n = snprintf(line, sizeof(line), "X-%d: %d\r\n", i, i);
        if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n)
            closed = true;
        else
            closed = closed_within(fd, 300); /* the client's pace */
    }
    close(fd);
    PL_ASSERT(closed);
    struct pt_resp r;
    pt_get(s, PT_H1, "/healthz", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Reserves an upload of n bytes of 'x' (what the trickling clients send)
 * and returns its URL path in url. */
static void reserve_x(struct pt_server *s, enum pt_proto p, const struct pt_user *u, size_t n,
                      char url[512])
{
    char *buf = malloc(n);
    PL_ASSERT(buf != NULL && sodium_init() >= 0);
    memset(buf, 'x', n);
    uint8_t h[32];
    char hex[65];
    crypto_hash_sha256(h, (const uint8_t *)buf, n);
    sodium_bin2hex(hex, sizeof(hex), h, 32);
    free(buf);
    struct pt_resp r;
    pt_reqf(s, p, "POST", u->token, &r, "/v1/media",
            "{\"content_type\":\"application/octet-stream\",\"size\":%zu,\"sha256\":\"%s\"}", n,
            hex);
    PT_ASSERT_STATUS(&r, 201);
    snprintf(url, 512, "%s", pt_json_str(pt_json(&r), "upload_url", NULL));
    pt_resp_free(&r);
}

/* Waits until no worker is busy (the upload handler let go). */
static void expect_workers_idle(struct pt_server *s)
{
    uint64_t deadline = pt_now_ms() + 10000;
    bool idle = false;
    while (!idle && pt_now_ms() < deadline) {
        struct pt_resp r;
        pt_get(s, PT_H1, "/metrics", PT_METRICS_TOKEN, &r);
        idle = strstr(r.body, "\nparley_worker_busy 0") != NULL;
        pt_resp_free(&r);
        if (!idle)
            pt_sleep_ms(50);
    }
    PL_ASSERT(idle);
}

/* A streamed upload at about 3 bytes a second against a minimum of 100
 * bytes a second over 2-second windows: cut, on HTTP/1.1 and on h2c, and
 * the worker is free again. */
PLTEST(slow_upload_is_cut_by_the_minimum_rate)
{
    const char *args[] = {"--body-timeout", "2", "--body-min-rate", "100", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user u;
    PT_USER_NEW(s, PT_H1, "slow", &u);
    char url[512];

    /* HTTP/1.1: the connection is closed. */
    reserve_x(s, PT_H1, &u, 100000, url);
    int fd = pt_connect(s);
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n",
                     url);
    PL_ASSERT(write(fd, head, (size_t)n) == n);
    bool closed = false;
    uint64_t deadline = pt_now_ms() + 20000;
    while (!closed && pt_now_ms() < deadline)
        closed = send(fd, "x", 1, MSG_NOSIGNAL) != 1 || closed_within(fd, 300);
    close(fd);
    PL_ASSERT(closed);
    expect_workers_idle(s);

    /* h2c: the stream is reset. */
    reserve_x(s, PT_H2C, &u, 100000, url);
    struct h2c c;
    h2c_open(&c, s);
    static const char *const hdrs[] = {"content-type", "application/octet-stream", "content-length",
                                       "100000"};
    int32_t id = h2c_request(&c, "PUT", url, hdrs, 4);
    deadline = pt_now_ms() + 20000;
    while (!c.reset_stream && !c.closed && !c.status && pt_now_ms() < deadline) {
        h2c_trickle(&c, id);
        h2c_pump(&c, 300);
    }
    if (c.reset_stream != id)
        pltest_fail(__FILE__, __LINE__, "slow h2 upload not reset (closed %d, status %d)", c.closed,
                    c.status);
    h2c_close(&c);
    expect_workers_idle(s);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* A request over h1 on a new connection; 1 when a response came, 0 when
 * the server closed the connection without one. */
static int h1_try(struct pt_server *s, int *fd_out)
{
    int fd = pt_connect(s);
    const char *req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    (void)!send(fd, req, strlen(req), MSG_NOSIGNAL);
    char buf[1024];
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t r = recv(fd, buf, sizeof(buf) - 1, 0);
    if (r > 0 && strncmp(buf, "HTTP/1.1 200", 12) == 0) {
        *fd_out = fd;
        return 1;
    }
    close(fd);
    return 0;
}

/* max_conns_per_ip = 3 (loopback not exempt here): a fourth connection is
 * closed at once; after one closes, a new one is served again. */
PLTEST(per_ip_connection_cap_refuses_the_next_one)
{
    const char *args[] = {"--max-conns-per-ip", "3", "--conn-ip-exempt", "", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    int fds[3];
    for (int i = 0; i < 3; i++) {
        /* The harness's own readiness probe may still be closing. */
        uint64_t deadline = pt_now_ms() + 10000;
        while (!h1_try(s, &fds[i]))
            PL_ASSERT(pt_now_ms() < deadline);
    }
    int extra = -1;
    PL_ASSERT_INT_EQ(h1_try(s, &extra), 0);
    close(fds[0]);
    uint64_t deadline = pt_now_ms() + 10000;
    while (!h1_try(s, &fds[0]))
        PL_ASSERT(pt_now_ms() < deadline);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* The same slowloris over TLS (HTTP/1.1 via ALPN): the TLS relay hands
 * the plaintext to libmicrohttpd, whose header deadline closes it. */
PLTEST(h1_over_tls_partial_headers_are_closed)
{
    const char *args[] = {"--header-timeout", "2", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    signal(SIGPIPE, SIG_IGN); /* a write after the server hung up must not kill us */
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    PL_ASSERT(ctx != NULL);
    static const unsigned char alpn[] = "\x08http/1.1";
    PL_ASSERT_INT_EQ(SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1), 0);
    int fd = connect_port(pt_server_tls_port(s));
    SSL *ssl = SSL_new(ctx);
    PL_ASSERT(ssl != NULL);
    SSL_set_fd(ssl, fd);
    PL_ASSERT_INT_EQ(SSL_connect(ssl), 1);
    const char *start = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    PL_ASSERT(SSL_write(ssl, start, (int)strlen(start)) == (int)strlen(start));
    bool closed = false;
    uint64_t deadline = pt_now_ms() + 15000;
    for (int i = 0; !closed && pt_now_ms() < deadline; i++) {
        char line[32];
        int n = snprintf(line, sizeof(line), "X-%d: %d\r\n", i, i);
        if (SSL_write(ssl, line, n) != n) {
            closed = true;
            break;
        }
        /* The client's pace: wait up to 300 ms for the server to hang up. */
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 300) > 0) {
            char buf[256];
            int r = SSL_read(ssl, buf, sizeof(buf));
            closed = r <= 0;
        }
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    PL_ASSERT(closed);
    struct pt_resp r;
    pt_get(s, PT_H2, "/healthz", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
