/* SPDX-License-Identifier: MIT */
/* Parley - integration: body, header and request-rate limits.          */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fails the case unless the server still answers on a fresh connection
 * (a new server handle per check would be overkill: h1 reconnects by
 * itself when the old connection was closed). */
static void assert_healthy(struct pt_server *s, enum pt_proto proto)
{
    struct pt_resp r;
    pt_get(s, proto, "/healthz", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
}

/* n bytes of valid JSON, {"username":"x"} padded with spaces, so only its
 * size can be a reason to refuse it (and any n-byte tail of it is JSON
 * too, from the padding on). */
static void padded_json(char *body, size_t n)
{
    memset(body, ' ', n);
    memcpy(body, "{\"username\":\"x\"", 15);
    body[n - 1] = '}';
}

PLTEST_PROTO(body_over_max_body_is_413)
{
    static const char *const args[] = {"--max-body", "1024", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    char body[4096];
    padded_json(body, sizeof(body));
    struct pt_resp r;
    int rc =
        pt_req(s, proto, "POST", "/v1/users", NULL, "application/json", body, sizeof(body), &r);
    if (rc < 0)
        pltest_fail(__FILE__, __LINE__, "no answer to an oversized body: %s", pt_req_error());
    PT_ASSERT_PROBLEM(&r, 413, "body-too-large");
    pt_resp_free(&r);
    /* A body at the limit is read and judged on its content instead. */
    rc = pt_req(s, proto, "POST", "/v1/users", NULL, "application/json", body + 3072, 1024, &r);
    PL_ASSERT_INT_EQ(rc, 0);
    PL_ASSERT(r.status != 413);
    pt_resp_free(&r);
    assert_healthy(s, proto);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* GET /healthz with hdrs must get our own 431 problem document; what
 * names the headers in the failure message. */
static void assert_headers_refused(struct pt_server *s, enum pt_proto proto, const char **hdrs,
                                   const char *what)
{
    struct pt_resp r;
    if (pt_req_h(s, proto, "GET", "/healthz", NULL, NULL, NULL, 0, hdrs, &r) < 0)
        pltest_fail(__FILE__, __LINE__, "no answer to %s: %s", what, pt_req_error());
    PT_ASSERT_PROBLEM(&r, 431, "headers-too-large");
    pt_resp_free(&r);
}

/* n headers "X-Filler-NNN: vvv...", each name and value totalling len
 * bytes (the ": " is not counted, as the limit does not count it), in
 * lines[]; hdrs[] lists them, NULL-terminated. */
enum { FILL_MAX = 200, FILL_LEN = 400 };
typedef char fill_line[FILL_LEN + 16];
static void fill_headers(fill_line *lines, const char **hdrs, unsigned n, unsigned len)
{
    for (unsigned i = 0; i < n; i++) {
        int k = snprintf(lines[i], sizeof(lines[i]), "X-Filler-%03u: ", i);
        memset(lines[i] + k, 'v', len - 12); /* the name is 12 bytes */
        lines[i][k + len - 12] = '\0';
        hdrs[i] = lines[i];
    }
    hdrs[n] = NULL;
}

PLTEST_PROTO(too_many_large_headers_are_431)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    static fill_line lines[FILL_MAX];
    static const char *hdrs[FILL_MAX + 1];
    /* 200 lines of 200 characters each. */
    fill_headers(lines, hdrs, 200, 198);
    struct pt_resp r;
    int rc = pt_req_h(s, proto, "GET", "/healthz", NULL, NULL, NULL, 0, hdrs, &r);
    if (rc < 0)
        pltest_fail(__FILE__, __LINE__, "no answer to 40 KB of headers: %s", pt_req_error());
    if (proto == PT_H1 && r.status == 413) {
        /* libmicrohttpd may answer from its own memory limit before our
         * header hook runs; what matters is the refusal and the survival. */
    } else {
        PT_ASSERT_PROBLEM(&r, 431, "headers-too-large");
    }
    pt_resp_free(&r);
    /* Just over the count limit (100), each header small. */
    hdrs[110] = NULL;
    for (int i = 0; i < 110; i++)
        lines[i][16] = '\0';
    assert_headers_refused(s, proto, hdrs, "110 headers");
    assert_healthy(s, proto);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Either side of max_header_bytes (16384), on a connection that carries
 * one request after another: a header block just under the limit is
 * served, with or without a body, and one just over it gets our own 431
 * (over HTTP/1.1 too: libmicrohttpd must have room to hand us the whole
 * block rather than refuse it itself). */
PLTEST_PROTO(header_bytes_either_side_of_the_limit)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    static fill_line lines[FILL_MAX];
    static const char *hdrs[FILL_MAX + 1];
    struct pt_resp r;
    for (int round = 0; round < 2; round++) {
        /* 39 * 400 = 15,600 bytes, plus the client's own few. */
        fill_headers(lines, hdrs, 39, FILL_LEN);
        int rc = pt_req_h(s, proto, "GET", "/healthz", NULL, NULL, NULL, 0, hdrs, &r);
        if (rc < 0)
            pltest_fail(__FILE__, __LINE__, "no answer to 15.6 KB of headers: %s", pt_req_error());
        PT_ASSERT_STATUS(&r, 200);
        pt_resp_free(&r);
        /* The same headers with a 16 KiB body, which the handler judges. */
        static char body[16384];
        padded_json(body, sizeof(body));
        rc = pt_req_h(s, proto, "POST", "/v1/users", NULL, "application/json", body, sizeof(body),
                      hdrs, &r);
        if (rc < 0)
            pltest_fail(__FILE__, __LINE__, "no answer to headers and a body: %s", pt_req_error());
        PL_ASSERT(r.status != 413 && r.status != 431 && r.status < 500);
        pt_resp_free(&r);
        /* 42 * 400 = 16,800 bytes: over. */
        fill_headers(lines, hdrs, 42, FILL_LEN);
        assert_headers_refused(s, proto, hdrs, "16.8 KB of headers");
    }
    assert_healthy(s, proto);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(connection_rate_limit_is_429_then_recovers)
{
    static const char *const args[] = {"--conn-rate", "5", "--conn-burst", "5", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_resp r;
    int limited = 0, ok = 0;
    for (int i = 0; i < 30; i++) {
        if (pt_req(s, proto, "GET", "/healthz", NULL, NULL, NULL, 0, &r) < 0) {
            /* A client that ignores 429s may be cut off (GOAWAY or close);
             * cutting it off before ever saying 429 is not acceptable. */
            if (!limited)
                pltest_fail(__FILE__, __LINE__, "request %d failed before any 429: %s", i + 1,
                            pt_req_error());
            break;
        }
        if (r.status == 429) {
            if (!limited) {
                PT_ASSERT_PROBLEM(&r, 429, "rate-limited");
                const char *ra = pt_resp_header(&r, "Retry-After");
                PL_ASSERT(ra && atoi(ra) >= 1);
            }
            limited++;
        } else {
            PT_ASSERT_STATUS(&r, 200);
            ok++;
        }
        pt_resp_free(&r);
    }
    /* The burst allows the first five; a few more may refill meanwhile. */
    PL_ASSERT(ok >= 5);
    PL_ASSERT(limited >= 1);
    /* The bucket refills at 5/s: the same connection gets through again
     * within a few seconds. */
    uint64_t deadline = pt_now_ms() + 10000;
    long status = 0;
    while (status != 200 && pt_now_ms() < deadline) {
        pt_sleep_ms(250);
        pt_get(s, proto, "/healthz", NULL, &r);
        status = r.status;
        pt_resp_free(&r);
    }
    PL_ASSERT_INT_EQ(status, 200);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
