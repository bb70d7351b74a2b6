/* SPDX-License-Identifier: MIT */
/* Parley - fuzz: presigned URL verification (crypto/urlsig.c) as the   */
/* blob routes reach it: a request target parsed, then its query checked. */
/* Copyright (c) 2026 Parley developers                                 */
#include "fuzz.h"

#include "crypto/crypto.h"
#include "crypto/urlsig.h"
#include "http/http_int.h"

#include <stdio.h>
#include <time.h>

static struct http_server srv;
static struct pcrypto_urlsig_key key;

static void init_once(void)
{
    static int done;
    if (done++)
        return;
    if (pcrypto_init() < 0)
        abort();
    srv.cfg.limits.max_body = 1024;
    srv.cfg.limits.max_headers = 64;
    srv.cfg.limits.max_header_bytes = 16384;
    if (pcrypto_urlsig_key_parse("000102030405060708090a0b0c0d0e0f"
                                 "101112131415161718191a1b1c1d1e1f",
                                 &key) < 0)
        abort();
}

/* Input: method NUL target NUL key-hex. The target's query carries exp,
 * size, type and sig as a presigned URL does. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    struct fuzz_in in = {data, size};
    char *method = fuzz_take(&in, NULL), *target = fuzz_take(&in, NULL);
    char *hex = fuzz_take(&in, NULL);
    struct http_req *req = http__req_new(&srv, HTTP_PROTO_H1, "fuzz", NULL, NULL);
    if (!method || !target || !hex || !req)
        goto out;
    struct pcrypto_urlsig_key k2;
    (void)pcrypto_urlsig_key_parse(hex, &k2);
    if (http__req_set_line(req, method, strlen(method), target, strlen(target)) < 0)
        goto out;
    const char *e = http_req_query(req, "exp"), *sig = http_req_query(req, "sig");
    const char *sz = http_req_query(req, "size"), *type = http_req_query(req, "type");
    const char *path = http_req_path(req);
    long long exp = e ? strtoll(e, NULL, 10) : 0;
    unsigned long long n = sz ? strtoull(sz, NULL, 10) : 0;
    (void)pcrypto_urlsig_verify(&key, method, path ? path : "", n, type, exp, (int64_t)time(NULL),
                                sig);
    /* A signature we made ourselves must verify: the round trip holds for
     * every field the signer accepts. */
    char good[PCRYPTO_URLSIG_STRLEN + 1];
    if (path && pcrypto_urlsig_sign(&key, method, path, n, type, exp, good, sizeof(good)) == 0 &&
        pcrypto_urlsig_verify(&key, method, path, n, type, exp, exp, good) != 0)
        abort();
out:
    http__req_free(req);
    free(method);
    free(target);
    free(hex);
    return 0;
}
