/* SPDX-License-Identifier: MIT */
/* Parley - blob storage on an S3-compatible object store.              */
/* Copyright (c) 2026 Parley developers                                 */
#include "s3_int.h"

#include "common/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

PL_LOG_TOPIC("blob");

/*
 * Objects live in one bucket under their keys as they are ("m/0f3a...").
 * A writer keeps up to one part in memory: an object that fits in one
 * part goes up with a single PutObject when the writer finishes (so
 * nothing is visible before the size and SHA-256 were checked), a larger
 * one as a multipart upload whose parts go up as they fill and which
 * becomes visible only with CompleteMultipartUpload (after the checks);
 * an aborted writer aborts its multipart upload, and gc aborts those a
 * crash left behind. S3 has no "create only if absent" in every
 * implementation, so the writer's PL_ECONFLICT comes from a HeadObject at
 * open: keys carry 128 random bits, and the check only guards against a
 * caller reusing one.
 */

#define DEFAULT_PART_SIZE (8u << 20)
#define MIN_PART_SIZE (5u << 20) /* S3's minimum for every part but the last */
#define MAX_PARTS 10000
#define LIST_MAX (4u << 20) /* one ListObjectsV2 page (1000 keys) is ~300 KiB */
#define MAX_EXPIRES 604800  /* 7 days, SigV4's limit */

static void s3_free(struct s3 *s3)
{
    if (!s3)
        return;
    s3__http_deinit(s3);
    free(s3->scheme_host);
    free(s3->host);
    free(s3->base_path);
    free(s3->bucket);
    free(s3->region);
    free(s3->access_key);
    if (s3->secret)
        sodium_memzero(s3->secret, strlen(s3->secret));
    free(s3->secret);
    free(s3);
}

/* Splits the endpoint into URL prefix, Host header and path prefix. */
static int parse_endpoint(struct s3 *s3, const struct store_blob_config *cfg)
{
    const char *e = cfg->s3_endpoint, *sep = e ? strstr(e, "://") : NULL;
    if (!sep || (strncmp(e, "http://", 7) && strncmp(e, "https://", 8)))
        return PL_EINVAL;
    const char *host = sep + 3;
    size_t hl = strcspn(host, "/");
    if (hl == 0 || (host[hl] && strcmp(host + hl, "/")))
        return PL_EINVAL; /* scheme://host[:port] only */
    char buf[512];
    int n = cfg->s3_path_style ? snprintf(buf, sizeof(buf), "%.*s", (int)(host - e + (int)hl), e)
                               : snprintf(buf, sizeof(buf), "%.*s%s.%.*s", (int)(host - e), e,
                                          cfg->s3_bucket, (int)hl, host);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return PL_EINVAL;
    s3->scheme_host = strdup(buf);
    s3->host = strdup(strstr(buf, "://") + 3);
    if (cfg->s3_path_style)
        snprintf(buf, sizeof(buf), "/%s", cfg->s3_bucket);
    else
        buf[0] = '\0';
    s3->base_path = strdup(buf);
    return s3->scheme_host && s3->host && s3->base_path ? 0 : PL_ENOMEM;
}

/* Browsers (the web client) PUT to presigned URLs from the API's origin
 * with XMLHttpRequest, which needs the bucket's CORS consent. Any origin
 * may: the presigned URL is the credential, and no cookie is involved. */
static int set_cors(struct s3 *s3)
{
    static const char rule[] =
        "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>"
        "<AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod>"
        "<AllowedMethod>HEAD</AllowedMethod><AllowedHeader>*</AllowedHeader>"
        "<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3600</MaxAgeSeconds>"
        "</CORSRule></CORSConfiguration>";
    uint8_t md5[EVP_MAX_MD_SIZE];
    unsigned md5_len = 0;
    char md5_b64[32];
    if (EVP_Digest(rule, sizeof(rule) - 1, md5, &md5_len, EVP_md5(), NULL) != 1)
        return PL_EINTERNAL;
    sodium_bin2base64(md5_b64, sizeof(md5_b64), md5, md5_len, sodium_base64_VARIANT_ORIGINAL);
    struct store_blob__sigv4_pair q[] = {{"cors", ""}};
    struct s3_call c = {.method = "PUT",
                        .query = q,
                        .n_query = 1,
                        .body = rule,
                        .body_len = sizeof(rule) - 1,
                        .content_type = "application/xml",
                        .content_md5 = md5_b64};
    return s3__do(s3, &c);
}

