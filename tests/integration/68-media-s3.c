/* SPDX-License-Identifier: MIT */
/* Parley - integration: media, E2E files and archives on S3 (Ceph RGW). */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include "storage/blob.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * parleyd with blob_backend = s3 against the RADOS Gateway scripts/test
 * starts (PARLEY_TEST_S3, scripts/lib_s3.sh). Clients upload to and
 * download from the gateway with the presigned URLs parleyd hands out;
 * the gateway, not parleyd, checks their signatures and expiry. Each case
 * has a bucket of its own. Without a gateway the cases skip, unless
 * PARLEY_TEST_S3_REQUIRED says one should be there.
 */

static char bucket[64];

static const char *s3_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        if (getenv("PARLEY_TEST_S3_REQUIRED"))
            pltest_fail(__FILE__, __LINE__, "%s is not set: the S3 server is down", name);
        PL_SKIP("no S3 server (PARLEY_TEST_S3)");
    }
    return v;
}

/* The S3 settings as command-line flags into args from *n on. */
static void s3_args(const char **args, size_t *n)
{
    const char *ep = s3_env("PARLEY_TEST_S3");
    if (!bucket[0])
        snprintf(bucket, sizeof(bucket), "pt-%d-%u", (int)getpid(), randombytes_uniform(100000));
    const char *kv[] = {"--blob-backend",  "s3",
                        "--s3-endpoint",   ep,
                        "--s3-bucket",     bucket,
                        "--s3-access-key", getenv("PARLEY_TEST_S3_KEY"),
                        "--s3-secret-key", getenv("PARLEY_TEST_S3_SECRET")};
    for (size_t i = 0; i < PL_ARRAY_LEN(kv); i++)
        args[(*n)++] = kv[i];
}

/* direct: s3_direct_downloads (presigned GETs to S3); else the default,
 * downloads through parleyd. */
static struct pt_server *start_mode(const char *data_dir, bool direct)
{
    PL_ASSERT(sodium_init() >= 0);
    const char *args[24] = {"--data-dir", data_dir, "--archive-interval", "0"};
    size_t n = 4;
    s3_args(args, &n);
    if (direct) {
        args[n++] = "--s3-direct-downloads";
        args[n++] = "true";
    }
    args[n] = NULL;
    return PT_SERVER_START(args);
}

static struct pt_server *start(const char *data_dir)
{
    return start_mode(data_dir, false);
}

/* The test's own view of the bucket, to look behind parleyd's back. */
static struct store_blob *open_bucket(void)
{
    struct store_blob_config cfg = {.backend = "s3",
                                    .s3_endpoint = getenv("PARLEY_TEST_S3"),
                                    .s3_bucket = bucket,
                                    .s3_access_key = getenv("PARLEY_TEST_S3_KEY"),
                                    .s3_secret_key = getenv("PARLEY_TEST_S3_SECRET"),
                                    .s3_path_style = true};
    struct store_blob *b;
    PL_ASSERT_INT_EQ(store_blob_new(&cfg, &b), 0);
    return b;
}

/* ---- a plain HTTP client for the presigned URLs ---- */

struct body {
    char *p;
    size_t len, cap;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct body *b = ctx;
    size_t k = size * n;
    if (b->len + k + 1 > b->cap) {
        b->cap = (b->len + k + 1) * 2;
        b->p = realloc(b->p, b->cap);
        PL_ASSERT(b->p != NULL);
    }
    memcpy(b->p + b->len, p, k);
    b->len += k;
    b->p[b->len] = '\0';
    return k;
}

/* method on url, with data (PUT) of type; the status, the answer in *out
 * (free out->p). */
