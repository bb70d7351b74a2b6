/* SPDX-License-Identifier: MIT */
/* Parley - AWS Signature Version 4 for the S3 blob backend.            */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_BLOB_SIGV4_INT_H
#define PL_STORE_BLOB_SIGV4_INT_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

/*
 * The signing half of SigV4 (AWS "Signature Version 4 signing process"),
 * with no I/O: canonical request, string to sign, derived key, signature,
 * and the query string of a presigned URL. HMAC-SHA256 and SHA-256 come
 * from libsodium. Everything here is a pure function of its arguments, so
 * tests/unit/storage/test_sigv4.c checks it against the published AWS
 * test-suite vectors and the S3 documentation's examples.
 *
 * Only storage/blob/ includes this header. Any thread.
 */

#define STORE_BLOB_SIGV4_HEX 65       /* 64 hex digits and the NUL */
#define STORE_BLOB_SIGV4_DATE 17      /* "YYYYMMDDTHHMMSSZ" and the NUL */
#define STORE_BLOB_SIGV4_MAX_PAIRS 16 /* query parameters or headers per request */
#define STORE_BLOB_SIGV4_UNSIGNED "UNSIGNED-PAYLOAD"

/* All strings borrowed for the call. */
struct store_blob__sigv4_cred {
    const char *access_key;
    const char *secret;
    const char *region;  /* "us-east-1" */
    const char *service; /* "s3" */
};

/* A query parameter (decoded name and value) or a header (any case; the
 * value is trimmed and its runs of spaces collapsed for signing). */
struct store_blob__sigv4_pair {
    const char *name;
    const char *value;
};

struct store_blob__sigv4_req {
    const char *method;
    /* Path as sent before encoding: every byte but the unreserved ones
     * (RFC 3986) and '/' is percent-encoded once, as S3 expects. */
    const char *path;
    const struct store_blob__sigv4_pair *query;
    size_t n_query;
    /* Every header to sign, Host included. */
    const struct store_blob__sigv4_pair *headers;
    size_t n_headers;
    const char *payload_hash; /* 64 lowercase hex digits or "UNSIGNED-PAYLOAD" */
    const char *amz_date;     /* "YYYYMMDDTHHMMSSZ" */
};

/* "YYYYMMDDTHHMMSSZ" for t (seconds since the epoch, UTC). */
void store_blob__sigv4_date(int64_t t, char out[STORE_BLOB_SIGV4_DATE]);
/* Lowercase hex SHA-256 of len bytes at p. */
void store_blob__sigv4_sha256_hex(const void *p, size_t len, char out[STORE_BLOB_SIGV4_HEX]);

/* Percent-encodes len bytes of s the SigV4 way (unreserved bytes kept,
 * '/' kept when keep_slash, everything else %XX in uppercase hex) into
 * out. Returns the length written or PL_ETOOBIG when cap is too small. */
PL_MUST_CHECK int store_blob__sigv4_encode(const char *s, size_t len, int keep_slash, char *out,
                                           size_t cap);

/* Writes the canonical query string of q[0..n) (names and values encoded,
 * sorted by name then value, joined by '&'), which is also what goes after
 * the '?' of the URL. Returns its length, PL_ETOOBIG or PL_EINVAL. */
PL_MUST_CHECK int store_blob__sigv4_query(const struct store_blob__sigv4_pair *q, size_t n,
                                          char *out, size_t cap);

/* Computes the signature of req (64 hex digits) and, when signed_headers
 * is not NULL, the ';'-joined list of signed header names. When creq is
 * not NULL it receives the canonical request (for tests and debugging).
 * Returns 0, PL_EINVAL (too many pairs, a missing field) or PL_ETOOBIG. */
PL_MUST_CHECK int store_blob__sigv4_sign(const struct store_blob__sigv4_cred *cred,
                                         const struct store_blob__sigv4_req *req,
                                         char sig[STORE_BLOB_SIGV4_HEX], char *signed_headers,
                                         size_t sh_cap, char *creq, size_t creq_cap);

/* The value of an Authorization header for req. Returns 0, PL_EINVAL or
 * PL_ETOOBIG. */
PL_MUST_CHECK int store_blob__sigv4_authorization(const struct store_blob__sigv4_cred *cred,
                                                  const struct store_blob__sigv4_req *req,
                                                  char *out, size_t cap);

/* The query string of a presigned URL for req: req->query plus the
 * X-Amz-Algorithm, -Credential, -Date, -Expires and -SignedHeaders
 * parameters (req->n_query + 5 must stay within the pair limit), signed
 * with UNSIGNED-PAYLOAD, and X-Amz-Signature last. req->payload_hash is
 * ignored. Returns the length written, PL_EINVAL or PL_ETOOBIG. */
PL_MUST_CHECK int store_blob__sigv4_presign(const struct store_blob__sigv4_cred *cred,
                                            const struct store_blob__sigv4_req *req,
                                            unsigned expires_s, char *out, size_t cap);

#endif
