/* SPDX-License-Identifier: MIT */
/* Parley - fuzz: the request line, headers and the parsers of header   */
/* values and cursors (Range, If-None-Match, Accept-Encoding, Cookie,   */
/* Last-Event-ID, blob keys, conversation and search cursors).          */
/* Copyright (c) 2026 Parley developers                                 */
#include "fuzz.h"
#include "fuzz_hdr.h"

#include "http/http_int.h"

static struct http_server srv;

/* Input: method NUL target NUL then "name: value" header lines, one per
 * field, until an empty field; what is left are cursor strings. */
static void headers_from(struct fuzz_in *in, struct http_req *req)
{
    for (int i = 0; i < 40 && in->left; i++) {
        size_t n;
        char *h = fuzz_take(in, &n);
        if (!h)
            return;
        if (!n) {
            free(h);
            return;
        }
        char *colon = strchr(h, ':');
        size_t nl = colon ? (size_t)(colon - h) : n;
        const char *v = colon ? colon + 1 : "";
        while (*v == ' ')
            v++;
        if (http__req_add_header(req, h, nl, v, strlen(v)) < 0 && req->error) {
            free(h);
            return;
        }
        free(h);
    }
}

static void values(struct api_call *c, struct fuzz_in *in)
{
    struct http_req *req = c->req;
    uint64_t from, to, pos;
    uint64_t size = fuzz_byte(in) * 257u;
    int r = fuzz_hdr_range(http_req_header(req, "range"), size, &from, &to);
    if (r == 1 && (from > to || to >= size))
        abort(); /* a range outside the object would read past it */
    (void)fuzz_hdr_etag(http_req_header(req, "if-none-match"), "\"0123abcd\"");
    (void)http__accepts_br(req);
    (void)fuzz_hdr_cookie(c, "parley_token");
    (void)fuzz_hdr_last_event_id(http_req_header(req, "last-event-id"), &pos);
    const char *q = http_req_query(req, "cursor");
    if (q) {
        int64_t us, id;
        (void)api__conv_cursor_parse(q, &us, &id);
        (void)fuzz_hdr_search_cursor(c, q);
    }
    while (in->left) {
        char *s = fuzz_take(in, NULL);
        if (!s)
            return;
        int64_t us, id;
        (void)api__conv_cursor_parse(s, &us, &id);
        (void)fuzz_hdr_search_cursor(c, s);
        (void)api__parse_id(s, &id);
        free(s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    srv.cfg.limits.max_body = 1024;
    srv.cfg.limits.max_headers = 32;
    srv.cfg.limits.max_header_bytes = 8192;
    struct fuzz_in in = {data, size};
    char *method = fuzz_take(&in, NULL), *target = fuzz_take(&in, NULL);
    struct http_req *req = http__req_new(&srv, HTTP_PROTO_H1, "fuzz", NULL, NULL);
    if (!method || !target || !req)
        goto out;
    if (http__req_set_line(req, method, strlen(method), target, strlen(target)) < 0)
        goto out;
    headers_from(&in, req);
    /* The route's two segments, as the router would set them for
     * /blobs/{prefix}/{name}. */
    const char *path = http_req_path(req);
    const char *slash = path ? strrchr(path, '/') : NULL;
    const char *params[2] = {path ? path : "", slash ? slash + 1 : ""};
    http_req_set_params(req, params, 2);
    struct api_call c = {.req = req, .a = http_req_arena(req)};
    char key[STORE_BLOB_KEY_MAX];
    (void)fuzz_hdr_blob_key(&c, key);
    values(&c, &in);
out:
    http__req_free(req);
    free(method);
    free(target);
    return 0;
}
