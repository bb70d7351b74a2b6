/* SPDX-License-Identifier: MIT */
/* Parley - AWS Signature Version 4 for the S3 blob backend.            */
/* Copyright (c) 2026 Parley developers                                 */
#include "sigv4_int.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * A bucket answers every signing mistake with the same 403
 * SignatureDoesNotMatch, so the steps below follow the specification's
 * order one function each (canonical query, canonical headers, canonical
 * request, string to sign, key derivation) and the unit test compares the
 * intermediate strings, not only the final signature.
 *
 * Working memory is one fixed scratch area on the stack per call: a
 * request signs at most STORE_BLOB_SIGV4_MAX_PAIRS pairs, and anything
 * longer than the buffers is refused with PL_ETOOBIG rather than cut.
 */

#define CREQ_MAX 8192
#define ITEM_MAX 1024

void store_blob__sigv4_date(int64_t t, char out[STORE_BLOB_SIGV4_DATE])
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    strftime(out, STORE_BLOB_SIGV4_DATE, "%Y%m%dT%H%M%SZ", &tm);
}

void store_blob__sigv4_sha256_hex(const void *p, size_t len, char out[STORE_BLOB_SIGV4_HEX])
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, p, len);
    sodium_bin2hex(out, STORE_BLOB_SIGV4_HEX, h, sizeof(h));
}

static void hmac(const uint8_t *key, size_t klen, const char *msg, size_t mlen,
                 uint8_t out[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, klen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, mlen);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

static bool unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.' || ch == '~';
}

int store_blob__sigv4_encode(const char *s, size_t len, int keep_slash, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (unreserved(ch) || (keep_slash && ch == '/')) {
            if (n + 1 >= cap)
                return PL_ETOOBIG;
            out[n++] = (char)ch;
        } else {
            if (n + 3 >= cap)
                return PL_ETOOBIG;
            out[n++] = '%';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 15];
        }
    }
    if (n >= cap)
        return PL_ETOOBIG;
    out[n] = '\0';
    return (int)n;
}

/* Appends n bytes to out at *pos, keeping it NUL-terminated. */
static int put(char *out, size_t cap, size_t *pos, const char *s, size_t n)
{
    if (*pos + n >= cap)
        return PL_ETOOBIG;
    memcpy(out + *pos, s, n);
    *pos += n;
    out[*pos] = '\0';
    return 0;
}

static int puts0(char *out, size_t cap, size_t *pos, const char *s)
{
    return put(out, cap, pos, s, strlen(s));
}

/* Orders "name=value" items by name, then by value (byte order). */
static int cmp_item(const void *pa, const void *pb)
{
    const char *a = *(char *const *)pa, *b = *(char *const *)pb;
    size_t al = strcspn(a, "="), bl = strcspn(b, "=");
    int c = memcmp(a, b, PL_MIN(al, bl));
    if (c == 0 && al != bl)
        return al < bl ? -1 : 1;
    return c ? c : strcmp(a + al, b + bl);
}

int store_blob__sigv4_query(const struct store_blob__sigv4_pair *q, size_t n, char *out, size_t cap)
{
    if (n > STORE_BLOB_SIGV4_MAX_PAIRS)
        return PL_EINVAL;
    /* Each item is "name=value", both encoded (so the '=' is the only
     * one), sorted by name and then value. */
    static _Thread_local char items[STORE_BLOB_SIGV4_MAX_PAIRS][ITEM_MAX];
    char *sorted[STORE_BLOB_SIGV4_MAX_PAIRS];
    for (size_t i = 0; i < n; i++) {
        int a = store_blob__sigv4_encode(q[i].name, strlen(q[i].name), 0, items[i], ITEM_MAX - 1);
        if (a < 0)
            return a;
        items[i][a++] = '=';
        const char *v = q[i].value ? q[i].value : "";
        int b = store_blob__sigv4_encode(v, strlen(v), 0, items[i] + a, ITEM_MAX - (size_t)a);
        if (b < 0)
            return b;
        sorted[i] = items[i];
    }
    qsort(sorted, n, sizeof(*sorted), cmp_item);
    size_t pos = 0;
    if (cap)
        out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int rc = (i ? put(out, cap, &pos, "&", 1) : 0);
        if (rc < 0 || (rc = puts0(out, cap, &pos, sorted[i])) < 0)
            return rc;
    }
    return cap ? (int)pos : PL_ETOOBIG;
}

/* A header's canonical form: lowercase name, ':', the value without
 * leading or trailing spaces and with inner runs of spaces made one. */
static int canon_header(const struct store_blob__sigv4_pair *h, char *out, size_t cap)
{
    size_t n = 0, nl = strlen(h->name);
    if (nl + 2 >= cap)
        return PL_ETOOBIG;
    for (size_t i = 0; i < nl; i++) {
        char ch = h->name[i];
        out[n++] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
    }
    out[n++] = ':';
    const char *v = h->value ? h->value : "";
    while (*v == ' ' || *v == '\t')
        v++;
    bool space = false;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            space = true;
            continue;
        }
        if (n + 2 >= cap)
            return PL_ETOOBIG;
        if (space)
            out[n++] = ' ';
        space = false;
        out[n++] = *v;
    }
    out[n] = '\0';
    return (int)n;
}

