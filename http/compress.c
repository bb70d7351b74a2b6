/* SPDX-License-Identifier: MIT */
/* Parley - brotli content coding: responses, event streams, bodies.    */
/* Copyright (c) 2026 Parley developers                                 */

/*
 * Three places, all transport-neutral, so HTTP/1.1 and HTTP/2 behave alike:
 *
 * - Responses: when the worker completes a request (http_req_complete(),
 *   off the loop), a body of a compressible type and at least
 *   HTTP_BR_MIN_BODY bytes is compressed in one shot at a quality tuned for
 *   latency, if the client accepts br. Such responses always say
 *   Vary: Accept-Encoding, compressed or not.
 * - Event streams: http_resp_stream() of text/event-stream wraps the
 *   stream's ops in an encoder that flushes after every read, so each event
 *   leaves as soon as it is produced and decodes on arrival. An encoder that
 *   remembers earlier events is what makes small events compress well, and
 *   it costs memory for as long as the stream lives (about 7 KiB at
 *   quality 0-1, about 270 KiB from quality 2 up); so the quality is a
 *   setting and the number of compressed streams is bounded: past the bound
 *   streams go out uncompressed, which is always correct.
 * - Request bodies with Content-Encoding: br are decoded on the worker
 *   (http_req_decode_body), never on the loop, into a buffer bounded by
 *   max_body: a decompression bomb stops at the limit (413) without
 *   allocating beyond it.
 * - Static documents (http_doc) are compressed once at startup (quality
 *   DOC_QUALITY); a request for one compresses nothing.
 */
#include "http_int.h"

#include "common/log.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

PL_LOG_TOPIC("http");

/* One-shot responses: quality 5 is where brotli's speed/ratio curve bends. */
#define RESP_QUALITY 5
#define RESP_LGWIN 20

/* Static documents, once at startup. Measured on the 165 KB OpenAPI
 * document: quality 5 gives 26.6 KB in 11 ms, 7 gives 25.8 KB in 23 ms,
 * 11 gives 23.2 KB in 570 ms, which every start (and every test server)
 * would pay. */
#define DOC_QUALITY 7

static atomic_uint br_streams; /* compressed event streams open now */

/* ---- negotiation ---- */

static bool token_is(const char *p, size_t n, const char *tok)
{
    return strlen(tok) == n && strncasecmp(p, tok, n) == 0;
}

/* The q value of one Accept-Encoding element's parameters ("q=0.5");
 * 1 when absent, 0 when malformed (a broken element accepts nothing). */
static double qvalue(const char *p, const char *end)
{
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ';'))
            p++;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            char num[8];
            size_t n = 0;
            for (p += 2; p < end && *p != ';' && n < sizeof(num) - 1; p++)
                if (*p != ' ' && *p != '\t')
                    num[n++] = *p;
            num[n] = '\0';
            char *e;
            double q = strtod(num, &e);
            return (n && *e == '\0' && q >= 0 && q <= 1) ? q : 0;
        }
        while (p < end && *p != ';')
            p++;
    }
    return 1;
}

bool http__accepts_br(const struct http_req *req)
{
    const char *ae = http_req_header(req, "accept-encoding");
    if (!ae)
        return false;
    double br = -1, star = -1;
    for (const char *p = ae; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *tok = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t tl = (size_t)(p - tok);
        const char *params = p;
        while (*p && *p != ',')
            p++;
        if (!tl)
            continue;
        double q = qvalue(params, p);
        if (token_is(tok, tl, "br"))
            br = q;
        else if (token_is(tok, tl, "*"))
            star = q;
    }
    return br >= 0 ? br > 0 : star > 0;
}

bool http_req_accepts_br(const struct http_req *req)
{
    return http__accepts_br(req);
}

static bool compressible(const char *ctype)
{
    if (!ctype)
        return false;
    size_t n = strcspn(ctype, ";");
    while (n && ctype[n - 1] == ' ')
        n--;
    static const char *const types[] = {"application/json", "application/problem+json",
                                        "application/yaml", "application/x-ndjson"};
    for (size_t i = 0; i < PL_ARRAY_LEN(types); i++)
        if (token_is(ctype, n, types[i]))
            return true;
    return n > 5 && strncasecmp(ctype, "text/", 5) == 0 && !token_is(ctype, n, "text/event-stream");
}

static bool has_resp_header(const struct http_req *req, const char *name)
{
    for (unsigned i = 0; i < req->n_resp_headers; i++)
        if (strcasecmp(req->resp_headers[i].name, name) == 0)
            return true;
    return false;
}

/* ---- responses ---- */