static long s3_fetch(const char *method, const char *url, const void *data, size_t len,
                     const char *type, struct body *out)
{
    CURL *h = curl_easy_init();
    PL_ASSERT(h != NULL);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Expect:");
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
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    long status = 0;
    PL_ASSERT_INT_EQ(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return status;
}

static void sha256_hex(const void *buf, size_t n, char out[65])
{
    uint8_t h[32];
    crypto_hash_sha256(h, buf, n);
    sodium_bin2hex(out, 65, h, 32);
}

/* POST /v1/media for n bytes hashing to sha; the id, the URL in url. */
static int64_t reserve(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                       const char *ctype, size_t n, const char *sha, char url[600])
{
    struct pt_resp r;
    pt_reqf(s, p, "POST", u->token, &r, "/v1/media",
            "{\"content_type\":\"%s\",\"size\":%zu,\"sha256\":\"%s\"}", ctype, n, sha);
    PT_ASSERT_STATUS(&r, 201);
    int64_t id = pt_json_int(pt_json(&r), "media_id", NULL);
    const char *up = pt_json_str(pt_json(&r), "upload_url", NULL);
    /* The URL points at the bucket, signed SigV4. */
    PL_ASSERT(id > 0 && up && !strncmp(up, getenv("PARLEY_TEST_S3"), 16));
    PL_ASSERT(strstr(up, "X-Amz-Signature=") && strstr(up, "X-Amz-Expires="));
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "upload_method", NULL), "PUT");
    snprintf(url, 600, "%s", up);
    pt_resp_free(&r);
    return id;
}

/* GET /v1/media/{id}: the status, the presigned Location on 302. */
static long locate(struct pt_server *s, enum pt_proto p, const struct pt_user *u, int64_t id,
                   char loc[600])
{
    char path[64];
    struct pt_resp r;
    snprintf(path, sizeof(path), "/v1/media/%" PRId64, id);
    pt_get(s, p, path, u->token, &r);
    long st = r.status;
    if (st == 302) {
        const char *l = pt_resp_header(&r, "Location");
        PL_ASSERT(l && !strncmp(l, getenv("PARLEY_TEST_S3"), 16));
        snprintf(loc, 600, "%s", l);
    } else {
        PT_ASSERT_PROBLEM(&r, 404, "not-found");
    }
    pt_resp_free(&r);
    return st;
}

static long send_media(struct pt_server *s, enum pt_proto p, const struct pt_user *u, int64_t conv,
                       int64_t id)
{
    char path[96];
    struct pt_resp r;
    snprintf(path, sizeof(path), "/v1/conversations/%" PRId64 "/messages", conv);
    pt_reqf(s, p, "POST", u->token, &r, path,
            "{\"client_msg_id\":\"s3-%u\",\"kind\":\"media\",\"media\":{\"media_id\":%" PRId64 "}}",
            randombytes_random(), id);
    long st = r.status;
    pt_resp_free(&r);
    return st;
}

/* Upload straight to S3, confirmation by parleyd, download by members
 * only; S3 refuses tampered URLs and wrong bodies. Downloads go straight
 * to S3 here (s3_direct_downloads), so S3 checks those URLs too. */