/* Canonical headers block (each line ending in '\n') and the signed
 * header list. Headers with the same name are joined with ','. */
static int canon_headers(const struct store_blob__sigv4_req *req, char *block, size_t bcap,
                         size_t *bpos, char *names, size_t ncap)
{
    if (req->n_headers > STORE_BLOB_SIGV4_MAX_PAIRS)
        return PL_EINVAL;
    static _Thread_local char items[STORE_BLOB_SIGV4_MAX_PAIRS][ITEM_MAX];
    char *sorted[STORE_BLOB_SIGV4_MAX_PAIRS];
    for (size_t i = 0; i < req->n_headers; i++) {
        int rc = canon_header(&req->headers[i], items[i], ITEM_MAX);
        if (rc < 0)
            return rc;
        sorted[i] = items[i];
    }
    /* Stable order among equal names keeps values in arrival order: sort
     * by name only with an insertion sort (at most 16 items). */
    for (size_t i = 1; i < req->n_headers; i++) {
        char *x = sorted[i];
        size_t xl = (size_t)(strchr(x, ':') - x), j = i;
        for (; j > 0; j--) {
            char *y = sorted[j - 1];
            size_t yl = (size_t)(strchr(y, ':') - y);
            int c = memcmp(y, x, PL_MIN(xl, yl));
            if (c < 0 || (c == 0 && yl <= xl))
                break;
            sorted[j] = y;
        }
        sorted[j] = x;
    }
    size_t npos = 0;
    names[0] = '\0';
    for (size_t i = 0; i < req->n_headers; i++) {
        char *colon = strchr(sorted[i], ':');
        size_t nl = (size_t)(colon - sorted[i]);
        bool same = i > 0 && strncmp(sorted[i - 1], sorted[i], nl + 1) == 0;
        int rc;
        if (same) { /* replace the previous line's '\n' with ',' */
            block[*bpos - 1] = ',';
            rc = put(block, bcap, bpos, colon + 1, strlen(colon + 1));
        } else {
            rc = put(block, bcap, bpos, sorted[i], strlen(sorted[i]));
            if (rc == 0 && npos)
                rc = put(names, ncap, &npos, ";", 1);
            if (rc == 0)
                rc = put(names, ncap, &npos, sorted[i], nl);
        }
        if (rc < 0 || (rc = put(block, bcap, bpos, "\n", 1)) < 0)
            return rc;
    }
    return 0;
}

static int canon_request(const struct store_blob__sigv4_req *req, char *out, size_t cap,
                         char *names, size_t ncap)
{
    size_t pos = 0;
    char path[ITEM_MAX];
    int rc = store_blob__sigv4_encode(req->path, strlen(req->path), 1, path, sizeof(path));
    if (rc < 0 || (rc = puts0(out, cap, &pos, req->method)) < 0 ||
        (rc = put(out, cap, &pos, "\n", 1)) < 0 || (rc = puts0(out, cap, &pos, path)) < 0 ||
        (rc = put(out, cap, &pos, "\n", 1)) < 0)
        return rc;
    rc = store_blob__sigv4_query(req->query, req->n_query, out + pos, cap - pos);
    if (rc < 0)
        return rc;
    pos += (size_t)rc;
    if ((rc = put(out, cap, &pos, "\n", 1)) < 0 ||
        (rc = canon_headers(req, out, cap, &pos, names, ncap)) < 0 ||
        (rc = put(out, cap, &pos, "\n", 1)) < 0 || (rc = puts0(out, cap, &pos, names)) < 0 ||
        (rc = put(out, cap, &pos, "\n", 1)) < 0 ||
        (rc = puts0(out, cap, &pos, req->payload_hash)) < 0)
        return rc;
    return 0;
}

/* "<date>/<region>/<service>/aws4_request" */
static int scope_of(const struct store_blob__sigv4_cred *cred, const char *amz_date, char *out,
                    size_t cap)
{
    int n = snprintf(out, cap, "%.8s/%s/%s/aws4_request", amz_date, cred->region, cred->service);
    return n < 0 || (size_t)n >= cap ? PL_ETOOBIG : 0;
}

