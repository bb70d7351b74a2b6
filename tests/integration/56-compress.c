/* SPDX-License-Identifier: MIT */
/* Parley - integration: brotli responses, streams and request bodies.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Decodes a whole brotli body; fails the case when it is not one. */
static char *unbrotli(const char *in, size_t len, size_t *out_len)
{
    size_t cap = 1 << 20;
    char *out = malloc(cap);
    PL_ASSERT(out);
    BrotliDecoderState *d = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    size_t avail_in = len, avail_out = cap;
    const uint8_t *ni = (const uint8_t *)in;
    uint8_t *no = (uint8_t *)out;
    BrotliDecoderResult r = BrotliDecoderDecompressStream(d, &avail_in, &ni, &avail_out, &no, NULL);
    BrotliDecoderDestroyInstance(d);
    if (r != BROTLI_DECODER_RESULT_SUCCESS || avail_in)
        pltest_fail(__FILE__, __LINE__, "body is not one complete brotli stream (%d)", (int)r);
    *out_len = cap - avail_out;
    return out;
}

static char *brotli(const char *in, size_t len, size_t *out_len)
{
    size_t cap = BrotliEncoderMaxCompressedSize(len);
    char *out = malloc(cap);
    PL_ASSERT(out);
    *out_len = cap;
    PL_ASSERT(BrotliEncoderCompress(5, 22, BROTLI_MODE_GENERIC, len, (const uint8_t *)in, out_len,
                                    (uint8_t *)out));
    return out;
}

static int has_token(const char *list, const char *tok)
{
    return list && strcasestr(list, tok) != NULL;
}

/* A conversation with enough history that its page is well over 1 KiB. */
static int64_t chatty(struct pt_server *s, enum pt_proto p, struct pt_user *a, struct pt_user *b)
{
    PT_USER_NEW(s, p, "bra", a);
    PT_USER_NEW(s, p, "brb", b);
    int64_t conv = PT_DIRECT(s, p, a, b->id, 201);
    for (int i = 0; i < 12; i++)
        PT_SEND(s, p, a, conv, "the quick brown fox jumps over the lazy dog, again and again");
    return conv;
}

PLTEST_PROTO(br_responses_decode_to_the_same_json)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    int64_t conv = chatty(s, proto, &a, &b);
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages?limit=50", (long long)conv);

    struct pt_resp plain, br;
    pt_get(s, proto, path, a.token, &plain);
    PT_ASSERT_STATUS(&plain, 200);
    PL_ASSERT(plain.len > 1024);
    PL_ASSERT(pt_resp_header(&plain, "content-encoding") == NULL);
    PL_ASSERT(has_token(pt_resp_header(&plain, "vary"), "accept-encoding"));

    static const char *const accept_br[] = {"Accept-Encoding: gzip, deflate, br", NULL};
    PL_ASSERT_INT_EQ(pt_req_h(s, proto, "GET", path, a.token, NULL, NULL, 0, accept_br, &br), 0);
    PT_ASSERT_STATUS(&br, 200);
    PL_ASSERT_STR_EQ(pt_resp_header(&br, "content-encoding"), "br");
    PL_ASSERT(has_token(pt_resp_header(&br, "vary"), "accept-encoding"));
    PL_ASSERT(br.len < plain.len / 2);
    size_t n;
    char *dec = unbrotli(br.body, br.len, &n);
    PL_ASSERT_INT_EQ(n, plain.len);
    PL_ASSERT(memcmp(dec, plain.body, n) == 0);
    free(dec);
    pt_resp_free(&br);

    /* The OpenAPI document too. */
    struct pt_resp doc, docbr;
    pt_get(s, proto, "/openapi.yaml", NULL, &doc);
    PT_ASSERT_STATUS(&doc, 200);
    PL_ASSERT_INT_EQ(
        pt_req_h(s, proto, "GET", "/openapi.yaml", NULL, NULL, NULL, 0, accept_br, &docbr), 0);
    PL_ASSERT_STR_EQ(pt_resp_header(&docbr, "content-encoding"), "br");
    dec = unbrotli(docbr.body, docbr.len, &n);
    PL_ASSERT(n == doc.len && memcmp(dec, doc.body, n) == 0);
    free(dec);
    pt_resp_free(&doc);
    pt_resp_free(&docbr);

    /* br refused with q=0, or not offered: identity. */
    static const char *const no_br[][2] = {{"Accept-Encoding: br;q=0, gzip", NULL},
                                           {"Accept-Encoding: gzip", NULL},
                                           {"Accept-Encoding: *;q=0", NULL}};
    for (size_t i = 0; i < PL_ARRAY_LEN(no_br); i++) {
        PL_ASSERT_INT_EQ(pt_req_h(s, proto, "GET", path, a.token, NULL, NULL, 0, no_br[i], &br), 0);
        PT_ASSERT_STATUS(&br, 200);
        PL_ASSERT(pt_resp_header(&br, "content-encoding") == NULL);
        PL_ASSERT(br.len == plain.len && memcmp(br.body, plain.body, br.len) == 0);
        pt_resp_free(&br);
    }
    /* "*" takes br. */
    static const char *const star[] = {"Accept-Encoding: *", NULL};
    PL_ASSERT_INT_EQ(pt_req_h(s, proto, "GET", path, a.token, NULL, NULL, 0, star, &br), 0);
    PL_ASSERT_STR_EQ(pt_resp_header(&br, "content-encoding"), "br");
    pt_resp_free(&br);
    /* Small answers are not worth it. */
    PL_ASSERT_INT_EQ(pt_req_h(s, proto, "GET", "/v1/me", a.token, NULL, NULL, 0, accept_br, &br),
                     0);
    PT_ASSERT_STATUS(&br, 200);
    PL_ASSERT(br.len < 1024 && pt_resp_header(&br, "content-encoding") == NULL);
    pt_resp_free(&br);
    pt_resp_free(&plain);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Issue 9, item 1: about 1 MiB of distinct keys, a few KB brotli-compressed,
 * sent without logging in. The parser stops at its member cap: 413 with a
 * problem document, and the server answers the next request as usual. */
