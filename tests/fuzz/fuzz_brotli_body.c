/* SPDX-License-Identifier: MIT */
/* Parley - fuzz: brotli request bodies (http/compress.c).              */
/* Copyright (c) 2026 Parley developers                                 */
#include "fuzz.h"

#include "http/http_int.h"

static struct http_server srv;

/* Input: the first byte picks the Content-Encoding spelling, the rest is
 * the body as it arrived. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const enc[] = {"br", " br ", "BR", "identity", "gzip", "br, br", ""};
    srv.cfg.limits.max_body = 64 * 1024;
    srv.cfg.limits.max_headers = 32;
    srv.cfg.limits.max_header_bytes = 8192;
    struct fuzz_in in = {data, size};
    const char *ce = enc[fuzz_byte(&in) % (sizeof(enc) / sizeof(enc[0]))];
    struct http_req *req = http__req_new(&srv, HTTP_PROTO_H1, "fuzz", NULL, NULL);
    if (!req)
        return 0;
    if (http__req_set_line(req, "POST", 4, "/v1/x", 5) == 0 &&
        http__req_add_header(req, "Content-Encoding", 16, ce, strlen(ce)) == 0 &&
        http__req_body_append(req, in.p, in.left) == 0) {
        int rc = http__decode_body(req);
        size_t n = 0;
        const char *b = http_req_body(req, &n);
        /* Whatever the outcome, the body must stay within the limit. */
        if (rc == 0 && n > srv.cfg.limits.max_body)
            abort();
        if (b && n)
            (void)memchr(b, 0, n);
    }
    http__req_free(req);
    return 0;
}