int store_blob__sigv4_sign(const struct store_blob__sigv4_cred *cred,
                           const struct store_blob__sigv4_req *req, char sig[STORE_BLOB_SIGV4_HEX],
                           char *signed_headers, size_t sh_cap, char *creq, size_t creq_cap)
{
    sig[0] = '\0';
    if (!req->method || !req->path || !req->payload_hash || !req->amz_date ||
        strlen(req->amz_date) != STORE_BLOB_SIGV4_DATE - 1 || !cred->secret || !cred->region ||
        !cred->service)
        return PL_EINVAL;
    static _Thread_local char canon[CREQ_MAX];
    char names[ITEM_MAX], scope[256], hash[STORE_BLOB_SIGV4_HEX];
    int rc = canon_request(req, canon, sizeof(canon), names, sizeof(names));
    if (rc < 0 || (rc = scope_of(cred, req->amz_date, scope, sizeof(scope))) < 0)
        return rc;
    if (creq && snprintf(creq, creq_cap, "%s", canon) >= (int)creq_cap)
        return PL_ETOOBIG;
    if (signed_headers && snprintf(signed_headers, sh_cap, "%s", names) >= (int)sh_cap)
        return PL_ETOOBIG;
    store_blob__sigv4_sha256_hex(canon, strlen(canon), hash);
    char sts[512];
    int n = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s", req->amz_date, scope, hash);
    if (n < 0 || (size_t)n >= sizeof(sts))
        return PL_ETOOBIG;
    /* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region),
     * service), "aws4_request") */
    char k0[256];
    int kl = snprintf(k0, sizeof(k0), "AWS4%s", cred->secret);
    if (kl < 0 || (size_t)kl >= sizeof(k0))
        return PL_ETOOBIG;
    uint8_t k[crypto_auth_hmacsha256_BYTES], out[crypto_auth_hmacsha256_BYTES];
    hmac((const uint8_t *)k0, (size_t)kl, req->amz_date, 8, k);
    hmac(k, sizeof(k), cred->region, strlen(cred->region), k);
    hmac(k, sizeof(k), cred->service, strlen(cred->service), k);
    hmac(k, sizeof(k), "aws4_request", 12, k);
    hmac(k, sizeof(k), sts, (size_t)n, out);
    sodium_memzero(k0, sizeof(k0));
    sodium_memzero(k, sizeof(k));
    sodium_bin2hex(sig, STORE_BLOB_SIGV4_HEX, out, sizeof(out));
    return 0;
}

int store_blob__sigv4_authorization(const struct store_blob__sigv4_cred *cred,
                                    const struct store_blob__sigv4_req *req, char *out, size_t cap)
{
    char sig[STORE_BLOB_SIGV4_HEX], names[ITEM_MAX], scope[256];
    int rc = store_blob__sigv4_sign(cred, req, sig, names, sizeof(names), NULL, 0);
    if (rc < 0 || (rc = scope_of(cred, req->amz_date, scope, sizeof(scope))) < 0)
        return rc;
    int n = snprintf(out, cap, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                     cred->access_key, scope, names, sig);
    return n < 0 || (size_t)n >= cap ? PL_ETOOBIG : 0;
}

int store_blob__sigv4_presign(const struct store_blob__sigv4_cred *cred,
                              const struct store_blob__sigv4_req *req, unsigned expires_s,
                              char *out, size_t cap)
{
    if (req->n_query + 5 > STORE_BLOB_SIGV4_MAX_PAIRS || !cred->access_key)
        return PL_EINVAL;
    struct store_blob__sigv4_pair q[STORE_BLOB_SIGV4_MAX_PAIRS];
    char scope[256], cred_s[512], exp_s[16], names[ITEM_MAX], sig[STORE_BLOB_SIGV4_HEX];
    int rc = scope_of(cred, req->amz_date, scope, sizeof(scope));
    if (rc < 0)
        return rc;
    int n = snprintf(cred_s, sizeof(cred_s), "%s/%s", cred->access_key, scope);
    if (n < 0 || (size_t)n >= sizeof(cred_s))
        return PL_ETOOBIG;
    snprintf(exp_s, sizeof(exp_s), "%u", expires_s);
    /* The signed header list is part of the signed query, so it is worked
     * out first from the headers alone. */
    char block[CREQ_MAX];
    size_t bpos = 0;
    if ((rc = canon_headers(req, block, sizeof(block), &bpos, names, sizeof(names))) < 0)
        return rc;
    if (req->n_query) /* query may be NULL then, and memcpy's arguments must not */
        memcpy(q, req->query, req->n_query * sizeof(*q));
    size_t nq = req->n_query;
    q[nq++] = (struct store_blob__sigv4_pair){"X-Amz-Algorithm", "AWS4-HMAC-SHA256"};
    q[nq++] = (struct store_blob__sigv4_pair){"X-Amz-Credential", cred_s};
    q[nq++] = (struct store_blob__sigv4_pair){"X-Amz-Date", req->amz_date};
    q[nq++] = (struct store_blob__sigv4_pair){"X-Amz-Expires", exp_s};
    q[nq++] = (struct store_blob__sigv4_pair){"X-Amz-SignedHeaders", names};
    struct store_blob__sigv4_req r = *req;
    r.query = q;
    r.n_query = nq;
    r.payload_hash = STORE_BLOB_SIGV4_UNSIGNED;
    if ((rc = store_blob__sigv4_sign(cred, &r, sig, NULL, 0, NULL, 0)) < 0)
        return rc;
    if ((rc = store_blob__sigv4_query(q, nq, out, cap)) < 0)
        return rc;
    size_t pos = (size_t)rc;
    if ((rc = puts0(out, cap, &pos, "&X-Amz-Signature=")) < 0 ||
        (rc = puts0(out, cap, &pos, sig)) < 0)
        return rc;
    return (int)pos;
}