/* Creates the bucket when it is missing, with a CORS rule for browser
 * uploads (an existing bucket's rules are the operator's). A store that
 * cannot be reached now is not fatal: requests fail with PL_EUNAVAIL
 * until it is back. */
static void ensure_bucket(struct s3 *s3)
{
    struct s3_call c = {.method = "HEAD"};
    int rc = s3__do(s3, &c);
    if (rc == PL_ENOTFOUND) {
        struct s3_call mk = {.method = "PUT"};
        rc = s3__do(s3, &mk);
        if (rc == 0)
            pl_log_info("s3: created bucket %s", s3->bucket);
        if (rc == 0 && (rc = set_cors(s3)) < 0)
            pl_log_warn("s3: cannot set the CORS rule of bucket %s: %s", s3->bucket,
                        pl_strerror(rc));
    }
    if (rc < 0 && rc != PL_ECONFLICT)
        pl_log_warn("s3: bucket %s at %s is not usable yet: %s", s3->bucket, s3->scheme_host,
                    pl_strerror(rc));
}

static int s3_init(const struct store_blob_config *cfg, struct store_blob *s)
{
    if (!cfg->s3_bucket || !*cfg->s3_bucket || !cfg->s3_access_key || !*cfg->s3_access_key ||
        !cfg->s3_secret_key || !*cfg->s3_secret_key ||
        strspn(cfg->s3_bucket, "abcdefghijklmnopqrstuvwxyz0123456789.-") !=
            strlen(cfg->s3_bucket) ||
        (cfg->s3_part_size && cfg->s3_part_size < MIN_PART_SIZE))
        return PL_EINVAL;
    struct s3 *s3 = calloc(1, sizeof(*s3));
    if (!s3)
        return PL_ENOMEM;
    int rc = parse_endpoint(s3, cfg);
    s3->bucket = strdup(cfg->s3_bucket);
    s3->region = strdup(cfg->s3_region && *cfg->s3_region ? cfg->s3_region : "us-east-1");
    s3->access_key = strdup(cfg->s3_access_key);
    s3->secret = strdup(cfg->s3_secret_key);
    s3->part_size = cfg->s3_part_size ? cfg->s3_part_size : DEFAULT_PART_SIZE;
    if (rc == 0 && !(s3->bucket && s3->region && s3->access_key && s3->secret))
        rc = PL_ENOMEM;
    if (rc == 0)
        rc = s3__http_init(s3);
    if (rc < 0) {
        s3_free(s3);
        return rc;
    }
    s->impl = s3;
    ensure_bucket(s3);
    return 0;
}

static void s3_deinit(struct store_blob *s)
{
    s3_free(s->impl);
    s->impl = NULL;
}

/* ---- stat, read, delete ---- */

static int s3_stat(struct store_blob *s, const char *key, struct store_blob_stat *st)
{
    struct s3_call c = {.method = "HEAD", .key = key};
    int rc = s3__do(s->impl, &c);
    if (rc < 0)
        return rc;
    st->size = c.length;
    st->mtime = c.mtime;
    snprintf(st->etag, sizeof(st->etag), "%s", c.etag[0] ? c.etag : "\"\"");
    return 0;
}

struct s3_reader {
    struct store_blob_stat st;
    char key[STORE_BLOB_KEY_MAX];
};

static int s3_reader_init(struct store_blob *s, const char *key, struct store_blob_reader *r,
                          struct store_blob_stat *st)
{
    struct s3_reader *ri = calloc(1, sizeof(*ri));
    int rc = ri ? s3_stat(s, key, &ri->st) : PL_ENOMEM;
    if (rc < 0) {
        free(ri);
        return rc;
    }
    snprintf(ri->key, sizeof(ri->key), "%s", key);
    *st = ri->st;
    r->impl = ri;
    return 0;
}

