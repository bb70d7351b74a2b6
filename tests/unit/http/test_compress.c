/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for http/compress.c: where brotli work happens.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "http/http_int.h"

#include <brotli/encode.h>
#include <pthread.h>
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
