/* SPDX-License-Identifier: MIT */
/* Parley - integration: POST /v1/me/export and GET /v1/me/exports/{id}. */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_e2e.h"

#include <brotli/decode.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define EV_MS 15000
#define RAW_MAX (4u << 20)

static struct pt_server *start(void)
{
    const char *args[] = {"--data-dir", pt_temp_dir("export"), NULL};
    return PT_SERVER_START(args);
}

static void sql(const char *fmt, long long a)
{
    char q[512];
    snprintf(q, sizeof(q), fmt, a);
    PGconn *c = PQconnectdb(getenv("PARLEY_TEST_PG"));
    PL_ASSERT(PQstatus(c) == CONNECTION_OK);
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        pltest_fail(__FILE__, __LINE__, "%s: %s", q, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* POST /v1/me/export as u; expects 202 and returns the export id. */
static int64_t request_export(struct pt_server *s, enum pt_proto p, const struct pt_user *u)
{
    struct pt_resp r;
    pt_reqf(s, p, "POST", u->token, &r, "/v1/me/export", NULL);
    PT_ASSERT_STATUS(&r, 202);
    int64_t id = pt_json_int(pt_json(&r), "id", NULL);
    PL_ASSERT(id > 0);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "state", NULL), "running");
    char loc[64];
    snprintf(loc, sizeof(loc), "/v1/me/exports/%lld", (long long)id);
    PL_ASSERT_STR_EQ(pt_resp_header(&r, "Location"), loc);
    pt_resp_free(&r);
    return id;
}

/* Downloads url and decompresses it: the archive's JSON (free it). */
static char *download(struct pt_server *s, enum pt_proto p, const char *url)
{
    struct pt_resp r;
    pt_get(s, p, url, NULL, &r);
    PT_ASSERT_STATUS(&r, 200);
    size_t cap = RAW_MAX;
    char *out = malloc(cap + 1);
    PL_ASSERT(out);
    PL_ASSERT(BrotliDecoderDecompress(r.len, (const uint8_t *)r.body, &cap, (uint8_t *)out) ==
              BROTLI_DECODER_RESULT_SUCCESS);
    out[cap] = '\0';
    pt_resp_free(&r);
    return out;
}

/* The export holds the user's profile, its plain conversations with
 * every message it can read, the e2e ones by id only, and nothing of
 * chats it is not in; export.ready announces it with a working URL. */
