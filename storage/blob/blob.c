/* SPDX-License-Identifier: MIT */
/* Parley - blob storage: keys, argument checks, hashing, backend pick.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "blob_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/*
 * Everything backends have in common lives here, so each backend is only
 * the I/O: key validation (the one gate between client strings and the
 * store), size accounting and the SHA-256 check of writers.
 */

static const struct store_blob__ops *const backends[] = {&store_blob__fs_ops, &store_blob__s3_ops};

static bool prefix_ok(const char *p, size_t n)
{
    if (n < 1 || n > 8)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 'a' || p[i] > 'z')
            return false;
    return true;
}

int store_blob_key_init(const char *prefix, char out[STORE_BLOB_KEY_MAX])
{
    out[0] = '\0';
    if (!prefix || !prefix_ok(prefix, strlen(prefix)))
        return PL_EINVAL;
    uint8_t rnd[16];
    randombytes_buf(rnd, sizeof(rnd));
    size_t n = strlen(prefix);
    memcpy(out, prefix, n);
    out[n++] = '/';
    sodium_bin2hex(out + n, STORE_BLOB_KEY_MAX - n, rnd, sizeof(rnd));
    return 0;
}

bool store_blob_key_valid(const char *key)
{
    if (!key)
        return false;
    const char *slash = strchr(key, '/');
    if (!slash || !prefix_ok(key, (size_t)(slash - key)))
        return false;
    const char *h = slash + 1;
    size_t n = 0;
    for (; h[n]; n++)
        if (!((h[n] >= '0' && h[n] <= '9') || (h[n] >= 'a' && h[n] <= 'f')))
            return false;
    return n == 32;
}

