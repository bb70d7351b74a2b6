/* SPDX-License-Identifier: MIT */
/* Parley - parleyd's presigned blob URLs: upload (PUT), download.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include <errno.h>

#include "storage/blob.h"
#include "storage/media.h"

#include "common/log.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

PL_LOG_TOPIC("blobs");

/*
 * /v1/blobs/{prefix}/{name}?exp=..&sig=.. is what store_blob_presign()
 * hands out for the filesystem store. The URL is the credential: no bearer
 * token, but a signature (crypto/urlsig) over the method, the blob key and,
 * for uploads, the size and content type recorded when the upload was
 * requested. The blob key is rebuilt from the two path segments and
 * checked by the store, so no client path reaches the filesystem.
 *
 * Uploads stream (API_STREAM_BODY): the body goes from the transport to a
 * temporary file through a blob writer, which publishes it only when size
 * and SHA-256 match. A worker is used only while bytes are there to write
 * (see struct upload); at most upload_slots uploads run at once (each
 * holds a pipe of 2 * HTTP_BODY_WINDOW) and the rest get 503.
 *
 * Downloads use the streaming response: the loop thread copies from one
 * of two buffers while a worker fills the other with pread(), so the loop
 * never touches the disk and at most two chunks per download are in
 * memory.
 */

#define UPLOAD_CHUNK (256 * 1024)
#define DL_CHUNK (256 * 1024)

static atomic_uint uploads_active;

/* The blob key from the route's two segments; false when not a key. */
static bool key_of(struct api_call *c, char key[STORE_BLOB_KEY_MAX])
{
    const char *p = http_req_param(c->req, 0), *n = http_req_param(c->req, 1);
    size_t lp = p ? strlen(p) : 0, ln = n ? strlen(n) : 0;
    if (!p || !n || lp + ln + 2 > STORE_BLOB_KEY_MAX)
        return false;
    memcpy(key, p, lp);
    key[lp] = '/';
    memcpy(key + lp + 1, n, ln + 1);
    return store_blob_key_valid(key);
}

static int not_found(struct api_call *c)
{
    api_problem_send(c->req, PL_ENOTFOUND, "no such object");
    return PL_ENOTFOUND;
}

static int problem(struct api_call *c, int rc, const char *slug, const char *detail)
{
    struct api_problem p = {.rc = rc, .slug = slug, .detail = detail, .offset = -1};
    api_problem_sendx(c->req, &p);
    return rc;
}

/* Checks exp and sig of the URL against the given fields. */
static int check_sig(struct api_call *c, const char *method, const char *key, uint64_t size,
                     const char *type)
{
    const char *e = http_req_query(c->req, "exp"), *sig = http_req_query(c->req, "sig");
    char *end = NULL;
    long long exp = e ? strtoll(e, &end, 10) : 0;
    if (!e || !*e || *end || !c->env->url_key ||
        pcrypto_urlsig_verify(c->env->url_key, method, key, size, type, exp, (int64_t)time(NULL),
                              sig) < 0)
        return problem(c, PL_EFORBIDDEN, "bad-signature",
                       "the URL's signature is invalid or it has expired");
    return 0;
}

/* ---- PUT: upload ---- */

static int too_big(struct api_call *c, uint64_t limit)
{
    return problem(c, PL_ETOOBIG, "media-too-large",
                   pl_arena_sprintf(c->a, "this upload takes at most %" PRIu64 " bytes", limit));
}

/* Refuses from the headers what the body cannot fix. */
static int check_upload_headers(struct api_call *c, const struct store_media *m)
{
    const char *ct = http_req_header(c->req, "content-type");
    if (ct && strcmp(ct, m->content_type) != 0)
        return problem(c, PL_EFORBIDDEN, "bad-signature",
                       "Content-Type differs from the one the URL was signed for");
    uint64_t limit = PL_MIN(m->size, c->env->cfg->media_max_size);
    const char *cl = http_req_header(c->req, "content-length");
    if (!cl)
        return 0;
    char *end;
    unsigned long long len = strtoull(cl, &end, 10);
    if (*end || !*cl)
        return problem(c, PL_EMALFORMED, NULL, "Content-Length is not a number");
    if (len > limit)
        return too_big(c, limit);
    if (len < m->size)
        return problem(
            c, PL_EINVAL, "upload-mismatch",
            pl_arena_sprintf(c->a, "the upload was declared as %" PRIu64 " bytes", m->size));
    return 0;
}

/* A full disk (chaos case disk-full) is a 507 the client can retry with
 * the same URL; the writer removed its partial file. Other codes pass. */