void http__compress_response(struct http_req *req)
{
    if (req->resp_precompressed || req->stream_ops || req->resp_len < HTTP_BR_MIN_BODY ||
        !compressible(req->resp_ctype) || req->status == 206 ||
        has_resp_header(req, "content-encoding"))
        return;
    if (http_resp_header(req, "Vary", "Accept-Encoding") < 0)
        return;
    if (!http__accepts_br(req) || strcmp(req->method ? req->method : "", "HEAD") == 0)
        return;
    size_t cap = BrotliEncoderMaxCompressedSize(req->resp_len);
    uint8_t *out = cap ? pl_arena_alloc(req->arena, cap) : NULL;
    if (!out)
        return; /* identity is always a correct answer */
    size_t n = cap;
    if (!BrotliEncoderCompress(RESP_QUALITY, RESP_LGWIN, BROTLI_MODE_TEXT, req->resp_len,
                               (const uint8_t *)req->resp_body, &n, out) ||
        n >= req->resp_len)
        return;
    if (http_resp_header(req, "Content-Encoding", "br") < 0)
        return;
    req->resp_body = (const char *)out;
    req->resp_len = n;
}

/* ---- static documents ---- */

int http_doc_init(struct http_doc *d, const char *ctype, const char *body, size_t len)
{
    *d = (struct http_doc){.ctype = ctype, .body = body, .len = len};
    if (len < HTTP_BR_MIN_BODY)
        return 0;
    size_t cap = BrotliEncoderMaxCompressedSize(len);
    uint8_t *out = cap ? malloc(cap) : NULL;
    if (!out)
        return PL_ENOMEM;
    size_t n = cap;
    if (!BrotliEncoderCompress(DOC_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, len,
                               (const uint8_t *)body, &n, out) ||
        n >= len) {
        free(out);
        return 0;
    }
    d->br = (char *)out;
    d->br_len = n;
    return 0;
}

void http_doc_deinit(struct http_doc *d)
{
    free(d->br);
    d->br = NULL;
}

void http_resp_set_doc(struct http_req *req, int status, const struct http_doc *d)
{
    req->resp_precompressed = true;
    bool head = strcmp(req->method ? req->method : "", "HEAD") == 0;
    if (d->br && http_resp_header(req, "Vary", "Accept-Encoding") == 0 && !head &&
        http__accepts_br(req) && http_resp_header(req, "Content-Encoding", "br") == 0) {
        http_resp_set(req, status, d->ctype, d->br, d->br_len);
        return;
    }
    http_resp_set(req, status, d->ctype, d->body, d->len);
}

/* ---- event streams ---- */

struct br_stream {
    const struct http_stream_ops *inner;
    void *inner_ctx;
    BrotliEncoderState *enc;
    char *pend; /* compressed bytes that did not fit the last read */
    size_t pend_len, pend_off, pend_cap;
    ssize_t end_rc; /* the inner stream's end code, once it ended */
    bool done;      /* the brotli stream is finished */
};

/* Loop thread only: every stream reads through it in turn. */
static char br_in[16 * 1024];

/* Copies p[0..n) to the caller's buffer while it has room, the rest to
 * the stream's pending buffer. Returns 0 or PL_ENOMEM. */
static int emit(struct br_stream *b, const uint8_t *p, size_t n, char *dst, size_t max, size_t *got)
{
    size_t take = PL_MIN(n, max - *got);
    memcpy(dst + *got, p, take);
    *got += take;
    p += take;
    n -= take;
    if (!n)
        return 0;
    if (b->pend_len + n > b->pend_cap) {
        size_t cap = PL_MAX(b->pend_cap * 2, b->pend_len + n);
        char *np = realloc(b->pend, cap);
        if (!np)
            return PL_ENOMEM;
        b->pend = np;
        b->pend_cap = cap;
    }
    memcpy(b->pend + b->pend_len, p, n);
    b->pend_len += n;
    return 0;
}

static ssize_t br_read(void *ctx, char *dst, size_t max)
{
    struct br_stream *b = ctx;
    if (b->pend_off < b->pend_len) {
        size_t n = PL_MIN(max, b->pend_len - b->pend_off);
        memcpy(dst, b->pend + b->pend_off, n);
        b->pend_off += n;
        if (b->pend_off == b->pend_len) {
            b->pend_off = b->pend_len = 0;
            if (b->pend_cap > 64 * 1024) { /* keep idle streams small */
                free(b->pend);
                b->pend = NULL;
                b->pend_cap = 0;
            }
        }
        return (ssize_t)n;
    }
    if (b->done)
        return b->end_rc;
    ssize_t n = b->inner->read(b->inner_ctx, br_in, sizeof(br_in));
    if (n == 0)
        return 0;
    BrotliEncoderOperation op = BROTLI_OPERATION_FLUSH;
    if (n < 0) {
        b->end_rc = n;
        op = BROTLI_OPERATION_FINISH;
        n = 0;
    }
    size_t avail_in = (size_t)n, got = 0;
    const uint8_t *next_in = (const uint8_t *)br_in;
    for (;;) {
        size_t zero = 0;
        if (!BrotliEncoderCompressStream(b->enc, op, &avail_in, &next_in, &zero, NULL, NULL))
            return PL_EINTERNAL;
        while (BrotliEncoderHasMoreOutput(b->enc)) {
            size_t sz = 0;
            const uint8_t *p = BrotliEncoderTakeOutput(b->enc, &sz);
            if (emit(b, p, sz, dst, max, &got) < 0)
                return PL_ENOMEM;
        }
        if (avail_in == 0 && (op == BROTLI_OPERATION_FLUSH || BrotliEncoderIsFinished(b->enc)))
            break;
    }
    if (op == BROTLI_OPERATION_FINISH)
        b->done = true;
    return got ? (ssize_t)got : (b->done ? b->end_rc : 0);
}

