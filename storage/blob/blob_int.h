/* SPDX-License-Identifier: MIT */
/* Parley - blob storage internals: the backend vtable.                 */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_BLOB_INT_H
#define PL_STORE_BLOB_INT_H

#include "storage/blob.h"

#include <openssl/evp.h>
#include <sodium.h>

/*
 * One table per backend. storage/blob/blob.c validates keys and arguments
 * before calling any entry, so backends may assume a valid key. Adding a
 * backend (S3, ...) means one new file with one of these tables and one
 * line in blob.c's backend list; nothing above storage/ changes.
 */
struct store_blob__ops {
    const char *name;
    bool serves_urls;
    int (*init)(const struct store_blob_config *cfg, struct store_blob *s);
    void (*deinit)(struct store_blob *s);
    int (*writer_init)(struct store_blob *s, const char *key, struct store_blob_writer *w);
    int (*writer_write)(struct store_blob_writer *w, const void *buf, size_t len);
    /* Publishes the verified data under the key; the common code has
     * already checked size and hash. */
    int (*writer_commit)(struct store_blob_writer *w);
    void (*writer_discard)(struct store_blob_writer *w);
    int (*reader_init)(struct store_blob *s, const char *key, struct store_blob_reader *r,
                       struct store_blob_stat *st);
    ssize_t (*reader_pread)(struct store_blob_reader *r, void *buf, size_t len, uint64_t off);
    void (*reader_deinit)(struct store_blob_reader *r);
    int (*stat)(struct store_blob *s, const char *key, struct store_blob_stat *st);
    int (*del)(struct store_blob *s, const char *key);
    int (*list)(struct store_blob *s, const char *prefix, store_blob_list_cb *cb, void *ctx);
    int (*gc)(struct store_blob *s, unsigned max_age_s);
    int (*presign)(struct store_blob *s, const char *method, const char *key, uint64_t size,
                   const char *content_type, int64_t expires, char *out, size_t cap);
    /* Stores whose presigned PUT URLs write a staging object (s3): adopt
     * copies the staging object of key to key (PL_ENOTFOUND when none),
     * unstage deletes it. NULL for fs, whose PUT handler publishes. */
    int (*adopt)(struct store_blob *s, const char *key);
    void (*unstage)(struct store_blob *s, const char *key);
};

struct store_blob {
    const struct store_blob__ops *ops;
    store_blob_sign_cb *sign;
    void *sign_ctx;
    char *url_base;
    bool proxy_get; /* GET URLs are parleyd's own whatever the backend */
    void *impl;     /* the backend's own state */
};

/* parleyd's own presigned URL, "<url_base>/v1/blobs/<key>?exp=..&sig=..",
 * signed by the configured signer: fs's presign, and s3's GET with
 * proxy_get. PL_EUNAVAIL without a signer, PL_ETOOBIG. */
int store_blob__presign_local(struct store_blob *s, const char *method, const char *key,
                              uint64_t size, const char *content_type, int64_t expires, char *out,
                              size_t cap);

/* Common writer state; backends keep theirs in impl. */
struct store_blob_writer {
    struct store_blob *s;
    char key[STORE_BLOB_KEY_MAX];
    uint64_t size, written;
    bool check_hash;
    uint8_t want[STORE_BLOB_SHA256_BYTES];
    EVP_MD_CTX *hash; /* OpenSSL's SHA-256 uses the CPU's SHA extensions */
    int fd;
    char tmp[4096];
    void *impl; /* the backend's own writer state (s3) */
};

struct store_blob_reader {
    struct store_blob *s;
    int fd;
    void *impl;
};

extern const struct store_blob__ops store_blob__fs_ops;
extern const struct store_blob__ops store_blob__s3_ops;

#endif
