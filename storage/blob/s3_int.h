/* SPDX-License-Identifier: MIT */
/* Parley - the S3 backend's internals: signed requests over libcurl.   */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_BLOB_S3_INT_H
#define PL_STORE_BLOB_S3_INT_H

#include "blob_int.h"
#include "sigv4_int.h"

#include "common/buf.h"

#include <curl/curl.h>
#include <pthread.h>

/* The backend's state (struct store_blob's impl). Immutable after init
 * except the curl share, which locks itself. */
struct s3 {
    char *scheme_host; /* "http://127.0.0.1:7480" or "https://bucket.s3.amazonaws.com" */
    char *host;        /* the Host header: host[:port] */
    char *base_path;   /* "/bucket" (path style) or "" */
    char *bucket, *region, *access_key, *secret;
    size_t part_size;
    CURLSH *share; /* connections and DNS shared by every thread's requests */
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

/* One request. The caller fills the first block; s3__do() the rest. */
struct s3_call {
    const char *method;
    const char *key; /* object key, or NULL for the bucket itself */
    bool staging;    /* the key's staging object, "incoming/<key>" */
    const struct store_blob__sigv4_pair *query;
    size_t n_query;
    const void *body; /* PUT/POST bytes (borrowed), body_len of them */
    size_t body_len;
    const char *content_type; /* sent, not signed */
    const char *copy_source;  /* CopyObject: "/bucket/key" (signed), or NULL */
    const char *content_md5;  /* base64 MD5 of the body (PutBucketCors wants it), or NULL */
    char range[64];           /* "bytes=a-b" or "" */
    /* Response body: into out[0..out_cap) when out is set (a ranged read),
     * else into resp (bounded; XML answers), else dropped. */
    void *out;
    size_t out_cap, out_len;
    struct pl_buf *resp;
    /* Filled by s3__do(). */
    long status;
    uint64_t length; /* Content-Length of the answer */
    int64_t mtime;   /* Last-Modified, seconds since the epoch (0 if absent) */
    char etag[STORE_BLOB_ETAG_MAX];
};

/* Builds, signs (Authorization header) and runs c on the calling thread;
 * blocks. Returns 0 for a 2xx answer; PL_ENOTFOUND (404); PL_ECONFLICT
 * (409, 412); PL_EUNAVAIL when S3 cannot be reached, answers 5xx or
 * refuses our credentials (logged); PL_EINTERNAL for other answers.
 * c->status holds the HTTP status either way (0 when none came). */
PL_MUST_CHECK int s3__do(struct s3 *s3, struct s3_call *c);

/* Where presigned PUT URLs write: clients never write a key itself
 * (store_blob_confirm() copies from here). */
#define S3_STAGING "incoming/"

/* The URL path of key ("/bucket/m/0f..."; "/bucket/" or "/" for NULL),
 * of its staging object ("/bucket/incoming/m/0f...") when staging. */
PL_MUST_CHECK int s3__path(const struct s3 *s3, const char *key, bool staging, char *out,
                           size_t cap);

/* Finds the next <tag>...</tag> in [*p, end) and returns its text (not
 * unescaped) in *val and *len, moving *p past it. False when there is none. */
bool s3__xml_next(const char **p, const char *end, const char *tag, const char **val, size_t *len);
/* Copies an XML text value into out, replacing the five predefined
 * entities. Returns false when it does not fit. */
bool s3__xml_text(const char *val, size_t len, char *out, size_t cap);

PL_MUST_CHECK int s3__http_init(struct s3 *s3);
void s3__http_deinit(struct s3 *s3);

#endif