static int disk_full(struct api_call *c, int rc)
{
    if (rc == -ENOSPC || rc == -EDQUOT)
        api_problem_send(c->req, rc, "the blob store is full; nothing was kept");
    return rc;
}

/*
 * An upload in progress. The handler checks the URL and the headers and
 * opens the blob writer on its worker, then lets go of the worker: each
 * time body bytes wait (http_req_body_async), a job drains them into the
 * writer on whichever worker is free and returns when the pipe is empty.
 * So a client sending slowly holds a 4 MiB pipe and an upload slot, never
 * a thread; back-pressure is unchanged (the transport stops reading while
 * the pipe is full). The last job verifies, publishes and answers.
 */
struct upload {
    struct api_call c; /* a copy: the handler's own lives on its stack */
    struct store_media m;
    struct store_blob_writer *w;
    char *buf;
    char key[STORE_BLOB_KEY_MAX];
};

static void upload_free(struct upload *up)
{
    free(up->buf);
    up->buf = NULL;
    atomic_fetch_sub(&uploads_active, 1);
}

/* Maps the writer's verdict to the answer and completes the request. */
static int upload_verdict(struct upload *up, int rc)
{
    struct api_call *c = &up->c;
    const struct store_media *m = &up->m;
    if (rc < 0) {
        store_blob_writer_abort(up->w);
        if (rc == PL_ETOOBIG)
            return too_big(c, m->size);
        return disk_full(c, rc);
    }
    rc = store_blob_writer_finish(up->w, NULL);
    if (rc == -ENOSPC || rc == -EDQUOT)
        return disk_full(c, rc);
    if (rc == PL_EINVAL)
        return problem(c, PL_EINVAL, "upload-mismatch",
                       pl_arena_sprintf(c->a,
                                        "the body is shorter than the declared %" PRIu64
                                        " bytes; nothing was kept",
                                        m->size));
    if (rc == PL_EMALFORMED)
        return problem(c, PL_EINVAL, "upload-mismatch",
                       "the body's SHA-256 differs from the declared one; nothing was kept");
    if (rc == PL_ECONFLICT)
        api_problem_send(c->req, rc, "this object was uploaded already");
    if (rc < 0)
        return rc;
    if ((rc = store_pg_media_mark_ready(c->w->pg, m->id)) < 0) {
        /* Swept meanwhile: keep no bytes for a row that is gone. */
        if (rc == PL_ENOTFOUND && store_blob_delete(c->env->blobs, up->key) < 0)
            pl_log_warn("media %" PRId64 ": cannot delete orphaned blob", m->id);
        return rc == PL_ENOTFOUND ? not_found(c) : rc;
    }
    struct store_blob_stat st;
    if (store_blob_stat(c->env->blobs, up->key, &st) == 0 &&
        (rc = http_resp_header(c->req, "ETag", st.etag)) < 0)
        return rc;
    http_resp_set(c->req, 204, NULL, "", 0);
    return 0;
}

static void upload_end(struct upload *up, int rc)
{
    rc = upload_verdict(up, rc);
    upload_free(up);
    api__finish(&up->c, rc);
}

/* Worker: moves what waits in the pipe to the writer. */
static void upload_job(struct api_worker *w, void *arg)
{
    struct upload *up = arg;
    up->c.w = w;
    for (;;) {
        ssize_t n = http_req_body_read_nowait(up->c.req, up->buf, UPLOAD_CHUNK);
        if (n == -EAGAIN)
            return; /* the next bytes call upload_ready() again */
        int rc = n > 0 ? store_blob_writer_write(up->w, up->buf, (size_t)n) : (int)n;
        if (rc < 0 || n == 0) {
            upload_end(up, rc);
            return;
        }
    }
}

/* Loop (or the handler's worker, once): bytes, the end or an error wait. */
static void upload_ready(void *ctx)
{
    struct upload *up = ctx;
    int rc = up->c.env->run(up->c.env->run_ctx, upload_job, up);
    if (rc == 0)
        return;
    /* No worker takes jobs (queue full, or shutting down): end the upload
     * here. Aborting the writer removes its temporary file, the one bit of
     * disk work a loop thread may then do. */
    pl_log_warn("upload %" PRId64 ": no worker for the body: %s", up->m.id, pl_strerror(rc));
    store_blob_writer_abort(up->w);
    upload_free(up);
    api_problem_send(up->c.req, rc, "the server is busy; retry the upload");
    api__finish(&up->c, rc);
}

