/* SPDX-License-Identifier: MIT */
/* Parley - media: upload slots (POST /v1/media) and downloads.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "analytics/samples.h"
#include "storage/blob.h"
#include "storage/media.h"

#include "common/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

PL_LOG_TOPIC("media");

/*
 * POST /v1/media reserves an upload: a media row (pending, expiring) under
 * a fresh server-generated blob key, and a presigned PUT URL bound to the
 * declared size, content type and expiry. The client then uploads straight
 * to that URL (parleyd's own /v1/blobs for the fs store, S3 for an S3
 * store); the upload becomes ready once size and SHA-256 verified (by the
 * PUT handler for fs, by api__media_confirm() for S3).
 * GET /v1/media/{id} answers 302 to a short-lived presigned GET URL, for
 * the uploader and for members of a conversation where it was sent; for
 * everyone else the media does not exist (404).
 */

#define CONTENT_TYPE_MAX 255
#define FILENAME_MAX_CHARS 255
/* Download URLs live a tenth of upload URLs, but at least this long, so a
 * player that re-requests ranges keeps working for a while. */
#define DOWNLOAD_TTL_MIN_S 60

/* RFC 9110 media type: type "/" subtype, both tokens, optional
 * parameters; we take the tchar subset and "; name=value" parameters
 * without quoting, which is what clients send for files. */
static bool valid_token_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           strchr("!#$%&'*+-.^_`|~", ch);
}

bool api__valid_content_type(const char *s)
{
    size_t n = strlen(s), i = 0;
    if (n == 0 || n > CONTENT_TYPE_MAX)
        return false;
    size_t start = i;
    while (i < n && valid_token_char(s[i]))
        i++;
    if (i == start || i >= n || s[i++] != '/')
        return false;
    start = i;
    while (i < n && valid_token_char(s[i]))
        i++;
    if (i == start)
        return false;
    for (; i < n; i++) /* parameters: printable ASCII only */
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

static bool parse_sha256(const char *hex, uint8_t out[STORE_MEDIA_SHA256_BYTES])
{
    if (!hex || strlen(hex) != STORE_MEDIA_SHA256_BYTES * 2)
        return false;
    for (size_t i = 0; i < STORE_MEDIA_SHA256_BYTES; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char ch = hex[2 * i + (size_t)k];
            v <<= 4;
            if (ch >= '0' && ch <= '9')
                v |= (unsigned)(ch - '0');
            else if (ch >= 'a' && ch <= 'f')
                v |= (unsigned)(ch - 'a' + 10);
            else
                return false;
        }
        out[i] = (uint8_t)v;
    }
    return true;
}