static ssize_t s3_reader_pread(struct store_blob_reader *r, void *buf, size_t len, uint64_t off)
{
    struct s3_reader *ri = r->impl;
    if (off >= ri->st.size || len == 0)
        return 0;
    uint64_t last = PL_MIN(off + len, ri->st.size) - 1;
    struct s3_call c = {.method = "GET", .key = ri->key, .out = buf, .out_cap = len};
    snprintf(c.range, sizeof(c.range), "bytes=%" PRIu64 "-%" PRIu64, off, last);
    int rc = s3__do(r->s->impl, &c);
    if (rc < 0)
        return rc;
    /* A server that ignores Range answers 200 with the whole object. */
    if (c.status != 206 && off > 0)
        return PL_EINTERNAL;
    return (ssize_t)c.out_len;
}

static void s3_reader_deinit(struct store_blob_reader *r)
{
    free(r->impl);
    r->impl = NULL;
}

/* Deletes key and its staging object, if any. */
static int s3_del(struct store_blob *s, const char *key)
{
    struct s3_call c = {.method = "DELETE", .key = key};
    int rc = s3__do(s->impl, &c);
    if (rc == 0 || rc == PL_ENOTFOUND) {
        struct s3_call st = {.method = "DELETE", .key = key, .staging = true};
        rc = s3__do(s->impl, &st);
    }
    return rc == PL_ENOTFOUND ? 0 : rc;
}

/* ---- direct uploads: staging object -> key, inside S3 ---- */

/* CopyObject from the staging object. The client can overwrite the
 * staging object while its URL lives; the copy under key only we write. */
static int s3_adopt(struct store_blob *s, const char *key)
{
    struct s3 *s3 = s->impl;
    char src[300];
    int n = snprintf(src, sizeof(src), "/%s/%s%s", s3->bucket, S3_STAGING, key);
    if (n < 0 || (size_t)n >= sizeof(src))
        return PL_ETOOBIG;
    struct pl_buf resp;
    pl_buf_init(&resp, 64 * 1024);
    struct s3_call c = {.method = "PUT", .key = key, .copy_source = src, .resp = &resp};
    int rc = s3__do(s3, &c);
    /* A copy can fail after its 200 started: the error is in the body. */
    const char *p = pl_buf_head(&resp);
    if (rc == 0 && p && memmem(p, resp.len, "<Error>", 7))
        rc = PL_EUNAVAIL;
    pl_buf_deinit(&resp);
    return rc;
}

static void s3_unstage(struct store_blob *s, const char *key)
{
    struct s3_call c = {.method = "DELETE", .key = key, .staging = true};
    int rc = s3__do(s->impl, &c);
    if (rc < 0 && rc != PL_ENOTFOUND)
        pl_log_warn("s3 %s: cannot delete the staging object: %s", key, pl_strerror(rc));
}

/* ---- writers: one PutObject, or a multipart upload ---- */

struct s3_writer {
    char *buf; /* one part: min(size, part_size) bytes */
    size_t len, cap;
    uint64_t total; /* bytes taken so far */
    char upload_id[256];
    unsigned parts;
    struct pl_buf done; /* the CompleteMultipartUpload body, part by part */
};

static int mpu_start(struct s3 *s3, const char *key, struct s3_writer *sw)
{
    struct pl_buf resp;
    pl_buf_init(&resp, 64 * 1024);
    struct store_blob__sigv4_pair q[] = {{"uploads", ""}};
    struct s3_call c = {.method = "POST", .key = key, .query = q, .n_query = 1, .resp = &resp};
    int rc = s3__do(s3, &c);
    const char *p = pl_buf_head(&resp), *v;
    size_t vl;
    if (rc == 0 && (!p || !s3__xml_next(&p, p + resp.len, "UploadId", &v, &vl) ||
                    !s3__xml_text(v, vl, sw->upload_id, sizeof(sw->upload_id))))
        rc = PL_EINTERNAL;
    pl_buf_deinit(&resp);
    if (rc == 0)
        rc = pl_buf_printf(&sw->done, "<CompleteMultipartUpload>");
    return rc;
}

/* Sends the buffered bytes as the next part and notes its ETag. */
static int mpu_part(struct s3 *s3, const char *key, struct s3_writer *sw)
{
    if (sw->parts >= MAX_PARTS)
        return PL_ETOOBIG;
    char num[16];
    snprintf(num, sizeof(num), "%u", sw->parts + 1);
    struct store_blob__sigv4_pair q[] = {{"partNumber", num}, {"uploadId", sw->upload_id}};
    struct s3_call c = {.method = "PUT",
                        .key = key,
                        .query = q,
                        .n_query = 2,
                        .body = sw->buf,
                        .body_len = sw->len};
    int rc = s3__do(s3, &c);
    if (rc == 0 && !c.etag[0])
        rc = PL_EINTERNAL;
    if (rc == 0)
        rc = pl_buf_printf(&sw->done, "<Part><PartNumber>%s</PartNumber><ETag>%s</ETag></Part>",
                           num, c.etag);
    if (rc == 0) {
        sw->parts++;
        sw->len = 0;
    }
    return rc;
}