PLTEST_PROTO(br_wide_json_object_is_refused_early)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    size_t cap = 1048000, n = 0;
    char *json = malloc(cap + 32);
    PL_ASSERT(json);
    json[n++] = '{';
    for (unsigned i = 0; n < cap - 32; i++)
        n += (size_t)snprintf(json + n, cap + 32 - n, "%s\"k%u\":0", i ? "," : "", i);
    json[n++] = '}';
    size_t zl;
    char *z = brotli(json, n, &zl);
    PL_ASSERT(zl < n / 10); /* the point of the attack: cheap to send */
    static const char *const ce_br[] = {"Content-Encoding: br", NULL};
    struct pt_resp r;
    PL_ASSERT_INT_EQ(
        pt_req_h(s, proto, "POST", "/v1/users", NULL, "application/json", z, zl, ce_br, &r), 0);
    PT_ASSERT_PROBLEM(&r, 413, "body-too-large");
    PL_ASSERT(strstr(pt_json_str(pt_json(&r), "detail", NULL), "members") != NULL);
    pt_resp_free(&r);
    /* The same object uncompressed, and one of 300 members: refused alike. */
    PL_ASSERT_INT_EQ(pt_req(s, proto, "POST", "/v1/users", NULL, "application/json", json, n, &r),
                     0);
    PT_ASSERT_PROBLEM(&r, 413, "body-too-large");
    pt_resp_free(&r);
    n = 0;
    json[n++] = '{';
    for (unsigned i = 0; i < 300; i++)
        n += (size_t)snprintf(json + n, cap - n, "%s\"k%u\":0", i ? "," : "", i);
    json[n++] = '}';
    PL_ASSERT_INT_EQ(pt_req(s, proto, "POST", "/v1/users", NULL, "application/json", json, n, &r),
                     0);
    PT_ASSERT_PROBLEM(&r, 413, "body-too-large");
    pt_resp_free(&r);
    /* 40 members (under the cap, over the schema): one 422 error on "". */
    n = 0;
    json[n++] = '{';
    for (unsigned i = 0; i < 40; i++)
        n += (size_t)snprintf(json + n, cap - n, "%s\"k%u\":0", i ? "," : "", i);
    json[n++] = '}';
    PL_ASSERT_INT_EQ(pt_req(s, proto, "POST", "/v1/users", NULL, "application/json", json, n, &r),
                     0);
    PT_ASSERT_PROBLEM(&r, 422, "validation-failed");
    pt_resp_free(&r);
    free(json);
    free(z);
    pt_get(s, proto, "/healthz", NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(br_request_bodies)
{
    const char *const args[] = {"--max-body", "65536", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "brq", &a);
    PT_USER_NEW(s, proto, "brr", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);

    const char *json = "{\"client_msg_id\":\"br-1\",\"kind\":\"text\",\"text\":\"squeezed\"}";
    size_t zl;
    char *z = brotli(json, strlen(json), &zl);
    static const char *const ce_br[] = {"Content-Encoding: br", NULL};
    struct pt_resp r;
    PL_ASSERT_INT_EQ(
        pt_req_h(s, proto, "POST", path, a.token, "application/json", z, zl, ce_br, &r), 0);
    PT_ASSERT_STATUS(&r, 201);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "text", NULL), "squeezed");
    pt_resp_free(&r);

    /* Corrupt brotli: 400, nothing stored. */
    z[zl / 2] ^= 0x5a;
    z[zl - 1] ^= 0xff;
    PL_ASSERT_INT_EQ(
        pt_req_h(s, proto, "POST", path, a.token, "application/json", z, zl, ce_br, &r), 0);
    PT_ASSERT_PROBLEM(&r, 400, "malformed-request");
    pt_resp_free(&r);
    free(z);

    /* A coding we do not speak: 415 naming what we do. */
    static const char *const ce_gzip[] = {"Content-Encoding: gzip", NULL};
    PL_ASSERT_INT_EQ(pt_req_h(s, proto, "POST", path, a.token, "application/json", json,
                              strlen(json), ce_gzip, &r),
                     0);
    PT_ASSERT_PROBLEM(&r, 415, "unsupported-encoding");
    PL_ASSERT(has_token(pt_resp_header(&r, "accept-encoding"), "br"));
    pt_resp_free(&r);

    /* A bomb: 64 MiB of spaces inside valid JSON, a few hundred bytes on
     * the wire, against a 64 KiB limit. */
    size_t big = 64u << 20;
    char *bomb = malloc(big);
    PL_ASSERT(bomb);
    memset(bomb, ' ', big);
    memcpy(bomb, "{\"client_msg_id\":\"br-2\",\"kind\":\"text\",\"text\":\"x\"", 47);
    bomb[big - 1] = '}';
    z = brotli(bomb, big, &zl);
    free(bomb);
    PL_ASSERT(zl < 64 * 1024);
    long rss0 = pt_server_rss_kb(s);
    PL_ASSERT_INT_EQ(
        pt_req_h(s, proto, "POST", path, a.token, "application/json", z, zl, ce_br, &r), 0);
    PT_ASSERT_PROBLEM(&r, 413, "body-too-large");
    pt_resp_free(&r);
    free(z);
    /* Decoding stopped at the limit: the server did not grow by the bomb. */
    PL_ASSERT(pt_server_rss_kb(s) - rss0 < 16 * 1024);

    /* Only the one good message was kept. */
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val items = pt_json_get(pt_json(&r), "messages", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(items) && items->u.array.len == 1);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* ---- a compressed event stream read by curl --compressed ---- */