PLTEST_PROTO(s3_media_round_trip)
{
    struct pt_server *s = start_mode(pt_temp_dir("s3media"), true);
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "s3a", &a);
    PT_USER_NEW(s, proto, "s3b", &b);
    PT_USER_NEW(s, proto, "s3c", &c);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    size_t n = (3u << 20) + 77;
    char *buf = malloc(n), sha[65], url[600], loc[600], bad[600];
    randombytes_buf(buf, n);
    sha256_hex(buf, n, sha);
    int64_t id = reserve(s, proto, &a, "video/mp4", n, sha, url);
    struct body k;
    /* Not uploaded yet: not downloadable, not sendable. */
    PL_ASSERT_INT_EQ(locate(s, proto, &a, id, loc), 404);
    PL_ASSERT_INT_EQ(send_media(s, proto, &a, conv, id), 422);
    /* The URL is bound to size and type; a tampered one is refused. */
    PL_ASSERT_INT_EQ(s3_fetch("PUT", url, buf, n - 1, "video/mp4", &k), 403);
    free(k.p);
    PL_ASSERT_INT_EQ(s3_fetch("PUT", url, buf, n, "image/png", &k), 403);
    free(k.p);
    snprintf(bad, sizeof(bad), "%s", url);
    char *sig = strstr(bad, "X-Amz-Signature=") + 16;
    *sig = *sig == 'f' ? 'e' : 'f';
    PL_ASSERT_INT_EQ(s3_fetch("PUT", bad, buf, n, "video/mp4", &k), 403);
    PL_ASSERT(k.p && strstr(k.p, "SignatureDoesNotMatch"));
    free(k.p);
    PL_ASSERT_INT_EQ(locate(s, proto, &a, id, loc), 404);
    PL_ASSERT_INT_EQ(s3_fetch("PUT", url, buf, n, "video/mp4", &k), 200);
    free(k.p);
    /* The send confirms the upload (size and SHA-256 read back). */
    PL_ASSERT_INT_EQ(send_media(s, proto, &a, conv, id), 201);
    PL_ASSERT_INT_EQ(locate(s, proto, &b, id, loc), 302);
    PL_ASSERT(strstr(loc, "X-Amz-Signature=") != NULL);
    PL_ASSERT_INT_EQ(s3_fetch("GET", loc, NULL, 0, NULL, &k), 200);
    PL_ASSERT(k.len == n && memcmp(k.p, buf, n) == 0);
    free(k.p);
    snprintf(bad, sizeof(bad), "%s", loc);
    sig = strstr(bad, "X-Amz-Signature=") + 16;
    *sig = *sig == '0' ? '1' : '0';
    PL_ASSERT_INT_EQ(s3_fetch("GET", bad, NULL, 0, NULL, &k), 403);
    free(k.p);
    PL_ASSERT_INT_EQ(locate(s, proto, &c, id, loc), 404); /* not a member */
    /* The upload URL still works for its staging object, but what was sent
     * stays what it was. */
    buf[0] ^= 1;
    PL_ASSERT_INT_EQ(s3_fetch("PUT", url, buf, n, "video/mp4", &k), 200);
    free(k.p);
    buf[0] ^= 1;
    PL_ASSERT_INT_EQ(locate(s, proto, &b, id, loc), 302);
    PL_ASSERT_INT_EQ(s3_fetch("GET", loc, NULL, 0, NULL, &k), 200);
    PL_ASSERT(k.len == n && memcmp(k.p, buf, n) == 0);
    free(k.p);

    /* Bytes that do not match the declared SHA-256 never become ready. */
    char other[65], url2[600];
    sha256_hex("0123456789", 10, other);
    int64_t id2 = reserve(s, proto, &a, "text/plain", 10, other, url2);
    PL_ASSERT_INT_EQ(s3_fetch("PUT", url2, "9876543210", 10, "text/plain", &k), 200);
    free(k.p);
    PL_ASSERT_INT_EQ(locate(s, proto, &a, id2, loc), 404);
    PL_ASSERT_INT_EQ(send_media(s, proto, &a, conv, id2), 422);
    /* Putting the right bytes while the URL is valid repairs it; the
     * uploader's own download confirms it. */
    PL_ASSERT_INT_EQ(s3_fetch("PUT", url2, "0123456789", 10, "text/plain", &k), 200);
    free(k.p);
    PL_ASSERT_INT_EQ(locate(s, proto, &a, id2, loc), 302);
    PL_ASSERT_INT_EQ(s3_fetch("GET", loc, NULL, 0, NULL, &k), 200);
    PL_ASSERT(k.len == 10 && !memcmp(k.p, "0123456789", 10));
    free(k.p);
    free(buf);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* ---- archive segments ---- */

static long long sql_int(const char *q)
{
    PGconn *c = PQconnectdb(getenv("PARLEY_TEST_PG"));
    PL_ASSERT(PQstatus(c) == CONNECTION_OK);
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        pltest_fail(__FILE__, __LINE__, "%s: %s", q, PQerrorMessage(c));
    long long v = PQntuples(r) == 1 ? atoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    PQfinish(c);
    return v;
}

