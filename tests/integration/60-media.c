/* SPDX-License-Identifier: MIT */
/* Parley - integration: media uploads, presigned URLs, downloads.      */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <dirent.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A fixed URL secret, so the test can sign URLs the way the server does
 * (expired ones, ones for another key). */
#define SECRET "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static const char *data_dir;

/* Starts parleyd with a private data dir and the known secret, plus
 * extra (two more "--flag", "value" pairs at most). */
static struct pt_server *start(const char *const *extra)
{
    PL_ASSERT(sodium_init() >= 0);
    data_dir = pt_temp_dir("media");
    const char *args[16] = {"--data-dir", data_dir, "--url-secret", SECRET};
    size_t n = 4;
    for (size_t i = 0; extra && extra[i] && n < 15; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    return PT_SERVER_START(args);
}

static void fill_random(char *buf, size_t n)
{
    randombytes_buf(buf, n);
}

static void sha256_hex(const char *buf, size_t n, char out[65])
{
    uint8_t h[32];
    crypto_hash_sha256(h, (const uint8_t *)buf, n);
    sodium_bin2hex(out, 65, h, 32);
}

/* POST /v1/media; returns the response (free it). */
static void post_media(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                       const char *ctype, size_t size, const char *sha, struct pt_resp *r)
{
    pt_reqf(s, p, "POST", u->token, r, "/v1/media",
            "{\"content_type\":\"%s\",\"size\":%zu,\"sha256\":\"%s\",\"filename\":\"f.bin\"}",
            ctype, size, sha);
}

struct upload {
    int64_t id;
    char url[512];
};

/* Reserves an upload for buf; expects 201. */
static struct upload reserve(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                             const char *ctype, const char *buf, size_t n)
{
    char sha[65];
    struct pt_resp r;
    struct upload up;
    sha256_hex(buf, n, sha);
    post_media(s, p, u, ctype, n, sha, &r);
    PT_ASSERT_STATUS(&r, 201);
    up.id = pt_json_int(pt_json(&r), "media_id", NULL);
    PL_ASSERT(up.id > 0);
    const char *url = pt_json_str(pt_json(&r), "upload_url", NULL);
    PL_ASSERT(url && strncmp(url, "/v1/blobs/m/", 12) == 0);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "upload_method", NULL), "PUT");
    PL_ASSERT(pt_is_timestamp(pt_json_str(pt_json(&r), "expires_at", NULL)));
    snprintf(up.url, sizeof(up.url), "%s", url);
    pt_resp_free(&r);
    return up;
}

static void put(struct pt_server *s, enum pt_proto p, const char *url, const char *ctype,
                const char *buf, size_t n, struct pt_resp *r)
{
    int rc = pt_req(s, p, "PUT", url, NULL, ctype, buf, n, r);
    if (rc != 0)
        pltest_fail(__FILE__, __LINE__, "PUT failed: %s", pt_req_error());
}

/* Reserves and uploads buf; expects 204. */
static struct upload upload(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                            const char *ctype, const char *buf, size_t n)
{
    struct upload up = reserve(s, p, u, ctype, buf, n);
    struct pt_resp r;
    put(s, p, up.url, ctype, buf, n, &r);
    PT_ASSERT_STATUS(&r, 204);
    PL_ASSERT(pt_resp_header(&r, "ETag") != NULL);
    pt_resp_free(&r);
    return up;
}

/* GET /v1/media/{id} as u: the presigned Location on 302 (into loc), or
 * the status. */
static long media_location(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                           int64_t id, char loc[512])
{
    char path[64];
    struct pt_resp r;
    snprintf(path, sizeof(path), "/v1/media/%" PRId64, id);
    pt_get(s, p, path, u->token, &r);
    long st = r.status;
    if (st == 302) {
        const char *l = pt_resp_header(&r, "Location");
        PL_ASSERT(l && strncmp(l, "/v1/blobs/m/", 12) == 0);
        snprintf(loc, 512, "%s", l);
    } else {
        PT_ASSERT_PROBLEM(&r, 404, "not-found");
    }
    pt_resp_free(&r);
    return st;
}