static void br_on_close(void *ctx, int status)
{
    struct br_stream *b = ctx;
    if (b->inner->on_close)
        b->inner->on_close(b->inner_ctx, status);
    BrotliEncoderDestroyInstance(b->enc);
    free(b->pend);
    free(b);
    atomic_fetch_sub(&br_streams, 1);
}

static const struct http_stream_ops br_ops = {
    .version = HTTP_STREAM_OPS_VERSION, .read = br_read, .on_close = br_on_close};

void http__compress_stream(struct http_req *req)
{
    const struct http_br_config *cfg = &req->srv->cfg.br;
    if (!req->resp_ctype || strncmp(req->resp_ctype, "text/event-stream", 17) != 0 ||
        has_resp_header(req, "content-encoding"))
        return;
    if (http_resp_header(req, "Vary", "Accept-Encoding") < 0)
        return;
    if (!http__accepts_br(req) || !cfg->stream_max)
        return;
    if (atomic_fetch_add(&br_streams, 1) >= cfg->stream_max) {
        atomic_fetch_sub(&br_streams, 1);
        return;
    }
    struct br_stream *b = calloc(1, sizeof(*b));
    if (b)
        b->enc = BrotliEncoderCreateInstance(NULL, NULL, NULL);
    if (!b || !b->enc || http_resp_header(req, "Content-Encoding", "br") < 0) {
        if (b)
            BrotliEncoderDestroyInstance(b->enc);
        free(b);
        atomic_fetch_sub(&br_streams, 1);
        return;
    }
    BrotliEncoderSetParameter(b->enc, BROTLI_PARAM_QUALITY, cfg->stream_quality);
    BrotliEncoderSetParameter(b->enc, BROTLI_PARAM_LGWIN, 16);
    BrotliEncoderSetParameter(b->enc, BROTLI_PARAM_MODE, BROTLI_MODE_TEXT);
    b->inner = req->stream_ops;
    b->inner_ctx = req->stream_ctx;
    req->stream_ops = &br_ops;
    req->stream_ctx = b;
}

unsigned http_br_streams(void)
{
    return atomic_load(&br_streams);
}

/* ---- request bodies ---- */

int http__decode_body(struct http_req *req)
{
    const char *ce = http_req_header(req, "content-encoding");
    if (!ce)
        return 0;
    size_t n = strlen(ce);
    while (n && (ce[n - 1] == ' ' || ce[n - 1] == '\t'))
        n--;
    while (n && (*ce == ' ' || *ce == '\t'))
        ce++, n--;
    if (token_is(ce, n, "identity") || n == 0)
        return 0;
    /* Streamed bodies (uploads) are stored as sent: blobs are opaque. */
    if (!token_is(ce, n, "br") || http_req_body_streamed(req))
        return PL_EENCODING;
    size_t max = req->srv->cfg.limits.max_body;
    struct pl_buf out;
    pl_buf_init(&out, max + 1);
    BrotliDecoderState *d = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    if (!d)
        return PL_ENOMEM;
    size_t avail_in = req->body.len;
    const uint8_t *next_in = (const uint8_t *)pl_buf_head(&req->body);
    int rc = 0;
    for (;;) {
        /* Never more than the limit plus one byte: the byte that proves
         * the body is too large. */
        size_t room = max + 1 - out.len;
        if (room == 0) {
            rc = PL_ETOOBIG;
            break;
        }
        size_t want = PL_MIN(room, (size_t)64 * 1024);
        char *w = pl_buf_reserve(&out, want, &rc);
        if (!w)
            break;
        size_t avail_out = want;
        uint8_t *next_out = (uint8_t *)w;
        BrotliDecoderResult r =
            BrotliDecoderDecompressStream(d, &avail_in, &next_in, &avail_out, &next_out, NULL);
        pl_buf_commit(&out, want - avail_out);
        if (out.len > max) {
            rc = PL_ETOOBIG;
            break;
        }
        if (r == BROTLI_DECODER_RESULT_SUCCESS) {
            if (avail_in)
                rc = PL_EMALFORMED; /* bytes after the end of the brotli stream */
            break;
        }
        if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT || r == BROTLI_DECODER_RESULT_ERROR) {
            rc = PL_EMALFORMED;
            break;
        }
    }
    BrotliDecoderDestroyInstance(d);
    if (rc < 0) {
        pl_buf_deinit(&out);
        return rc;
    }
    pl_buf_deinit(&req->body);
    req->body = out;
    return 0;
}
