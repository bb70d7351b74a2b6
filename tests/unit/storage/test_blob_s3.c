/* SPDX-License-Identifier: MIT */
/* Parley - tests for storage/blob/s3.c against a real S3 server.       */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "storage/blob.h"
#include "storage/blob/sigv4_int.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/*
 * scripts/test starts Ceph's RADOS Gateway (scripts/lib_s3.sh) and passes
 * its endpoint and keys in PARLEY_TEST_S3, PARLEY_TEST_S3_KEY and
 * PARLEY_TEST_S3_SECRET. Run without them (meson test by hand) every case
 * skips, unless PARLEY_TEST_S3_REQUIRED is set, as scripts/test sets it, so
 * a gateway that failed to start fails the run instead of hiding.
 * Each case uses a bucket of its own, which the store creates.
 */

static struct store_blob *open_s3(size_t part_size)
{
    const char *ep = getenv("PARLEY_TEST_S3");
    if (!ep || !*ep) {
        if (getenv("PARLEY_TEST_S3_REQUIRED"))
            pltest_fail(__FILE__, __LINE__, "PARLEY_TEST_S3 is not set: the S3 server is down");
        pltest_skip(__FILE__, __LINE__, "no S3 server (PARLEY_TEST_S3)");
    }
    char bucket[64];
    snprintf(bucket, sizeof(bucket), "pltest-%d-%u", (int)getpid(), randombytes_uniform(1000000));
    struct store_blob_config cfg = {.backend = "s3",
                                    .s3_endpoint = ep,
                                    .s3_bucket = bucket,
                                    .s3_access_key = getenv("PARLEY_TEST_S3_KEY"),
                                    .s3_secret_key = getenv("PARLEY_TEST_S3_SECRET"),
                                    .s3_path_style = true,
                                    .s3_part_size = part_size};
    struct store_blob *s;
    PL_ASSERT_INT_EQ(store_blob_new(&cfg, &s), 0);
    PL_ASSERT(!store_blob_serves_urls(s));
    return s;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31 + seed + (i >> 13));
}

static int count_cb(void *ctx, const char *key, const struct store_blob_stat *st)
{
    (void)key, (void)st;
    ++*(int *)ctx;
    return 0;
}

PLTEST(s3_put_read_stat_list_delete)
{
    struct store_blob *s = open_s3(0);
    char key[STORE_BLOB_KEY_MAX];
    PL_ASSERT_INT_EQ(store_blob_key_init("a", key), 0);
    const char *data = "hello, object store";
    uint8_t sha[32], bad[32] = {0};
    crypto_hash_sha256(sha, (const uint8_t *)data, strlen(data));
    PL_ASSERT_INT_EQ(store_blob_put_buf(s, key, data, strlen(data), bad), PL_EMALFORMED);
    PL_ASSERT_INT_EQ(store_blob_stat(s, key, &(struct store_blob_stat){0}), PL_ENOTFOUND);
    PL_ASSERT_INT_EQ(store_blob_put_buf(s, key, data, strlen(data), sha), 0);
    PL_ASSERT_INT_EQ(store_blob_put_buf(s, key, data, strlen(data), NULL), PL_ECONFLICT);
    struct store_blob_stat st;
    PL_ASSERT_INT_EQ(store_blob_stat(s, key, &st), 0);
    PL_ASSERT_INT_EQ((int)st.size, (int)strlen(data));
    PL_ASSERT(st.mtime > time(NULL) - 3600 && st.etag[0] == '"');
    void *buf;
    size_t len;
    PL_ASSERT_INT_EQ(store_blob_read_all(s, key, 1024, &buf, &len), 0);
    PL_ASSERT_INT_EQ((int)len, (int)strlen(data));
    PL_ASSERT_MEM_EQ(buf, data, len);
    free(buf);
    PL_ASSERT_INT_EQ(store_blob_read_all(s, key, 4, &buf, &len), PL_ETOOBIG);
    struct store_blob_reader *r;
    PL_ASSERT_INT_EQ(store_blob_reader_new(s, key, &r, &st), 0);
    char part[8] = {0};
    PL_ASSERT_INT_EQ((int)store_blob_reader_pread(r, part, 5, 7), 5);
    PL_ASSERT_STR_EQ(part, "objec");
    PL_ASSERT_INT_EQ((int)store_blob_reader_pread(r, part, 5, st.size), 0);
    store_blob_reader_free(r);
    len = strlen(data);
    PL_ASSERT_INT_EQ(store_blob_verify(s, key, len, sha), 0);
    PL_ASSERT_INT_EQ(store_blob_verify(s, key, len, bad), PL_EMALFORMED);
    PL_ASSERT_INT_EQ(store_blob_verify(s, key, len + 1, sha), PL_EMALFORMED);
    int n = 0;
    PL_ASSERT_INT_EQ(store_blob_list(s, "a/", count_cb, &n), 0);
    PL_ASSERT_INT_EQ(n, 1);
    n = 0;
    PL_ASSERT_INT_EQ(store_blob_list(s, "m/", count_cb, &n), 0);
    PL_ASSERT_INT_EQ(n, 0);
    PL_ASSERT_INT_EQ(store_blob_delete(s, key), 0);
    PL_ASSERT_INT_EQ(store_blob_delete(s, key), 0);
    PL_ASSERT_INT_EQ(store_blob_read_all(s, key, 1024, &buf, &len), PL_ENOTFOUND);
    store_blob_free(s);
}

