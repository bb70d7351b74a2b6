/* SPDX-License-Identifier: MIT */
/* Parley - the S3 backend's signed requests over libcurl.              */
/* Copyright (c) 2026 Parley developers                                 */
#include "s3_int.h"

#include "common/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

PL_LOG_TOPIC("blob");

/*
 * Every S3 call runs synchronously on the calling thread with a fresh
 * easy handle: blob calls are made from worker threads only (storage/
 * blob.h), so blocking is what the contract asks for, and the event loop
 * never sees S3. The handles share one connection cache and DNS cache
 * (a curl share object, locked per data kind), so keep-alive connections
 * to the endpoint are reused across requests and threads.
 *
 * Requests are signed in the Authorization header with the payload's
 * SHA-256 in x-amz-content-sha256 (S3 checks the body against it), and
 * only Host, x-amz-content-sha256 and x-amz-date are signed: other
 * headers (Content-Type, Range) may be changed by proxies in between.
 */

#define CONNECT_TIMEOUT_S 5L
/* A transfer slower than 1 KiB/s for 30 s is abandoned. */
#define LOW_SPEED_BYTES 1024L
#define LOW_SPEED_TIME_S 30L

static void on_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ctx)
{
    (void)h, (void)access;
    struct s3 *s3 = ctx;
    pthread_mutex_lock(&s3->locks[data]);
}

static void on_unlock(CURL *h, curl_lock_data data, void *ctx)
{
    (void)h;
    struct s3 *s3 = ctx;
    pthread_mutex_unlock(&s3->locks[data]);
}