static void format_time(char *buf, size_t n, int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

/* ---- POST /v1/media ---- */

struct upload_req {
    const char *content_type, *sha256, *filename;
    int64_t size;
};

static int read_upload(struct api_call *c, struct upload_req *u, struct store_media *m)
{
    const struct api_field fields[] = {
        {"content_type", API_FIELD_STRING, true, &u->content_type},
        {"size", API_FIELD_INT, true, &u->size},
        {"sha256", API_FIELD_STRING, true, &u->sha256},
        {"filename", API_FIELD_STRING, false, &u->filename},
    };
    int rc = api__bind_body(c, fields, PL_ARRAY_LEN(fields));
    if (rc < 0)
        return rc;
    if (u->content_type && !api__valid_content_type(u->content_type))
        api_errors_add(&c->errs, "/content_type", "must be a media type such as image/png");
    if (u->sha256 && !parse_sha256(u->sha256, m->sha256))
        api_errors_add(&c->errs, "/sha256", "must be 64 lowercase hex digits");
    if (u->filename && !api__valid_display_text(u->filename, FILENAME_MAX_CHARS))
        api_errors_add(&c->errs, "/filename",
                       "must be 1 to 255 characters without control characters");
    if (u->size < 1 && !c->errs.n)
        api_errors_add(&c->errs, "/size", "must be at least 1");
    if (c->errs.n)
        return api__fail_validation(c);
    if ((uint64_t)u->size > c->env->cfg->media_max_size) {
        const char *d = pl_arena_sprintf(c->a, "uploads are limited to %" PRIu64 " bytes",
                                         c->env->cfg->media_max_size);
        struct api_problem p = {
            .rc = PL_ETOOBIG, .slug = "media-too-large", .detail = d, .offset = -1};
        api_problem_sendx(c->req, &p);
        return PL_ETOOBIG;
    }
    return 0;
}

static int media_create(struct api_call *c)
{
    struct upload_req u = {0};
    struct store_media in = {0}, m;
    int rc = read_upload(c, &u, &in);
    if (rc < 0)
        return rc;
    if (!c->env->blobs)
        return PL_EUNAVAIL;
    /* The declared size counts when the URL is handed out: the upload
     * cannot exceed it (the URL is signed for that size). */
    if ((rc = api__limit_user(c, API_LIMIT_MEDIA_BYTES, c->user_id, (uint64_t)u.size)) < 0)
        return rc;
    char key[STORE_BLOB_KEY_MAX], url[STORE_BLOB_URL_MAX], exp_s[32];
    if ((rc = store_blob_key_init("m", key)) < 0)
        return rc;
    in.uploader_id = c->user_id;
    in.uploader_device_id = c->device_id;
    in.blob_key = key;
    in.content_type = u.content_type;
    in.filename = u.filename;
    in.size = (uint64_t)u.size;
    rc = store_pg_media_create(c->w->pg, c->a, &in, c->env->cfg->media_pending_ttl_s, &m);
    if (rc < 0)
        return rc;
    int64_t exp = (int64_t)time(NULL) + c->env->cfg->media_url_ttl_s;
    rc = store_blob_presign(c->env->blobs, "PUT", key, m.size, m.content_type, exp, url);
    if (rc < 0)
        return rc;
    format_time(exp_s, sizeof(exp_s), exp);
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_int(g, "media_id", m.id);
    api__gen_str(g, "upload_url", url);
    api__gen_str(g, "upload_method", "PUT");
    api__gen_str(g, "expires_at", exp_s);
    yajl_gen_map_close(g);
    char loc[48];
    snprintf(loc, sizeof(loc), "/v1/media/%" PRId64, m.id);
    if ((rc = http_resp_header(c->req, "Location", loc)) < 0) {
        yajl_gen_free(g);
        return rc;
    }
    return api__reply_json(c, 201, g);
}

/* ---- confirming direct uploads (S3) ---- */

/* With a store clients upload to directly (S3), nothing tells parleyd that
 * an upload finished: the first request that needs the media (its
 * uploader's download, a send that references it) reads the object back
 * and marks it ready when size and SHA-256 match what was declared. A
 * mismatch leaves it pending (the client may PUT again while its URL is
 * valid); the sweep deletes it if nothing ever matches. */
static int confirm_one(struct api_call *c, struct store_media *m)
{
    int rc = store_blob_confirm(c->env->blobs, m->blob_key, m->size, m->sha256);
    if (rc == PL_ENOTFOUND || rc == PL_EMALFORMED) {
        pl_log_debug("media %" PRId64 ": upload %s", m->id,
                     rc == PL_ENOTFOUND ? "not there yet" : "does not match its size or SHA-256");
        return 0;
    }
    if (rc < 0)
        return rc;
    rc = store_pg_media_mark_ready(c->w->pg, m->id);
    if (rc < 0 && rc != PL_ENOTFOUND) /* not found: another request was first */
        return rc;
    m->ready = true;
    return 1;
}

int api__media_confirm(struct api_call *c, const int64_t *ids, unsigned n)
{
    if (!c->env->blobs || store_blob_serves_urls(c->env->blobs))
        return 0;
    int done = 0;
    for (unsigned i = 0; i < n; i++) {
        struct store_media m;
        int rc = store_pg_media_get(c->w->pg, c->a, ids[i], &m);
        if (rc == PL_ENOTFOUND || (rc == 0 && (m.ready || m.uploader_id != c->user_id)))
            continue;
        if (rc == 0)
            rc = confirm_one(c, &m);
        if (rc < 0)
            return rc;
        done += rc;
    }
    return done;
}

/* ---- GET /v1/media/{id} ---- */

static int media_not_found(struct api_call *c)
{
    api_problem_send(c->req, PL_ENOTFOUND, "no such media");
    return PL_ENOTFOUND;
}

/* ?redirect=false: the URL as JSON, for clients that cannot follow a
 * redirect (or want the metadata first). */
static int reply_download(struct api_call *c, const struct store_media *m, const char *url,
                          int64_t exp)
{
    char exp_s[32];
    format_time(exp_s, sizeof(exp_s), exp);
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_int(g, "media_id", m->id);
    api__gen_str(g, "url", url);
    api__gen_str(g, "expires_at", exp_s);
    api__gen_str(g, "content_type", m->content_type);
    api__gen_int(g, "size", (long long)m->size);
    if (m->filename)
        api__gen_str(g, "filename", m->filename);
    yajl_gen_map_close(g);
    int rc = http_resp_header(c->req, "Cache-Control", "private, no-store");
    if (rc < 0) {
        yajl_gen_free(g);
        return rc;
    }
    return api__reply_json(c, 200, g);
}

static int media_get(struct api_call *c)
{
    int64_t id;
    if (!api__parse_id(http_req_param(c->req, 0), &id))
        return media_not_found(c);
    struct store_media m;
    bool ok = false;
    int rc = store_pg_media_get(c->w->pg, c->a, id, &m);
    if (rc == 0)
        rc = store_pg_media_can_read(c->w->pg, id, c->user_id, &ok);
    if (rc == PL_ENOTFOUND || (rc == 0 && !ok))
        return media_not_found(c);
    if (rc < 0)
        return rc;
    if (!m.ready && m.uploader_id == c->user_id && !store_blob_serves_urls(c->env->blobs) &&
        (rc = confirm_one(c, &m)) < 0)
        return rc;
    if (!m.ready) {
        api_problem_send(c->req, PL_ENOTFOUND, "the upload has not completed");
        return PL_ENOTFOUND;
    }
    unsigned ttl = PL_MAX(c->env->cfg->media_url_ttl_s / 10, (unsigned)DOWNLOAD_TTL_MIN_S);
    int64_t exp = (int64_t)time(NULL) + ttl;
    char url[STORE_BLOB_URL_MAX];
    if ((rc = store_blob_presign(c->env->blobs, "GET", m.blob_key, 0, m.content_type, exp, url)) <
        0)
        return rc;
    analytics_media_download();
    const char *redirect = http_req_query(c->req, "redirect");
    if (redirect && strcmp(redirect, "false") == 0)
        return reply_download(c, &m, url, exp);
    if ((rc = http_resp_header(c->req, "Location", url)) < 0 ||
        (rc = http_resp_header(c->req, "Cache-Control", "private, no-store")) < 0)
        return rc;
    http_resp_set(c->req, 302, NULL, "", 0);
    return 0;
}

/* ---- the sweep ---- */

int api_media_sweep(struct api_worker *w, unsigned limit)
{
    struct pl_arena *a = pl_arena_new();
    if (!a)
        return PL_ENOMEM;
    int64_t *ids;
    const char **keys;
    unsigned n, gone = 0;
    int rc = store_pg_media_expired(w->pg, a, limit, &ids, &keys, &n);
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        /* The row goes first: a message that references the upload at
         * this moment either keeps it (the delete finds it referenced) or
         * finds no row and fails its check. A crash between the two
         * leaves an unreachable blob, never a row without its bytes. */
        int r = store_pg_media_delete_expired(w->pg, ids[i]);
        if (r == PL_ENOTFOUND)
            continue;
        if (r < 0) {
            rc = r;
            break;
        }
        if (w->env->blobs && (r = store_blob_delete(w->env->blobs, keys[i])) < 0)
            pl_log_warn("media %" PRId64 ": cannot delete blob: %s", ids[i], pl_strerror(r));
        gone++;
    }
    pl_arena_free(a);
    /* Temporary files of uploads a crash cut short; a live upload writes
     * at least every idle_timeout, so an hour is far beyond it. */
    int tmp = w->env->blobs ? store_blob_gc(w->env->blobs, 3600) : 0;
    if (tmp > 0)
        pl_log_info("removed %d abandoned upload files", tmp);
    if (gone)
        pl_log_info("swept %u expired uploads", gone);
    return rc < 0 ? rc : (int)gone;
}

const struct api_route_def api__media_routes[] = {
    {"POST", "/v1/media", media_create, API_AUTH},
    {"GET", "/v1/media/{id}", media_get, API_AUTH},
    {NULL, NULL, NULL, 0},
};
