/* SPDX-License-Identifier: MIT */
/* Parley - integration: the parley CLI end to end against parleyd.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness.h"

#include <sodium.h>

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Each case drives the built `parley` binary (PARLEY_TEST_CLI) as separate
 * processes, one PARLEY_HOME per device, against a real parleyd: h1 uses
 * http:// with --http1.1, h2 uses https:// (ALPN h2, the harness's
 * certificate as CA), h2c uses http:// with --http2-prior-knowledge.
 */

struct dev {
    char home[512];
    const char *password;
};

static const char *tmpdir; /* the devices' homes and test files (pt_temp_dir) */
static char server_url[128];
static int http11, h2c;
static long last_maxrss_kb; /* peak RSS of the last parley run */

static void setup(struct pt_server *s, enum pt_proto p)
{
    const char *cli = getenv("PARLEY_TEST_CLI");
    if (!cli)
        PL_SKIP("PARLEY_TEST_CLI is not set");
    tmpdir = pt_temp_dir("cli");
    if (p == PT_H2) {
        snprintf(server_url, sizeof(server_url), "https://127.0.0.1:%u", pt_server_tls_port(s));
        PL_ASSERT(getenv("PARLEY_TEST_TLS_CERT") != NULL);
        setenv("PARLEY_CA_FILE", getenv("PARLEY_TEST_TLS_CERT"), 1);
    } else {
        snprintf(server_url, sizeof(server_url), "http://127.0.0.1:%u", pt_server_port(s));
    }
    http11 = p == PT_H1;
    h2c = p == PT_H2C;
    setenv("PARLEY_VAULT_COST", "low", 1);
}

static void dev_init(struct dev *d, const char *name, const char *password)
{
    snprintf(d->home, sizeof(d->home), "%s/%s", tmpdir, name);
    d->password = password;
}

/* Runs parley with args (NULL-terminated) as device d; returns the exit
 * status and the output (stdout) in out (malloc'd). */