int s3__http_init(struct s3 *s3)
{
    /* Startup, before any worker exists: curl_global_init is not
     * thread-safe in every libcurl build. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return PL_EINTERNAL;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&s3->locks[i], NULL);
    s3->share = curl_share_init();
    if (!s3->share)
        return PL_ENOMEM;
    curl_share_setopt(s3->share, CURLSHOPT_LOCKFUNC, on_lock);
    curl_share_setopt(s3->share, CURLSHOPT_UNLOCKFUNC, on_unlock);
    curl_share_setopt(s3->share, CURLSHOPT_USERDATA, s3);
    curl_share_setopt(s3->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(s3->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    return 0;
}

void s3__http_deinit(struct s3 *s3)
{
    if (s3->share)
        curl_share_cleanup(s3->share);
    s3->share = NULL;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&s3->locks[i]);
}

int s3__path(const struct s3 *s3, const char *key, bool staging, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s%s", s3->base_path, key && staging ? S3_STAGING : "",
                     key ? key : "");
    return n < 0 || (size_t)n >= cap ? PL_ETOOBIG : 0;
}

/* ---- the request ---- */

struct io {
    struct s3_call *c;
    size_t sent;
    bool overflow;
};

static size_t on_read(char *buf, size_t size, size_t n, void *ctx)
{
    struct io *io = ctx;
    size_t left = io->c->body_len - io->sent, k = PL_MIN(left, size * n);
    if (k == 0)
        return 0; /* body may be NULL for an empty PUT */
    memcpy(buf, (const char *)io->c->body + io->sent, k);
    io->sent += k;
    return k;
}

static size_t on_write(char *p, size_t size, size_t n, void *ctx)
{
    struct io *io = ctx;
    struct s3_call *c = io->c;
    size_t k = size * n;
    if (!c->out && !c->resp)
        return k; /* an unwanted body: dropped */
    if (c->out) {
        if (k > c->out_cap - c->out_len) {
            io->overflow = true;
            return 0;
        }
        memcpy((char *)c->out + c->out_len, p, k);
        c->out_len += k;
        return k;
    }
    if (pl_buf_append(c->resp, p, k) < 0) {
        io->overflow = true;
        return 0;
    }
    return k;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    struct io *io = ctx;
    struct s3_call *c = io->c;
    size_t k = size * n, len = k;
    while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    if (len > 5 && !strncmp(p, "HTTP/", 5)) {
        /* A new response (after a 100 Continue): forget the last one's. */
        c->status = strtol(memchr(p, ' ', len) ? (char *)memchr(p, ' ', len) + 1 : p, NULL, 10);
        c->etag[0] = '\0';
        return k;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon)
        return k;
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1;
    while (v < p + len && *v == ' ')
        v++;
    size_t vl = (size_t)(p + len - v);
    char val[256];
    if (vl >= sizeof(val))
        return k;
    memcpy(val, v, vl);
    val[vl] = '\0';
    if (nl == 4 && !strncasecmp(p, "etag", 4) && vl < sizeof(c->etag))
        memcpy(c->etag, val, vl + 1);
    else if (nl == 14 && !strncasecmp(p, "content-length", 14))
        c->length = strtoull(val, NULL, 10);
    else if (nl == 13 && !strncasecmp(p, "last-modified", 13))
        c->mtime = (int64_t)curl_getdate(val, NULL);
    return k;
}

/* The signed headers, in the form curl sends them. */
static int sign_headers(struct s3 *s3, struct s3_call *c, const char *path,
                        struct curl_slist **list)
{
    char date[STORE_BLOB_SIGV4_DATE], payload[STORE_BLOB_SIGV4_HEX], authz[512], line[640];
    store_blob__sigv4_date((int64_t)time(NULL), date);
    store_blob__sigv4_sha256_hex(c->body ? c->body : "", c->body_len, payload);
    /* S3 wants every x-amz-* header signed, x-amz-copy-source included. */
    struct store_blob__sigv4_pair h[] = {{"host", s3->host},
                                         {"x-amz-content-sha256", payload},
                                         {"x-amz-date", date},
                                         {"x-amz-copy-source", c->copy_source}};
    struct store_blob__sigv4_cred cred = {s3->access_key, s3->secret, s3->region, "s3"};
    struct store_blob__sigv4_req req = {.method = c->method,
                                        .path = path,
                                        .query = c->query,
                                        .n_query = c->n_query,
                                        .headers = h,
                                        .n_headers = PL_ARRAY_LEN(h) - (c->copy_source ? 0 : 1),
                                        .payload_hash = payload,
                                        .amz_date = date};
    int rc = store_blob__sigv4_authorization(&cred, &req, authz, sizeof(authz));
    if (rc < 0)
        return rc;
    const char *lines[8];
    char l0[128], l1[128], l2[128], l3[300], l4[300], l5[80];
    snprintf(l0, sizeof(l0), "x-amz-content-sha256: %s", payload);
    snprintf(l1, sizeof(l1), "x-amz-date: %s", date);
    snprintf(line, sizeof(line), "Authorization: %s", authz);
    snprintf(l2, sizeof(l2), "Range: %s", c->range);
    snprintf(l3, sizeof(l3), "Content-Type: %s", c->content_type ? c->content_type : "");
    size_t n = 0;
    lines[n++] = l0;
    lines[n++] = l1;
    lines[n++] = line;
    lines[n++] = "Expect:"; /* no 100-continue round trip */
    if (c->range[0])
        lines[n++] = l2;
    if (c->content_type)
        lines[n++] = l3;
    if (c->content_md5) {
        snprintf(l5, sizeof(l5), "Content-MD5: %s", c->content_md5);
        lines[n++] = l5;
    }
    if (c->copy_source) {
        snprintf(l4, sizeof(l4), "x-amz-copy-source: %s", c->copy_source);
        lines[n++] = l4;
    }
    for (size_t i = 0; i < n; i++) {
        struct curl_slist *l = curl_slist_append(*list, lines[i]);
        if (!l)
            return PL_ENOMEM;
        *list = l;
    }
    return 0;
}

static int status_rc(struct s3_call *c, const struct pl_buf *err)
{
    if (c->status >= 200 && c->status < 300)
        return 0;
    if (c->status == 404)
        return PL_ENOTFOUND;
    if (c->status == 409 || c->status == 412)
        return PL_ECONFLICT;
    const char *code = "", *p = err && err->len ? pl_buf_head(err) : NULL;
    size_t cl = 0;
    if (p)
        s3__xml_next(&p, pl_buf_head(err) + err->len, "Code", &code, &cl);
    pl_log_warn("s3 %s %s: HTTP %ld %.*s", c->method, c->key ? c->key : "(bucket)", c->status,
                (int)cl, code);
    if (c->status >= 500 || c->status == 403 || c->status == 400)
        return PL_EUNAVAIL;
    return PL_EINTERNAL;
}

/* Error answers carry an XML document naming the S3 error code; it is
 * kept in a small buffer of its own for the log line. */
struct io2 {
    struct io io;
    struct pl_buf err;
};

static size_t on_write_any(char *p, size_t size, size_t n, void *ctx)
{
    struct io2 *x = ctx;
    if (x->io.c->status >= 300) {
        /* Past 4 KiB the start of the document is enough. */
        if (pl_buf_append(&x->err, p, size * n) < 0)
            return size * n;
        return size * n;
    }
    return on_write(p, size, n, &x->io);
}

int s3__do(struct s3 *s3, struct s3_call *c)
{
    char path[256], q[2048], url[2560];
    int rc = s3__path(s3, c->key, c->staging, path, sizeof(path));
    if (rc < 0)
        return rc;
    q[0] = '\0';
    if (c->n_query && (rc = store_blob__sigv4_query(c->query, c->n_query, q, sizeof(q))) < 0)
        return rc;
    /* Keys are [a-z]/[0-9a-f] and the bucket a DNS name: the path needs
     * no encoding. */
    int n = snprintf(url, sizeof(url), "%s%s%s%s", s3->scheme_host, path, *q ? "?" : "", q);
    if (n < 0 || (size_t)n >= sizeof(url))
        return PL_ETOOBIG;
    CURL *h = curl_easy_init();
    if (!h)
        return PL_ENOMEM;
    struct curl_slist *hdrs = NULL;
    struct io2 x = {.io = {.c = c}};
    pl_buf_init(&x.err, 4096);
    c->status = 0;
    c->length = 0;
    c->mtime = 0;
    c->etag[0] = '\0';
    c->out_len = 0;
    if ((rc = sign_headers(s3, c, path, &hdrs)) < 0)
        goto out;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_SHARE, s3->share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_TIME_S);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x.io);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write_any);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    if (!strcmp(c->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(c->method, "PUT")) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &x.io);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->body_len);
    } else if (!strcmp(c->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body ? c->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
    } else if (strcmp(c->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    }
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && x.io.overflow)) {
        pl_log_warn("s3 %s %s: %s", c->method, c->key ? c->key : "(bucket)",
                    curl_easy_strerror(cc));
        rc = cc == CURLE_OPERATION_TIMEDOUT ? PL_ETIMEDOUT : PL_EUNAVAIL;
    } else if (x.io.overflow) {
        rc = PL_ETOOBIG;
    } else {
        rc = status_rc(c, &x.err);
    }