/* 12 MiB through a writer with 5 MiB parts: a multipart upload of three
 * parts, invisible until finish, read back across part boundaries. */
PLTEST(s3_multipart_writer)
{
    struct store_blob *s = open_s3(5u << 20);
    const size_t size = 12u << 20;
    uint8_t *data = malloc(size), sha[32];
    PL_ASSERT(data != NULL);
    fill(data, size, 7);
    crypto_hash_sha256(sha, data, size);
    char key[STORE_BLOB_KEY_MAX];
    PL_ASSERT_INT_EQ(store_blob_key_init("m", key), 0);
    struct store_blob_writer *w;
    PL_ASSERT_INT_EQ(store_blob_writer_new(s, key, size, sha, &w), 0);
    for (size_t off = 0; off < size; off += 700000)
        PL_ASSERT_INT_EQ(store_blob_writer_write(w, data + off, PL_MIN(700000, size - off)), 0);
    PL_ASSERT_INT_EQ(store_blob_writer_write(w, "x", 1), PL_ETOOBIG);
    /* Two parts are up, nothing is visible yet. */
    PL_ASSERT_INT_EQ(store_blob_stat(s, key, &(struct store_blob_stat){0}), PL_ENOTFOUND);
    uint8_t digest[32];
    PL_ASSERT_INT_EQ(store_blob_writer_finish(w, digest), 0);
    PL_ASSERT_MEM_EQ(digest, sha, 32);
    struct store_blob_reader *r;
    struct store_blob_stat st;
    PL_ASSERT_INT_EQ(store_blob_reader_new(s, key, &r, &st), 0);
    PL_ASSERT(st.size == size);
    uint8_t chunk[4096];
    uint64_t at = (5u << 20) - 1000; /* spans the first part boundary */
    PL_ASSERT_INT_EQ((int)store_blob_reader_pread(r, chunk, sizeof(chunk), at), 4096);
    PL_ASSERT_MEM_EQ(chunk, data + at, sizeof(chunk));
    store_blob_reader_free(r);
    PL_ASSERT_INT_EQ(store_blob_verify(s, key, size, sha), 0);
    free(data);
    store_blob_free(s);
}

/* A writer whose hash does not match leaves nothing, and its multipart
 * upload is aborted; one a crash abandoned is gc's. */
PLTEST(s3_writer_abort_and_gc)
{
    struct store_blob *s = open_s3(5u << 20);
    const size_t size = 6u << 20;
    uint8_t *data = malloc(size), bad[32] = {1};
    PL_ASSERT(data != NULL);
    fill(data, size, 3);
    char key[STORE_BLOB_KEY_MAX], key2[STORE_BLOB_KEY_MAX];
    PL_ASSERT_INT_EQ(store_blob_key_init("m", key), 0);
    struct store_blob_writer *w;
    PL_ASSERT_INT_EQ(store_blob_writer_new(s, key, size, bad, &w), 0);
    PL_ASSERT_INT_EQ(store_blob_writer_write(w, data, size), 0);
    PL_ASSERT_INT_EQ(store_blob_writer_finish(w, NULL), PL_EMALFORMED);
    PL_ASSERT_INT_EQ(store_blob_stat(s, key, &(struct store_blob_stat){0}), PL_ENOTFOUND);
    PL_ASSERT_INT_EQ(store_blob_gc(s, 0), 0); /* the failed writer aborted its upload */
    /* An abandoned writer: one part up, never finished. */
    PL_ASSERT_INT_EQ(store_blob_key_init("m", key2), 0);
    PL_ASSERT_INT_EQ(store_blob_writer_new(s, key2, size, NULL, &w), 0);
    PL_ASSERT_INT_EQ(store_blob_writer_write(w, data, size - 10), 0);
    PL_ASSERT_INT_EQ(store_blob_gc(s, 3600), 0); /* young: kept */
    PL_ASSERT_INT_EQ(store_blob_gc(s, 0), 1);
    store_blob_writer_abort(w); /* its upload is gone already: harmless */
    free(data);
    store_blob_free(s);
}