PLTEST_PROTO(export_holds_own_conversations_only)
{
    struct pt_server *s = start();
    struct pt_user a, b, c;
    PT_USER_NEW(s, proto, "exp_a", &a);
    PT_USER_NEW(s, proto, "exp_b", &b);
    PT_USER_NEW(s, proto, "exp_c", &c);
    int64_t ab = PT_DIRECT(s, proto, &a, b.id, 201);
    int64_t bc = PT_DIRECT(s, proto, &b, c.id, 201);
    int64_t members[] = {a.id, b.id};
    int64_t group = PT_GROUP(s, proto, &c, "exp group", members, 2);
    int64_t e2e = pt_e2e_direct(s, proto, &a, c.id, 201);
    PT_SEND(s, proto, &a, ab, "export me from a to b");
    PT_SEND(s, proto, &b, ab, "reply from b to a");
    PT_SEND(s, proto, &b, bc, "private words between b and c");
    PT_SEND(s, proto, &c, group, "group words by c");

    struct pt_sse *st = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    int64_t id = request_export(s, proto, &a);
    struct pt_sse_event ev;
    PT_SSE_EXPECT(st, "export.ready", EV_MS, &ev);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "export_id", NULL), id);
    const char *url = pt_json_str(ev.json, "url", NULL);
    PL_ASSERT(url && strstr(url, "/v1/blobs/x/"));
    PL_ASSERT(pt_json_str(ev.json, "expires_at", NULL));
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "messages", NULL), 3);
    char *doc = download(s, proto, url);
    pt_sse_event_free(&ev);
    pt_sse_close(st);

    PL_ASSERT(strstr(doc, "\"format\":\"parley-export-1\""));
    PL_ASSERT(strstr(doc, a.name));
    PL_ASSERT(strstr(doc, "export me from a to b"));
    PL_ASSERT(strstr(doc, "reply from b to a"));
    PL_ASSERT(strstr(doc, "group words by c"));
    PL_ASSERT(!strstr(doc, "private words between b and c"));
    PL_ASSERT(strstr(doc, "end-to-end"));
    char want[64];
    snprintf(want, sizeof(want), "\"e2e_conversation_ids\":[%lld]", (long long)e2e);
    PL_ASSERT(strstr(doc, want));
    snprintf(want, sizeof(want), "\"conversation_id\":%lld,", (long long)bc);
    PL_ASSERT(!strstr(doc, want));
    PL_ASSERT(strstr(doc, "\"truncated\":false"));
    free(doc);

    /* The status endpoint agrees, for its owner only. */
    char path[64];
    snprintf(path, sizeof(path), "/v1/me/exports/%lld", (long long)id);
    struct pt_resp r;
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT_STR_EQ(pt_json_str(pt_json(&r), "state", NULL), "ready");
    PL_ASSERT_INT_EQ(pt_json_int(pt_json(&r), "id", NULL), id);
    PL_ASSERT(pt_is_timestamp(pt_json_str(pt_json(&r), "ready_at", NULL)));
    PL_ASSERT(pt_json_str(pt_json(&r), "url", NULL));
    pt_resp_free(&r);
    pt_get(s, proto, path, b.token, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    pt_get(s, proto, "/v1/me/exports/nope", a.token, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* One running export per user: a second request is 409 while it runs. The
 * running export is put in place through SQL, since a real one may finish
 * before the second request arrives. A new export replaces the old. */
PLTEST_PROTO(second_export_while_one_runs_is_409)
{
    struct pt_server *s = start();
    struct pt_user a, b;
    PT_USER_NEW(s, proto, "exp_twice", &a);
    PT_USER_NEW(s, proto, "exp_other", &b);
    sql("INSERT INTO exports (user_id) VALUES (%lld)", a.id);
    struct pt_resp r;
    pt_reqf(s, proto, "POST", a.token, &r, "/v1/me/export", NULL);
    PT_ASSERT_PROBLEM(&r, 409, "export-running");
    pt_resp_free(&r);
    /* Another user is not held up. */
    struct pt_sse *sb = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    int64_t first = request_export(s, proto, &b);
    struct pt_sse_event ev;
    PT_SSE_EXPECT(sb, "export.ready", EV_MS, &ev);
    pt_sse_event_free(&ev);
    /* Once it is no longer running, a's next request starts. */
    sql("UPDATE exports SET state = 'failed' WHERE user_id = %lld", a.id);
    struct pt_sse *sa = PT_SSE_OPEN_READY(s, proto, a.token, NULL);
    request_export(s, proto, &a);
    PT_SSE_EXPECT(sa, "export.ready", EV_MS, &ev);
    pt_sse_event_free(&ev);
    pt_sse_close(sa);
    /* b's second export replaces the first. */
    int64_t second = request_export(s, proto, &b);
    PT_SSE_EXPECT(sb, "export.ready", EV_MS, &ev);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "export_id", NULL), second);
    pt_sse_event_free(&ev);
    pt_sse_close(sb);
    char path[64];
    snprintf(path, sizeof(path), "/v1/me/exports/%lld", (long long)first);
    pt_get(s, proto, path, b.token, &r);
    PT_ASSERT_PROBLEM(&r, 404, "not-found");
    pt_resp_free(&r);
    pt_reqf(s, proto, "POST", NULL, &r, "/v1/me/export", NULL);
    PT_ASSERT_PROBLEM(&r, 401, "unauthenticated");
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* ---- the CLI: parley export, parley account delete ---- */

struct cli_out {
    int rc;
    char *out, *err;
};

static char *slurp(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t r;
    PL_ASSERT(buf);
    while ((r = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (cap - len < 2)
            PL_ASSERT((buf = realloc(buf, cap *= 2)) != NULL);
    }
    buf[len] = 0;
    return buf;
}

/* Runs the built parley (PARLEY_TEST_CLI) with PARLEY_HOME home against
 * url over p, args NULL-terminated, stdin_text (or nothing) on stdin. */
static struct cli_out cli(const char *url, enum pt_proto p, const char *home,
                          const char *stdin_text, const char *const *args)
{
    const char *argv[24];
    int n = 0, out[2], in[2];
    argv[n++] = getenv("PARLEY_TEST_CLI");
    argv[n++] = "--server";
    argv[n++] = url;
    if (p == PT_H1)
        argv[n++] = "--http1.1";
    if (p == PT_H2C)
        argv[n++] = "--http2-prior-knowledge";
    for (int i = 0; args[i] && n < 23; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char errpath[600];
    snprintf(errpath, sizeof(errpath), "%s.stderr", home);
    PL_ASSERT_INT_EQ(pipe(out), 0);
    PL_ASSERT_INT_EQ(pipe(in), 0);
    pid_t pid = fork();
    PL_ASSERT(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(in[0], 0);
        close(out[0]);
        close(out[1]);
        close(in[0]);
        close(in[1]);
        if (!freopen(errpath, "w", stderr))
            _exit(126);
        unsetenv("PARLEY_SERVER");
        setenv("PARLEY_HOME", home, 1);
        setenv("PARLEY_PASSWORD", "export password 1", 1);
        setenv("PARLEY_PASSPHRASE", "export store passphrase", 1);
        setenv("PARLEY_VAULT_COST", "low", 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    close(in[0]);
    if (stdin_text)
        PL_ASSERT(write(in[1], stdin_text, strlen(stdin_text)) == (ssize_t)strlen(stdin_text));
    close(in[1]);
    struct cli_out o = {0};
    o.out = slurp(out[0]);
    close(out[0]);
    int st;
    PL_ASSERT(waitpid(pid, &st, 0) == pid);
    o.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    FILE *f = fopen(errpath, "r");
    PL_ASSERT(f != NULL);
    o.err = slurp(fileno(f));
    fclose(f);
    return o;
}

#define CLI(url, p, home, in, ...)                                                                 \
    cli((url), (p), (home), (in), (const char *const[]){__VA_ARGS__, NULL})
#define EXPECT_RC(o, want)                                                                         \
    do {                                                                                           \
        if ((o).rc != (want))                                                                      \
            pltest_fail(__FILE__, __LINE__, "parley exited %d, not %d; out: %.800s err: %.800s",   \
                        (o).rc, (want), (o).out, (o).err);                                         \
    } while (0)

static void cli_free(struct cli_out *o)
{
    free(o->out);
    free(o->err);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    PL_ASSERT(f != NULL);
    char *s = slurp(fileno(f));
    fclose(f);
    return s;
}

/* parley export writes the decompressed archive to --out; parley account
 * delete takes the password from stdin and the account is gone. */
PLTEST_PROTO(cli_export_and_account_delete)
{
    if (!getenv("PARLEY_TEST_CLI"))
        PL_SKIP("PARLEY_TEST_CLI is not set");
    struct pt_server *s = start();
    const char *tmp = pt_temp_dir("clexport");
    char url[128], ha[600], hb[600], a[40], b[40], file[600];
    if (proto == PT_H2) {
        snprintf(url, sizeof(url), "https://127.0.0.1:%u", pt_server_tls_port(s));
        setenv("PARLEY_CA_FILE", getenv("PARLEY_TEST_TLS_CERT"), 1);
    } else {
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", pt_server_port(s));
    }
    snprintf(ha, sizeof(ha), "%s/a", tmp);
    snprintf(hb, sizeof(hb), "%s/b", tmp);
    snprintf(file, sizeof(file), "%s/export.json", tmp);
    snprintf(a, sizeof(a), "cxa_%d_%d", (int)getpid() % 100000, (int)proto);
    snprintf(b, sizeof(b), "cxb_%d_%d", (int)getpid() % 100000, (int)proto);
    struct cli_out o = CLI(url, proto, ha, NULL, "register", a);
    EXPECT_RC(o, 0);
    cli_free(&o);
    o = CLI(url, proto, hb, NULL, "register", b);
    EXPECT_RC(o, 0);
    cli_free(&o);
    o = CLI(url, proto, ha, NULL, "send", "--plain", b, "words for the archive");
    EXPECT_RC(o, 0);
    cli_free(&o);
    o = CLI(url, proto, ha, NULL, "export", "--out", file);
    EXPECT_RC(o, 0);
    PL_ASSERT(strstr(o.out, "written to"));
    cli_free(&o);
    char *doc = read_file(file);
    PL_ASSERT(strstr(doc, "\"format\":\"parley-export-1\""));
    PL_ASSERT(strstr(doc, "words for the archive"));
    PL_ASSERT(strstr(doc, a));
    free(doc);
    /* Without --out the JSON goes to standard output. */
    o = CLI(url, proto, hb, NULL, "export");
    EXPECT_RC(o, 0);
    PL_ASSERT(strstr(o.out, "words for the archive"));
    cli_free(&o);
    o = CLI(url, proto, ha, NULL, "export", "--bogus");
    EXPECT_RC(o, 2);
    cli_free(&o);

    o = CLI(url, proto, ha, "not the password\n", "account", "delete", "--password-stdin");
    EXPECT_RC(o, 1);
    PL_ASSERT(strstr(o.err, "rong password") || strstr(o.err, "403"));
    cli_free(&o);
    o = CLI(url, proto, ha, "export password 1\n", "account", "delete", "--password-stdin");
    EXPECT_RC(o, 0);
    PL_ASSERT(strstr(o.out, "account deleted"));
    cli_free(&o);
    struct pt_resp r;
    pt_reqf(s, proto, "POST", NULL, &r, "/v1/sessions", "{\"username\":\"%s\",\"password\":\"%s\"}",
            a, "export password 1");
    PL_ASSERT_INT_EQ(r.status, 401);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
