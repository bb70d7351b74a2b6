/* SPDX-License-Identifier: MIT */
/* Parley - integration: access-log injection, deadlines, connection caps. */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
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