/* ---- presigned URLs, used the way a client does ---- */

struct sink {
    char buf[256];
    size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct sink *k = ctx;
    size_t m = PL_MIN(size * n, sizeof(k->buf) - 1 - k->len);
    memcpy(k->buf + k->len, p, m);
    k->len += m;
    k->buf[k->len] = '\0';
    return size * n;
}

/* Sends method to url with body (PUT) and content type; returns the
 * status, the answer in *out. */
static long fetch(const char *method, const char *url, const char *body, const char *type,
                  struct sink *out)
{
    CURL *h = curl_easy_init();
    PL_ASSERT(h != NULL);
    struct curl_slist *hdrs = NULL;
    char ct[128];
    if (type) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", type);
        hdrs = curl_slist_append(hdrs, ct);
    }
    memset(out, 0, sizeof(*out));
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    if (!strcmp(method, "PUT")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    long status = 0;
    PL_ASSERT_INT_EQ(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return status;
}

PLTEST(s3_presigned_put_and_get)
{
    struct store_blob *s = open_s3(0);
    char key[STORE_BLOB_KEY_MAX], url[STORE_BLOB_URL_MAX], bad[STORE_BLOB_URL_MAX + 8];
    PL_ASSERT_INT_EQ(store_blob_key_init("m", key), 0);
    int64_t exp = (int64_t)time(NULL) + 600;
    const char *body = "uploaded straight to S3";
    struct sink k;
    PL_ASSERT_INT_EQ(store_blob_presign(s, "PUT", key, strlen(body), "text/plain", exp, url), 0);
    PL_ASSERT(strstr(url, "X-Amz-Signature=") && strstr(url, "content-length%3Bcontent-type"));
    /* The URL binds length and type: anything else is refused. */
    PL_ASSERT_INT_EQ((int)fetch("PUT", url, "short", "text/plain", &k), 403);
    PL_ASSERT_INT_EQ((int)fetch("PUT", url, body, "image/png", &k), 403);
    snprintf(bad, sizeof(bad), "%s", url);
    char *sig = strstr(bad, "X-Amz-Signature=") + 16;
    *sig = *sig == '0' ? '1' : '0';
    PL_ASSERT_INT_EQ((int)fetch("PUT", bad, body, "text/plain", &k), 403);
    PL_ASSERT_INT_EQ(store_blob_stat(s, key, &(struct store_blob_stat){0}), PL_ENOTFOUND);
    PL_ASSERT_INT_EQ((int)fetch("PUT", url, body, "text/plain", &k), 200);
    /* The client wrote the staging object, not the key: confirm copies
     * it over after the checks. */
    uint8_t sha[32], bad_sha[32] = {0};
    crypto_hash_sha256(sha, (const uint8_t *)body, strlen(body));
    PL_ASSERT_INT_EQ(store_blob_stat(s, key, &(struct store_blob_stat){0}), PL_ENOTFOUND);
    PL_ASSERT_INT_EQ(store_blob_confirm(s, key, strlen(body), bad_sha), PL_EMALFORMED);
    PL_ASSERT_INT_EQ(store_blob_confirm(s, key, strlen(body), sha), 0);
    PL_ASSERT_INT_EQ(store_blob_confirm(s, key, strlen(body), sha), 0); /* again: a no-op */
    /* Overwriting through the still valid URL changes nothing any more. */
    char other[64];
    snprintf(other, sizeof(other), "%s", body);
    other[0] = 'U';
    PL_ASSERT_INT_EQ((int)fetch("PUT", url, other, "text/plain", &k), 200);
    PL_ASSERT_INT_EQ(store_blob_presign(s, "GET", key, 0, NULL, exp, url), 0);
    PL_ASSERT_INT_EQ((int)fetch("GET", url, NULL, NULL, &k), 200);
    PL_ASSERT_STR_EQ(k.buf, body);
    snprintf(bad, sizeof(bad), "%s", url);
    sig = strstr(bad, "X-Amz-Signature=") + 16;
    *sig = *sig == 'a' ? 'b' : 'a';
    PL_ASSERT_INT_EQ((int)fetch("GET", bad, NULL, NULL, &k), 403);
    PL_ASSERT(strstr(k.buf, "SignatureDoesNotMatch"));
    /* Nothing uploaded: nothing to confirm. */
    PL_ASSERT_INT_EQ(store_blob_key_init("m", key), 0);
    PL_ASSERT_INT_EQ(store_blob_confirm(s, key, 1, sha), PL_ENOTFOUND);
    store_blob_free(s);
}

static size_t on_header_line(char *p, size_t size, size_t n, void *ctx)
{
    struct sink *k = ctx;
    if (size * n > 28 && !strncasecmp(p, "Access-Control-Allow-Origin:", 28))
        snprintf(k->buf, sizeof(k->buf), "%.*s", (int)(size * n), p);
    return size * n;
}

/* A bucket the store created lets browsers PUT from another origin: the
 * CORS preflight of an XMLHttpRequest upload is answered. */
PLTEST(s3_bucket_allows_browser_uploads)
{
    struct store_blob *s = open_s3(0);
    char key[STORE_BLOB_KEY_MAX], url[STORE_BLOB_URL_MAX];
    PL_ASSERT_INT_EQ(store_blob_key_init("m", key), 0);
    PL_ASSERT_INT_EQ(
        store_blob_presign(s, "PUT", key, 3, "image/png", (int64_t)time(NULL) + 60, url), 0);
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Origin: https://chat.example.net");
    hdrs = curl_slist_append(hdrs, "Access-Control-Request-Method: PUT");
    hdrs = curl_slist_append(hdrs, "Access-Control-Request-Headers: content-type");
    struct sink k = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "OPTIONS");
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header_line);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &k);
    long status = 0;
    PL_ASSERT_INT_EQ(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    PL_ASSERT_INT_EQ((int)status, 200);
    PL_ASSERT(strstr(k.buf, "*") || strstr(k.buf, "https://chat.example.net"));
    store_blob_free(s);
}