out:
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    pl_buf_deinit(&x.err);
    return rc;
}

/* ---- XML (ListObjectsV2, ListMultipartUploads, CreateMultipartUpload) ---- */

bool s3__xml_next(const char **p, const char *end, const char *tag, const char **val, size_t *len)
{
    char open[64], close[64];
    int ol = snprintf(open, sizeof(open), "<%s>", tag);
    int cl = snprintf(close, sizeof(close), "</%s>", tag);
    const char *a = memmem(*p, (size_t)(end - *p), open, (size_t)ol);
    if (!a)
        return false;
    a += ol;
    const char *b = memmem(a, (size_t)(end - a), close, (size_t)cl);
    if (!b)
        return false;
    *val = a;
    *len = (size_t)(b - a);
    *p = b + cl;
    return true;
}

bool s3__xml_text(const char *val, size_t len, char *out, size_t cap)
{
    static const struct {
        const char *ent;
        char ch;
    } ents[] = {{"&quot;", '"'}, {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&apos;", '\''}};
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        char ch = val[i++];
        if (ch == '&')
            for (size_t e = 0; e < PL_ARRAY_LEN(ents); e++) {
                size_t el = strlen(ents[e].ent);
                if (i - 1 + el <= len && !memcmp(val + i - 1, ents[e].ent, el)) {
                    ch = ents[e].ch;
                    i += el - 1;
                    break;
                }
            }
        if (n + 1 >= cap)
            return false;
        out[n++] = ch;
    }
    out[n] = '\0';
    return cap > 0;
}
