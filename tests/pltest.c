/* SPDX-License-Identifier: MIT */
/* Parley - a small forking test runner for unit and integration tests. */
/* Copyright (c) 2026 Parley developers                                 */
#include "pltest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A case that ends with this status was skipped. It never leaves the
 * runner: the runner's own status is 0 or 1 only. */
#define EXIT_SKIP 77
/* How long a timed-out child has between SIGTERM and SIGKILL to run its
 * atexit handlers (stop servers, restart stopped services). */
#define TERM_GRACE_MS 5000
#define REASON_MAX 1024

struct pltest_case {
    char *name;
    pltest_fn *fn;
    enum pt_proto proto;
};

static struct pltest_case *cases;
static size_t n_cases, cap_cases;

/* In a child: the write end of the pipe that carries the failure or skip
 * reason to the runner. -1 in the runner itself. */
static int reason_fd = -1;

static const char *const proto_names[PT_PROTO_N] = {"h1", "h2c", "h2"};

const char *pt_proto_name(enum pt_proto p)
{
    return (unsigned)p < PT_PROTO_N ? proto_names[p] : "?";
}

static void add_case(const char *name, pltest_fn *fn, enum pt_proto proto)
{
    if (n_cases == cap_cases) {
        cap_cases = cap_cases ? cap_cases * 2 : 64;
        cases = realloc(cases, cap_cases * sizeof(*cases));
        if (!cases)
            abort();
    }
    cases[n_cases++] = (struct pltest_case){strdup(name), fn, proto};
    if (!cases[n_cases - 1].name)
        abort();
}

void pltest__register(const char *name, pltest_fn *fn, int proto)
{
    if (proto >= 0) {
        add_case(name, fn, (enum pt_proto)proto);
        return;
    }
    if (proto == PLTEST__PLAIN) {
        add_case(name, fn, PT_H1);
        return;
    }
    for (int p = 0; p < PT_PROTO_N; p++) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s[%s]", name, proto_names[p]);
        add_case(buf, fn, (enum pt_proto)p);
    }
}

/* ---- inside a child ---- */

static void send_reason(const char *msg)
{
    if (reason_fd < 0)
        return;
    size_t n = strlen(msg);
    while (n > 0) {
        ssize_t w = write(reason_fd, msg, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        msg += w;
        n -= (size_t)w;
    }
}

void pltest_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[REASON_MAX];
    int off = snprintf(msg, sizeof(msg), "%s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + off, sizeof(msg) - (size_t)off, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", msg);
    send_reason(msg);
    exit(1);
}

void pltest_skip(const char *file, int line, const char *reason)
{
    (void)file;
    (void)line;
    send_reason(reason ? reason : "skipped");
    exit(EXIT_SKIP);
}

int pltest__str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

void pltest__str_fail(const char *file, int line, const char *ea, const char *eb, const char *a,
                      const char *b)
{
    /* Long bodies are cut: the start is what tells them apart. */
    pltest_fail(file, line, "%s == %s failed: %s%.300s%s != %s%.300s%s", ea, eb, a ? "\"" : "",
                a ? a : "NULL", a ? "\"" : "", b ? "\"" : "", b ? b : "NULL", b ? "\"" : "");
}

void pltest__mem_fail(const char *file, int line, const char *ea, const char *eb, const void *a,
                      const void *b, size_t n)
{
    if (!a || !b)
        pltest_fail(file, line, "%s == %s failed: %s is NULL", ea, eb, !a ? ea : eb);
    const unsigned char *pa = a, *pb = b;
    size_t i = 0;
    while (i < n && pa[i] == pb[i])
        i++;
    pltest_fail(file, line,
                "%s == %s failed (%zu bytes): first difference at offset %zu: 0x%02x != 0x%02x", ea,
                eb, n, i, pa[i], pb[i]);
}

/* The runner's deadline: exit() from a signal handler is not async-signal
 * safe, but the alternative is losing the atexit cleanup that restarts a
 * stopped database, and SIGKILL follows if this ever hangs. */
static void on_sigterm(int sig)
{
    (void)sig;
    static const char msg[] = "timed out; terminated by the runner";
    send_reason(msg);
    exit(1);
}