struct curl_sse {
    pid_t pid;
    int fd; /* curl's stdout */
    char buf[1 << 16];
    size_t len;
    char hdr_path[64];
};

/* p selects the transport; tls_h1 asks for HTTP/1.1 over TLS (the relay
 * into libmicrohttpd) instead; compressed adds --compressed. */
static void curl_sse_start(struct curl_sse *c, struct pt_server *s, enum pt_proto p,
                           const char *token, int tls_h1, int compressed)
{
    char url[128], auth[200];
    if (p == PT_H2 || tls_h1)
        snprintf(url, sizeof(url), "https://127.0.0.1:%u/v1/events", pt_server_tls_port(s));
    else
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/events", pt_server_port(s));
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    static int seq;
    snprintf(c->hdr_path, sizeof(c->hdr_path), "/tmp/pt-br-hdr-%d-%d", (int)getpid(), ++seq);
    const char *cert = getenv("PARLEY_TEST_TLS_CERT");
    const char *argv[20];
    int n = 0;
    argv[n++] = "curl";
    argv[n++] = "-sSN";
    if (compressed)
        argv[n++] = "--compressed";
    argv[n++] = "-D";
    argv[n++] = c->hdr_path;
    argv[n++] = "-H";
    argv[n++] = auth;
    if (p == PT_H2C)
        argv[n++] = "--http2-prior-knowledge";
    if (p == PT_H2 || tls_h1) {
        argv[n++] = tls_h1 ? "--http1.1" : "--http2";
        argv[n++] = "--cacert";
        argv[n++] = cert ? cert : "";
    } else if (p == PT_H1) {
        argv[n++] = "--http1.1";
    }
    argv[n++] = url;
    argv[n] = NULL;
    int pipefd[2];
    PL_ASSERT(pipe2(pipefd, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    int rc = posix_spawnp(&c->pid, "curl", &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0)
        pltest_fail(__FILE__, __LINE__, "cannot run curl: %s", strerror(rc));
    c->fd = pipefd[0];
    c->len = 0;
}

static void curl_sse_open(struct curl_sse *c, struct pt_server *s, enum pt_proto p,
                          const char *token)
{
    curl_sse_start(c, s, p, token, 0, 1);
}

/* Reads curl's decoded output until it contains needle; fails the case
 * after timeout_ms without it. */
static void curl_sse_wait(struct curl_sse *c, const char *needle, int timeout_ms)
{
    uint64_t end = pt_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        c->buf[c->len] = '\0';
        if (strstr(c->buf, needle))
            return;
        uint64_t now = pt_now_ms();
        if (now >= end)
            pltest_fail(__FILE__, __LINE__, "no \"%s\" on the stream within %d ms; got: %.500s",
                        needle, timeout_ms, c->buf);
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)(end - now)) <= 0)
            continue;
        ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
        if (r <= 0)
            pltest_fail(__FILE__, __LINE__, "curl ended the stream early; got: %.500s", c->buf);
        c->len += (size_t)r;
    }
}