static int run(const struct dev *d, char **out, ...)
{
    const char *argv[32];
    int n = 0, fds[2];
    va_list ap;
    argv[n++] = getenv("PARLEY_TEST_CLI");
    argv[n++] = "--server";
    argv[n++] = server_url;
    if (http11)
        argv[n++] = "--http1.1";
    if (h2c)
        argv[n++] = "--http2-prior-knowledge";
    va_start(ap, out);
    for (const char *a; (a = va_arg(ap, const char *)) && n < 31;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    PL_ASSERT_INT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    PL_ASSERT(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        setenv("PARLEY_HOME", d->home, 1);
        setenv("PARLEY_PASSWORD", d->password, 1);
        /* The store's passphrase is not the account password. */
        char pass[160];
        snprintf(pass, sizeof(pass), "store passphrase for %s", d->password);
        setenv("PARLEY_PASSPHRASE", pass, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while ((r = read(fds[0], buf + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (cap - len < 2)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    close(fds[0]);
    int st;
    struct rusage ru;
    PL_ASSERT(wait4(pid, &st, 0, &ru) == pid);
    last_maxrss_kb = ru.ru_maxrss;
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define RUN_OK(d, ...)                                                                             \
    do {                                                                                           \
        int rc_ = run((d), NULL, __VA_ARGS__, NULL);                                               \
        if (rc_ != 0)                                                                              \
            pltest_fail(__FILE__, __LINE__, "parley exited %d", rc_);                              \
    } while (0)

/* Listens until n messages arrived and asserts each text appears. */
static void expect_listen(const struct dev *d, int n, const char *const *texts)
{
    char *out, count[8];
    snprintf(count, sizeof(count), "%d", n);
    int rc = run(d, &out, "listen", "--count", count, "--timeout", "20", NULL);
    if (rc != 0)
        pltest_fail(__FILE__, __LINE__, "listen exited %d: %s", rc, out);
    for (int i = 0; i < n; i++)
        if (!strstr(out, texts[i]))
            pltest_fail(__FILE__, __LINE__, "%s did not get \"%s\": %s", d->home, texts[i], out);
    free(out);
}

/* Dumps the whole database as text and fails when a plaintext appears. */
static void scan_db(const char *const *secrets, int n)
{
    char cmd[1024];
    const char *pg = getenv("PARLEY_TEST_PG");
    PL_ASSERT(pg != NULL);
    snprintf(cmd, sizeof(cmd), "pg_dump --data-only '%s'", pg);
    FILE *f = popen(cmd, "r");
    PL_ASSERT(f != NULL);
    size_t cap = 1 << 20, len = 0, r;
    char *buf = malloc(cap);
    while ((r = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += r;
        if (cap - len < 2)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    PL_ASSERT_INT_EQ(pclose(f), 0);
    PL_ASSERT(strstr(buf, "COPY public.messages") != NULL); /* the dump is real */
    for (int i = 0; i < n; i++)
        if (strstr(buf, secrets[i]))
            pltest_fail(__FILE__, __LINE__, "plaintext \"%s\" found in PostgreSQL", secrets[i]);
    free(buf);
}

static void unique(char *buf, size_t n, const char *what)
{
    snprintf(buf, n, "%s-%ld-%d", what, (long)getpid(), rand());
}

/* Alice and Bob with two devices each exchange messages both ways; the
 * second devices listen only afterwards (offline delivery); the safety
 * numbers match; nothing readable reaches the database. */
PLTEST_PROTO(cli_two_users_two_devices)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct dev a1, a2, b1, b2;
    char alice[64], bob[64], m1[96], m2[96], *va, *vb;
    setup(s, proto);
    srand((unsigned)getpid());
    unique(alice, sizeof(alice), "alice");
    unique(bob, sizeof(bob), "bob");
    for (char *p = alice; *p; p++)
        *p = *p == '-' ? '_' : *p;
    for (char *p = bob; *p; p++)
        *p = *p == '-' ? '_' : *p;
    dev_init(&a1, "a1", "alice password 1");
    dev_init(&a2, "a2", "alice password 1");
    dev_init(&b1, "b1", "bob password 22");
    dev_init(&b2, "b2", "bob password 22");
    RUN_OK(&a1, "register", alice);
    RUN_OK(&a2, "login", alice);
    RUN_OK(&b1, "register", bob);
    RUN_OK(&b2, "login", bob);

    unique(m1, sizeof(m1), "first secret from alice");
    RUN_OK(&a1, "send", bob, m1);
    const char *t1[] = {m1};
    expect_listen(&b1, 1, t1);
    unique(m2, sizeof(m2), "reply secret from bob");
    RUN_OK(&b1, "send", alice, m2);
    const char *t2[] = {m2};
    expect_listen(&a1, 1, t2);
    /* The second devices were offline: both messages wait for them. */
    const char *t12[] = {m1, m2};
    expect_listen(&b2, 2, t12);
    expect_listen(&a2, 2, t12);

    /* Local history and search: the server cannot serve E2E text. */
    char *h;
    PL_ASSERT_INT_EQ(run(&a1, &h, "history", bob, NULL), 0);
    PL_ASSERT(strstr(h, m1) && strstr(h, m2));
    free(h);
    PL_ASSERT_INT_EQ(run(&b2, &h, "search", "reply", "SECRET", NULL), 0);
    PL_ASSERT(strstr(h, m2) && !strstr(h, m1));
    free(h);
    PL_ASSERT_INT_EQ(run(&b1, &h, "read", alice, NULL), 0);
    PL_ASSERT(strstr(h, m1) != NULL);
    free(h);

    PL_ASSERT_INT_EQ(run(&a1, &va, "verify", bob, NULL), 0);
    PL_ASSERT_INT_EQ(run(&b2, &vb, "verify", alice, NULL), 0);
    PL_ASSERT_INT_EQ(strlen(va), 72); /* 12 groups of 5 digits, 2 lines */
    PL_ASSERT_STR_EQ(va, vb);
    free(va);
    free(vb);
    const char *secrets[] = {m1, m2};
    scan_db(secrets, 2);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Bob logs out and in again: a new device with a new identity key. Alice
 * is told the safety number changed, the number differs, and messaging
 * goes on with the new device. */
PLTEST_PROTO(cli_safety_number_change)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct dev a, b;
    char alice[64], bob[64], m1[96], m2[96], *v1, *v2, *out;
    setup(s, proto);
    srand((unsigned)getpid() * 7u);
    unique(alice, sizeof(alice), "al");
    unique(bob, sizeof(bob), "bo");
    for (char *p = alice; *p; p++)
        *p = *p == '-' ? '_' : *p;
    for (char *p = bob; *p; p++)
        *p = *p == '-' ? '_' : *p;
    dev_init(&a, "a", "alice password 1");
    dev_init(&b, "b", "bob password 22");
    RUN_OK(&a, "register", alice);
    RUN_OK(&b, "register", bob);
    /* A rotated signed prekey is the one Alice's X3DH uses; Bob still
     * finds its secret half. */
    PL_ASSERT_INT_EQ(run(&b, &out, "keys", "--rotate", NULL), 0);
    if (!strstr(out, "signed prekey 2 (rotated)"))
        pltest_fail(__FILE__, __LINE__, "keys --rotate: %s", out);
    free(out);
    unique(m1, sizeof(m1), "before the change");
    RUN_OK(&a, "send", bob, m1);
    const char *t1[] = {m1};
    expect_listen(&b, 1, t1);
    PL_ASSERT_INT_EQ(run(&a, &v1, "verify", bob, NULL), 0);
    /* Alice's stream position is now past her own send. */
    PL_ASSERT(run(&a, NULL, "listen", "--count", "1", "--timeout", "2", NULL) != 0);

    /* Logout keeps the local history (only keys and the session go). */
    PL_ASSERT_INT_EQ(run(&b, &out, "logout", NULL), 0);
    PL_ASSERT(strstr(out, "history is kept") != NULL);
    free(out);
    RUN_OK(&b, "login", bob);
    PL_ASSERT_INT_EQ(run(&b, &out, "history", alice, NULL), 0);
    if (!strstr(out, m1))
        pltest_fail(__FILE__, __LINE__, "history lost by logout: %s", out);
    free(out);
    unique(m2, sizeof(m2), "after the change");
    RUN_OK(&b, "send", alice, m2);
    /* Bob's new device is not trusted by Alice: she is told first, the
     * message is held undecrypted, and she cannot send to Bob. */
    char notice[128];
    snprintf(notice, sizeof(notice), "safety number with %s changed", bob);
    PL_ASSERT_INT_EQ(run(&a, &out, "listen", "--count", "1", "--timeout", "3", NULL), 1);
    if (!strstr(out, notice) || strstr(out, m2))
        pltest_fail(__FILE__, __LINE__, "no change notice, or the message shown: %s", out);
    free(out);
    PL_ASSERT_INT_EQ(run(&a, NULL, "send", bob, "refused until accepted", NULL), 1);
    PL_ASSERT_INT_EQ(run(&a, &v2, "verify", bob, NULL), 0);
    PL_ASSERT(strcmp(v1, v2) != 0);
    PL_ASSERT_INT_EQ(run(&a, &out, "verify", "--accept", bob, NULL), 0);
    PL_ASSERT(strncmp(out, v2, strlen(v2)) == 0 && strstr(out, "accepted") != NULL);
    free(out);
    /* Accepted: the held message is decrypted now, and sending works. */
    const char *t2[] = {m2};
    expect_listen(&a, 1, t2);
    RUN_OK(&a, "send", bob, "after accepting");
    const char *t3[] = {"after accepting"};
    expect_listen(&b, 1, t3);

    /* A new device of a known contact is refused the same way. */
    struct dev b2;
    dev_init(&b2, "b2", "bob password 22");
    RUN_OK(&b2, "login", bob);
    PL_ASSERT_INT_EQ(run(&a, NULL, "send", bob, "not to an unknown device", NULL), 1);
    RUN_OK(&a, "verify", "--accept", bob);
    RUN_OK(&a, "send", bob, "to both of bob's devices");
    const char *t4[] = {"to both of bob's devices"};
    expect_listen(&b2, 1, t4);
    free(v1);
    free(v2);
    const char *secrets[] = {m1, m2};
    scan_db(secrets, 2);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

static void name_of(char *buf, size_t n, const char *what)
{
    unique(buf, n, what);
    for (char *p = buf; *p; p++)
        *p = *p == '-' ? '_' : *p;
}

/* listen --chat subscribes to the chat's members (PUT
 * /v1/presence/subscriptions) and prints their presence: Alice, online
 * through a heartbeat of another device, shows up in Bob's listen. */
PLTEST_PROTO(cli_listen_chat_shows_presence)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct dev a, b;
    char alice[64], bob[64], m1[96], token[PT_TOKEN_MAX], line[160], *out;
    setup(s, proto);
    name_of(alice, sizeof(alice), "alp");
    name_of(bob, sizeof(bob), "bop");
    dev_init(&a, "a", "alice password 3");
    dev_init(&b, "b", "bob password 33");
    RUN_OK(&a, "register", alice);
    RUN_OK(&b, "register", bob);
    unique(m1, sizeof(m1), "presence");
    RUN_OK(&a, "send", "--plain", bob, m1);
    pt_login(s, proto, alice, "alice password 3", token);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(pt_req(s, proto, "POST", "/v1/presence/heartbeat", token, NULL, NULL, 0, &r),
                     0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    PL_ASSERT_INT_EQ(
        run(&b, &out, "listen", "--chat", alice, "--count", "1", "--timeout", "20", NULL), 0);
    snprintf(line, sizeof(line), "* %s is online", alice);
    if (!strstr(out, line) || !strstr(out, m1))
        pltest_fail(__FILE__, __LINE__, "no presence line or message: %s", out);
    free(out);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* A group of four: everyone reads the first message; after D is removed
 * the senders rotate their sender keys, B and C read what follows and D
 * receives nothing; no plaintext reaches the database. */
PLTEST_PROTO(cli_group_of_four_remove_member)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct dev d[4];
    char names[4][64], m1[96], m2[96], m3[96], gid[32], *out;
    static const char *const tags[4] = {"ga", "gb", "gc", "gd"};
    setup(s, proto);
    srand((unsigned)getpid() * 13u);
    for (int i = 0; i < 4; i++) {
        name_of(names[i], sizeof(names[i]), tags[i]);
        dev_init(&d[i], tags[i], "group password 1");
        RUN_OK(&d[i], "register", names[i]);
    }
    PL_ASSERT_INT_EQ(
        run(&d[0], &out, "group", "create", "four", names[1], names[2], names[3], NULL), 0);
    long long id = 0;
    PL_ASSERT(sscanf(out, "group %lld created", &id) == 1 && id > 0);
    free(out);
    snprintf(gid, sizeof(gid), "#%lld", id);

    unique(m1, sizeof(m1), "group secret one");
    RUN_OK(&d[0], "send", gid, m1);
    const char *t1[] = {m1};
    for (int i = 1; i < 4; i++)
        expect_listen(&d[i], 1, t1);

    char idnum[24];
    snprintf(idnum, sizeof(idnum), "%lld", id);
    RUN_OK(&d[0], "group", "remove", idnum, names[3]);
    unique(m2, sizeof(m2), "group secret two");
    RUN_OK(&d[0], "send", gid, m2);
    unique(m3, sizeof(m3), "group secret three");
    RUN_OK(&d[1], "send", gid, m3);
    const char *t23[] = {m2, m3}, *t2[] = {m2}, *t3[] = {m3};
    expect_listen(&d[2], 2, t23);
    expect_listen(&d[1], 1, t2);
    expect_listen(&d[0], 1, t3);
    PL_ASSERT_INT_EQ(run(&d[3], &out, "listen", "--count", "1", "--timeout", "3", NULL), 1);
    PL_ASSERT(strstr(out, m2) == NULL && strstr(out, m3) == NULL);
    free(out);
    const char *secrets[] = {m1, m2, m3};
    scan_db(secrets, 3);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* ---- files ---- */

/* Writes size pseudo-random bytes to path, with marker written at several
 * offsets (start, thirds, a chunk boundary, the end); returns its SHA-256. */
static void make_file(const char *path, size_t size, const char *marker, uint8_t sha[32])
{
    static uint8_t buf[1 << 16];
    crypto_hash_sha256_state h;
    size_t mlen = strlen(marker);
    size_t at[] = {0, size / 3, 2 * (size / 3), 65536 - mlen / 2, size - mlen};
    uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    FILE *f = fopen(path, "wb");
    PL_ASSERT(f != NULL);
    crypto_hash_sha256_init(&h);
    for (size_t off = 0; off < size;) {
        size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
            buf[i] = (uint8_t)(x >> 24);
        }
        for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) /* markers crossing this buffer */
            for (size_t j = 0; j < mlen; j++)
                if (at[k] + j >= off && at[k] + j < off + n)
                    buf[at[k] + j - off] = (uint8_t)marker[j];
        crypto_hash_sha256_update(&h, buf, n);
        PL_ASSERT_INT_EQ(fwrite(buf, 1, n, f), n);
        off += n;
    }
    PL_ASSERT_INT_EQ(fclose(f), 0);
    crypto_hash_sha256_final(&h, sha);
}

/* Streams a file through SHA-256 and, when marker is set, fails if it
 * contains marker; returns the byte count. */
static long long hash_scan(const char *path, const char *marker, uint8_t sha[32])
{
    static uint8_t buf[(1 << 20) + 256];
    crypto_hash_sha256_state h;
    size_t keep = 0, mlen = marker ? strlen(marker) : 0, r;
    long long total = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        pltest_fail(__FILE__, __LINE__, "cannot open %s: %s", path, strerror(errno));
    crypto_hash_sha256_init(&h);
    while ((r = fread(buf + keep, 1, (1 << 20), f)) > 0) {
        crypto_hash_sha256_update(&h, buf + keep, r);
        total += (long long)r;
        size_t have = keep + r;
        if (mlen && memmem(buf, have, marker, mlen))
            pltest_fail(__FILE__, __LINE__, "plaintext marker found in %s", path);
        /* Keep the tail, so a marker across two reads is still seen. */
        keep = mlen && have >= mlen - 1 ? mlen - 1 : 0;
        memmove(buf, buf + have - keep, keep);
    }
    fclose(f);
    if (sha)
        crypto_hash_sha256_final(&h, sha);
    return total;
}

static const char *scan_marker;
static int scanned_files;
static long long scanned_bytes;

static int on_blob(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type == FTW_F && S_ISREG(sb->st_mode)) {
        scanned_bytes += hash_scan(path, scan_marker, NULL);
        scanned_files++;
    }
    return 0;
}

/* Every file under dir (the blob store, its temporaries and the rest of
 * parleyd's data dir); returns the bytes scanned. */
static long long scan_dir(const char *dir, const char *marker)
{
    scan_marker = marker;
    scanned_files = 0;
    scanned_bytes = 0;
    PL_ASSERT_INT_EQ(nftw(dir, on_blob, 16, FTW_PHYS), 0);
    return scanned_bytes;
}

/* Where the CLI saved a file: after "saved to " in its text output, or the
 * "file" member of its --json output (malloc'd). */
static char *saved_path(const char *out)
{
    const char *p = strstr(out, "\"file\":\"");
    if (p)
        return strndup(p + 8, strcspn(p + 8, "\""));
    if (!(p = strstr(out, "saved to ")))
        pltest_fail(__FILE__, __LINE__, "no file saved: %s", out);
    p += 9;
    return strndup(p, strcspn(p, "\n"));
}

/* Alice sends Bob an encrypted file through the CLI (50 MiB; 5 MiB under
 * the sanitizers, where everything runs several times slower); Bob's
 * listen downloads, checks and decrypts it to the same SHA-256; neither
 * PostgreSQL nor any file parleyd keeps holds the plaintext markers. A
 * plain (--plain) file goes the media-message way. */
PLTEST_PROTO(cli_file_round_trip)
{
    char marker[96], path[300], plain_path[300], alice[64], bob[64], *out;
    uint8_t sha[32], got[32];
    struct dev a, b;
    /* ASAN_OPTIONS is set by the meson "sanitize" test setup. */
    size_t size = getenv("ASAN_OPTIONS") ? (size_t)5 << 20 : (size_t)50 << 20;
    srand((unsigned)getpid() * 17u);
    const char *data = pt_temp_dir("cli-data");
    const char *args[] = {"--data-dir", data, NULL};
    struct pt_server *s = PT_SERVER_START(args);
    setup(s, proto);
    name_of(alice, sizeof(alice), "fa");
    name_of(bob, sizeof(bob), "fb");
    dev_init(&a, "a", "alice password 1");
    dev_init(&b, "b", "bob password 22");
    RUN_OK(&a, "register", alice);
    RUN_OK(&b, "register", bob);

    unique(marker, sizeof(marker), "PLAINTEXT-FILE-MARKER");
    snprintf(path, sizeof(path), "%s/holiday video.mp4", tmpdir);
    make_file(path, size, marker, sha);
    /* Neither side holds the file in memory: their peak RSS stays far below
     * its size (checked without the sanitizers, whose shadow memory and
     * quarantine dwarf a 5 MiB file). */
    long rss_cap_kb = getenv("ASAN_OPTIONS") ? 0 : (long)(size / 1024 / 2);
    PL_ASSERT_INT_EQ(run(&a, &out, "send", "--file", path, bob, NULL), 0);
    PL_ASSERT(strstr(out, "sent to") != NULL);
    free(out);
    if (rss_cap_kb && last_maxrss_kb > rss_cap_kb)
        pltest_fail(__FILE__, __LINE__, "send --file peaked at %ld KiB", last_maxrss_kb);
    int rc = run(&b, &out, "listen", "--count", "1", "--timeout", "40", NULL);
    if (rc != 0)
        pltest_fail(__FILE__, __LINE__, "listen exited %d: %s", rc, out);
    if (rss_cap_kb && last_maxrss_kb > rss_cap_kb)
        pltest_fail(__FILE__, __LINE__, "listen peaked at %ld KiB", last_maxrss_kb);
    char *saved = saved_path(out);
    free(out);
    if (!strstr(saved, "/b/files/holiday video.mp4"))
        pltest_fail(__FILE__, __LINE__, "saved as %s", saved);
    PL_ASSERT_INT_EQ(hash_scan(saved, NULL, got), (long long)size);
    PL_ASSERT_MEM_EQ(got, sha, 32);
    free(saved);
    /* The local history names the file; the chat list says it is E2E. */
    PL_ASSERT_INT_EQ(run(&b, &out, "history", alice, NULL), 0);
    PL_ASSERT(strstr(out, "holiday video.mp4") != NULL);
    free(out);
    PL_ASSERT_INT_EQ(run(&a, &out, "chats", "--json", NULL), 0);
    PL_ASSERT(out[0] == '[' && strstr(out, "\"encryption\":\"e2e\"") != NULL);
    free(out);

    /* A plain chat: the bytes as they are, a "media" message. */
    snprintf(plain_path, sizeof(plain_path), "%s/notes.txt", tmpdir);
    make_file(plain_path, 100000, "not secret", sha);
    RUN_OK(&a, "send", "--plain", "--file", plain_path, bob);
    char outdir[300];
    snprintf(outdir, sizeof(outdir), "%s/inbox", tmpdir);
    PL_ASSERT_INT_EQ(mkdir(outdir, 0700), 0);
    rc = run(&b, &out, "--json", "listen", "--count", "1", "--timeout", "20", "--out-dir", outdir,
             NULL);
    if (rc != 0)
        pltest_fail(__FILE__, __LINE__, "listen exited %d: %s", rc, out);
    PL_ASSERT(strstr(out, "\"e2e\":false") != NULL);
    saved = saved_path(out);
    free(out);
    PL_ASSERT(strncmp(saved, outdir, strlen(outdir)) == 0);
    PL_ASSERT_INT_EQ(hash_scan(saved, NULL, got), 100000);
    PL_ASSERT_MEM_EQ(got, sha, 32);
    free(saved);

    /* A group (sender key): the file reaches the other member. */
    char gmarker[96], gpath[300], gid[32];
    unique(gmarker, sizeof(gmarker), "GROUP-FILE-MARKER");
    snprintf(gpath, sizeof(gpath), "%s/minutes.pdf", tmpdir);
    make_file(gpath, 300000, gmarker, sha);
    PL_ASSERT_INT_EQ(run(&a, &out, "group", "create", "files", bob, NULL), 0);
    long long id = 0;
    PL_ASSERT(sscanf(out, "group %lld created", &id) == 1 && id > 0);
    free(out);
    snprintf(gid, sizeof(gid), "#%lld", id);
    RUN_OK(&a, "send", "--file", gpath, gid);
    rc = run(&b, &out, "listen", "--count", "1", "--timeout", "20", NULL);
    if (rc != 0)
        pltest_fail(__FILE__, __LINE__, "listen exited %d: %s", rc, out);
    saved = saved_path(out);
    free(out);
    PL_ASSERT(strstr(saved, "/b/files/minutes.pdf") != NULL);
    PL_ASSERT_INT_EQ(hash_scan(saved, NULL, got), 300000);
    PL_ASSERT_MEM_EQ(got, sha, 32);
    free(saved);

    /* An E2E upload declares no file name either. */
    const char *secrets[] = {marker, gmarker, "holiday video", "minutes.pdf"};
    scan_db(secrets, 4);
    /* The ciphertexts are in the blob store, and nothing readable is. */
    PL_ASSERT(scan_dir(data, marker) >= (long long)size);
    scan_dir(data, gmarker);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

static const char *tamper_dir;
static long long tamper_size;
static int tampered;

/* Flips a byte in the middle of every blob of the given size. */
static int on_tamper(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type != FTW_F || !S_ISREG(sb->st_mode) || sb->st_size != tamper_size ||
        !strstr(path, "/blobs/"))
        return 0;
    FILE *f = fopen(path, "r+b");
    PL_ASSERT(f != NULL);
    PL_ASSERT_INT_EQ(fseek(f, (long)(tamper_size / 2), SEEK_SET), 0);
    int ch = fgetc(f);
    PL_ASSERT(ch != EOF);
    PL_ASSERT_INT_EQ(fseek(f, (long)(tamper_size / 2), SEEK_SET), 0);
    PL_ASSERT(fputc(ch ^ 0x40, f) != EOF);
    PL_ASSERT_INT_EQ(fclose(f), 0);
    tampered++;
    return 0;
}

/* A ciphertext altered in the blob store: the receiver refuses it (digest)
 * and keeps no file. */
PLTEST(cli_file_tampered_is_refused)
{
    char marker[96], path[300], files[600], alice[64], bob[64], *out;
    uint8_t sha[32];
    struct dev a, b;
    srand((unsigned)getpid() * 19u);
    const char *data = pt_temp_dir("cli-data");
    const char *args[] = {"--data-dir", data, NULL};
    struct pt_server *s = PT_SERVER_START(args);
    setup(s, PT_H1);
    name_of(alice, sizeof(alice), "ta");
    name_of(bob, sizeof(bob), "tb");
    dev_init(&a, "a", "alice password 1");
    dev_init(&b, "b", "bob password 22");
    RUN_OK(&a, "register", alice);
    RUN_OK(&b, "register", bob);
    unique(marker, sizeof(marker), "TAMPERED-MARKER");
    snprintf(path, sizeof(path), "%s/contract.txt", tmpdir);
    make_file(path, 1000000, marker, sha);
    RUN_OK(&a, "send", "--file", path, bob);
    /* 16 chunks of 17 bytes overhead, the 28-byte header. */
    tamper_size = 1000000 + 28 + 16 * 17;
    tamper_dir = data;
    tampered = 0;
    PL_ASSERT_INT_EQ(nftw(tamper_dir, on_tamper, 16, FTW_PHYS), 0);
    PL_ASSERT_INT_EQ(tampered, 1);
    PL_ASSERT_INT_EQ(run(&b, &out, "listen", "--count", "1", "--timeout", "20", NULL), 0);
    if (strstr(out, "saved to"))
        pltest_fail(__FILE__, __LINE__, "a tampered file was kept: %s", out);
    free(out);
    snprintf(files, sizeof(files), "%s/files/contract.txt", b.home);
    PL_ASSERT(access(files, F_OK) != 0);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* search: plain chats through GET /v1/search when the server has it (an
 * unauthenticated probe is 401 then, 404 before), E2E chats from the local
 * history; each hit once. */
PLTEST(cli_search_server_and_local)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_resp r;
    struct dev a, b;
    char alice[64], bob[64], word[32], plain[96], secret[96], *out;
    setup(s, PT_H1);
    srand((unsigned)getpid() * 23u);
    name_of(alice, sizeof(alice), "sa");
    name_of(bob, sizeof(bob), "sb");
    dev_init(&a, "a", "alice password 1");
    dev_init(&b, "b", "bob password 22");
    RUN_OK(&a, "register", alice);
    RUN_OK(&b, "register", bob);
    snprintf(word, sizeof(word), "quokka%d", rand() % 100000);
    snprintf(plain, sizeof(plain), "a plain %s in the open", word);
    snprintf(secret, sizeof(secret), "a secret %s under wraps", word);
    RUN_OK(&a, "send", "--plain", bob, plain);
    RUN_OK(&a, "send", bob, secret);
    PL_ASSERT_INT_EQ(pt_req(s, PT_H1, "GET", "/v1/search?q=x", NULL, NULL, NULL, 0, &r), 0);
    int server = r.status != 404;
    pt_resp_free(&r);
    pt_search_wait();

    PL_ASSERT_INT_EQ(run(&a, &out, "--json", "search", word, NULL), 0);
    char *p1 = strstr(out, "in the open"), *p2 = strstr(out, secret);
    if (!p1 || !p2)
        pltest_fail(__FILE__, __LINE__, "search missed a message: %s", out);
    PL_ASSERT(strstr(p1 + 1, "in the open") == NULL); /* once */
    PL_ASSERT(strstr(p2 + 1, secret) == NULL);
    if (server && (!strstr(out, "\"snippet\":\"") || !strstr(out, "<mark>quokka")))
        pltest_fail(__FILE__, __LINE__, "the plain hit did not come from the server: %s", out);
    if (!server && strstr(out, "snippet"))
        pltest_fail(__FILE__, __LINE__, "a snippet without server search: %s", out);
    free(out);
    /* Text output: the snippet without its markup. */
    PL_ASSERT_INT_EQ(run(&a, &out, "search", word, NULL), 0);
    snprintf(plain, sizeof(plain), "plain %s in the open", word);
    PL_ASSERT(strstr(out, plain) != NULL && strstr(out, "<mark>") == NULL);
    free(out);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* Failures exit non-zero with a message: no server, wrong password. */
PLTEST(cli_failures_exit_nonzero)
{
    struct dev d;
    const char *cli = getenv("PARLEY_TEST_CLI");
    if (!cli)
        PL_SKIP("PARLEY_TEST_CLI is not set");
    tmpdir = pt_temp_dir("cli");
    snprintf(server_url, sizeof(server_url), "http://127.0.0.1:1");
    dev_init(&d, "x", "whatever password");
    PL_ASSERT_INT_EQ(run(&d, NULL, "login", "nobody", NULL), 1);
    PL_ASSERT_INT_EQ(run(&d, NULL, "send", "bob", "hi", NULL), 1); /* not logged in */
    PL_ASSERT_INT_EQ(run(&d, NULL, "frobnicate", NULL), 2);
}