static int mpu_finish(struct s3 *s3, const char *key, struct s3_writer *sw)
{
    int rc = pl_buf_printf(&sw->done, "</CompleteMultipartUpload>");
    if (rc < 0)
        return rc;
    struct pl_buf resp;
    pl_buf_init(&resp, 64 * 1024);
    struct store_blob__sigv4_pair q[] = {{"uploadId", sw->upload_id}};
    struct s3_call c = {.method = "POST",
                        .key = key,
                        .query = q,
                        .n_query = 1,
                        .body = pl_buf_head(&sw->done),
                        .body_len = sw->done.len,
                        .content_type = "application/xml",
                        .resp = &resp};
    rc = s3__do(s3, &c);
    /* CompleteMultipartUpload may answer 200 and report its failure in
     * the body. */
    const char *p = pl_buf_head(&resp);
    if (rc == 0 && p && memmem(p, resp.len, "<Error>", 7))
        rc = PL_EUNAVAIL;
    pl_buf_deinit(&resp);
    if (rc == 0)
        sw->upload_id[0] = '\0'; /* nothing left to abort */
    return rc;
}

static void mpu_abort(struct s3 *s3, const char *key, const char *upload_id)
{
    struct store_blob__sigv4_pair q[] = {{"uploadId", upload_id}};
    struct s3_call c = {.method = "DELETE", .key = key, .query = q, .n_query = 1};
    int rc = s3__do(s3, &c);
    if (rc < 0 && rc != PL_ENOTFOUND)
        pl_log_warn("s3 %s: cannot abort multipart upload: %s", key, pl_strerror(rc));
}

static int s3_writer_init(struct store_blob *s, const char *key, struct store_blob_writer *w)
{
    struct store_blob_stat st;
    int rc = s3_stat(s, key, &st);
    if (rc == 0)
        return PL_ECONFLICT;
    if (rc != PL_ENOTFOUND)
        return rc;
    struct s3 *s3 = s->impl;
    struct s3_writer *sw = calloc(1, sizeof(*sw));
    if (!sw)
        return PL_ENOMEM;
    sw->cap = (size_t)PL_MIN((uint64_t)s3->part_size, w->size);
    sw->buf = malloc(sw->cap ? sw->cap : 1);
    if (!sw->buf) {
        free(sw);
        return PL_ENOMEM;
    }
    pl_buf_init(&sw->done, 1u << 20); /* 10,000 parts of ~90 bytes */
    w->impl = sw;
    return 0;
}