/* Opens the writer and hands the body over to upload_job(). */
static int receive(struct api_call *c, const struct store_media *m, const char *key)
{
    struct upload *up = pl_arena_zalloc(c->a, sizeof(*up));
    if (!up)
        return PL_ENOMEM;
    int rc = store_blob_writer_new(c->env->blobs, m->blob_key, m->size, m->sha256, &up->w);
    if (rc == PL_ECONFLICT)
        api_problem_send(c->req, rc, "this object was uploaded already");
    if (rc < 0)
        return rc;
    if (!(up->buf = malloc(UPLOAD_CHUNK))) {
        store_blob_writer_abort(up->w);
        return PL_ENOMEM;
    }
    up->c = *c;
    up->m = *m;
    snprintf(up->key, sizeof(up->key), "%s", key);
    http_req_body_async(c->req, upload_ready, up);
    return API_DEFERRED;
}

static int blob_put(struct api_call *c)
{
    char key[STORE_BLOB_KEY_MAX];
    struct store_media m;
    if (!key_of(c, key) || !c->env->blobs || !store_blob_serves_urls(c->env->blobs))
        return not_found(c);
    int rc = store_pg_media_get_by_key(c->w->pg, c->a, key, &m);
    if (rc == PL_ENOTFOUND) /* nothing to check the signature against */
        return check_sig(c, "PUT", key, 0, "") < 0 ? PL_EFORBIDDEN : not_found(c);
    if (rc < 0)
        return rc;
    if ((rc = check_sig(c, "PUT", key, m.size, m.content_type)) < 0)
        return rc;
    if (m.ready) {
        api_problem_send(c->req, PL_ECONFLICT, "this object was uploaded already");
        return PL_ECONFLICT;
    }
    if ((rc = check_upload_headers(c, &m)) < 0)
        return rc;
    if (atomic_fetch_add(&uploads_active, 1) >= c->env->cfg->upload_slots) {
        atomic_fetch_sub(&uploads_active, 1);
        api_problem_send(c->req, PL_EBUSY, "too many uploads at once; retry shortly");
        return PL_EBUSY;
    }
    /* From here the slot is the upload's: upload_free() gives it back. */
    if ((rc = receive(c, &m, key)) < 0)
        atomic_fetch_sub(&uploads_active, 1);
    return rc;
}

unsigned api_uploads_active(void)
{
    return atomic_load(&uploads_active);
}

/* ---- GET: download ---- */

enum dl_state { DL_EMPTY, DL_FILLING, DL_READY };

struct dl {
    struct http_req *req;
    const struct api_env *env;
    struct store_blob_reader *r;
    uint64_t next_off, end; /* the next byte to fetch; one past the last */
    char *buf[2];
    size_t len[2], pos[2];
    enum dl_state state[2];
    unsigned cur;      /* the buffer read() sends from */
    bool filling;      /* a worker job is out */
    bool closed;       /* on_close ran: free once the job is back */
    bool failed;       /* a read failed or no worker took the job */
    unsigned fill_idx; /* the job's buffer */
    ssize_t fill_result;
    struct pl_task done;
};

static void dl_free(struct dl *d)
{
    store_blob_reader_free(d->r);
    free(d->buf[0]);
    free(d->buf[1]);
    free(d);
}

/* Worker: fills buffer fill_idx from next_off (neither changes while the
 * job is out). */
static void dl_job(struct api_worker *w, void *arg)
{
    struct dl *d = arg;
    (void)w;
    size_t want = (size_t)PL_MIN((uint64_t)DL_CHUNK, d->end - d->next_off);
    d->fill_result = store_blob_reader_pread(d->r, d->buf[d->fill_idx], want, d->next_off);
    pl_loop_post(d->env->loop, &d->done);
}

static void dl_kick(struct dl *d);

static void dl_on_filled(struct pl_task *t)
{
    struct dl *d = PL_CONTAINER_OF(t, struct dl, done);
    d->filling = false;
    if (d->closed) {
        dl_free(d);
        return;
    }
    unsigned i = d->fill_idx;
    if (d->fill_result <= 0) {
        d->failed = true; /* the file shrank or the disk failed: cut it short */
        d->state[i] = DL_EMPTY;
    } else {
        d->len[i] = (size_t)d->fill_result;
        d->pos[i] = 0;
        d->state[i] = DL_READY;
        d->next_off += (uint64_t)d->fill_result;
        dl_kick(d);
    }
    http_stream_wake(d->req);
}