/* A correctly signed URL whose time ran out: signed an hour ago for 60 s
 * (built with the signer directly, since presign refuses the past). */
PLTEST(s3_expired_url_is_refused)
{
    struct store_blob *s = open_s3(0);
    char key[STORE_BLOB_KEY_MAX], url[2048];
    PL_ASSERT_INT_EQ(store_blob_key_init("m", key), 0);
    PL_ASSERT_INT_EQ(store_blob_put_buf(s, key, "x", 1, NULL), 0);
    const char *ep = getenv("PARLEY_TEST_S3");
    char path[128], date[STORE_BLOB_SIGV4_DATE], q[STORE_BLOB_URL_MAX];
    PL_ASSERT_INT_EQ(store_blob_presign(s, "GET", key, 0, NULL, time(NULL) + 60, url), 0);
    /* The bucket is the first path segment after the endpoint. */
    const char *p = url + strlen(ep);
    snprintf(path, sizeof(path), "%.*s", (int)strcspn(p, "?"), p);
    store_blob__sigv4_date((int64_t)time(NULL) - 3600, date);
    struct store_blob__sigv4_pair h[] = {{"host", strstr(ep, "://") + 3}};
    struct store_blob__sigv4_cred cred = {getenv("PARLEY_TEST_S3_KEY"),
                                          getenv("PARLEY_TEST_S3_SECRET"), "us-east-1", "s3"};
    struct store_blob__sigv4_req req = {
        .method = "GET", .path = path, .headers = h, .n_headers = 1, .amz_date = date};
    PL_ASSERT(store_blob__sigv4_presign(&cred, &req, 60, q, sizeof(q)) > 0);
    snprintf(url, sizeof(url), "%s%s?%s", ep, path, q);
    struct sink k;
    PL_ASSERT_INT_EQ((int)fetch("GET", url, NULL, NULL, &k), 403);
    /* The same, still valid: accepted, so the refusal was the expiry. */
    store_blob__sigv4_date((int64_t)time(NULL), date);
    PL_ASSERT(store_blob__sigv4_presign(&cred, &req, 60, q, sizeof(q)) > 0);
    snprintf(url, sizeof(url), "%s%s?%s", ep, path, q);
    PL_ASSERT_INT_EQ((int)fetch("GET", url, NULL, NULL, &k), 200);
    store_blob_free(s);
}
