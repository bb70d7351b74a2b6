/* SPDX-License-Identifier: MIT */
/* Parley - integration harness: run parleyd, talk h1/h2c/h2 to it.     */
/* Copyright (c) 2026 Parley developers                                 */

/* Over 600 lines on purpose: process control, the curl client, recording
 * and JSON helpers are one harness that every integration test links. */
#include "harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_DEADLINE_MS 20000
#define STOP_DEADLINE_MS 10000
#define SVC_DEADLINE_MS 60000
#define LOG_TAIL_BYTES 4096

struct pt_server {
    pid_t pid;
    unsigned port, tls_port;
    char dir[256];
    char log[300];
    char port_file[300];
    CURL *curl[PT_PROTO_N];
    struct pt_server *next; /* in the list of live servers */
};

static struct pt_server *live;
static char start_error[512];
static char req_error[CURL_ERROR_SIZE + 64];

uint64_t pt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void pt_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static void print_log_tail(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > LOG_TAIL_BYTES ? size - LOG_TAIL_BYTES : 0;
    char buf[LOG_TAIL_BYTES + 1];
    ssize_t n = pread(fd, buf, LOG_TAIL_BYTES, from);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    fprintf(stderr, "---- tail of %s ----\n%s\n---- end of log ----\n", path, buf);
}

/* Runs at exit of a case that left servers running: it failed or timed
 * out. Kill them (PDEATHSIG would too) and say where their logs are. */
static void on_exit_kill_servers(void)
{
    for (struct pt_server *s = live; s; s = s->next) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        fprintf(stderr, "pt: killed parleyd[%d] left running; log kept at %s\n", (int)s->pid,
                s->log);
        print_log_tail(s->log);
    }
    live = NULL;
}

static void unlink_live(struct pt_server *s)
{
    for (struct pt_server **pp = &live; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            return;
        }
    }
}

/* ---- starting and stopping ---- */

static int spawn(struct pt_server *s, const char *bin, const char *const *argv)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0) {
        s->pid = pid;
        return 0;
    }
    /* parleyd dies with the case, however the case ends. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
        _exit(127);
    /* pltest ignores SIGPIPE in the case; parleyd must cope with the
     * default disposition on its own. */
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(bin, (char *const *)argv);
    fprintf(stderr, "pt: exec %s: %s\n", bin, strerror(errno));
    _exit(127);
}

/* Returns 1 while the process runs; otherwise reaps it into *st. */
static int still_running(pid_t pid, int *st)
{
    return waitpid(pid, st, WNOHANG) == 0;
}

static int read_port_file(struct pt_server *s)
{
    FILE *f = fopen(s->port_file, "re");
    if (!f)
        return 0;
    unsigned port = 0, tls = 0;
    int n = fscanf(f, "%u %u", &port, &tls);
    fclose(f);
    if (n != 2 || port == 0 || port > 65535 || tls == 0 || tls > 65535)
        return 0;
    s->port = port;
    s->tls_port = tls;
    return 1;
}

static int healthz_ok(const struct pt_server *s)
{
    CURL *c = curl_easy_init();
    if (!c)
        return 0;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", s->port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fwrite);
    FILE *sink = fopen("/dev/null", "we");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    if (sink)
        fclose(sink);
    return code == 200;
}

/* Waits for the port file, then for /healthz. Returns 0 or -1 with
 * start_error set; the process is left for the caller to kill. */
static int wait_ready(struct pt_server *s)
{
    uint64_t deadline = pt_now_ms() + START_DEADLINE_MS;
    int have_ports = 0, st = 0;
    while (pt_now_ms() < deadline) {
        if (!still_running(s->pid, &st)) {
            snprintf(start_error, sizeof(start_error),
                     "parleyd exited during startup (%s %d); log: %s",
                     WIFSIGNALED(st) ? "signal" : "status",
                     WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), s->log);
            s->pid = 0;
            return -1;
        }
        if (!have_ports)
            have_ports = read_port_file(s);
        if (have_ports && healthz_ok(s))
            return 0;
        pt_sleep_ms(25);
    }
    snprintf(start_error, sizeof(start_error), "parleyd not ready within %d s (%s); log: %s",
             START_DEADLINE_MS / 1000, have_ports ? "GET /healthz never answered 200"
                                                  : "no port file",
             s->log);
    return -1;
}

static void remove_files(struct pt_server *s)
{
    unlink(s->port_file);
    unlink(s->log);
    rmdir(s->dir);
}

