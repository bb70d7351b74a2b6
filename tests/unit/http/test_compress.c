/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for http/compress.c: brotli both ways, and where. */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "http/http_int.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct http_server srv;
static struct http_req *dispatched;
static size_t len_at_dispatch;

/* Runs where the transport dispatches: the loop thread. */
static void on_request(void *ctx, struct http_req *req)
{
    (void)ctx;
    dispatched = req;
    size_t n;
    (void)http_req_body(req, &n);
    len_at_dispatch = n;
}

static const struct http_server_ops sops = {.version = HTTP_SERVER_OPS_VERSION,
                                            .on_request = on_request};

static struct http_req *new_req(size_t max_body)
{
    memset(&srv, 0, sizeof(srv));
    srv.ops = &sops;
    srv.cfg.limits.max_body = max_body;
    srv.cfg.limits.max_headers = 16;
    srv.cfg.limits.max_header_bytes = 4096;
    struct http_req *req = http__req_new(&srv, HTTP_PROTO_H1, "test", NULL, NULL);
    PL_ASSERT(req != NULL);
    return req;
}

/* Issue 9, item 9: a compressed request body is not decoded on the loop at
 * dispatch; the worker decodes it with http_req_decode_body(). */
PLTEST(br_body_is_decoded_by_the_worker_not_at_dispatch)
{
    struct http_req *req = new_req(1 << 20);
    static char plain[200000];
    memset(plain, 'a', sizeof(plain));
    size_t zl = BrotliEncoderMaxCompressedSize(sizeof(plain));
    uint8_t *z = malloc(zl);
    PL_ASSERT(BrotliEncoderCompress(5, 22, BROTLI_MODE_GENERIC, sizeof(plain),
                                    (const uint8_t *)plain, &zl, z));
    PL_ASSERT_INT_EQ(http__req_add_header(req, "Content-Encoding", 16, "br", 2), 0);
    PL_ASSERT_INT_EQ(http__req_body_append(req, z, zl), 0);
    http__req_dispatch(req);
    PL_ASSERT(dispatched == req);
    PL_ASSERT_INT_EQ(len_at_dispatch, zl); /* still as sent */
    PL_ASSERT_INT_EQ(http_req_error(req), 0);
    PL_ASSERT_INT_EQ(http_req_decode_body(req), 0);
    size_t n;
    const char *body = http_req_body(req, &n);
    PL_ASSERT_INT_EQ(n, sizeof(plain));
    PL_ASSERT(memcmp(body, plain, n) == 0);
    PL_ASSERT_INT_EQ(http_req_decode_body(req), 0); /* once only */
    http_req_body(req, &n);
    PL_ASSERT_INT_EQ(n, sizeof(plain));
    http__req_free(req);
    /* The bound still holds where decoding moved: a bomb stops at
     * max_body + 1 bytes. */
    req = new_req(1000);
    PL_ASSERT_INT_EQ(http__req_add_header(req, "Content-Encoding", 16, "br", 2), 0);
    PL_ASSERT_INT_EQ(http__req_body_append(req, z, zl), 0);
    http__req_dispatch(req);
    PL_ASSERT_INT_EQ(http_req_decode_body(req), PL_ETOOBIG);
    http__req_free(req);
    /* Unknown codings are refused. */
    req = new_req(1000);
    PL_ASSERT_INT_EQ(http__req_add_header(req, "Content-Encoding", 16, "gzip", 4), 0);
    http__req_dispatch(req);
    PL_ASSERT_INT_EQ(http_req_decode_body(req), PL_EENCODING);
    http__req_free(req);
    free(z);
}

/* Static documents are compressed once: every request that takes br gets
 * the same bytes (the same pointer), and one that does not gets the plain
 * document; http_req_complete()'s compression step leaves both alone. */
