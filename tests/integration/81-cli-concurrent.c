/* SPDX-License-Identifier: MIT */
/* Parley - integration: the CLI under failures and concurrent use.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness.h"

#include <sodium.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * The `parley` binary (PARLEY_TEST_CLI) as separate processes against a
 * real parleyd: a send whose connection is cut after the server committed
 * (a TCP proxy in this process forwards the request and closes before the
 * response), several listeners and senders sharing one PARLEY_HOME, a
 * parleyd restarted under a running listener, and hostile text that must
 * reach the terminal escaped.
 */

struct dev {
    char home[512];
    const char *password;
};

static const char *tmpdir;
static char server_url[128];

static void dev_init(struct dev *d, const char *name, const char *password)
{
    snprintf(d->home, sizeof(d->home), "%s/%s", tmpdir, name);
    d->password = password;
}

static void name_of(char *buf, size_t n, const char *what)
{
    snprintf(buf, n, "%s_%ld_%d", what, (long)getpid(), rand() % 100000);
}

/* Starts parley as device d against url with args (NULL-terminated);
 * stdout goes to out_path (or a pipe read into *out when out_path is
 * NULL), stderr to err_path (or ours). Returns the pid. */
static pid_t spawn(const struct dev *d, const char *url, const char *out_path, const char *err_path,
                   int *pipe_rd, const char *const *args)
{
    const char *argv[40];
    int n = 0, fds[2] = {-1, -1};
    argv[n++] = getenv("PARLEY_TEST_CLI");
    argv[n++] = "--server";
    argv[n++] = url;
    argv[n++] = "--http1.1";
    for (; *args && n < 39; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    if (pipe_rd)
        PL_ASSERT_INT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    PL_ASSERT(pid >= 0);
    if (pid == 0) {
        if (pipe_rd) {
            dup2(fds[1], 1);
            close(fds[0]);
            close(fds[1]);
        } else if (out_path) {
            int fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
            dup2(fd, 1);
            close(fd);
        }
        if (err_path) {
            int fd = open(err_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
            dup2(fd, 2);
            close(fd);
        }
        char pass[160];
        snprintf(pass, sizeof(pass), "store passphrase for %s", d->password);
        setenv("PARLEY_HOME", d->home, 1);
        setenv("PARLEY_PASSWORD", d->password, 1);
        setenv("PARLEY_PASSPHRASE", pass, 1);
        setenv("PARLEY_VAULT_COST", "low", 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (pipe_rd) {
        close(fds[1]);
        *pipe_rd = fds[0];
    }
    return pid;
}

static int wait_exit(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        PL_ASSERT(errno == EINTR);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Runs parley to completion; *out gets its stdout (malloc'd) when out. */
static int run_at(const struct dev *d, const char *url, char **out, ...)
{
    const char *args[32];
    int n = 0, rd;
    va_list ap;
    va_start(ap, out);
    for (const char *a; (a = va_arg(ap, const char *)) && n < 31;)
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    pid_t pid = spawn(d, url, NULL, NULL, &rd, args);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while ((r = read(rd, buf + len, cap - len - 1)) > 0 || (r < 0 && errno == EINTR)) {
        if (r > 0)
            len += (size_t)r;
        if (cap - len < 2)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = 0;
    close(rd);
    int rc = wait_exit(pid);
    if (out)
        *out = buf;
    else
        free(buf);
    return rc;
}

#define RUN_OK(d, ...)                                                                             \
    do {                                                                                           \
        int rc_ = run_at((d), server_url, NULL, __VA_ARGS__, NULL);                                \
        if (rc_ != 0)                                                                              \
            pltest_fail(__FILE__, __LINE__, "parley exited %d", rc_);                              \
    } while (0)

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 1 << 16, len = 0, r;
    char *buf = malloc(cap);
    if (f) {
        while ((r = fread(buf + len, 1, cap - len - 1, f)) > 0)
            if ((len += r) > cap - 2)
                buf = realloc(buf, cap *= 2);
        fclose(f);
    }
    buf[len] = 0;
    return buf;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Waits (up to s seconds) until path contains needle. */
static int wait_for_text(const char *path, const char *needle, int s)
{
    struct timespec t0, now, pause = {0, 50 * 1000000L};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        char *b = slurp(path);
        int found = strstr(b, needle) != NULL;
        free(b);
        if (found)
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > s)
            return 0;
        nanosleep(&pause, NULL);
    }
}

/* ---- a TCP proxy that can cut a send after the server answered ---- */

#define PX_MAXCONN 64

struct proxy {
    int lfd;
    unsigned port;
    volatile unsigned target; /* the upstream port */
    volatile int cut_next;    /* cut the next message POST after the server answers */
    volatile int cuts;
    volatile int block_posts; /* close message POSTs before the server sees them */
    int dead;                 /* px_free() ran */
    pthread_mutex_t mu;
    char *log[PX_MAXCONN]; /* client-to-server bytes of each connection */
    size_t loglen[PX_MAXCONN];
    int nconn;
};

struct px_conn {
    struct proxy *px;
    int cfd, idx;
};

static void log_append(struct proxy *px, int idx, const char *b, size_t n)
{
    pthread_mutex_lock(&px->mu);
    if (px->dead) {
        pthread_mutex_unlock(&px->mu);
        return;
    }
    char *p = realloc(px->log[idx], px->loglen[idx] + n + 1);
    memcpy(p + px->loglen[idx], b, n);
    px->loglen[idx] += n;
    p[px->loglen[idx]] = 0;
    px->log[idx] = p;
    pthread_mutex_unlock(&px->mu);
}

static void *px_relay(void *arg)
{
    struct px_conn *pc = arg;
    struct proxy *px = pc->px;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)px->target)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ufd = socket(AF_INET, SOCK_STREAM, 0), armed = 0;
    if (connect(ufd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        goto done; /* the server is down: the client sees the connection close */
    char buf[65536];
    struct pollfd p[2] = {{pc->cfd, POLLIN, 0}, {ufd, POLLIN, 0}};
    for (;;) {
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[0].revents) {
            ssize_t n = read(pc->cfd, buf, sizeof(buf));
            if (n <= 0)
                break;
            log_append(px, pc->idx, buf, (size_t)n);
            if (px->block_posts && memmem(buf, (size_t)n, "POST /v1/conversations/", 23))
                break;
            if (px->cut_next && memmem(buf, (size_t)n, "POST /v1/conversations/", 23)) {
                px->cut_next = 0;
                armed = 1;
            }
            if (write(ufd, buf, (size_t)n) != n)
                break;
        }
        if (p[1].revents) {
            ssize_t n = read(ufd, buf, sizeof(buf));
            if (n <= 0)
                break;
            if (armed) { /* the server committed and answered: drop the answer */
                __sync_fetch_and_add(&px->cuts, 1);
                break;
            }
            if (write(pc->cfd, buf, (size_t)n) != n)
                break;
        }
    }
done:
    close(ufd);
    close(pc->cfd);
    free(pc);
    return NULL;
}

static void *px_accept(void *arg)
{
    struct proxy *px = arg;
    for (;;) {
        int cfd = accept(px->lfd, NULL, NULL);
        if (cfd < 0)
            return NULL; /* closed */
        struct px_conn *pc = malloc(sizeof(*pc));
        pthread_mutex_lock(&px->mu);
        pc->idx = px->nconn < PX_MAXCONN ? px->nconn++ : PX_MAXCONN - 1;
        pthread_mutex_unlock(&px->mu);
        pc->px = px;
        pc->cfd = cfd;
        pthread_t t;
        pthread_create(&t, NULL, px_relay, pc);
        pthread_detach(t);
    }
}

static void px_start(struct proxy *px, unsigned target)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);
    memset(px, 0, sizeof(*px));
    pthread_mutex_init(&px->mu, NULL);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    px->lfd = socket(AF_INET, SOCK_STREAM, 0);
    PL_ASSERT_INT_EQ(bind(px->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    PL_ASSERT_INT_EQ(listen(px->lfd, 64), 0);
    PL_ASSERT_INT_EQ(getsockname(px->lfd, (struct sockaddr *)&sa, &sl), 0);
    px->port = ntohs(sa.sin_port);
    px->target = target;
    pthread_t t;
    pthread_create(&t, NULL, px_accept, px);
    pthread_detach(t);
}

/* Stops accepting and frees what the proxy logged (connections still open
 * end with their peers; they log nothing more). */
static void px_free(struct proxy *px)
{
    shutdown(px->lfd, SHUT_RDWR);
    close(px->lfd);
    pthread_mutex_lock(&px->mu);
    for (int i = 0; i < px->nconn; i++) {
        free(px->log[i]);
        px->log[i] = NULL;
        px->loglen[i] = 0;
    }
    px->dead = 1;
    pthread_mutex_unlock(&px->mu);
}

/* The bodies of every message POST the proxy carried, in order. */
static int px_posts(struct proxy *px, char **bodies, int max)
{
    int n = 0;
    pthread_mutex_lock(&px->mu);
    for (int i = 0; i < px->nconn && n < max; i++) {
        for (const char *p = px->log[i]; p && (p = strstr(p, "POST /v1/conversations/")) && n < max;
             p++) {
            const char *cl = strcasestr(p, "\r\nContent-Length:"), *hend = strstr(p, "\r\n\r\n");
            if (!cl || !hend || cl > hend)
                continue;
            long len = strtol(cl + 17, NULL, 10);
            if (hend + 4 + len > px->log[i] + px->loglen[i])
                continue;
            bodies[n++] = strndup(hend + 4, (size_t)len);
        }
    }
    pthread_mutex_unlock(&px->mu);
    return n;
}

/* The ratchet message number N of the first recipient's ciphertext in a
 * send body (prekey messages carry the ratchet message after 74 bytes). */
static long ratchet_n(const char *body)
{
    const char *p = strstr(body, "\"ciphertext\":\"");
    PL_ASSERT(p != NULL);
    p += 14;
    size_t len = strcspn(p, "\""), n;
    uint8_t *m = malloc(len);
    PL_ASSERT_INT_EQ(
        sodium_base642bin(m, len, p, len, NULL, &n, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
        0);
    size_t off = m[0] == 0x21 ? 74 : 0;
    PL_ASSERT(n >= off + 41 && m[off] == 0x22);
    long v =
        (long)m[off + 37] << 24 | (long)m[off + 38] << 16 | (long)m[off + 39] << 8 | m[off + 40];
    free(m);
    return v;
}

static void setup(struct pt_server *s)
{
    if (!getenv("PARLEY_TEST_CLI"))
        PL_SKIP("PARLEY_TEST_CLI is not set");
    tmpdir = pt_temp_dir("cli81");
    snprintf(server_url, sizeof(server_url), "http://127.0.0.1:%u", pt_server_port(s));
}

/* ---- write-ahead: a send cut after the server committed ---- */

/* The proxy forwards Alice's POST, waits for parleyd's answer (so the
 * message is committed) and closes the connection instead of relaying it.
 * The CLI retries: the second POST is byte for byte the first (same
 * client_msg_id, same ciphertext, same ratchet step), the server answers
 * 200 with the stored message, Bob reads it once, and the next message
 * uses the next chain step (no key reused, nothing skipped). HTTP/1.1
 * only: the proxy reads the requests in the clear. */
PLTEST(cli_send_retry_after_commit_is_the_same_message)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    static struct proxy px; /* its threads may outlive the case function */
    struct dev a, b;
    char alice[64], bob[64], url[96], *out, *bodies[8];
    setup(s);
    srand((unsigned)getpid());
    name_of(alice, sizeof(alice), "wa");
    name_of(bob, sizeof(bob), "wb");
    dev_init(&a, "a", "alice password 1");
    dev_init(&b, "b", "bob password 22");
    RUN_OK(&a, "register", alice);
    RUN_OK(&b, "register", bob);
    px_start(&px, pt_server_port(s));
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", px.port);
    RUN_OK(&a, "send", bob, "first, to start the session");

    px.cut_next = 1;
    PL_ASSERT_INT_EQ(run_at(&a, url, &out, "--json", "send", bob, "cut after commit", NULL), 0);
    PL_ASSERT_INT_EQ(px.cuts, 1);
    if (!strstr(out, "\"repeat\":true"))
        pltest_fail(__FILE__, __LINE__, "the retry was not answered as a repeat: %s", out);
    free(out);
    PL_ASSERT_INT_EQ(run_at(&a, url, NULL, "send", bob, "the one after", NULL), 0);
    int n = px_posts(&px, bodies, 8);
    PL_ASSERT_INT_EQ(n, 3);
    PL_ASSERT_STR_EQ(bodies[0], bodies[1]); /* the retry re-sent the stored bytes */
    PL_ASSERT_INT_EQ(ratchet_n(bodies[2]), ratchet_n(bodies[0]) + 1);
    for (int i = 0; i < n; i++)
        free(bodies[i]);

    PL_ASSERT_INT_EQ(
        run_at(&b, server_url, &out, "--json", "listen", "--count", "3", "--timeout", "20", NULL),
        0);
    PL_ASSERT_INT_EQ(count_of(out, "cut after commit"), 1);
    PL_ASSERT_INT_EQ(count_of(out, "the one after"), 1);
    free(out);
    /* Alice's history has it once too (stored when the 200 came). */
    PL_ASSERT_INT_EQ(run_at(&a, server_url, &out, "history", bob, NULL), 0);
    PL_ASSERT_INT_EQ(count_of(out, "cut after commit"), 1);
    free(out);
    px_free(&px);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* A send that cannot reach the server at all is kept, unchanged, and the
 * next run sends it first. */
PLTEST(cli_send_left_in_outbox_is_sent_by_the_next_run)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct dev a, b;
    char alice[64], bob[64], *out;
    setup(s);
    srand((unsigned)getpid() * 3u);
    name_of(alice, sizeof(alice), "oa");
    name_of(bob, sizeof(bob), "ob");
    dev_init(&a, "a", "alice password 1");
    dev_init(&b, "b", "bob password 22");
    RUN_OK(&a, "register", alice);
    RUN_OK(&b, "register", bob);
    RUN_OK(&a, "send", bob, "session");
    /* SIGKILL while it retries against a closed port: the outbox keeps it. */
    static struct proxy px; /* its threads may outlive the case function */
    px_start(&px, pt_server_port(s));
    px.block_posts = 1; /* the server never sees the message */
    char url[96], err[600];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", px.port);
    snprintf(err, sizeof(err), "%s/send.err", tmpdir);
    const char *args[] = {"send", bob, "kept in the outbox", NULL};
    pid_t pid = spawn(&a, url, NULL, err, NULL, args);
    PL_ASSERT(wait_for_text(err, "retrying the same message", 20));
    kill(pid, SIGKILL);
    wait_exit(pid);
    RUN_OK(&a, "send", bob, "after the crash");
    PL_ASSERT_INT_EQ(
        run_at(&b, server_url, &out, "listen", "--count", "3", "--timeout", "20", NULL), 0);
    char *k = strstr(out, "kept in the outbox"), *l = strstr(out, "after the crash");
    if (!k || !l || k > l || count_of(out, "kept in the outbox") != 1)
        pltest_fail(__FILE__, __LINE__, "outbox not sent once and first: %s", out);
    free(out);
    px_free(&px);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* ---- one home, many processes ---- */

/* Sends count messages "<tag>-<i>" to `to` one after another, in a child
 * process of its own. */
static pid_t sender(const struct dev *d, const char *to, const char *tag, int count,
                    const char *err)
{
    pid_t pid = fork();
    PL_ASSERT(pid >= 0);
    if (pid)
        return pid;
    char text[96];
    int bad = 0;
    for (int i = 0; i < count; i++) {
        snprintf(text, sizeof(text), "%s-%d.", tag, i);
        const char *args[] = {"send", to, text, NULL};
        bad |= wait_exit(spawn(d, server_url, "/dev/null", err, NULL, args)) != 0;
    }
    _exit(bad);
}

static pid_t listener(const struct dev *d, const char *out, const char *err, int count)
{
    char n[16];
    snprintf(n, sizeof(n), "%d", count);
    const char *args[] = {"listen", "--count", n, "--timeout", "240", NULL};
    return spawn(d, server_url, out, err, NULL, args);
}

/* Every "<tag>-<i>." appears exactly `times` times in text. */
static void expect_each(const char *text, const char *tag, int count, int times, const char *what)
{
    char needle[96];
    for (int i = 0; i < count; i++) {
        snprintf(needle, sizeof(needle), ": %s-%d.", tag, i);
        int k = count_of(text, needle);
        if (k != times)
            pltest_fail(__FILE__, __LINE__, "%s: \"%s\" %d times, not %d", what, needle, k, times);
    }
}

/* Waits (deadline 60 s) until the server has n open event streams: a
 * listener reads its starting position before it opens its stream, so
 * senders started after this cannot move a shared home's position past a
 * listener that has not read it yet. */
static void wait_streams(struct pt_server *s, long n)
{
    uint64_t deadline = pt_now_ms() + 60000;
    for (;;) {
        struct pt_resp m;
        pt_get(s, PT_H1, "/metrics", PT_METRICS_TOKEN, &m);
        const char *g = strstr(m.body, "\nparley_sse_streams ");
        long open = g ? atol(g + strlen("\nparley_sse_streams ")) : -1;
        pt_resp_free(&m);
        if (open >= n)
            return;
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "%ld of %ld event streams open", open, n);
        pt_sleep_ms(20);
    }
}

/* Alice and Bob each run two listeners and two senders on one home at the
 * same time: messages both ways and in a group. Each listener shows every
 * message once, no process reports a decryption error (a second decryption
 * of one message would fail as a replay), and each history holds every
 * message exactly once. */
PLTEST(cli_two_listeners_two_senders_one_home)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct dev a, b;
    char alice[64], bob[64], gid[32], *out, path[8][600];
    setup(s);
    srand((unsigned)getpid() * 5u);
    /* 200 one-to-one messages and 100 in the group; a quarter of that
     * under the sanitizers, where each process start costs much more. */
    int per = getenv("ASAN_OPTIONS") ? 13 : 50, gper = getenv("ASAN_OPTIONS") ? 6 : 25;
    name_of(alice, sizeof(alice), "ca");
    name_of(bob, sizeof(bob), "cb");
    dev_init(&a, "a", "alice password 1");
    dev_init(&b, "b", "bob password 22");
    RUN_OK(&a, "register", alice);
    RUN_OK(&b, "register", bob);
    PL_ASSERT_INT_EQ(run_at(&a, server_url, &out, "group", "create", "both", bob, NULL), 0);
    long long id = 0;
    PL_ASSERT(sscanf(out, "group %lld created", &id) == 1);
    free(out);
    snprintf(gid, sizeof(gid), "#%lld", id);
    for (int i = 0; i < 8; i++)
        snprintf(path[i], sizeof(path[i]), "%s/out%d", tmpdir, i);
    /* Each listener of a user gets the other's 2*per direct and 2*gper
     * group messages (a device does not receive its own). */
    int want = 2 * per + 2 * gper;
    pid_t l[4] = {listener(&a, path[0], path[4], want), listener(&a, path[1], path[4], want),
                  listener(&b, path[2], path[5], want), listener(&b, path[3], path[5], want)};
    wait_streams(s, 4);
    pid_t sn[8] = {sender(&a, bob, "a1", per, path[6]),   sender(&a, bob, "a2", per, path[6]),
                   sender(&b, alice, "b1", per, path[7]), sender(&b, alice, "b2", per, path[7]),
                   sender(&a, gid, "ga1", gper, path[6]), sender(&a, gid, "ga2", gper, path[6]),
                   sender(&b, gid, "gb1", gper, path[7]), sender(&b, gid, "gb2", gper, path[7])};
    for (int i = 0; i < 8; i++)
        PL_ASSERT_INT_EQ(wait_exit(sn[i]), 0);
    for (int i = 0; i < 4; i++)
        PL_ASSERT_INT_EQ(wait_exit(l[i]), 0);
    for (int i = 4; i < 8; i++) {
        char *e = slurp(path[i]);
        if (strstr(e, "parley:"))
            pltest_fail(__FILE__, __LINE__, "errors reported: %s", e);
        free(e);
    }
    static const char *const from_b[] = {"b1", "b2", "gb1", "gb2"}, *const from_a[] = {
                                                                        "a1", "a2", "ga1", "ga2"};
    for (int i = 0; i < 4; i++) {
        char *o = slurp(path[i]);
        const char *const *tags = i < 2 ? from_b : from_a;
        for (int k = 0; k < 4; k++)
            expect_each(o, tags[k], k < 2 ? per : gper, 1, "listener");
        free(o);
    }
    /* Histories: each user's holds what it sent and what it received. */
    PL_ASSERT_INT_EQ(run_at(&a, server_url, &out, "history", bob, NULL), 0);
    expect_each(out, "a1", per, 1, "alice's history");
    expect_each(out, "b2", per, 1, "alice's history");
    free(out);
    PL_ASSERT_INT_EQ(run_at(&b, server_url, &out, "history", gid, NULL), 0);
    expect_each(out, "ga1", gper, 1, "bob's group history");
    expect_each(out, "gb2", gper, 1, "bob's group history");
    free(out);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* ---- listen survives a server restart ---- */

/* Bob's listener reaches parleyd through a proxy. parleyd is stopped and
 * a new one started (same database); the listener says it reconnects,
 * resumes from its last event id and prints every message once, including
 * those sent while it was away. A second listener stops on SIGINT with
 * exit status 0. */
PLTEST(cli_listen_reconnects_across_a_restart)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    static struct proxy px; /* its threads may outlive the case function */
    struct dev a, b;
    char alice[64], bob[64], url[96], out[600], err[600];
    setup(s);
    srand((unsigned)getpid() * 7u);
    name_of(alice, sizeof(alice), "ra");
    name_of(bob, sizeof(bob), "rb");
    dev_init(&a, "a", "alice password 1");
    dev_init(&b, "b", "bob password 22");
    RUN_OK(&a, "register", alice);
    RUN_OK(&b, "register", bob);
    px_start(&px, pt_server_port(s));
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", px.port);
    snprintf(out, sizeof(out), "%s/listen.out", tmpdir);
    snprintf(err, sizeof(err), "%s/listen.err", tmpdir);
    const char *args[] = {"listen", "--count", "4", "--timeout", "50", NULL};
    pid_t l = spawn(&b, url, out, err, NULL, args);
    RUN_OK(&a, "send", bob, "before the restart");
    PL_ASSERT(wait_for_text(out, "before the restart", 20));

    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
    PL_ASSERT(wait_for_text(err, "reconnecting", 20));
    s = PT_SERVER_START(NULL);
    snprintf(server_url, sizeof(server_url), "http://127.0.0.1:%u", pt_server_port(s));
    px.target = pt_server_port(s);
    RUN_OK(&a, "send", bob, "after the restart 1");
    RUN_OK(&a, "send", bob, "after the restart 2");
    RUN_OK(&a, "send", bob, "after the restart 3");
    PL_ASSERT_INT_EQ(wait_exit(l), 0);
    char *o = slurp(out);
    PL_ASSERT_INT_EQ(count_of(o, "before the restart"), 1);
    for (int i = 1; i <= 3; i++) {
        char t[64];
        snprintf(t, sizeof(t), "after the restart %d", i);
        if (count_of(o, t) != 1)
            pltest_fail(__FILE__, __LINE__, "\"%s\" not shown once: %s", t, o);
    }
    free(o);

    /* Ctrl-C ends a listener with status 0. */
    snprintf(out, sizeof(out), "%s/listen2.out", tmpdir);
    const char *forever[] = {"listen", NULL};
    l = spawn(&b, server_url, out, "/dev/null", NULL, forever);
    RUN_OK(&a, "send", bob, "ping");
    PL_ASSERT(wait_for_text(out, "ping", 20)); /* it is up and streaming */
    kill(l, SIGINT);
    PL_ASSERT_INT_EQ(wait_exit(l), 0);
    px_free(&px);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* ---- terminal injection ---- */

/* Text and a file name with ANSI/OSC escapes, CR, BEL and
 * a bidi override reach the reader's terminal escaped, in listen and
 * history. (The server refuses control characters in group titles.) */
PLTEST(cli_control_characters_are_escaped)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct dev a, b;
    char alice[64], bob[64], *out;
    setup(s);
    srand((unsigned)getpid() * 11u);
    name_of(alice, sizeof(alice), "ta");
    name_of(bob, sizeof(bob), "tb");
    dev_init(&a, "a", "alice password 1");
    dev_init(&b, "b", "bob password 22");
    RUN_OK(&a, "register", alice);
    RUN_OK(&b, "register", bob);
    const char *evil = "hi \x1b]0;pwned\x07\x1b[2J\r[1] 9: fake\n\xe2\x80\xae"
                       "txt.exe \xc2\x9b"
                       "31m";
    RUN_OK(&a, "send", bob, evil);
    char fpath[600];
    snprintf(fpath, sizeof(fpath), "%s/na\x1b[1mme.txt", tmpdir);
    FILE *f = fopen(fpath, "w");
    PL_ASSERT(f != NULL);
    fputs("content", f);
    fclose(f);
    RUN_OK(&a, "send", "--file", fpath, bob);
    PL_ASSERT_INT_EQ(
        run_at(&b, server_url, &out, "listen", "--count", "2", "--timeout", "20", NULL), 0);
    PL_ASSERT(strpbrk(out, "\x1b\x07\r") == NULL && !strstr(out, "\xe2\x80\xae") &&
              !strstr(out, "\xc2\x9b"));
    if (!strstr(out, "hi \\x1b]0;pwned\\x07\\x1b[2J\\r[1] 9: fake\\n\\u{202e}txt.exe \\u{009b}31m"))
        pltest_fail(__FILE__, __LINE__, "not escaped as expected: %s", out);
    free(out);
    PL_ASSERT_INT_EQ(run_at(&b, server_url, &out, "history", alice, NULL), 0);
    PL_ASSERT(strpbrk(out, "\x1b\x07\r") == NULL && strstr(out, "\\x1b]0;pwned") != NULL);
    /* One line per message: the \n inside the text is escaped too. */
    PL_ASSERT_INT_EQ(count_of(out, "\n"), 2);
    free(out);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