struct pt_server *pt_server_start(const char *const *extra_args)
{
    const char *pg = env_or_null("PARLEY_TEST_PG"), *redis = env_or_null("PARLEY_TEST_REDIS");
    const char *cert = env_or_null("PARLEY_TEST_TLS_CERT");
    const char *key = env_or_null("PARLEY_TEST_TLS_KEY");
    if (!pg || !redis || !cert || !key)
        PL_SKIP("no harness database; run ./scripts/test");
    const char *bin = env_or_null("PARLEY_TEST_BIN");
    if (!bin) {
        snprintf(start_error, sizeof(start_error), "PARLEY_TEST_BIN is not set");
        return NULL;
    }
    static int registered;
    if (!registered) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        atexit(on_exit_kill_servers);
        registered = 1;
    }
    struct pt_server *s = calloc(1, sizeof(*s));
    PL_ASSERT(s);
    const char *tmp = env_or_null("TMPDIR");
    snprintf(s->dir, sizeof(s->dir), "%s/pt-%s-XXXXXX", tmp ? tmp : "/tmp",
             program_invocation_short_name);
    if (!mkdtemp(s->dir)) {
        snprintf(start_error, sizeof(start_error), "mkdtemp %s: %s", s->dir, strerror(errno));
        free(s);
        return NULL;
    }
    snprintf(s->log, sizeof(s->log), "%s/parleyd.log", s->dir);
    snprintf(s->port_file, sizeof(s->port_file), "%s/ports", s->dir);

    const char *argv[64] = {bin,        "--bind",   "127.0.0.1",     "--port", "0",
                            "--tls-port", "0",      "--port-file",   s->port_file,
                            "--tls-cert", cert,     "--tls-key",     key,
                            "--pg",       pg,       "--redis",       redis,
                            "--pwhash-opslimit", "1", "--pwhash-memlimit", "8192",
                            "--workers", "4"};
    size_t argc = 0;
    while (argv[argc])
        argc++;
    for (size_t i = 0; extra_args && extra_args[i]; i++) {
        PL_ASSERT(argc < sizeof(argv) / sizeof(argv[0]) - 1);
        argv[argc++] = extra_args[i];
    }
    argv[argc] = NULL;

    int rc = spawn(s, bin, argv);
    if (rc < 0) {
        snprintf(start_error, sizeof(start_error), "fork: %s", strerror(-rc));
        remove_files(s);
        free(s);
        return NULL;
    }
    s->next = live;
    live = s;
    if (wait_ready(s) < 0) {
        fprintf(stderr, "pt: %s\n", start_error);
        print_log_tail(s->log);
        unlink_live(s);
        if (s->pid > 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
        }
        free(s);
        return NULL;
    }
    return s;
}

const char *pt_server_error(void)
{
    return start_error;
}

struct pt_server *pt__server_start_or_fail(const char *file, int line, const char *const *args)
{
    struct pt_server *s = pt_server_start(args);
    if (!s)
        pltest_fail(file, line, "parleyd did not start: %s", start_error);
    return s;
}

int pt_server_stop(struct pt_server *s)
{
    for (int p = 0; p < PT_PROTO_N; p++)
        if (s->curl[p])
            curl_easy_cleanup(s->curl[p]);
    kill(s->pid, SIGTERM);
    uint64_t deadline = pt_now_ms() + STOP_DEADLINE_MS;
    int st = 0, status = -1;
    while (still_running(s->pid, &st)) {
        if (pt_now_ms() >= deadline) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
            fprintf(stderr, "pt: parleyd[%d] ignored SIGTERM for %d s and was killed\n",
                    (int)s->pid, STOP_DEADLINE_MS / 1000);
            goto out;
        }
        pt_sleep_ms(10);
    }
    status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
out:
    unlink_live(s);
    if (status == 0) {
        remove_files(s);
    } else {
        fprintf(stderr, "pt: parleyd[%d] ended with status %d; log kept at %s\n", (int)s->pid,
                status, s->log);
        print_log_tail(s->log);
    }
    free(s);
    return status;
}

pid_t pt_server_pid(const struct pt_server *s)
{
    return s->pid;
}

unsigned pt_server_port(const struct pt_server *s)
{
    return s->port;
}

unsigned pt_server_tls_port(const struct pt_server *s)
{
    return s->tls_port;
}

const char *pt_server_log(const struct pt_server *s)
{
    return s->log;
}

int pt_connect(const struct pt_server *s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    PL_ASSERT(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        pltest_fail(__FILE__, __LINE__, "connect to 127.0.0.1:%u: %s", s->port, strerror(errno));
    return fd;
}

/* ---- shared services ---- */

static unsigned stopped_mask; /* bit 0: pg, bit 1: redis */

static unsigned svc_bit(const char *what)
{
    return strcmp(what, "pg") == 0 ? 1u : strcmp(what, "redis") == 0 ? 2u : 0u;
}

/* Returns the command's exit status, or -1. No assertions: this also runs
 * from an atexit handler. */
static int svc_run(const char *what, const char *action)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* Its own session: the runner's SIGKILL of a timed-out case must not
         * reach a database that this command (re)started. */
        setsid();
        signal(SIGPIPE, SIG_DFL);
        dup2(2, 1);
        execl("/bin/sh", "sh", "-c", "exec $PARLEY_TEST_SVC \"$@\"", "sh", what, action,
              (char *)NULL);
        _exit(127);
    }
    uint64_t deadline = pt_now_ms() + SVC_DEADLINE_MS;
    int st = 0;
    while (still_running(pid, &st)) {
        if (pt_now_ms() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return -1;
        }
        pt_sleep_ms(20);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void on_exit_restart_services(void)
{
    const char *svc = env_or_null("PARLEY_TEST_SVC");
    if (!svc)
        return;
    if (stopped_mask & 1u)
        fprintf(stderr, "pt: restarting pg: %d\n", svc_run("pg", "start"));
    if (stopped_mask & 2u)
        fprintf(stderr, "pt: restarting redis: %d\n", svc_run("redis", "start"));
    stopped_mask = 0;
}

void pt_svc(const char *what, const char *action)
{
    const char *svc = env_or_null("PARLEY_TEST_SVC");
    if (!svc)
        PL_SKIP("no PARLEY_TEST_SVC to stop and start services; run ./scripts/test");
    static int registered;
    if (!registered) {
        atexit(on_exit_restart_services);
        registered = 1;
    }
    unsigned bit = svc_bit(what);
    if (!bit)
        pltest_fail(__FILE__, __LINE__, "pt_svc: unknown service \"%s\"", what);
    if (strcmp(action, "stop") == 0)
        stopped_mask |= bit; /* before running it: a half-done stop needs a start too */
    int rc = svc_run(what, action);
    if (rc != 0)
        pltest_fail(__FILE__, __LINE__, "`%s %s %s` failed (%d)", svc, what, action, rc);
    if (strcmp(action, "start") == 0)
        stopped_mask &= ~bit;
}