/* Loop: starts filling an empty buffer when there is more to fetch. */
static void dl_kick(struct dl *d)
{
    if (d->filling || d->failed || d->next_off >= d->end)
        return;
    unsigned i = d->state[d->cur] == DL_EMPTY ? d->cur : d->cur ^ 1u;
    if (d->state[i] != DL_EMPTY)
        return;
    d->state[i] = DL_FILLING;
    d->fill_idx = i;
    d->filling = true;
    d->done.run = dl_on_filled;
    if (!d->env->run || d->env->run(d->env->run_ctx, dl_job, d) < 0) {
        d->filling = false;
        d->failed = true;
        d->state[i] = DL_EMPTY;
    }
}

static ssize_t dl_read(void *ctx, char *dst, size_t max)
{
    struct dl *d = ctx;
    unsigned i = d->cur;
    if (d->state[i] != DL_READY) {
        dl_kick(d);
        if (d->failed || (!d->filling && d->next_off >= d->end))
            return PL_ECANCELED; /* done (or broken): end the response */
        return 0;
    }
    size_t n = PL_MIN(max, d->len[i] - d->pos[i]);
    memcpy(dst, d->buf[i] + d->pos[i], n);
    d->pos[i] += n;
    if (d->pos[i] == d->len[i]) {
        d->state[i] = DL_EMPTY;
        d->cur ^= 1u;
        dl_kick(d);
    }
    return (ssize_t)n;
}

static void dl_on_close(void *ctx, int status)
{
    struct dl *d = ctx;
    (void)status;
    d->closed = true;
    if (!d->filling)
        dl_free(d);
}

static const struct http_stream_ops dl_ops = {
    .version = HTTP_STREAM_OPS_VERSION, .read = dl_read, .on_close = dl_on_close};

/* Parses a single "bytes=" range against size: 1 and [*from, *to] for a
 * satisfiable range, 0 for no usable Range (serve everything), -1 for an
 * unsatisfiable one. Several ranges are answered with the whole object,
 * which RFC 9110 allows. */
static int parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 0;
    const char *p = h + 6;
    char *end;
    if (*p == '-') { /* suffix: the last N bytes */
        unsigned long long n = strtoull(p + 1, &end, 10);
        if (end == p + 1 || *end)
            return 0;
        if (n == 0 || size == 0)
            return -1;
        *from = n >= size ? 0 : size - n;
        *to = size - 1;
        return 1;
    }
    if (*p < '0' || *p > '9')
        return 0;
    unsigned long long a = strtoull(p, &end, 10), b = UINT64_MAX;
    if (*end != '-')
        return 0;
    const char *q = end + 1;
    if (*q) {
        if (*q < '0' || *q > '9')
            return 0;
        b = strtoull(q, &end, 10);
        if (*end || b < a)
            return 0;
    }
    if (a >= size)
        return -1;
    *from = a;
    *to = PL_MIN((uint64_t)b, size - 1);
    return 1;
}