PLTEST(static_documents_are_compressed_once)
{
    static char yaml[100000];
    for (size_t i = 0; i < sizeof(yaml); i++)
        yaml[i] = "openapi: 3.1.0\npaths:\n"[i % 22];
    struct http_doc doc;
    PL_ASSERT_INT_EQ(http_doc_init(&doc, "application/yaml", yaml, sizeof(yaml)), 0);
    PL_ASSERT(doc.br != NULL && doc.br_len < sizeof(yaml) / 10);
    for (int i = 0; i < 3; i++) {
        struct http_req *req = new_req(1000);
        PL_ASSERT_INT_EQ(http__req_add_header(req, "Accept-Encoding", 15, "gzip, br", 8), 0);
        http_resp_set_doc(req, 200, &doc);
        http__compress_response(req);
        PL_ASSERT(req->resp_body == doc.br);
        PL_ASSERT_INT_EQ(req->resp_len, doc.br_len);
        unsigned vary = 0, ce = 0;
        for (unsigned k = 0; k < req->n_resp_headers; k++) {
            vary += strcmp(req->resp_headers[k].name, "Vary") == 0;
            ce += strcmp(req->resp_headers[k].name, "Content-Encoding") == 0;
        }
        PL_ASSERT_INT_EQ(vary, 1);
        PL_ASSERT_INT_EQ(ce, 1);
        http__req_free(req);
    }
    struct http_req *req = new_req(1000);
    http_resp_set_doc(req, 200, &doc);
    http__compress_response(req);
    PL_ASSERT(req->resp_body == yaml);
    PL_ASSERT_INT_EQ(req->resp_len, sizeof(yaml));
    http__req_free(req);
    http_doc_deinit(&doc);
}

/* ---- Accept-Encoding, responses, event streams, request bodies ---- */

static const struct http__req_ops rops = {0};

/* A request with the given Accept-Encoding (NULL: none) and method. */
static struct http_req *br_req(const char *method, const char *accept)
{
    memset(&srv, 0, sizeof(srv));
    srv.cfg.limits.max_body = 4096;
    srv.cfg.limits.max_headers = 32;
    srv.cfg.limits.max_header_bytes = 8192;
    srv.cfg.br.stream_max = 2;
    srv.cfg.br.stream_quality = 1;
    struct http_req *req = http__req_new(&srv, HTTP_PROTO_H1, "test", &rops, NULL);
    PL_ASSERT(req != NULL);
    PL_ASSERT_INT_EQ(http__req_set_line(req, method, strlen(method), "/x", 2), 0);
    if (accept)
        PL_ASSERT_INT_EQ(http__req_add_header(req, "Accept-Encoding", 15, accept, strlen(accept)),
                         0);
    return req;
}

static const char *resp_header(const struct http_req *req, const char *name)
{
    for (unsigned i = 0; i < req->n_resp_headers; i++)
        if (strcasecmp(req->resp_headers[i].name, name) == 0)
            return req->resp_headers[i].value;
    return NULL;
}

/* A JSON body of n bytes that compresses well. */
static char *json_body(size_t n)
{
    char *b = malloc(n + 1);
    PL_ASSERT(b != NULL);
    for (size_t i = 0; i < n; i++)
        b[i] = "{\"k\":\"value\"},"[i % 14];
    b[n] = 0;
    return b;
}

static void unbrotli(const char *in, size_t len, char *out, size_t *out_len)
{
    PL_ASSERT_INT_EQ(BrotliDecoderDecompress(len, (const uint8_t *)in, out_len, (uint8_t *)out),
                     BROTLI_DECODER_RESULT_SUCCESS);
}