static void curl_sse_close(struct curl_sse *c)
{
    kill(c->pid, SIGTERM);
    waitpid(c->pid, NULL, 0);
    close(c->fd);
    unlink(c->hdr_path);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    PL_ASSERT(f);
    static char text[8192];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

PLTEST_PROTO(br_event_stream_delivers_each_event_at_once)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "brs", &a);
    PT_USER_NEW(s, proto, "brt", &b);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);

    struct curl_sse c;
    curl_sse_open(&c, s, proto, b.token);
    curl_sse_wait(&c, "event: ready", 10000);
    const char *h = slurp(c.hdr_path);
    if (!strcasestr(h, "content-encoding: br"))
        pltest_fail(__FILE__, __LINE__, "stream not compressed: %s", h);
    PL_ASSERT(strcasestr(h, "content-type: text/event-stream"));
    /* Each message shows up while nothing follows it: the encoder flushed
     * after the event instead of waiting for more input. */
    static const char *const texts[] = {"first squeezed event", "second squeezed event",
                                        "third squeezed event"};
    for (size_t i = 0; i < PL_ARRAY_LEN(texts); i++) {
        PT_SEND(s, proto, &a, conv, texts[i]);
        curl_sse_wait(&c, texts[i], 10000);
    }
    curl_sse_close(&c);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

PLTEST_PROTO(br_event_streams_are_bounded)
{
    /* With the bound at 0 no stream is compressed, and the stream works. */
    const char *const args[] = {"--sse-br-max-streams", "0", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a;
    PT_USER_NEW(s, proto, "brn", &a);
    struct curl_sse c;
    curl_sse_open(&c, s, proto, a.token);
    curl_sse_wait(&c, "event: ready", 10000);
    const char *h = slurp(c.hdr_path);
    PL_ASSERT(!strcasestr(h, "content-encoding"));
    PL_ASSERT(has_token(strcasestr(h, "vary:"), "accept-encoding"));
    curl_sse_close(&c);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* HTTP/1.1 over TLS goes through the relay into libmicrohttpd; its event
 * streams are then served outside libmicrohttpd like cleartext ones. */
PLTEST(h1_over_tls_event_streams_plain_and_compressed)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b;
    PT_USER_NEW(s, PT_H1, "tla", &a);
    PT_USER_NEW(s, PT_H1, "tlb", &b);
    int64_t conv = PT_DIRECT(s, PT_H1, &a, b.id, 201);
    struct curl_sse plain, br;
    curl_sse_start(&plain, s, PT_H2, b.token, 1, 0);
    curl_sse_wait(&plain, "event: ready", 10000);
    PL_ASSERT(!strcasestr(slurp(plain.hdr_path), "content-encoding"));
    PL_ASSERT(strcasestr(slurp(plain.hdr_path), "HTTP/1.1 200"));
    /* Served by h1_stream.c, which closes the connection after a stream. */
    PL_ASSERT(strcasestr(slurp(plain.hdr_path), "connection: close"));
    curl_sse_start(&br, s, PT_H2, b.token, 1, 1);
    curl_sse_wait(&br, "event: ready", 10000);
    PL_ASSERT(strcasestr(slurp(br.hdr_path), "content-encoding: br"));
    PT_SEND(s, PT_H1, &a, conv, "over the relay");
    curl_sse_wait(&plain, "over the relay", 10000);
    curl_sse_wait(&br, "over the relay", 10000);
    curl_sse_close(&plain);
    curl_sse_close(&br);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