/* `parleyd archive` over conversation only, with the same S3 settings.
 * archive_after = 0 makes every message archivable at once: backdating
 * them instead (as 64-archive does) would move counted messages out of
 * today's analytics buckets under 65-analytics' rebuild check. */
static int archive(const char *dir, const char *only)
{
    const char *bin = getenv("PARLEY_TEST_BIN");
    const char *argv[32] = {
        bin,    "archive",         "--pg", getenv("PARLEY_TEST_PG"), "--data-dir", dir, "--log",
        "warn", "--archive-after", "0",    "--archive-only",         only};
    size_t n = 12;
    s3_args(argv, &n);
    argv[n] = NULL;
    pid_t pid = fork();
    PL_ASSERT(pid >= 0);
    if (pid == 0) {
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int st;
    PL_ASSERT(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int count_key(void *ctx, const char *key, const struct store_blob_stat *st)
{
    (void)key;
    PL_ASSERT(st->size > 0);
    ++*(int *)ctx;
    return 0;
}

static char *history(struct pt_server *s, enum pt_proto p, const struct pt_user *u, int64_t conv,
                     const char *query)
{
    char path[128];
    struct pt_resp r;
    snprintf(path, sizeof(path), "/v1/conversations/%" PRId64 "/messages?%s", conv, query);
    pt_get(s, p, path, u->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    char *out = strndup(r.body, r.len);
    pt_resp_free(&r);
    return out;
}

/* History moves into a segment in the bucket and reads back the same,
 * in one page and in small ones. */
PLTEST_PROTO(s3_archive_segments)
{
    const char *dir = pt_temp_dir("s3arch");
    struct pt_server *s = start(dir);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "s3ra", &a);
    PT_USER_NEW(s, proto, "s3rb", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 0);
    for (int i = 1; i <= 24; i++) {
        char text[64];
        snprintf(text, sizeof(text), "archived to s3, message %d \xE2\x9C\x93", i);
        PT_SEND(s, proto, i % 2 ? &a : &b, conv, text);
    }
    char q[200], only[32];
    snprintf(only, sizeof(only), "%" PRId64, conv);
    char *big = history(s, proto, &b, conv, "limit=200");
    char *page = history(s, proto, &a, conv, "before=20&limit=6");
    PL_ASSERT_INT_EQ(archive(dir, only), 0);
    snprintf(q, sizeof(q),
             "SELECT count(*) FROM archived_messages WHERE conversation_id = %" PRId64, conv);
    PL_ASSERT_INT_EQ(sql_int(q), 23); /* all but the last one */
    struct store_blob *bk = open_bucket();
    int segs = 0, media = 0;
    PL_ASSERT_INT_EQ(store_blob_list(bk, "a/", count_key, &segs), 0);
    PL_ASSERT_INT_EQ(store_blob_list(bk, "m/", count_key, &media), 0);
    PL_ASSERT_INT_EQ(segs, 1);
    PL_ASSERT_INT_EQ(media, 0);
    store_blob_free(bk);
    char *big2 = history(s, proto, &b, conv, "limit=200");
    char *page2 = history(s, proto, &a, conv, "before=20&limit=6");
    PL_ASSERT_STR_EQ(big2, big);
    PL_ASSERT_STR_EQ(page2, page);
    PL_ASSERT(strstr(big2, "archived to s3, message 3 \xE2\x9C\x93") != NULL);
    free(big);
    free(page);
    free(big2);
    free(page2);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* ---- the CLI's end-to-end encrypted file, through the bucket ---- */

static char server_url[128], home_root[300];
static enum pt_proto cli_proto;

/* Runs parley as the device in home (NULL-terminated args); the exit
 * status, stdout in *out (malloc'd). */
static int run(const char *home, const char *password, char **out, ...)
{
    const char *argv[32];
    int n = 0, fds[2];
    argv[n++] = getenv("PARLEY_TEST_CLI");
    argv[n++] = "--server";
    argv[n++] = server_url;
    if (cli_proto == PT_H1)
        argv[n++] = "--http1.1";
    if (cli_proto == PT_H2C)
        argv[n++] = "--http2-prior-knowledge";
    va_list ap;
    va_start(ap, out);
    for (const char *x; (x = va_arg(ap, const char *)) && n < 31;)
        argv[n++] = x;
    va_end(ap);
    argv[n] = NULL;
    PL_ASSERT_INT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    PL_ASSERT(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        setenv("PARLEY_HOME", home, 1);
        setenv("PARLEY_PASSWORD", password, 1);
        char pass[160]; /* the store's passphrase is not the account password */
        snprintf(pass, sizeof(pass), "store passphrase for %s", password);
        setenv("PARLEY_PASSPHRASE", pass, 1);
        setenv("PARLEY_VAULT_COST", "low", 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    struct body b = {0};
    char chunk[4096];
    for (ssize_t r; (r = read(fds[0], chunk, sizeof(chunk))) > 0;)
        on_body(chunk, 1, (size_t)r, &b);
    close(fds[0]);
    int st;
    PL_ASSERT(waitpid(pid, &st, 0) == pid);
    *out = b.p ? b.p : strdup("");
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct find {
    const char *marker;
    int found, objects;
};

static int scan_key(void *ctx, const char *key, const struct store_blob_stat *st)
{
    struct find *f = ctx;
    (void)st;
    f->objects++;
    void *buf;
    size_t len;
    struct store_blob *bk = open_bucket();
    PL_ASSERT_INT_EQ(store_blob_read_all(bk, key, 64u << 20, &buf, &len), 0);
    f->found += memmem(buf, len, f->marker, strlen(f->marker)) != NULL;
    free(buf);
    store_blob_free(bk);
    return 0;
}

/* Alice's CLI encrypts a file and PUTs the ciphertext to the bucket; Bob's
 * CLI follows the 302 to its presigned GET, checks and decrypts it. The
 * bucket holds the ciphertext only. */
PLTEST_PROTO(s3_cli_e2e_file)
{
    if (!getenv("PARLEY_TEST_CLI"))
        PL_SKIP("PARLEY_TEST_CLI is not set");
    struct pt_server *s = start(pt_temp_dir("s3cli"));
    cli_proto = proto;
    if (proto == PT_H2) {
        snprintf(server_url, sizeof(server_url), "https://127.0.0.1:%u", pt_server_tls_port(s));
        setenv("PARLEY_CA_FILE", getenv("PARLEY_TEST_TLS_CERT"), 1);
    } else {
        snprintf(server_url, sizeof(server_url), "http://127.0.0.1:%u", pt_server_port(s));
    }
    snprintf(home_root, sizeof(home_root), "%s", pt_temp_dir("s3cli-homes"));
    char ha[400], hb[400], alice[48], bob[48], path[400], marker[64], *out;
    snprintf(ha, sizeof(ha), "%s/a", home_root);
    snprintf(hb, sizeof(hb), "%s/b", home_root);
    snprintf(alice, sizeof(alice), "s3alice_%d_%u", (int)getpid(), randombytes_uniform(1000000));
    snprintf(bob, sizeof(bob), "s3bob_%d_%u", (int)getpid(), randombytes_uniform(1000000));
    snprintf(marker, sizeof(marker), "S3-PLAINTEXT-%u", randombytes_random());
    PL_ASSERT_INT_EQ(run(ha, "alice password 1", &out, "register", alice, NULL), 0);
    free(out);
    PL_ASSERT_INT_EQ(run(hb, "bob password 22", &out, "register", bob, NULL), 0);
    free(out);
    /* 2 MiB of text with the marker at its start and its end. */
    size_t size = 2u << 20;
    char *data = malloc(size);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)('a' + i % 23);
    memcpy(data, marker, strlen(marker));
    memcpy(data + size - strlen(marker), marker, strlen(marker));
    snprintf(path, sizeof(path), "%s/report.txt", home_root);
    FILE *f = fopen(path, "wb");
    PL_ASSERT(f && fwrite(data, 1, size, f) == size && fclose(f) == 0);
    int rc = run(ha, "alice password 1", &out, "send", "--file", path, bob, NULL);
    if (rc != 0)
        pltest_fail(__FILE__, __LINE__, "send exited %d: %s", rc, out);
    free(out);
    rc = run(hb, "bob password 22", &out, "listen", "--count", "1", "--timeout", "40", NULL);
    if (rc != 0)
        pltest_fail(__FILE__, __LINE__, "listen exited %d: %s", rc, out);
    const char *p = strstr(out, "saved to ");
    if (!p)
        pltest_fail(__FILE__, __LINE__, "no file saved: %s", out);
    char *saved = strndup(p + 9, strcspn(p + 9, "\n"));
    free(out);
    struct body got = {0};
    FILE *g = fopen(saved, "rb");
    PL_ASSERT(g != NULL);
    char chunk[65536];
    for (size_t r; (r = fread(chunk, 1, sizeof(chunk), g)) > 0;)
        on_body(chunk, 1, r, &got);
    fclose(g);
    PL_ASSERT(got.len == size && memcmp(got.p, data, size) == 0);
    free(got.p);
    free(saved);
    /* The bucket holds one media object, and it is not the plaintext. */
    struct find fd = {.marker = marker};
    struct store_blob *bk = open_bucket();
    PL_ASSERT_INT_EQ(store_blob_list(bk, "m/", scan_key, &fd), 0);
    store_blob_free(bk);
    PL_ASSERT_INT_EQ(fd.objects, 1);
    PL_ASSERT_INT_EQ(fd.found, 0);
    free(data);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* ---- download headers (issue 9 on S3) ---- */

/* GET /v1/media/{id} as u: 302, and its Location in loc. */
static void locate_ok(struct pt_server *s, enum pt_proto p, const struct pt_user *u, int64_t id,
                      char loc[600])
{
    char path[64];
    struct pt_resp r;
    snprintf(path, sizeof(path), "/v1/media/%" PRId64, id);
    pt_get(s, p, path, u->token, &r);
    PT_ASSERT_STATUS(&r, 302);
    const char *l = pt_resp_header(&r, "Location");
    PL_ASSERT(l != NULL);
    snprintf(loc, 600, "%s", l);
    pt_resp_free(&r);
}

/* Uploads n bytes of ctype to S3 as a and sends them to conv; the id. */
static int64_t upload_sent(struct pt_server *s, enum pt_proto p, const struct pt_user *a,
                           int64_t conv, const char *ctype, const char *data, size_t n)
{
    char sha[65], url[600];
    sha256_hex(data, n, sha);
    int64_t id = reserve(s, p, a, ctype, n, sha, url);
    struct body k;
    PL_ASSERT_INT_EQ(s3_fetch("PUT", url, data, n, ctype, &k), 200);
    free(k.p);
    PL_ASSERT_INT_EQ(send_media(s, p, a, conv, id), 201);
    return id;
}

static const char page[] = "<html><script>alert(document.cookie)</script></html>";

/* By default a download from S3 comes through parleyd (/v1/blobs/, the
 * URL parleyd signs), which streams the object from the bucket with the
 * headers local downloads have: nosniff, the sandbox CSP, and attachment
 * for anything but inert media. */
PLTEST_PROTO(s3_downloads_through_parleyd_carry_the_security_headers)
{
    struct pt_server *s = start(pt_temp_dir("s3dl"));
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "s3da", &a);
    PT_USER_NEW(s, proto, "s3db", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    static const struct {
        const char *ctype, *disposition;
    } cases[] = {
        {"text/html", "attachment"}, {"image/svg+xml", "attachment"}, {"image/png", "inline"}};
    for (size_t i = 0; i < PL_ARRAY_LEN(cases); i++) {
        int64_t id = upload_sent(s, proto, &a, conv, cases[i].ctype, page, strlen(page));
        char loc[600];
        locate_ok(s, proto, &b, id, loc);
        PL_ASSERT(!strncmp(loc, "/v1/blobs/m/", 12)); /* parleyd's own, not the bucket's */
        struct pt_resp r;
        pt_get(s, proto, loc, NULL, &r);
        PT_ASSERT_STATUS(&r, 200);
        PL_ASSERT(r.len == strlen(page) && !memcmp(r.body, page, r.len));
        PL_ASSERT_STR_EQ(pt_resp_ctype(&r), cases[i].ctype);
        PL_ASSERT_STR_EQ(pt_resp_header(&r, "X-Content-Type-Options"), "nosniff");
        const char *csp = pt_resp_header(&r, "Content-Security-Policy");
        PL_ASSERT(csp && !strncmp(csp, "sandbox", 7));
        PL_ASSERT_STR_EQ(pt_resp_header(&r, "Content-Disposition"), cases[i].disposition);
        pt_resp_free(&r);
        /* The URL is the credential: a tampered one is refused. */
        char bad[600];
        snprintf(bad, sizeof(bad), "%s", loc);
        char *sig = strstr(bad, "sig=") + 4;
        *sig = *sig == 'A' ? 'B' : 'A';
        pt_get(s, proto, bad, NULL, &r);
        PT_ASSERT_STATUS(&r, 403);
        pt_resp_free(&r);
    }
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

struct hdrs {
    char type[256], disposition[256];
};

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    struct hdrs *h = ctx;
    size_t k = size * n, len = 0;
    while (len < k && p[len] != '\r' && p[len] != '\n')
        len++;
    char line[256];
    snprintf(line, sizeof(line), "%.*s", (int)len, p);
    if (!strncasecmp(line, "Content-Type: ", 14))
        snprintf(h->type, sizeof(h->type), "%s", line + 14);
    if (!strncasecmp(line, "Content-Disposition: ", 21))
        snprintf(h->disposition, sizeof(h->disposition), "%s", line + 21);
    return k;
}

/* GET url straight from S3: the status, the two headers in h. */
static long s3_get_headers(const char *url, struct hdrs *h)
{
    CURL *c = curl_easy_init();
    PL_ASSERT(c != NULL);
    struct body b = {0};
    memset(h, 0, sizeof(*h));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    long status = 0;
    PL_ASSERT_INT_EQ(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    free(b.p);
    return status;
}

/* With s3_direct_downloads the URL goes to the bucket, and its signed
 * response-content-type and response-content-disposition overrides make
 * the gateway answer with the recorded type and, for HTML, as an
 * attachment; a client that edits the overrides breaks the signature. */
PLTEST_PROTO(s3_direct_downloads_carry_type_and_disposition)
{
    struct pt_server *s = start_mode(pt_temp_dir("s3direct"), true);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "s3xa", &a);
    PT_USER_NEW(s, proto, "s3xb", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    int64_t html = upload_sent(s, proto, &a, conv, "text/html", page, strlen(page));
    int64_t png = upload_sent(s, proto, &a, conv, "image/png", page, strlen(page));
    char loc[600], bad[600];
    struct hdrs h;
    locate_ok(s, proto, &b, html, loc);
    PL_ASSERT(!strncmp(loc, getenv("PARLEY_TEST_S3"), 16));
    PL_ASSERT(strstr(loc, "response-content-disposition=attachment") != NULL);
    PL_ASSERT_INT_EQ(s3_get_headers(loc, &h), 200);
    PL_ASSERT_STR_EQ(h.type, "text/html");
    PL_ASSERT_STR_EQ(h.disposition, "attachment");
    const char *d = strstr(loc, "disposition=attachment");
    snprintf(bad, sizeof(bad), "%.*sdisposition=inline%s", (int)(d - loc), loc, d + 22);
    PL_ASSERT_INT_EQ(s3_get_headers(bad, &h), 403);
    locate_ok(s, proto, &b, png, loc);
    PL_ASSERT_INT_EQ(s3_get_headers(loc, &h), 200);
    PL_ASSERT_STR_EQ(h.type, "image/png");
    PL_ASSERT_STR_EQ(h.disposition, "inline");
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