static int s3_writer_write(struct store_blob_writer *w, const void *buf, size_t len)
{
    struct s3_writer *sw = w->impl;
    struct s3 *s3 = w->s->impl;
    const char *p = buf;
    while (len) {
        size_t k = PL_MIN(len, sw->cap - sw->len);
        memcpy(sw->buf + sw->len, p, k);
        sw->len += k;
        sw->total += k;
        p += k;
        len -= k;
        /* A full part goes up only when more bytes are to come: the last
         * part (or the single PutObject) waits for finish(), after the
         * checks. */
        if (sw->len == sw->cap && sw->total < w->size) {
            int rc = sw->upload_id[0] ? 0 : mpu_start(s3, w->key, sw);
            if (rc == 0)
                rc = mpu_part(s3, w->key, sw);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static void s3_writer_discard(struct store_blob_writer *w);

/* On success the writer's state goes here; on failure blob.c calls
 * discard, which aborts the multipart upload. */
static int s3_writer_commit(struct store_blob_writer *w)
{
    struct s3_writer *sw = w->impl;
    struct s3 *s3 = w->s->impl;
    int rc;
    if (!sw->upload_id[0]) {
        struct s3_call c = {.method = "PUT", .key = w->key, .body = sw->buf, .body_len = sw->len};
        rc = s3__do(s3, &c);
    } else {
        rc = sw->len ? mpu_part(s3, w->key, sw) : 0;
        if (rc == 0)
            rc = mpu_finish(s3, w->key, sw);
    }
    if (rc == 0)
        s3_writer_discard(w); /* upload_id is empty now: only frees */
    return rc;
}

static void s3_writer_discard(struct store_blob_writer *w)
{
    struct s3_writer *sw = w->impl;
    if (!sw)
        return;
    if (sw->upload_id[0])
        mpu_abort(w->s->impl, w->key, sw->upload_id);
    pl_buf_deinit(&sw->done);
    free(sw->buf);
    free(sw);
    w->impl = NULL;
}

/* ---- listing and gc ---- */

static int64_t parse_iso(const char *v, size_t n)
{
    char t[40];
    struct tm tm = {0};
    if (n >= sizeof(t))
        return 0;
    memcpy(t, v, n);
    t[n] = '\0';
    return strptime(t, "%Y-%m-%dT%H:%M:%S", &tm) ? (int64_t)timegm(&tm) : 0;
}

/* One page of GET ?list-type=2 (or ?uploads for gc) into resp. */
static int list_page(struct s3 *s3, bool uploads, const char *prefix, const char *token,
                     struct pl_buf *resp)
{
    struct store_blob__sigv4_pair q[3];
    size_t n = 0;
    if (uploads) {
        q[n++] = (struct store_blob__sigv4_pair){"uploads", ""};
        if (token && *token)
            q[n++] = (struct store_blob__sigv4_pair){"key-marker", token};
    } else {
        q[n++] = (struct store_blob__sigv4_pair){"list-type", "2"};
        if (token && *token)
            q[n++] = (struct store_blob__sigv4_pair){"continuation-token", token};
    }
    q[n++] = (struct store_blob__sigv4_pair){"prefix", prefix};
    pl_buf_reset(resp);
    struct s3_call c = {.method = "GET", .query = q, .n_query = n, .resp = resp};
    return s3__do(s3, &c);
}

/* The field tag of the XML element [p, end), unescaped into out. */
static bool field(const char *p, const char *end, const char *tag, char *out, size_t cap)
{
    const char *v;
    size_t vl;
    return s3__xml_next(&p, end, tag, &v, &vl) && s3__xml_text(v, vl, out, cap);
}

/* Whether the page says more follow; *token gets the next position. */
static bool next_token(const char *p, const char *end, bool uploads, char *token, size_t cap)
{
    char t[8];
    if (!field(p, end, "IsTruncated", t, sizeof(t)) || strcmp(t, "true"))
        return false;
    return field(p, end, uploads ? "NextKeyMarker" : "NextContinuationToken", token, cap) && *token;
}

static int s3_list(struct store_blob *s, const char *prefix, store_blob_list_cb *cb, void *ctx)
{
    struct pl_buf resp;
    pl_buf_init(&resp, LIST_MAX);
    char token[1024] = "";
    int rc;
    do {
        if ((rc = list_page(s->impl, false, prefix, token, &resp)) < 0)
            break;
        const char *p = pl_buf_head(&resp), *end = p ? p + resp.len : NULL, *v;
        size_t vl;
        while (rc == 0 && p && s3__xml_next(&p, end, "Contents", &v, &vl)) {
            char key[STORE_BLOB_KEY_MAX], num[32], date[40];
            struct store_blob_stat st = {0};
            if (!field(v, v + vl, "Key", key, sizeof(key)) || !store_blob_key_valid(key))
                continue; /* not ours */
            if (field(v, v + vl, "Size", num, sizeof(num)))
                st.size = strtoull(num, NULL, 10);
            if (field(v, v + vl, "LastModified", date, sizeof(date)))
                st.mtime = parse_iso(date, strlen(date));
            if (!field(v, v + vl, "ETag", st.etag, sizeof(st.etag)))
                snprintf(st.etag, sizeof(st.etag), "\"\"");
            rc = cb(ctx, key, &st);
        }
        if (rc != 0 || !p)
            break;
    } while (resp.len && next_token(pl_buf_head(&resp), pl_buf_head(&resp) + resp.len, false, token,
                                    sizeof(token)));
    pl_buf_deinit(&resp);
    return rc;
}

static int s3_gc(struct store_blob *s, unsigned max_age_s)
{
    struct pl_buf resp;
    pl_buf_init(&resp, LIST_MAX);
    char token[1024] = "";
    int64_t cutoff = (int64_t)time(NULL) - max_age_s;
    int rc, gone = 0;
    do {
        if ((rc = list_page(s->impl, true, "", token, &resp)) < 0)
            break;
        const char *p = pl_buf_head(&resp), *end = p ? p + resp.len : NULL, *v;
        size_t vl;
        while (p && s3__xml_next(&p, end, "Upload", &v, &vl)) {
            char key[STORE_BLOB_KEY_MAX], id[256], date[40];
            if (!field(v, v + vl, "Key", key, sizeof(key)) || !store_blob_key_valid(key) ||
                !field(v, v + vl, "UploadId", id, sizeof(id)) ||
                !field(v, v + vl, "Initiated", date, sizeof(date)) ||
                parse_iso(date, strlen(date)) > cutoff)
                continue;
            mpu_abort(s->impl, key, id);
            gone++;
        }
        if (!p)
            break;
    } while (resp.len && next_token(pl_buf_head(&resp), pl_buf_head(&resp) + resp.len, true, token,
                                    sizeof(token)));
    pl_buf_deinit(&resp);
    return rc < 0 ? rc : gone;
}

/* ---- presigned URLs ---- */

static int s3_presign(struct store_blob *s, const char *method, const char *key, uint64_t size,
                      const char *content_type, int64_t expires, char *out, size_t cap)
{
    struct s3 *s3 = s->impl;
    int64_t now = (int64_t)time(NULL), ttl = expires - now;
    if (ttl < 1 || ttl > MAX_EXPIRES)
        return PL_EINVAL;
    bool put = !strcmp(method, "PUT");
    char path[256], len_s[24], date[STORE_BLOB_SIGV4_DATE];
    int rc = s3__path(s3, key, put, path, sizeof(path));
    if (rc < 0)
        return rc;
    snprintf(len_s, sizeof(len_s), "%" PRIu64, size);
    store_blob__sigv4_date(now, date);
    /* A PUT URL binds the size and the type: S3 refuses a body of another
     * length or a different Content-Type, as parleyd's own URLs do. */
    struct store_blob__sigv4_pair h[3] = {{"host", s3->host}}, q[2];
    size_t nh = 1, nq = 0;
    if (put) {
        h[nh++] = (struct store_blob__sigv4_pair){"content-length", len_s};
        if (content_type)
            h[nh++] = (struct store_blob__sigv4_pair){"content-type", content_type};
    } else if (content_type) {
        /* A GET straight to S3 answers with the type recorded at upload
         * and keeps anything but inert media out of the browser window
         * (blob.h); the overrides are signed, so a client cannot drop
         * them. nosniff and the CSP need a proxy in front of S3. */
        q[nq++] = (struct store_blob__sigv4_pair){"response-content-type", content_type};
        q[nq++] = (struct store_blob__sigv4_pair){
            "response-content-disposition",
            store_blob_inline_type(content_type) ? "inline" : "attachment"};
    }
    struct store_blob__sigv4_cred cred = {s3->access_key, s3->secret, s3->region, "s3"};
    struct store_blob__sigv4_req req = {.method = method,
                                        .path = path,
                                        .query = q,
                                        .n_query = nq,
                                        .headers = h,
                                        .n_headers = nh,
                                        .amz_date = date};
    int n = snprintf(out, cap, "%s%s?", s3->scheme_host, path);
    if (n < 0 || (size_t)n >= cap)
        return PL_ETOOBIG;
    rc = store_blob__sigv4_presign(&cred, &req, (unsigned)ttl, out + n, cap - (size_t)n);
    return rc < 0 ? rc : 0;
}

const struct store_blob__ops store_blob__s3_ops = {
    .name = "s3",
    .serves_urls = false,
    .init = s3_init,
    .deinit = s3_deinit,
    .writer_init = s3_writer_init,
    .writer_write = s3_writer_write,
    .writer_commit = s3_writer_commit,
    .writer_discard = s3_writer_discard,
    .reader_init = s3_reader_init,
    .reader_pread = s3_reader_pread,
    .reader_deinit = s3_reader_deinit,
    .stat = s3_stat,
    .del = s3_del,
    .list = s3_list,
    .gc = s3_gc,
    .presign = s3_presign,
    .adopt = s3_adopt,
    .unstage = s3_unstage,
};