/* If-None-Match: a list of entity tags or "*"; weak comparison. */
static bool etag_matches(const char *h, const char *etag)
{
    if (!h)
        return false;
    if (strcmp(h, "*") == 0)
        return true;
    size_t n = strlen(etag);
    for (const char *p = h; (p = strstr(p, etag)); p += n)
        if ((p == h || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/') &&
            (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return true;
    return false;
}

/*
 * Uploaded bytes are the uploader's, not ours: a text/html or image/svg+xml
 * blob opened in a browser from the API's origin would run its script with
 * the API's cookies and storage. So every download carries nosniff (no
 * guessing a type we did not send), a sandbox CSP (a document opened anyway
 * gets a unique origin and no script), and Content-Disposition: attachment,
 * except for media types a browser only ever renders as inert pixels or
 * sound (store_blob_inline_type()). SVG, HTML, XML, PDF and everything
 * else download as files. The blob_base_url setting additionally puts
 * blobs on an origin of their own. With the S3 backend the downloads come
 * here too (s3_direct_downloads off, the default): the reader fetches the
 * object from S3 in ranged chunks, and the headers are the same.
 */
static int download_headers(struct api_call *c, const struct store_blob_stat *st, const char *ctype)
{
    int rc = http_resp_header(c->req, "X-Content-Type-Options", "nosniff");
    if (rc == 0)
        rc = http_resp_header(c->req, "Content-Security-Policy", "sandbox; default-src 'none'");
    if (rc == 0)
        rc = http_resp_header(c->req, "Content-Disposition",
                              store_blob_inline_type(ctype) ? "inline" : "attachment");
    if (rc == 0)
        rc = http_resp_header(c->req, "ETag", st->etag);
    if (rc == 0)
        rc = http_resp_header(c->req, "Cache-Control", "private, max-age=31536000, immutable");
    if (rc == 0)
        rc = http_resp_header(c->req, "Accept-Ranges", "bytes");
    return rc;
}

/* Streams [from, to] of the open reader r (taken over). */
static int start_download(struct api_call *c, struct store_blob_reader *r, int status,
                          const char *ctype, uint64_t from, uint64_t to)
{
    struct dl *d = calloc(1, sizeof(*d));
    if (d) {
        d->buf[0] = malloc(DL_CHUNK);
        d->buf[1] = malloc(DL_CHUNK);
    }
    if (!d || !d->buf[0] || !d->buf[1]) {
        if (d)
            d->r = r;
        else
            store_blob_reader_free(r);
        if (d)
            dl_free(d);
        return PL_ENOMEM;
    }
    *d = (struct dl){.req = c->req,
                     .env = c->env,
                     .r = r,
                     .next_off = from,
                     .end = to + 1,
                     .buf = {d->buf[0], d->buf[1]}};
    /* The first chunk is read here, on the worker, so the response starts
     * with data; the loop fetches the rest through dl_kick(). */
    ssize_t n = store_blob_reader_pread(r, d->buf[0],
                                        (size_t)PL_MIN((uint64_t)DL_CHUNK, to + 1 - from), from);
    if (n <= 0) {
        dl_free(d);
        return n < 0 ? (int)n : PL_EINTERNAL;
    }
    d->len[0] = (size_t)n;
    d->state[0] = DL_READY;
    d->next_off += (uint64_t)n;
    http_resp_stream(c->req, status, ctype, &dl_ops, d);
    http_resp_stream_length(c->req, to + 1 - from);
    return 0;
}

static const char *content_type_of(struct api_call *c, const char *key)
{
    struct store_media m;
    if (key[0] == 'm' && store_pg_media_get_by_key(c->w->pg, c->a, key, &m) == 0)
        return m.content_type;
    return "application/octet-stream";
}

static int blob_get(struct api_call *c)
{
    char key[STORE_BLOB_KEY_MAX];
    if (!key_of(c, key) || !c->env->blobs || !store_blob_serves_downloads(c->env->blobs))
        return not_found(c);
    int rc = check_sig(c, "GET", key, 0, "");
    if (rc < 0)
        return rc;
    struct store_blob_reader *r;
    struct store_blob_stat st;
    if ((rc = store_blob_reader_new(c->env->blobs, key, &r, &st)) == PL_ENOTFOUND)
        return not_found(c);
    if (rc < 0)
        return rc;
    const char *ctype = content_type_of(c, key);
    if ((rc = download_headers(c, &st, ctype)) < 0 ||
        etag_matches(http_req_header(c->req, "if-none-match"), st.etag)) {
        store_blob_reader_free(r);
        if (rc == 0)
            http_resp_set(c->req, 304, NULL, "", 0);
        return rc;
    }
    uint64_t from = 0, to = st.size ? st.size - 1 : 0;
    const char *if_range = http_req_header(c->req, "if-range");
    int ranged = !if_range || strcmp(if_range, st.etag) == 0
                     ? parse_range(http_req_header(c->req, "range"), st.size, &from, &to)
                     : 0;
    char cr[80];
    if (ranged < 0) {
        store_blob_reader_free(r);
        snprintf(cr, sizeof(cr), "bytes */%" PRIu64, st.size);
        problem(c, PL_EINVAL, "range-not-satisfiable", "the range lies past the object's end");
        return http_resp_header(c->req, "Content-Range", cr) < 0 ? PL_ENOMEM : PL_EINVAL;
    }
    if (ranged) {
        snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, from, to, st.size);
        if ((rc = http_resp_header(c->req, "Content-Range", cr)) < 0) {
            store_blob_reader_free(r);
            return rc;
        }
    }
    if (st.size == 0) {
        store_blob_reader_free(r);
        http_resp_set(c->req, ranged ? 206 : 200, ctype, "", 0);
        return 0;
    }
    return start_download(c, r, ranged ? 206 : 200, ctype, from, to);
}

const struct api_route_def api__blob_routes[] = {
    {"PUT", "/v1/blobs/{prefix}/{name}", blob_put, API_STREAM_BODY},
    {"GET", "/v1/blobs/{prefix}/{name}", blob_get, 0},
    {NULL, NULL, NULL, 0},
};