int store_blob_new(const struct store_blob_config *cfg, struct store_blob **out)
{
    *out = NULL;
    const char *name = cfg->backend && *cfg->backend ? cfg->backend : "fs";
    const struct store_blob__ops *ops = NULL;
    for (size_t i = 0; i < PL_ARRAY_LEN(backends); i++)
        if (!strcmp(backends[i]->name, name))
            ops = backends[i];
    if (!ops || sodium_init() < 0)
        return PL_EINVAL;
    struct store_blob *s = calloc(1, sizeof(*s));
    if (!s)
        return PL_ENOMEM;
    s->ops = ops;
    s->sign = cfg->sign;
    s->sign_ctx = cfg->sign_ctx;
    s->url_base = strdup(cfg->url_base ? cfg->url_base : "");
    s->proxy_get = cfg->s3_proxy_get;
    int rc = s->url_base ? ops->init(cfg, s) : PL_ENOMEM;
    if (rc < 0) {
        free(s->url_base);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void store_blob_free(struct store_blob *s)
{
    if (!s)
        return;
    s->ops->deinit(s);
    free(s->url_base);
    free(s);
}

bool store_blob_serves_urls(const struct store_blob *s)
{
    return s->ops->serves_urls;
}

bool store_blob_serves_downloads(const struct store_blob *s)
{
    return s->ops->serves_urls || s->proxy_get;
}

static const char *const inline_types[] = {
    "image/jpeg", "image/png",  "image/webp", "image/gif", "image/avif", "video/mp4", "video/webm",
    "video/ogg",  "audio/mpeg", "audio/ogg",  "audio/mp4", "audio/webm", "audio/aac", "audio/wav",
};

bool store_blob_inline_type(const char *ctype)
{
    size_t n = strcspn(ctype, "; \t");
    for (size_t i = 0; i < PL_ARRAY_LEN(inline_types); i++)
        if (strlen(inline_types[i]) == n && strncasecmp(ctype, inline_types[i], n) == 0)
            return true;
    return false;
}

int store_blob__presign_local(struct store_blob *s, const char *method, const char *key,
                              uint64_t size, const char *content_type, int64_t expires, char *out,
                              size_t cap)
{
    if (!s->sign)
        return PL_EUNAVAIL;
    char sig[128];
    int rc = s->sign(s->sign_ctx, method, key, size, content_type, expires, sig, sizeof(sig));
    if (rc < 0)
        return rc;
    int n =
        snprintf(out, cap, "%s/v1/blobs/%s?exp=%" PRId64 "&sig=%s", s->url_base, key, expires, sig);
    return n < 0 || (size_t)n >= cap ? PL_ETOOBIG : 0;
}

int store_blob_writer_new(struct store_blob *s, const char *key, uint64_t size,
                          const uint8_t *sha256, struct store_blob_writer **out)
{
    *out = NULL;
    if (!store_blob_key_valid(key))
        return PL_EINVAL;
    struct store_blob_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return PL_ENOMEM;
    w->s = s;
    w->fd = -1;
    w->size = size;
    strcpy(w->key, key);
    if (sha256) {
        w->check_hash = true;
        memcpy(w->want, sha256, STORE_BLOB_SHA256_BYTES);
    }
    /* libsodium's SHA-256 is portable C (a few hundred MB/s); OpenSSL's
     * runs at GB/s with SHA-NI, which is what keeps a 100 MiB upload fast. */
    w->hash = EVP_MD_CTX_new();
    int rc = w->hash && EVP_DigestInit_ex(w->hash, EVP_sha256(), NULL) == 1 ? 0 : PL_ENOMEM;
    if (rc == 0)
        rc = s->ops->writer_init(s, key, w);
    if (rc < 0) {
        EVP_MD_CTX_free(w->hash);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int store_blob_writer_write(struct store_blob_writer *w, const void *buf, size_t len)
{
    if (len > w->size - w->written)
        return PL_ETOOBIG;
    int rc = w->s->ops->writer_write(w, buf, len);
    if (rc < 0)
        return rc;
    if (EVP_DigestUpdate(w->hash, buf, len) != 1)
        return PL_EINTERNAL;
    w->written += len;
    return 0;
}

uint64_t store_blob_writer_written(const struct store_blob_writer *w)
{
    return w->written;
}

void store_blob_writer_abort(struct store_blob_writer *w)
{
    if (!w)
        return;
    w->s->ops->writer_discard(w);
    EVP_MD_CTX_free(w->hash);
    free(w);
}

int store_blob_writer_finish(struct store_blob_writer *w, uint8_t digest[STORE_BLOB_SHA256_BYTES])
{
    uint8_t got[EVP_MAX_MD_SIZE];
    unsigned got_len = 0;
    int rc = EVP_DigestFinal_ex(w->hash, got, &got_len) == 1 && got_len == STORE_BLOB_SHA256_BYTES
                 ? 0
                 : PL_EINTERNAL;
    if (digest)
        memcpy(digest, got, STORE_BLOB_SHA256_BYTES);
    if (rc < 0)
        ;
    else if (w->written != w->size)
        rc = PL_EINVAL;
    else if (w->check_hash && sodium_memcmp(got, w->want, STORE_BLOB_SHA256_BYTES) != 0)
        rc = PL_EMALFORMED;
    if (rc == 0)
        rc = w->s->ops->writer_commit(w);
    if (rc < 0)
        w->s->ops->writer_discard(w);
    EVP_MD_CTX_free(w->hash);
    free(w);
    return rc;
}

int store_blob_put_buf(struct store_blob *s, const char *key, const void *buf, size_t len,
                       const uint8_t *sha256)
{
    struct store_blob_writer *w;
    int rc = store_blob_writer_new(s, key, len, sha256, &w);
    if (rc < 0)
        return rc;
    if ((rc = store_blob_writer_write(w, buf, len)) < 0) {
        store_blob_writer_abort(w);
        return rc;
    }
    return store_blob_writer_finish(w, NULL);
}

int store_blob_put_file(struct store_blob *s, const char *key, const char *path,
                        const uint8_t *sha256)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0 || lseek(fd, 0, SEEK_SET) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    struct store_blob_writer *w;
    int rc = store_blob_writer_new(s, key, (uint64_t)end, sha256, &w);
    if (rc < 0)
        goto out;
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : 0;
            break;
        }
        if ((rc = store_blob_writer_write(w, buf, (size_t)n)) < 0)
            break;
    }
    if (rc < 0)
        store_blob_writer_abort(w);
    else
        rc = store_blob_writer_finish(w, NULL);
out:
    close(fd);
    return rc;
}

int store_blob_reader_new(struct store_blob *s, const char *key, struct store_blob_reader **out,
                          struct store_blob_stat *st)
{
    *out = NULL;
    if (!store_blob_key_valid(key))
        return PL_EINVAL;
    struct store_blob_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return PL_ENOMEM;
    r->s = s;
    r->fd = -1;
    int rc = s->ops->reader_init(s, key, r, st);
    if (rc < 0) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

ssize_t store_blob_reader_pread(struct store_blob_reader *r, void *buf, size_t len, uint64_t off)
{
    return r->s->ops->reader_pread(r, buf, len, off);
}

void store_blob_reader_free(struct store_blob_reader *r)
{
    if (!r)
        return;
    r->s->ops->reader_deinit(r);
    free(r);
}

int store_blob_read_all(struct store_blob *s, const char *key, size_t max, void **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    struct store_blob_reader *r;
    struct store_blob_stat st;
    int rc = store_blob_reader_new(s, key, &r, &st);
    if (rc < 0)
        return rc;
    if (st.size > max) {
        store_blob_reader_free(r);
        return PL_ETOOBIG;
    }
    char *b = malloc(st.size ? st.size : 1);
    size_t got = 0;
    rc = b ? 0 : PL_ENOMEM;
    while (rc == 0 && got < st.size) {
        ssize_t n = store_blob_reader_pread(r, b + got, st.size - got, got);
        if (n <= 0)
            rc = n < 0 ? (int)n : PL_EINTERNAL; /* shrank under us */
        else
            got += (size_t)n;
    }
    store_blob_reader_free(r);
    if (rc < 0) {
        free(b);
        return rc;
    }
    *buf = b;
    *len = got;
    return 0;
}

int store_blob_stat(struct store_blob *s, const char *key, struct store_blob_stat *st)
{
    if (!store_blob_key_valid(key))
        return PL_EINVAL;
    return s->ops->stat(s, key, st);
}

int store_blob_delete(struct store_blob *s, const char *key)
{
    if (!store_blob_key_valid(key))
        return PL_EINVAL;
    return s->ops->del(s, key);
}

int store_blob_list(struct store_blob *s, const char *prefix, store_blob_list_cb *cb, void *ctx)
{
    size_t n = prefix ? strlen(prefix) : 0;
    if (!prefix || n < 2 || prefix[n - 1] != '/' || !prefix_ok(prefix, n - 1))
        return PL_EINVAL;
    return s->ops->list(s, prefix, cb, ctx);
}

int store_blob_gc(struct store_blob *s, unsigned max_age_s)
{
    return s->ops->gc ? s->ops->gc(s, max_age_s) : 0;
}

int store_blob_presign(struct store_blob *s, const char *method, const char *key, uint64_t size,
                       const char *content_type, int64_t expires, char out[STORE_BLOB_URL_MAX])
{
    out[0] = '\0';
    if (!store_blob_key_valid(key) || !method || (strcmp(method, "GET") && strcmp(method, "PUT")))
        return PL_EINVAL;
    bool get = strcmp(method, "GET") == 0;
    /* parleyd's GET signatures never bind a type: blob_get checks them
     * with none and looks the type up itself. */
    if (get && (s->proxy_get || s->ops->serves_urls))
        return store_blob__presign_local(s, method, key, size, NULL, expires, out,
                                         STORE_BLOB_URL_MAX);
    return s->ops->presign(s, method, key, size, content_type, expires, out, STORE_BLOB_URL_MAX);
}

int store_blob_verify(struct store_blob *s, const char *key, uint64_t size,
                      const uint8_t sha256[STORE_BLOB_SHA256_BYTES])
{
    struct store_blob_reader *r;
    struct store_blob_stat st;
    int rc = store_blob_reader_new(s, key, &r, &st);
    if (rc < 0)
        return rc;
    if (st.size != size) {
        store_blob_reader_free(r);
        return PL_EMALFORMED;
    }
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    rc = h && buf && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1 ? 0 : PL_ENOMEM;
    uint64_t off = 0;
    while (rc == 0 && off < size) {
        ssize_t n =
            store_blob_reader_pread(r, buf, (size_t)PL_MIN((uint64_t)CHUNK, size - off), off);
        if (n <= 0)
            rc = n < 0 ? (int)n : PL_EMALFORMED; /* shorter than it said */
        else if (EVP_DigestUpdate(h, buf, (size_t)n) != 1)
            rc = PL_EINTERNAL;
        else
            off += (uint64_t)n;
    }
    uint8_t got[EVP_MAX_MD_SIZE];
    unsigned got_len = 0;
    if (rc == 0 &&
        (EVP_DigestFinal_ex(h, got, &got_len) != 1 || got_len != STORE_BLOB_SHA256_BYTES))
        rc = PL_EINTERNAL;
    if (rc == 0 && sodium_memcmp(got, sha256, STORE_BLOB_SHA256_BYTES) != 0)
        rc = PL_EMALFORMED;
    free(buf);
    EVP_MD_CTX_free(h);
    store_blob_reader_free(r);
    return rc;
}

int store_blob_confirm(struct store_blob *s, const char *key, uint64_t size,
                       const uint8_t sha256[STORE_BLOB_SHA256_BYTES])
{
    if (!store_blob_key_valid(key))
        return PL_EINVAL;
    /* Once a copy under key matches, it is final: nothing replaces it. */
    int rc = store_blob_verify(s, key, size, sha256);
    if (!s->ops->adopt || rc == 0 || (rc != PL_EMALFORMED && rc != PL_ENOTFOUND))
        return rc;
    /* Nothing there yet, or the copy of an upload that did not match (it
     * is never handed out): copy the staging object (again). */
    if ((rc = s->ops->adopt(s, key)) < 0)
        return rc;
    rc = store_blob_verify(s, key, size, sha256);
    if (rc == 0)
        s->ops->unstage(s, key);
    return rc;
}