PLTEST(accepts_br_reads_tokens_and_qvalues)
{
    static const struct {
        const char *ae;
        bool want;
    } cases[] = {
        {NULL, false},        {"", false},
        {"br", true},         {"gzip, deflate, br", true},
        {"BR", true},         {"gzip;q=1.0, br;q=0.5", true},
        {"br;q=0", false},    {"br; q=0.000", false},
        {"*", true},          {"*;q=0", false},
        {"br;q=0, *", false}, /* an explicit br wins over * */
        {"gzip", false},      {"brotli", false},
        {"br;q=2", false}, /* out of range: treated as 0 */
        {"br;q=abc", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct http_req *req = br_req("GET", cases[i].ae);
        if (http__accepts_br(req) != cases[i].want)
            pltest_fail(__FILE__, __LINE__, "Accept-Encoding \"%s\": expected %d",
                        cases[i].ae ? cases[i].ae : "(none)", cases[i].want);
        http__req_free(req);
    }
}

PLTEST(response_is_compressed_when_it_pays)
{
    struct http_req *req = br_req("GET", "gzip, br");
    char *body = json_body(4000);
    http_resp_set(req, 200, "application/json", body, 4000);
    http__compress_response(req);
    PL_ASSERT_STR_EQ(resp_header(req, "Content-Encoding"), "br");
    PL_ASSERT_STR_EQ(resp_header(req, "Vary"), "Accept-Encoding");
    PL_ASSERT(req->resp_len < 4000);
    char back[5000];
    size_t n = sizeof(back);
    unbrotli(req->resp_body, req->resp_len, back, &n);
    PL_ASSERT_INT_EQ(n, 4000);
    PL_ASSERT_MEM_EQ(back, body, 4000);
    http__req_free(req);
    free(body);
}

PLTEST(response_stays_identity_when_it_must)
{
    char *body = json_body(4000);
    /* Each case: method, Accept-Encoding, content type, length, status,
     * whether Vary is still added. */
    static const struct {
        const char *method, *ae, *ctype;
        size_t len;
        int status;
        bool vary;
    } cases[] = {
        {"GET", NULL, "application/json", 4000, 200, true},
        {"GET", "gzip", "application/json", 4000, 200, true},
        {"GET", "br", "application/json", HTTP_BR_MIN_BODY - 1, 200, false},
        {"GET", "br", "image/png", 4000, 200, false},
        {"GET", "br", "text/event-stream", 4000, 200, false},
        {"GET", "br", "application/json", 4000, 206, false},
        {"HEAD", "br", "application/json", 4000, 200, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct http_req *req = br_req(cases[i].method, cases[i].ae);
        http_resp_set(req, cases[i].status, cases[i].ctype, body, cases[i].len);
        http__compress_response(req);
        PL_ASSERT(resp_header(req, "Content-Encoding") == NULL);
        PL_ASSERT((resp_header(req, "Vary") != NULL) == cases[i].vary);
        PL_ASSERT(req->resp_body == body);
        PL_ASSERT_INT_EQ(req->resp_len, cases[i].len);
        http__req_free(req);
    }
    /* A body that does not shrink is sent as it is. */
    char noise[2048];
    for (size_t i = 0; i < sizeof(noise); i++)
        noise[i] = (char)(' ' + (i * 7919 + i / 3 * 104729) % 95);
    struct http_req *req = br_req("GET", "br");
    http_resp_set(req, 200, "text/plain", noise, sizeof(noise));
    http__compress_response(req);
    if (resp_header(req, "Content-Encoding"))
        PL_ASSERT(req->resp_len < sizeof(noise));
    else
        PL_ASSERT(req->resp_body == noise);
    http__req_free(req);
    free(body);
}

/* A stream that yields its events one read at a time, then ends. */
struct events {
    const char *const *ev;
    unsigned n, next, closes;
    int close_status;
};

static ssize_t ev_read(void *ctx, char *dst, size_t max)
{
    struct events *e = ctx;
    if (e->next == e->n)
        return PL_ECANCELED; /* the end */
    size_t len = strlen(e->ev[e->next]);
    PL_ASSERT(len <= max);
    memcpy(dst, e->ev[e->next++], len);
    return (ssize_t)len;
}

static void ev_close(void *ctx, int status)
{
    struct events *e = ctx;
    e->closes++;
    e->close_status = status;
}

static const struct http_stream_ops ev_ops = {HTTP_STREAM_OPS_VERSION, ev_read, ev_close};

/* One read from the wrapped stream, fed whole to the decoder d: *n is
 * out's size in, the decoded length out. Returns the decoder's result. */
static BrotliDecoderResult read_decoded(struct http_req *req, BrotliDecoderState *d, char *out,
                                        size_t *n)
{
    char buf[256];
    ssize_t got = req->stream_ops->read(req->stream_ctx, buf, sizeof(buf));
    PL_ASSERT(got > 0);
    size_t avail_in = (size_t)got, avail_out = *n;
    const uint8_t *in = (const uint8_t *)buf;
    uint8_t *o = (uint8_t *)out;
    BrotliDecoderResult r = BrotliDecoderDecompressStream(d, &avail_in, &in, &avail_out, &o, NULL);
    PL_ASSERT_INT_EQ(avail_in, 0);
    *n -= avail_out;
    return r;
}

PLTEST(stream_flushes_every_event)
{
    static const char *const ev[] = {"id: 1\ndata: {\"a\":1}\n\n", "id: 2\ndata: {\"b\":2}\n\n",
                                     ": keep-alive\n\n"};
    struct events e = {.ev = ev, .n = 3};
    struct http_req *req = br_req("GET", "br");
    http_resp_stream(req, 200, "text/event-stream", &ev_ops, &e);
    http__compress_stream(req);
    PL_ASSERT_STR_EQ(resp_header(req, "Content-Encoding"), "br");
    PL_ASSERT_INT_EQ(http_br_streams(), 1);
    PL_ASSERT(req->stream_ops != &ev_ops);
    /* Each read's output decodes to exactly that event: the encoder
     * flushed, so a browser sees the event without waiting for more. */
    BrotliDecoderState *d = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    PL_ASSERT(d != NULL);
    char out[256];
    for (unsigned i = 0; i < 3; i++) {
        size_t n = sizeof(out);
        PL_ASSERT_INT_EQ(read_decoded(req, d, out, &n), BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT);
        PL_ASSERT_INT_EQ(n, strlen(ev[i]));
        PL_ASSERT_MEM_EQ(out, ev[i], n);
    }
    /* The inner stream ends: the brotli stream is finished, then the end
     * code comes through. */
    size_t n = sizeof(out);
    PL_ASSERT_INT_EQ(read_decoded(req, d, out, &n), BROTLI_DECODER_RESULT_SUCCESS);
    PL_ASSERT_INT_EQ(n, 0);
    PL_ASSERT_INT_EQ(req->stream_ops->read(req->stream_ctx, out, sizeof(out)), PL_ECANCELED);
    BrotliDecoderDestroyInstance(d);
    req->stream_ops->on_close(req->stream_ctx, 0);
    PL_ASSERT_INT_EQ(e.closes, 1);
    PL_ASSERT_INT_EQ(e.close_status, 0);
    PL_ASSERT_INT_EQ(http_br_streams(), 0);
    req->stream_ops = NULL;
    http__req_free(req);
}

PLTEST(stream_small_reads_keep_the_rest_pending)
{
    static const char *const ev[] = {"data: a fairly long event line, long enough to split\n\n"};
    struct events e = {.ev = ev, .n = 1};
    struct http_req *req = br_req("GET", "br");
    http_resp_stream(req, 200, "text/event-stream", &ev_ops, &e);
    http__compress_stream(req);
    PL_ASSERT(req->stream_ops != &ev_ops);
    /* Two bytes at a time: nothing is lost between reads. */
    char all[512];
    size_t got = 0;
    for (int i = 0; i < 200; i++) {
        ssize_t n = req->stream_ops->read(req->stream_ctx, all + got, 2);
        if (n == PL_ECANCELED)
            break;
        PL_ASSERT(n > 0 && n <= 2);
        got += (size_t)n;
    }
    char out[256];
    size_t out_len = sizeof(out);
    unbrotli(all, got, out, &out_len);
    PL_ASSERT_INT_EQ(out_len, strlen(ev[0]));
    PL_ASSERT_MEM_EQ(out, ev[0], out_len);
    req->stream_ops->on_close(req->stream_ctx, PL_ECANCELED);
    PL_ASSERT_INT_EQ(e.closes, 1);
    PL_ASSERT_INT_EQ(e.close_status, PL_ECANCELED);
    req->stream_ops = NULL;
    http__req_free(req);
}

PLTEST(streams_past_the_bound_stay_uncompressed)
{
    static const char *const ev[] = {"data: x\n\n"};
    struct events e[3] = {{.ev = ev, .n = 1}, {.ev = ev, .n = 1}, {.ev = ev, .n = 1}};
    struct http_req *req[3];
    for (int i = 0; i < 3; i++) {
        req[i] = br_req("GET", "br");
        http_resp_stream(req[i], 200, "text/event-stream", &ev_ops, &e[i]);
        http__compress_stream(req[i]);
    }
    /* stream_max is 2. */
    PL_ASSERT(req[0]->stream_ops != &ev_ops);
    PL_ASSERT(req[1]->stream_ops != &ev_ops);
    PL_ASSERT(req[2]->stream_ops == &ev_ops);
    PL_ASSERT(resp_header(req[2], "Content-Encoding") == NULL);
    PL_ASSERT_STR_EQ(resp_header(req[2], "Vary"), "Accept-Encoding");
    PL_ASSERT_INT_EQ(http_br_streams(), 2);
    for (int i = 0; i < 3; i++) {
        req[i]->stream_ops->on_close(req[i]->stream_ctx, 0);
        req[i]->stream_ops = NULL;
        http__req_free(req[i]);
    }
    PL_ASSERT_INT_EQ(http_br_streams(), 0);
    /* Without br in Accept-Encoding nothing is wrapped. */
    struct http_req *plain = br_req("GET", "gzip");
    http_resp_stream(plain, 200, "text/event-stream", &ev_ops, &e[0]);
    http__compress_stream(plain);
    PL_ASSERT(plain->stream_ops == &ev_ops);
    plain->stream_ops = NULL;
    http__req_free(plain);
}

/* A request whose body is data (len bytes) sent with Content-Encoding ce. */
static struct http_req *body_req(const char *ce, const void *data, size_t len)
{
    struct http_req *req = br_req("POST", NULL);
    if (ce)
        PL_ASSERT_INT_EQ(http__req_add_header(req, "Content-Encoding", 16, ce, strlen(ce)), 0);
    pl_buf_init(&req->body, 1 << 20);
    PL_ASSERT_INT_EQ(pl_buf_append(&req->body, data, len), 0);
    return req;
}

static size_t brotli(const void *in, size_t len, uint8_t *out, size_t cap)
{
    size_t n = cap;
    PL_ASSERT(BrotliEncoderCompress(5, 22, BROTLI_MODE_GENERIC, len, in, &n, out));
    return n;
}

PLTEST(request_bodies_are_decoded_within_max_body)
{
    char *plain = json_body(4096); /* exactly max_body */
    uint8_t z[8192];
    size_t zn = brotli(plain, 4096, z, sizeof(z));
    struct http_req *req = body_req("br", z, zn);
    PL_ASSERT_INT_EQ(http__decode_body(req), 0);
    PL_ASSERT_INT_EQ(req->body.len, 4096);
    PL_ASSERT_MEM_EQ(pl_buf_head(&req->body), plain, 4096);
    http__req_free(req);

    /* One byte over the limit after decoding: 413, after at most
     * max_body + 1 bytes of output. */
    char *big = json_body(4097);
    zn = brotli(big, 4097, z, sizeof(z));
    req = body_req("br", z, zn);
    PL_ASSERT_INT_EQ(http__decode_body(req), PL_ETOOBIG);
    http__req_free(req);

    /* identity and no header leave the body alone; others are refused. */
    req = body_req("identity", "{}", 2);
    PL_ASSERT_INT_EQ(http__decode_body(req), 0);
    PL_ASSERT_INT_EQ(req->body.len, 2);
    http__req_free(req);
    req = body_req(NULL, "{}", 2);
    PL_ASSERT_INT_EQ(http__decode_body(req), 0);
    http__req_free(req);
    req = body_req("gzip", "{}", 2);
    PL_ASSERT_INT_EQ(http__decode_body(req), PL_EENCODING);
    http__req_free(req);

    /* Not brotli, truncated brotli, and bytes after the end. */
    req = body_req("br", "{}", 2);
    PL_ASSERT_INT_EQ(http__decode_body(req), PL_EMALFORMED);
    http__req_free(req);
    zn = brotli(plain, 100, z, sizeof(z));
    req = body_req("br", z, zn - 1);
    PL_ASSERT_INT_EQ(http__decode_body(req), PL_EMALFORMED);
    http__req_free(req);
    z[zn] = 'x';
    req = body_req("br", z, zn + 1);
    PL_ASSERT_INT_EQ(http__decode_body(req), PL_EMALFORMED);
    http__req_free(req);
    free(plain);
    free(big);
}