static _Noreturn void run_child(const struct pltest_case *c, int fd)
{
    reason_fd = fd;
    /* Tests write to sockets the server may close; a write error is what
     * they want to see, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_sigterm);
    c->fn(c->proto);
    fflush(NULL);
    exit(0);
}

/* ---- the runner ---- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Reads the reason pipe until EOF (the child and everything it forked
 * without exec have exited) or the deadline. Returns 1 at EOF, 0 on
 * timeout. deadline 0 means none. */
static int read_reason(int fd, char *buf, size_t cap, size_t *len, uint64_t deadline)
{
    for (;;) {
        int wait_ms = -1;
        if (deadline) {
            uint64_t now = now_ms();
            if (now >= deadline)
                return 0;
            wait_ms = (int)(deadline - now);
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, wait_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? 0 : 1;
        char tmp[256];
        ssize_t r = read(fd, tmp, sizeof(tmp));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 1;
        size_t room = cap - 1 - *len, take = (size_t)r < room ? (size_t)r : room;
        memcpy(buf + *len, tmp, take);
        *len += take;
        buf[*len] = '\0';
    }
}

/* Waits for pid until deadline (0: forever). Returns 1 and *st when it was
 * reaped, 0 on timeout. */
static int reap(pid_t pid, int *st, uint64_t deadline)
{
    for (;;) {
        pid_t r = waitpid(pid, st, deadline ? WNOHANG : 0);
        if (r == pid)
            return 1;
        if (r < 0 && errno != EINTR)
            return 1; /* already gone: nothing more to wait for */
        if (deadline && now_ms() >= deadline)
            return 0;
        if (deadline)
            sleep_ms(10);
    }
}

/* Runs one case and returns 0 (passed), 1 (failed) or 2 (skipped). */
static int run_case(const struct pltest_case *c, unsigned timeout_s)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        printf("FAIL - %s (pipe: %s)\n", c->name, strerror(errno));
        return 1;
    }
    /* Unflushed runner output would otherwise be printed again by the child. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        printf("FAIL - %s (fork: %s)\n", c->name, strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return 1;
    }
    if (pid == 0) {
        close(pfd[0]);
        run_child(c, pfd[1]);
    }
    close(pfd[1]);

    char reason[REASON_MAX] = "";
    size_t len = 0;
    uint64_t deadline = timeout_s ? now_ms() + (uint64_t)timeout_s * 1000u : 0;
    int st = 0, timed_out = 0;
    if (!read_reason(pfd[0], reason, sizeof(reason), &len, deadline) || !reap(pid, &st, deadline)) {
        timed_out = 1;
        kill(pid, SIGTERM);
        uint64_t grace = now_ms() + TERM_GRACE_MS;
        if (!reap(pid, &st, grace)) {
            kill(pid, SIGKILL);
            reap(pid, &st, 0);
        }
    }
    close(pfd[0]);

    /* The reason is one line in the summary; the full text went to stderr. */
    char *nl = strchr(reason, '\n');
    if (nl)
        *nl = '\0';
    if (timed_out) {
        printf("FAIL - %s (timed out after %u s)\n", c->name, timeout_s);
        return 1;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        printf("ok - %s\n", c->name);
        return 0;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_SKIP) {
        printf("skip - %s (%s)\n", c->name, len ? reason : "skipped");
        return 2;
    }
    if (WIFSIGNALED(st))
        printf("FAIL - %s (killed by signal %d, %s%s%s)\n", c->name, WTERMSIG(st),
               strsignal(WTERMSIG(st)), len ? ": " : "", reason);
    else if (len)
        printf("FAIL - %s (%s)\n", c->name, reason);
    else
        printf("FAIL - %s (exited with status %d)\n", c->name, WEXITSTATUS(st));
    return 1;
}

static int matches(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strstr(name, argv[i]))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned timeout_s = 60;
    const char *env = getenv("PLTEST_TIMEOUT");
    if (env && *env) {
        char *end;
        unsigned long v = strtoul(env, &end, 10);
        if (*end || v > 86400) {
            fprintf(stderr, "pltest: PLTEST_TIMEOUT must be seconds (0..86400), not \"%s\"\n", env);
            return 1;
        }
        timeout_s = (unsigned)v;
    }
    unsigned passed = 0, failed = 0, skipped = 0, run = 0;
    for (size_t i = 0; i < n_cases; i++) {
        if (!matches(cases[i].name, argc, argv))
            continue;
        run++;
        switch (run_case(&cases[i], timeout_s)) {
        case 0: passed++; break;
        case 1: failed++; break;
        default: skipped++; break;
        }
    }
    /* A mistyped filter must not look like a green run, and neither may a
     * run in which nothing ran: when every case skipped, exit with meson's
     * skip status so the summary shows a skip, not a pass. */
    int status = failed ? 1 : run > 0 && skipped == run ? 77 : 0;
    if (run == 0 && argc > 1) {
        fprintf(stderr, "pltest: no case matches the filters given\n");
        status = 1;
    }
    printf("pltest: %u passed, %u failed, %u skipped\n", passed, failed, skipped);
    fflush(stdout);
    for (size_t i = 0; i < n_cases; i++)
        free(cases[i].name);
    free(cases);
    return status;
}

long pltest_rss_kb(int pid)
{
    char path[64], line[256];
    if (pid)
        snprintf(path, sizeof(path), "/proc/%d/status", pid);
    else
        snprintf(path, sizeof(path), "/proc/self/status");
    FILE *f = fopen(path, "re");
    if (!f)
        pltest_fail(__FILE__, __LINE__, "open %s: %s", path, strerror(errno));
    long kb = -1;
    while (kb < 0 && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    if (kb < 0)
        pltest_fail(__FILE__, __LINE__, "no VmRSS in %s", path);
    return kb;
}