/* Downloads u's view of media id and compares it with buf. */
static void expect_download(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                            int64_t id, const char *ctype, const char *buf, size_t n)
{
    char loc[512];
    PL_ASSERT_INT_EQ(media_location(s, p, u, id, loc), 302);
    struct pt_resp r;
    pt_get(s, p, loc, NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(r.len, n);
    char want[65], got[65];
    sha256_hex(buf, n, want);
    sha256_hex(r.body, r.len, got);
    PL_ASSERT_STR_EQ(got, want);
    PL_ASSERT_STR_EQ(pt_resp_ctype(&r), ctype);
    const char *cc = pt_resp_header(&r, "Cache-Control");
    PL_ASSERT(cc && strstr(cc, "private") && strstr(cc, "immutable"));
    PL_ASSERT_STR_EQ(pt_resp_header(&r, "Accept-Ranges"), "bytes");
    PL_ASSERT(pt_resp_header(&r, "ETag") != NULL);
    pt_resp_free(&r);
}

/* Files under data_dir/blobs/<sub>, recursively. */
static int count_files(const char *sub)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/blobs/%s", data_dir, sub);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char child[300];
        snprintf(child, sizeof(child), "%s/%s", sub, e->d_name);
        struct stat sb;
        char full[400];
        snprintf(full, sizeof(full), "%s/blobs/%s", data_dir, child);
        if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode))
            n += count_files(child);
        else
            n++;
    }
    closedir(d);
    return n;
}

static void send_media(struct pt_server *s, enum pt_proto p, const struct pt_user *u, int64_t conv,
                       const char *media_json, struct pt_resp *r)
{
    char path[96], cmid[40], body[1024];
    snprintf(path, sizeof(path), "/v1/conversations/%" PRId64 "/messages", conv);
    snprintf(cmid, sizeof(cmid), "m-%u", randombytes_random());
    snprintf(body, sizeof(body), "{\"client_msg_id\":\"%s\",\"kind\":\"media\",\"media\":%s}", cmid,
             media_json);
    PL_ASSERT_INT_EQ(
        pt_req(s, p, "POST", path, u->token, "application/json", body, strlen(body), r), 0);
}

/* Upload, download, send, and who may see it; the body is bigger than the
 * server's upload window so back-pressure is exercised. */
PLTEST_PROTO(media_round_trip)
{
    struct pt_server *s = start(NULL);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "ma", &a);
    PT_USER_NEW(s, proto, "mb", &b);
    PT_USER_NEW(s, proto, "mc", &c);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    size_t n = 3 * 1024 * 1024 + 123;
    char *buf = malloc(n);
    fill_random(buf, n);
    struct upload up = upload(s, proto, &a, "video/mp4", buf, n);

    char loc[512];
    expect_download(s, proto, &a, up.id, "video/mp4", buf, n);
    PL_ASSERT_INT_EQ(media_location(s, proto, &b, up.id, loc), 404); /* not sent yet */

    struct pt_sse *sse = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    char media[256];
    snprintf(media, sizeof(media),
             "{\"media_id\":%" PRId64 ",\"caption\":\"look\",\"mime\":\"video/mp4\",\"size\":%zu,"
             "\"width\":640,\"height\":360,\"duration_ms\":1500}",
             up.id, n);
    struct pt_resp r;
    send_media(s, proto, &a, conv, media, &r);
    PT_ASSERT_STATUS(&r, 201);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "kind", NULL), "media");
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "media", "media_id", NULL), up.id);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "media", "caption", NULL), "look");
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "media", "width", NULL), 640);
    pt_resp_free(&r);

    struct pt_sse_event ev = {0};
    PT_SSE_EXPECT_NEXT(sse, "message.created", 5000, &ev);
    PL_ASSERT_STR_EQ(pt_json_str(ev.json, "message", "kind", NULL), "media");
    PL_ASSERT_INT_EQ(pt_json_int(ev.json, "message", "media", "media_id", NULL), up.id);
    PL_ASSERT_INT_EQ(pt_json_int(ev.json, "message", "media", "duration_ms", NULL), 1500);
    pt_sse_event_free(&ev);
    pt_sse_close(sse);

    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%" PRId64 "/messages", conv);
    pt_get(s, proto, path, b.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "messages", "0", "kind", NULL), "media");
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "messages", "0", "media", "media_id", NULL), up.id);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "messages", "0", "media", "size", NULL), (int64_t)n);
    pt_resp_free(&r);

    expect_download(s, proto, &b, up.id, "video/mp4", buf, n); /* now a member may */
    snprintf(path, sizeof(path), "/v1/media/%" PRId64 "?redirect=false", up.id);
    pt_get(s, proto, path, b.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "size", NULL), (int64_t)n);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "content_type", NULL), "video/mp4");
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "filename", NULL), "f.bin");
    PL_ASSERT(strncmp(pt_json_str(pt_json(&r), "url", NULL), "/v1/blobs/m/", 12) == 0);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(media_location(s, proto, &c, up.id, loc), 404); /* others never */
    PL_ASSERT_INT_EQ(media_location(s, proto, &c, up.id + 100000, loc), 404);
    free(buf);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Builds a URL for key signed with SECRET, as the server would. */
