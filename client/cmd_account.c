/* SPDX-License-Identifier: MIT */
/* Parley - parley account delete, parley export.                       */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <brotli/decode.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXPORT_WAIT_S 300  /* how long `parley export` waits for the archive */
#define EXPORT_POLL_MS 250 /* between two looks at its state */

/* The account password: one line of stdin with --password-stdin, else
 * PARLEY_PASSWORD, else asked on the terminal. Heap or environment. */
static const char *account_password(int from_stdin)
{
    if (from_stdin) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n = getline(&line, &cap, stdin);
        if (n <= 0)
            cli_die("--password-stdin: no password on standard input");
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        return line;
    }
    const char *p = getenv("PARLEY_PASSWORD");
    if (p)
        return p;
    if (!isatty(0))
        cli_die("set PARLEY_PASSWORD, pass --password-stdin or run from a terminal");
    p = getpass("Password (deletes the account): ");
    return p ? strdup(p) : NULL;
}

/* parley account delete [--password-stdin] */
int cli_cmd_account(struct cli *c, int argc, char **argv)
{
    int from_stdin = argc == 3 && !strcmp(argv[2], "--password-stdin");
    if ((argc != 2 && !from_stdin) || strcmp(argv[1], "delete"))
        return -1;
    const char *pw = account_password(from_stdin);
    if (!pw)
        cli_die("no password");
    yajl_gen g = yajl_gen_alloc(NULL);
    if (!g)
        cli_die("out of memory");
    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *)"password", 8);
    yajl_gen_string(g, (const unsigned char *)pw, strlen(pw));
    yajl_gen_map_close(g);
    char *body = cli_gen_done(g);
    yajl_val res;
    long st = cli_http(c, "DELETE", "/v1/me", body, &res);
    free(body);
    cli_expect(st, res, 204, 204, "deleting the account");
    yajl_tree_free(res);
    /* The sessions are gone on the server; this device's keys and history
     * belong to an account that no longer exists. */
    cli_state_wipe_keys(c);
    cli_store_wipe(c);
    if (c->json)
        printf("{\"deleted\":true}\n");
    else
        printf("account deleted; this device's keys and local history are deleted too\n");
    return 0;
}

/* Decompresses the download as it arrives and writes it to out. */
struct unbrotli {
    BrotliDecoderState *st;
    FILE *out;
    long long bytes;
    int done;
};

static int on_compressed(void *ctx, const void *p, size_t n)
{
    struct unbrotli *u = ctx;
    const uint8_t *in = p;
    size_t avail_in = n;
    uint8_t buf[65536];
    for (;;) {
        uint8_t *next_out = buf;
        size_t avail_out = sizeof(buf);
        BrotliDecoderResult r =
            BrotliDecoderDecompressStream(u->st, &avail_in, &in, &avail_out, &next_out, NULL);
        size_t got = sizeof(buf) - avail_out;
        if (got && fwrite(buf, 1, got, u->out) != got)
            return -1;
        u->bytes += (long long)got;
        if (r == BROTLI_DECODER_RESULT_ERROR)
            return -1;
        if (r == BROTLI_DECODER_RESULT_SUCCESS) {
            u->done = 1;
            return 0;
        }
        if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT)
            return 0;
    }
}

static void pause_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Polls GET /v1/me/exports/{id} until it is ready; returns the answer. */
static yajl_val wait_ready(struct cli *c, long long id)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/me/exports/%lld", id);
    time_t deadline = time(NULL) + EXPORT_WAIT_S;
    for (;;) {
        yajl_val res;
        long st = cli_http(c, "GET", path, NULL, &res);
        cli_expect(st, res, 200, 200, "reading the export's state");
        const char *state = cli_jstr(res, "state");
        if (state && !strcmp(state, "ready"))
            return res;
        if (state && !strcmp(state, "failed"))
            cli_die("the export failed: %s", cli_jstr(res, "error") ? cli_jstr(res, "error") : "?");
        yajl_tree_free(res);
        if (time(NULL) > deadline)
            cli_die("the export is not ready after %d s; `parley export` again later",
                    EXPORT_WAIT_S);
        pause_ms(EXPORT_POLL_MS);
    }
}

/* parley export [--out FILE] */
int cli_cmd_export(struct cli *c, int argc, char **argv)
{
    const char *out_path = NULL;
    if (argc == 3 && !strcmp(argv[1], "--out"))
        out_path = argv[2];
    else if (argc != 1)
        return -1;
    yajl_val res;
    long st = cli_http(c, "POST", "/v1/me/export", NULL, &res);
    cli_expect(st, res, 202, 202, "requesting an export");
    long long id = cli_jint(res, "id");
    yajl_tree_free(res);
    if (!c->json)
        fprintf(stderr, "export #%lld requested; waiting for the server to write it\n", id);
    res = wait_ready(c, id);
    const char *url = cli_jstr(res, "url");
    long long messages = cli_jint(res, "messages");
    if (!url)
        cli_die("the server sent no download URL");
    FILE *out = out_path ? fopen(out_path, "wb") : stdout;
    if (!out)
        cli_die("cannot write %s: %s", out_path, strerror(errno));
    struct unbrotli u = {.st = BrotliDecoderCreateInstance(NULL, NULL, NULL), .out = out};
    if (!u.st)
        cli_die("out of memory");
    /* The presigned URL is the credential: no token. */
    st = cli_http_stream(c, "GET", url, 0, NULL, 0, NULL, on_compressed, &u);
    BrotliDecoderDestroyInstance(u.st);
    yajl_tree_free(res);
    if (st != 200)
        cli_die("downloading the export failed: HTTP %ld", st);
    if (!u.done)
        cli_die("the export download is damaged (not a complete brotli stream)");
    if (out != stdout && fclose(out) != 0)
        cli_die("cannot write %s: %s", out_path, strerror(errno));
    if (out_path) {
        if (c->json)
            printf("{\"export_id\":%lld,\"file\":\"%s\",\"bytes\":%lld,\"messages\":%lld}\n", id,
                   out_path, u.bytes, messages);
        else
            printf("export #%lld written to %s (%lld bytes of JSON, %lld messages)\n", id, out_path,
                   u.bytes, messages);
    }
    return 0;
}