static void sign_url(const char *method, const char *key, uint64_t size, const char *ctype,
                     int64_t exp, char out[512])
{
    uint8_t k[32], mac[32];
    PL_ASSERT_INT_EQ(sodium_hex2bin(k, 32, SECRET, 64, NULL, NULL, NULL), 0);
    char msg[512], sig[64];
    snprintf(msg, sizeof(msg), "parley-url-v1\n%s\n%s\n%" PRIu64 "\n%s\n%" PRId64, method, key,
             size, ctype, exp);
    crypto_auth_hmacsha256(mac, (const uint8_t *)msg, strlen(msg), k);
    sodium_bin2base64(sig, sizeof(sig), mac, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(out, 512, "/v1/blobs/%s?exp=%" PRId64 "&sig=%s", key, exp, sig);
}

/* The blob key of an upload or download URL ("m/<hex>"). */
static void key_of(const char *url, char key[48])
{
    const char *k = url + strlen("/v1/blobs/");
    size_t n = strcspn(k, "?");
    PL_ASSERT(n < 48);
    memcpy(key, k, n);
    key[n] = '\0';
}

static void expect_403(struct pt_server *s, enum pt_proto p, const char *method, const char *url,
                       const char *body, size_t n)
{
    struct pt_resp r;
    PL_ASSERT_INT_EQ(pt_req(s, p, method, url, NULL, NULL, body, n, &r), 0);
    PT_ASSERT_PROBLEM(&r, 403, "bad-signature");
    pt_resp_free(&r);
}

PLTEST_PROTO(media_bad_urls)
{
    struct pt_server *s = start(NULL);
    struct pt_user a;
    PT_USER_NEW(s, proto, "mu", &a);
    char buf[1000], other[1000], url[512], key[48], okey[48], loc[512];
    fill_random(buf, sizeof(buf));
    fill_random(other, sizeof(other));
    struct upload up = reserve(s, proto, &a, "image/png", buf, sizeof(buf));
    struct upload up2 = reserve(s, proto, &a, "image/png", other, sizeof(other));
    key_of(up.url, key);
    key_of(up2.url, okey);
    int64_t now = (int64_t)time(NULL);

    /* Our signing agrees with the server's: a URL we sign works. */
    sign_url("PUT", key, sizeof(buf), "image/png", now + 600, url);
    struct pt_resp r;
    put(s, proto, url, NULL, buf, sizeof(buf), &r);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(media_location(s, proto, &a, up.id, loc), 302);

    /* Tampered: one character of the signature, or the expiry. */
    char bad[512];
    snprintf(bad, sizeof(bad), "%s", up2.url);
    char *sig = strstr(bad, "sig=") + 4;
    sig[3] = sig[3] == 'A' ? 'B' : 'A';
    expect_403(s, proto, "PUT", bad, other, sizeof(other));
    snprintf(bad, sizeof(bad), "%s", up2.url);
    char *exp = strstr(bad, "exp=") + 4;
    exp[strspn(exp, "0123456789") - 1] ^= 1; /* another digit, same length */
    expect_403(s, proto, "PUT", bad, other, sizeof(other));
    /* Expired, though correctly signed. */
    sign_url("PUT", okey, sizeof(other), "image/png", now - 5, url);
    expect_403(s, proto, "PUT", url, other, sizeof(other));
    /* Signed for another size or type. */
    sign_url("PUT", okey, sizeof(other) + 1, "image/png", now + 600, url);
    expect_403(s, proto, "PUT", url, other, sizeof(other));
    sign_url("PUT", okey, sizeof(other), "image/gif", now + 600, url);
    expect_403(s, proto, "PUT", url, other, sizeof(other));
    /* A valid signature replayed for another key. */
    snprintf(bad, sizeof(bad), "/v1/blobs/%s%s", okey, strchr(up.url, '?'));
    expect_403(s, proto, "PUT", bad, other, sizeof(other));
    /* A Content-Type other than the signed one. */
    put(s, proto, up2.url, "image/gif", other, sizeof(other), &r);
    PT_ASSERT_PROBLEM(&r, 403, "bad-signature");
    pt_resp_free(&r);

    /* Downloads: expired, replayed for another key, or an upload URL. */
    sign_url("GET", key, 0, "", now - 5, url);
    expect_403(s, proto, "GET", url, NULL, 0);
    snprintf(bad, sizeof(bad), "/v1/blobs/%s%s", okey, strchr(loc, '?'));
    expect_403(s, proto, "GET", bad, NULL, 0);
    snprintf(bad, sizeof(bad), "/v1/blobs/%s", key);
    expect_403(s, proto, "GET", bad, NULL, 0);
    sign_url("PUT", key, sizeof(buf), "image/png", now + 600, url);
    expect_403(s, proto, "GET", url, NULL, 0);
    /* A path that is no blob key never reaches the store. */
    pt_get(s, proto, "/v1/blobs/m/..%2F..%2Fetc?exp=1&sig=x", NULL, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    /* The other upload is still possible with its own URL. */
    put(s, proto, up2.url, "image/png", other, sizeof(other), &r);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    /* ... once. */
    put(s, proto, up2.url, "image/png", other, sizeof(other), &r);
    PT_ASSERT_PROBLEM(&r, 409, "conflict");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(media_oversize)
{
    const char *args[] = {"--media-max-size", "65536", NULL};
    struct pt_server *s = start(args);
    struct pt_user a;
    PT_USER_NEW(s, proto, "mo", &a);
    char *buf = malloc(70000), sha[65];
    fill_random(buf, 70000);
    sha256_hex(buf, 70000, sha);
    struct pt_resp r;
    post_media(s, proto, &a, "image/png", 65537, sha, &r);
    PT_ASSERT_PROBLEM(&r, 413, "media-too-large");
    pt_resp_free(&r);
    /* At upload time: more bytes than the URL was signed for. */
    struct upload up = reserve(s, proto, &a, "image/png", buf, 1000);
    put(s, proto, up.url, NULL, buf, 1001, &r);
    PT_ASSERT_PROBLEM(&r, 413, "media-too-large");
    pt_resp_free(&r);
    put(s, proto, up.url, NULL, buf, 70000, &r);
    PT_ASSERT_PROBLEM(&r, 413, "media-too-large");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(count_files("m"), 0);
    /* The same URL still takes the right bytes. */
    put(s, proto, up.url, NULL, buf, 1000, &r);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    free(buf);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Issue 9, item 2: what an uploader stored must not run as a page of the
 * API's origin. Script-capable types download as attachments; every
 * download is nosniff and sandboxed; inert images and video play inline. */
static void expect_disposition(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                               const char *ctype, const char *want)
{
    static const char html[] = "<html><script>alert(document.cookie)</script></html>";
    struct upload up = upload(s, p, u, ctype, html, sizeof(html) - 1);
    char loc[512];
    PL_ASSERT_INT_EQ(media_location(s, p, u, up.id, loc), 302);
    struct pt_resp r;
    pt_get(s, p, loc, NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    const char *v = pt_resp_header(&r, "X-Content-Type-Options");
    PL_ASSERT(v && strcmp(v, "nosniff") == 0);
    v = pt_resp_header(&r, "Content-Security-Policy");
    PL_ASSERT(v && strstr(v, "sandbox") != NULL);
    v = pt_resp_header(&r, "Content-Disposition");
    if (!v || strncmp(v, want, strlen(want)) != 0)
        pltest_fail(__FILE__, __LINE__, "%s: Content-Disposition %s, want %s", ctype,
                    v ? v : "(none)", want);
    pt_resp_free(&r);
}

PLTEST_PROTO(media_downloads_cannot_script_the_api_origin)
{
    struct pt_server *s = start(NULL);
    struct pt_user a;
    PT_USER_NEW(s, proto, "mx", &a);
    expect_disposition(s, proto, &a, "text/html", "attachment");
    expect_disposition(s, proto, &a, "image/svg+xml", "attachment");
    expect_disposition(s, proto, &a, "application/xhtml+xml", "attachment");
    expect_disposition(s, proto, &a, "application/octet-stream", "attachment");
    expect_disposition(s, proto, &a, "image/png", "inline");
    expect_disposition(s, proto, &a, "video/mp4", "inline");
    expect_disposition(s, proto, &a, "audio/mpeg", "inline");
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* blob_base_url: upload and download URLs point at another origin. */
PLTEST(media_blob_base_url_is_a_separate_origin)
{
    const char *args[] = {"--blob-base-url", "https://blobs.example.net:8443", NULL};
    struct pt_server *s = start(args);
    struct pt_user a;
    PT_USER_NEW(s, PT_H1, "mz", &a);
    char sha[65];
    sha256_hex("hello", 5, sha);
    struct pt_resp r;
    post_media(s, PT_H1, &a, "image/png", 5, sha, &r);
    PT_ASSERT_STATUS(&r, 201);
    const char *url = pt_json_str(pt_json(&r), "upload_url", NULL);
    PL_ASSERT(url && strncmp(url, "https://blobs.example.net:8443/v1/blobs/m/", 42) == 0);
    /* The URL's path still works here (the other origin may be this node). */
    char path[512];
    snprintf(path, sizeof(path), "%s", url + strlen("https://blobs.example.net:8443"));
    pt_resp_free(&r);
    put(s, PT_H1, path, "image/png", "hello", 5, &r);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
    /* A value with a path is refused at startup. */
    const char *bad[] = {"--blob-base-url", "https://blobs.example.net/x", NULL};
    PL_ASSERT(pt_server_start(bad) == NULL);
}

PLTEST_PROTO(media_wrong_hash)
{
    struct pt_server *s = start(NULL);
    struct pt_user a;
    PT_USER_NEW(s, proto, "mh", &a);
    size_t n = 1500 * 1024;
    char *buf = malloc(n), loc[512];
    fill_random(buf, n);
    struct upload up = reserve(s, proto, &a, "application/octet-stream", buf, n);
    buf[n / 2] ^= 1;
    struct pt_resp r;
    put(s, proto, up.url, NULL, buf, n, &r);
    PT_ASSERT_PROBLEM(&r, 422, "upload-mismatch");
    pt_resp_free(&r);
    put(s, proto, up.url, NULL, buf, n - 1, &r); /* short */
    PT_ASSERT_PROBLEM(&r, 422, "upload-mismatch");
    pt_resp_free(&r);
    /* Nothing kept: no object, no temporary file, not downloadable. */
    PL_ASSERT_INT_EQ(count_files("m"), 0);
    PL_ASSERT_INT_EQ(count_files("tmp"), 0);
    PL_ASSERT_INT_EQ(media_location(s, proto, &a, up.id, loc), 404);
    buf[n / 2] ^= 1;
    put(s, proto, up.url, NULL, buf, n, &r);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(count_files("m"), 1);
    expect_download(s, proto, &a, up.id, "application/octet-stream", buf, n);
    free(buf);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

static void get_range(struct pt_server *s, enum pt_proto p, const char *loc, const char *range,
                      struct pt_resp *r)
{
    char h[128];
    snprintf(h, sizeof(h), "Range: %s", range);
    const char *hs[] = {h, NULL};
    PL_ASSERT_INT_EQ(pt_req_h(s, p, "GET", loc, NULL, NULL, NULL, 0, hs, r), 0);
}

static void expect_part(struct pt_server *s, enum pt_proto p, const char *loc, const char *range,
                        const char *buf, size_t size, size_t from, size_t to)
{
    struct pt_resp r;
    get_range(s, p, loc, range, &r);
    PT_ASSERT_STATUS(&r, 206);
    char cr[80];
    snprintf(cr, sizeof(cr), "bytes %zu-%zu/%zu", from, to, size);
    PL_ASSERT_STR_EQ(pt_resp_header(&r, "Content-Range"), cr);
    PL_ASSERT_INT_EQ(r.len, to - from + 1);
    PL_ASSERT(memcmp(r.body, buf + from, r.len) == 0);
    pt_resp_free(&r);
}

PLTEST_PROTO(media_ranges_and_etag)
{
    struct pt_server *s = start(NULL);
    struct pt_user a;
    PT_USER_NEW(s, proto, "mr", &a);
    size_t n = 600 * 1024;
    char *buf = malloc(n), loc[512];
    fill_random(buf, n);
    struct upload up = upload(s, proto, &a, "video/webm", buf, n);
    PL_ASSERT_INT_EQ(media_location(s, proto, &a, up.id, loc), 302);
    expect_part(s, proto, loc, "bytes=0-99", buf, n, 0, 99);
    expect_part(s, proto, loc, "bytes=300000-", buf, n, 300000, n - 1);
    expect_part(s, proto, loc, "bytes=-50", buf, n, n - 50, n - 1);
    expect_part(s, proto, loc, "bytes=-9999999", buf, n, 0, n - 1);
    expect_part(s, proto, loc, "bytes=100-99999999", buf, n, 100, n - 1);
    expect_part(s, proto, loc, "bytes=262140-262150", buf, n, 262140, 262150); /* chunk edge */
    struct pt_resp r;
    char want[64];
    get_range(s, proto, loc, "bytes=614400-", &r); /* exactly the size: past the end */
    PT_ASSERT_PROBLEM(&r, 416, "range-not-satisfiable");
    snprintf(want, sizeof(want), "bytes */%zu", n);
    PL_ASSERT_STR_EQ(pt_resp_header(&r, "Content-Range"), want);
    pt_resp_free(&r);

    pt_get(s, proto, loc, NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    char etag[64], h[96];
    snprintf(etag, sizeof(etag), "%s", pt_resp_header(&r, "ETag"));
    pt_resp_free(&r);
    snprintf(h, sizeof(h), "If-None-Match: %s", etag);
    const char *hs[] = {h, NULL};
    PL_ASSERT_INT_EQ(pt_req_h(s, proto, "GET", loc, NULL, NULL, NULL, 0, hs, &r), 0);
    PT_ASSERT_STATUS(&r, 304);
    PL_ASSERT_INT_EQ(r.len, 0);
    PL_ASSERT_STR_EQ(pt_resp_header(&r, "ETag"), etag);
    pt_resp_free(&r);
    const char *hs2[] = {"If-None-Match: \"other\"", NULL};
    PL_ASSERT_INT_EQ(pt_req_h(s, proto, "GET", loc, NULL, NULL, NULL, 0, hs2, &r), 0);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_INT_EQ(r.len, n);
    pt_resp_free(&r);
    free(buf);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(media_message_rules)
{
    struct pt_server *s = start(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "mm", &a);
    PT_USER_NEW(s, proto, "mn", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    char buf[100], media[128];
    fill_random(buf, sizeof(buf));
    struct upload pending = reserve(s, proto, &a, "image/png", buf, sizeof(buf));
    struct upload theirs = upload(s, proto, &b, "image/png", buf, sizeof(buf));
    const int64_t bad[] = {pending.id, theirs.id, 999999999};
    struct pt_resp r;
    for (size_t i = 0; i < 3; i++) {
        snprintf(media, sizeof(media), "{\"media_id\":%" PRId64 "}", bad[i]);
        send_media(s, proto, &a, conv, media, &r);
        PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
        pt_resp_free(&r);
    }
    /* A thumbnail must be a ready upload of the sender too. */
    struct upload mine = upload(s, proto, &a, "image/png", buf, sizeof(buf));
    snprintf(media, sizeof(media), "{\"media_id\":%" PRId64 ",\"thumbnail_media_id\":%" PRId64 "}",
             mine.id, theirs.id);
    send_media(s, proto, &a, conv, media, &r);
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    pt_resp_free(&r);
    send_media(s, proto, &a, conv, "{\"media_id\":1,\"width\":0}", &r);
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "errors", "0", "pointer", NULL), "/media/width");
    pt_resp_free(&r);
    send_media(s, proto, &a, conv, "{\"media_id\":1,\"colour\":1}", &r);
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "errors", "0", "pointer", NULL), "/media/colour");
    pt_resp_free(&r);
    pt_reqf(s, proto, "POST", a.token, &r, "/v1/media",
            "{\"content_type\":\"not a type\",\"size\":0,\"sha256\":\"xyz\"}");
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    pt_resp_free(&r);
    /* The thumbnail becomes downloadable for the peer along with the media. */
    struct upload thumb = upload(s, proto, &a, "image/jpeg", buf, 50);
    char loc[512];
    snprintf(media, sizeof(media), "{\"media_id\":%" PRId64 ",\"thumbnail_media_id\":%" PRId64 "}",
             mine.id, thumb.id);
    send_media(s, proto, &a, conv, media, &r);
    PT_ASSERT_STATUS(&r, 201);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(media_location(s, proto, &b, thumb.id, loc), 302);
    PL_ASSERT_INT_EQ(media_location(s, proto, &b, mine.id, loc), 302);
    PL_ASSERT_INT_EQ(media_location(s, proto, &b, pending.id, loc), 404);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Unreferenced uploads go after media_pending_ttl; referenced ones stay. */
PLTEST_PROTO(media_sweep)
{
    const char *args[] = {"--media-pending-ttl", "1", NULL};
    struct pt_server *s = start(args);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "ms", &a);
    PT_USER_NEW(s, proto, "mt", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    char buf[200], media[64], loc[512];
    fill_random(buf, sizeof(buf));
    struct upload kept = upload(s, proto, &a, "image/png", buf, sizeof(buf));
    struct pt_resp r;
    snprintf(media, sizeof(media), "{\"media_id\":%" PRId64 "}", kept.id);
    send_media(s, proto, &a, conv, media, &r);
    PT_ASSERT_STATUS(&r, 201);
    pt_resp_free(&r);
    struct upload gone = upload(s, proto, &a, "image/png", buf, sizeof(buf));
    PL_ASSERT_INT_EQ(count_files("m"), 2);
    uint64_t deadline = pt_now_ms() + 20000;
    while (media_location(s, proto, &a, gone.id, loc) == 302 && pt_now_ms() < deadline)
        pt_sleep_ms(200);
    PL_ASSERT_INT_EQ(media_location(s, proto, &a, gone.id, loc), 404);
    while (count_files("m") != 1 && pt_now_ms() < deadline)
        pt_sleep_ms(100);
    PL_ASSERT_INT_EQ(count_files("m"), 1);
    expect_download(s, proto, &b, kept.id, "image/png", buf, sizeof(buf));
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Many times the upload window, so the transport pauses and resumes the
 * client over and over (MHD suspension, h2 WINDOW_UPDATEs). */
PLTEST_PROTO(media_large_upload)
{
    struct pt_server *s = start(NULL);
    struct pt_user a;
    PT_USER_NEW(s, proto, "ml", &a);
    size_t n = 24 * 1024 * 1024 + 7;
    char *buf = malloc(n);
    fill_random(buf, n);
    struct upload up = upload(s, proto, &a, "application/octet-stream", buf, n);
    expect_download(s, proto, &a, up.id, "application/octet-stream", buf, n);
    free(buf);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Waits up to 10 s for one /metrics scrape that contains every needle. */
static bool metrics_show(struct pt_server *s, const char *a, const char *b)
{
    uint64_t deadline = pt_now_ms() + 10000;
    bool seen = false;
    while (!seen && pt_now_ms() < deadline) {
        struct pt_resp r;
        pt_get(s, PT_H1, "/metrics", PT_METRICS_TOKEN, &r);
        seen = strstr(r.body, a) != NULL && (!b || strstr(r.body, b) != NULL);
        pt_resp_free(&r);
        if (!seen)
            pt_sleep_ms(50);
    }
    return seen;
}

/* Starts an h1 upload of buf (n bytes) and sends only its first part
 * bytes; returns the socket. */
static int upload_part(struct pt_server *s, const struct upload *up, const char *buf, size_t n,
                       size_t part)
{
    int fd = pt_connect(s);
    char req[1024];
    int k =
        snprintf(req, sizeof(req),
                 "PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n\r\n", up->url, n);
    PL_ASSERT(write(fd, req, (size_t)k) == k);
    PL_ASSERT(write(fd, buf, part) == (ssize_t)part);
    return fd;
}

/* Issue 9, item 8: an upload whose client is slow holds no worker while it
 * waits for bytes; the rest of the body, when it comes, is still stored. */
PLTEST(media_waiting_upload_holds_no_worker)
{
    struct pt_server *s = start(NULL);
    struct pt_user a;
    PT_USER_NEW(s, PT_H1, "mw", &a);
    char buf[4096];
    fill_random(buf, sizeof(buf));
    struct upload up = reserve(s, PT_H1, &a, "image/png", buf, sizeof(buf));
    int fd = upload_part(s, &up, buf, sizeof(buf), 100);
    PL_ASSERT(metrics_show(s, "\nparley_uploads_active 1", "\nparley_worker_busy 0"));
    PL_ASSERT(write(fd, buf + 100, sizeof(buf) - 100) == (ssize_t)sizeof(buf) - 100);
    char resp[1024] = "";
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    PL_ASSERT(read(fd, resp, sizeof(resp) - 1) > 0);
    PL_ASSERT(strncmp(resp, "HTTP/1.1 204", 12) == 0);
    close(fd);
    PL_ASSERT(metrics_show(s, "\nparley_uploads_active 0", NULL));
    expect_download(s, PT_H1, &a, up.id, "image/png", buf, sizeof(buf));
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* An upload waiting for bytes must not hold up shutdown. */
PLTEST(media_shutdown_during_upload)
{
    struct pt_server *s = start(NULL);
    struct pt_user a;
    PT_USER_NEW(s, PT_H1, "mx", &a);
    char buf[4096];
    fill_random(buf, sizeof(buf));
    struct upload up = reserve(s, PT_H1, &a, "image/png", buf, sizeof(buf));
    int fd = upload_part(s, &up, buf, sizeof(buf), 100);
    PL_ASSERT(metrics_show(s, "\nparley_uploads_active 1", NULL));
    /* Without the cancel the upload would wait for its client and
     * pt_server_stop() would have to kill parleyd after 10 s. */
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
    close(fd);
}
