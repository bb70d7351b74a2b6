/* SPDX-License-Identifier: MIT */
/* Parley - integration harness: run parleyd, talk h1/h2c/h2 to it.     */
/* Copyright (c) 2026 Parley developers                                 */

/* Process control, the libcurl client (h1, h2), JSON and account helpers:
 * the one harness every integration test links. The h2c client is in
 * harness_h2c.c, recording for the OpenAPI check in harness_record.c, the
 * messaging shorthands in harness_chat.c and the SSE client in sse*.c. */
#include "harness_int.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
    struct pt_client *client[PT_PROTO_N]; /* pt_req()'s connections, main thread only */
    struct pt_server *next;               /* in the list of live servers */
};

/* One connection to a server over one transport; see pt_client_new(). */
struct pt_client {
    struct pt_server *s;
    enum pt_proto p;
    CURL *curl;          /* h1 and h2 */
    struct pt__h2c *h2c; /* h2c */
};

static struct pt_server *live;
static char start_error[512];
/* Per thread: sender threads of one case each have their own clients. */
static _Thread_local char req_error[CURL_ERROR_SIZE + 256];

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

static size_t discard(char *d, size_t size, size_t n, void *ctx)
{
    return size * n;
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
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
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
             START_DEADLINE_MS / 1000,
             have_ports ? "GET /healthz never answered 200" : "no port file", s->log);
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

    /* Per-user quotas are off: tests send, search and fetch keys far
     * faster than people do. The tests of the quotas set their own. */
    /* clang-format off */
    const char *argv[96] = {
        bin, "--bind", "127.0.0.1", "--port", "0", "--tls-port", "0",
        "--port-file", s->port_file,
        "--tls-cert", cert, "--tls-key", key,
        "--pg", pg, "--redis", redis,
        "--pwhash-opslimit", "1", "--pwhash-memlimit", "8192",
        "--workers", "4", "--metrics-token", PT_METRICS_TOKEN,
        "--quota-streams", "0", "--quota-sends-per-s", "0", "--quota-searches-per-s", "0",
        "--quota-groups-per-hour", "0", "--quota-media-bytes-per-day", "0",
        "--keys-fetch-per-min", "0", "--keys-target-per-min", "0",
        /* The test database is shared, the blob stores are not: only the
         * disappearing-messages tests sweep (with a shared blob store). */
        "--expiry-interval", "0",
    };
    /* clang-format on */
    size_t argc = 0;
    while (argv[argc])
        argc++;
    /* A test registered to run on the Redis Cluster (meson sets
     * PARLEY_TEST_ON_CLUSTER for a selection) gets it for every server. */
    if (env_or_null("PARLEY_TEST_ON_CLUSTER")) {
        argv[argc++] = "--redis-cluster";
        argv[argc++] = pt_redis_cluster();
    }
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
        pt_client_free(s->client[p]);
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
    if (status == 0 && !env_or_null("PARLEY_TEST_KEEP_LOGS")) {
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

long pt_server_rss_kb(const struct pt_server *s)
{
    return pltest_rss_kb((int)s->pid);
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

/* bit 0: pg, bit 1: redis, bit 2: the Redis Cluster, bit 3: the standby */
static unsigned stopped_mask;

static unsigned svc_bit(const char *what)
{
    return strcmp(what, "pg") == 0        ? 1u
           : strcmp(what, "redis") == 0   ? 2u
           : strcmp(what, "standby") == 0 ? 8u
                                          : 0u;
}

static int svc_run3(const char *what, const char *action, const char *arg, char *out, size_t cap);

/* Returns the command's exit status, or -1. No assertions: this also runs
 * from an atexit handler. */
static int svc_run(const char *what, const char *action)
{
    return svc_run3(what, action, NULL, NULL, 0);
}

/* The same with an optional third argument, and the first line the
 * command prints in out (cap bytes) when out is not NULL. */
static int svc_run3(const char *what, const char *action, const char *arg, char *out, size_t cap)
{
    int fds[2] = {-1, -1};
    if (out && pipe(fds) < 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        if (out) {
            close(fds[0]);
            close(fds[1]);
        }
        return -1;
    }
    if (pid == 0) {
        /* Its own session: the runner's SIGKILL of a timed-out case must not
         * reach a database that this command (re)started. */
        setsid();
        signal(SIGPIPE, SIG_DFL);
        dup2(out ? fds[1] : 2, 1);
        if (out) {
            close(fds[0]);
            close(fds[1]);
        }
        execl("/bin/sh", "sh", "-c", "exec $PARLEY_TEST_SVC \"$@\"", "sh", what, action, arg,
              (char *)NULL);
        _exit(127);
    }
    if (out) {
        /* The output is a line or two: read it all before waiting. */
        close(fds[1]);
        size_t n = 0;
        ssize_t k;
        while (cap && (k = read(fds[0], out + n, cap - 1 - n)) > 0)
            n += (size_t)k;
        out[cap ? n : 0] = '\0';
        out[strcspn(out, "\n")] = '\0';
        close(fds[0]);
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
    if (stopped_mask & 4u)
        fprintf(stderr, "pt: restoring the redis cluster: %d\n", svc_run("rcluster", "start"));
    if (stopped_mask & 8u)
        fprintf(stderr, "pt: restarting standby: %d\n", svc_run("standby", "start"));
    stopped_mask = 0;
}

void pt_svc_require(void)
{
    if (!env_or_null("PARLEY_TEST_SVC"))
        PL_SKIP("no PARLEY_TEST_SVC to stop and start services; run ./scripts/test");
}

void pt_svc(const char *what, const char *action)
{
    pt_svc_require();
    const char *svc = env_or_null("PARLEY_TEST_SVC");
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

/* ---- the Redis Cluster (issue 14) ---- */

const char *pt_redis_cluster(void)
{
    const char *seeds = env_or_null("PARLEY_TEST_REDIS_CLUSTER");
    if (!seeds)
        PL_SKIP("no PARLEY_TEST_REDIS_CLUSTER (./scripts/test starts one)");
    return seeds;
}

unsigned pt_redis_cluster_kill_master(const char *key)
{
    pt_redis_cluster();
    pt_svc_require();
    static int registered;
    if (!registered) {
        atexit(on_exit_restart_services);
        registered = 1;
    }
    stopped_mask |= 4u;
    char out[64];
    int rc = svc_run3("rcluster", "kill-master", key, out, sizeof(out));
    unsigned port = (unsigned)strtoul(out, NULL, 10);
    if (rc != 0 || port == 0)
        pltest_fail(__FILE__, __LINE__, "`rcluster kill-master %s` failed (%d)", key, rc);
    return port;
}

void pt_redis_cluster_restore(void)
{
    pt_svc_require();
    int rc = svc_run("rcluster", "start");
    if (rc != 0)
        pltest_fail(__FILE__, __LINE__, "`rcluster start` failed (%d)", rc);
    stopped_mask &= ~4u;
}

/* ---- HTTP client ---- */

struct growbuf {
    char *p;
    size_t len, cap;
};

static void grow_append(struct growbuf *b, const void *d, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        PL_ASSERT(b->p);
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static size_t on_body(char *d, size_t size, size_t n, void *ctx)
{
    grow_append(ctx, d, size * n);
    return size * n;
}

static size_t on_header(char *d, size_t size, size_t n, void *ctx)
{
    struct growbuf *b = ctx;
    /* Keep only the final response: a 100 Continue starts over. */
    if (size * n >= 5 && memcmp(d, "HTTP/", 5) == 0)
        b->len = 0;
    grow_append(b, d, size * n);
    return size * n;
}

const char *pt_req_error(void)
{
    return req_error;
}

void pt__set_req_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(req_error, sizeof(req_error), fmt, ap);
    va_end(ap);
}

static void record(const char *method, const char *path, struct pt_resp *r)
{
    /* A compressed body is checked by the test that asked for it; the
     * OpenAPI check reads the same answer uncompressed elsewhere. */
    if (pt_resp_header(r, "content-encoding"))
        return;
    pt__record_response(method, path, r->status, r->_ctype, r->body, r->len);
}

struct pt_client *pt_client_new(struct pt_server *s, enum pt_proto p)
{
    PL_ASSERT((unsigned)p < PT_PROTO_N);
    struct pt_client *c = calloc(1, sizeof(*c));
    PL_ASSERT(c);
    c->s = s;
    c->p = p;
    return c;
}

void pt_client_free(struct pt_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    pt__h2c_free(c->h2c);
    free(c);
}

static CURL *handle_for(struct pt_client *c)
{
    if (!c->curl) {
        c->curl = curl_easy_init();
        PL_ASSERT(c->curl);
    }
    /* Options go back to defaults; the live connection stays cached. */
    curl_easy_reset(c->curl);
    return c->curl;
}

static struct curl_slist *build_headers(const char *token, const char *content_type, int has_body,
                                        const char *const *extra)
{
    struct curl_slist *h = NULL;
    char line[PT_TOKEN_MAX + 256];
    /* No "Expect: 100-continue" round trip for larger bodies. */
    h = curl_slist_append(h, "Expect:");
    if (token) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, line);
    }
    if (content_type) {
        snprintf(line, sizeof(line), "Content-Type: %s", content_type);
        h = curl_slist_append(h, line);
    } else if (has_body) {
        /* curl would otherwise claim application/x-www-form-urlencoded. */
        h = curl_slist_append(h, "Content-Type:");
    }
    for (size_t i = 0; extra && extra[i]; i++)
        h = curl_slist_append(h, extra[i]);
    PL_ASSERT(h);
    return h;
}

void pt__curl_transport(CURL *c, const struct pt_server *s, enum pt_proto p, const char *path)
{
    char url[65536]; /* room for 10 KiB search queries, percent-encoded */
    if (p == PT_H2) {
        snprintf(url, sizeof(url), "https://127.0.0.1:%u%s", s->tls_port, path);
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(c, CURLOPT_CAINFO, getenv("PARLEY_TEST_TLS_CERT"));
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    } else {
        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", s->port, path);
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
                         p == PT_H2C ? (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                                     : (long)CURL_HTTP_VERSION_1_1);
        /* pt_req() sends h2c through harness_h2c.c; see there why. */
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
}

static void report_gone(struct pt_server *s)
{
    /* kill(0) rather than waitpid(): this may run on a sender thread, and
     * reaping belongs to pt_server_stop(). A zombie counts as gone. */
    char path[64], stat[256] = "";
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)s->pid);
    FILE *f = fopen(path, "re");
    if (f) {
        if (!fgets(stat, sizeof(stat), f))
            stat[0] = '\0';
        fclose(f);
    }
    const char *st = strrchr(stat, ')');
    if (kill(s->pid, 0) < 0 || (st && st[1] == ' ' && st[2] == 'Z'))
        fprintf(stderr, "pt: parleyd[%d] is gone; log: %s\n", (int)s->pid, s->log);
}

static int req_h2c(struct pt_client *c, const char *method, const char *path, const char *token,
                   const char *content_type, const char *body, size_t len,
                   const char *const *headers, struct pt_resp *out)
{
    size_t cap = 3;
    for (size_t i = 0; headers && headers[i]; i++)
        cap++;
    char **lines = calloc(cap, sizeof(*lines));
    PL_ASSERT(lines);
    size_t n = 0;
    if (token && asprintf(&lines[n], "Authorization: Bearer %s", token) >= 0)
        n++;
    if (content_type && asprintf(&lines[n], "Content-Type: %s", content_type) >= 0)
        n++;
    for (size_t i = 0; headers && headers[i]; i++) {
        lines[n] = strdup(headers[i]);
        PL_ASSERT(lines[n]);
        n++;
    }
    lines[n] = NULL;
    /* Like curl, reconnect when the last connection went away. */
    if (!pt__h2c_usable(c->h2c)) {
        pt__h2c_free(c->h2c);
        c->h2c = pt__h2c_open(c->s->port);
    }
    char err[256] = "connection refused";
    int rc =
        c->h2c ? pt__h2c_req(c->h2c, method, path, lines, body, len, out, err, sizeof(err)) : -1;
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    if (rc < 0) {
        snprintf(req_error, sizeof(req_error), "%s %s over h2c: %s", method, path, err);
        report_gone(c->s);
        return -1;
    }
    record(method, path, out);
    return 0;
}

int pt_client_req(struct pt_client *cl, const char *method, const char *path, const char *token,
                  const char *content_type, const char *body, size_t len,
                  const char *const *headers, struct pt_resp *out)
{
    memset(out, 0, sizeof(*out));
    struct pt_server *s = cl->s;
    enum pt_proto p = cl->p;
    if (p == PT_H2C)
        return req_h2c(cl, method, path, token, content_type, body, len, headers, out);
    CURL *c = handle_for(cl);
    pt__curl_transport(c, s, p, path);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0 || body)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    struct curl_slist *hdrs = build_headers(token, content_type, body != NULL, headers);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    struct growbuf b = {0}, h = {0};
    grow_append(&b, "", 0);
    grow_append(&h, "", 0);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hdrs);
    out->body = b.p;
    out->len = b.len;
    out->headers_raw = h.p;
    if (rc != CURLE_OK) {
        snprintf(req_error, sizeof(req_error), "%s %s over %s: %s", method, path, pt_proto_name(p),
                 errbuf[0] ? errbuf : curl_easy_strerror(rc));
        report_gone(s);
        return -1;
    }
    long version = 0;
    char *ctype = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &version);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
    out->_ctype = ctype ? strdup(ctype) : NULL;
    out->http_version = version == CURL_HTTP_VERSION_2_0   ? 20
                        : version == CURL_HTTP_VERSION_1_1 ? 11
                                                           : 10;
    long want = p == PT_H1 ? 11 : 20;
    if (out->http_version != want)
        pltest_fail(__FILE__, __LINE__,
                    "%s %s: asked for %s but the response came over HTTP/%ld.%ld", method, path,
                    pt_proto_name(p), out->http_version / 10, out->http_version % 10);
    record(method, path, out);
    return 0;
}

int pt_req_h(struct pt_server *s, enum pt_proto p, const char *method, const char *path,
             const char *token, const char *content_type, const char *body, size_t len,
             const char *const *headers, struct pt_resp *out)
{
    PL_ASSERT((unsigned)p < PT_PROTO_N);
    if (!s->client[p])
        s->client[p] = pt_client_new(s, p);
    return pt_client_req(s->client[p], method, path, token, content_type, body, len, headers, out);
}

int pt_req(struct pt_server *s, enum pt_proto p, const char *method, const char *path,
           const char *token, const char *content_type, const char *body, size_t len,
           struct pt_resp *out)
{
    return pt_req_h(s, p, method, path, token, content_type, body, len, NULL, out);
}

void pt_get(struct pt_server *s, enum pt_proto p, const char *path, const char *token,
            struct pt_resp *out)
{
    if (pt_req(s, p, "GET", path, token, NULL, NULL, 0, out) < 0)
        pltest_fail(__FILE__, __LINE__, "request failed: %s", req_error);
}

long long pt_metric(struct pt_server *s, enum pt_proto p, const char *name)
{
    struct pt_resp r;
    pt_get(s, p, "/metrics", PT_METRICS_TOKEN, &r);
    PT_ASSERT_STATUS(&r, 200);
    long long v = -1;
    size_t n = strlen(name);
    for (const char *l = r.body; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
        if (strncmp(l, name, n) == 0 && l[n] == ' ')
            v = strtoll(l + n + 1, NULL, 10);
    pt_resp_free(&r);
    if (v < 0)
        pltest_fail(__FILE__, __LINE__, "no %s in /metrics", name);
    return v;
}

void pt_send_json(struct pt_server *s, enum pt_proto p, const char *method, const char *path,
                  const char *token, const char *json, struct pt_resp *out)
{
    if (pt_req(s, p, method, path, token, "application/json", json, strlen(json), out) < 0)
        pltest_fail(__FILE__, __LINE__, "request failed: %s", req_error);
}

struct hdr_copy {
    struct hdr_copy *next;
    char value[];
};

const char *pt_resp_header(struct pt_resp *r, const char *name)
{
    size_t nlen = strlen(name);
    const char *line = r->headers_raw;
    /* The first line is the status line; headers follow, one per line. */
    while (line && (line = strchr(line, '\n')) != NULL) {
        line++;
        if (strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
            continue;
        const char *v = line + nlen + 1;
        v += strspn(v, " \t");
        size_t vlen = strcspn(v, "\r\n");
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        struct hdr_copy *c = malloc(sizeof(*c) + vlen + 1);
        PL_ASSERT(c);
        memcpy(c->value, v, vlen);
        c->value[vlen] = '\0';
        c->next = r->_copies;
        r->_copies = c;
        return c->value;
    }
    return NULL;
}

const char *pt_resp_ctype(struct pt_resp *r)
{
    return r->_ctype;
}

void pt_resp_free(struct pt_resp *r)
{
    free(r->body);
    free(r->headers_raw);
    free(r->_ctype);
    if (r->_json)
        yajl_tree_free(r->_json);
    for (struct hdr_copy *c = r->_copies, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    memset(r, 0, sizeof(*r));
}

void pt__assert_status(const char *file, int line, struct pt_resp *r, long status)
{
    if (r->status != status)
        pltest_fail(file, line, "expected status %ld, got %ld; body: %.500s", status, r->status,
                    r->body ? r->body : "");
}

void pt__assert_problem(const char *file, int line, struct pt_resp *r, long status,
                        const char *slug)
{
    pt__assert_status(file, line, r, status);
    const char *ct = r->_ctype ? r->_ctype : "";
    if (strncmp(ct, "application/problem+json", 24) != 0)
        pltest_fail(file, line, "expected application/problem+json, got \"%s\"", ct);
    yajl_val t = pt_json(r);
    char want[128];
    snprintf(want, sizeof(want), "/problems/%s", slug);
    const char *type = pt_json_str(t, "type", NULL);
    if (!type || strcmp(type, want) != 0)
        pltest_fail(file, line, "expected problem type %s, got %s; body: %.500s", want,
                    type ? type : "none", r->body);
    if (pt_json_int(t, "status", NULL) != status)
        pltest_fail(file, line, "problem \"status\" member is not %ld: %.500s", status, r->body);
    if (!pt_json_str(t, "title", NULL))
        pltest_fail(file, line, "problem has no title: %.500s", r->body);
    const char *rid = pt_resp_header(r, "X-Request-Id");
    const char *brid = pt_json_str(t, "request_id", NULL);
    if (!rid || !brid || strcmp(rid, brid) != 0)
        pltest_fail(file, line, "problem request_id \"%s\" differs from X-Request-Id \"%s\"",
                    brid ? brid : "(none)", rid ? rid : "(none)");
}

/* ---- JSON ---- */

yajl_val pt_json(struct pt_resp *r)
{
    if (r->_json)
        return r->_json;
    char err[256] = "";
    r->_json = yajl_tree_parse(r->body ? r->body : "", err, sizeof(err));
    if (!r->_json)
        pltest_fail(__FILE__, __LINE__, "response (status %ld) is not JSON (%s): %.500s", r->status,
                    err, r->body ? r->body : "");
    return r->_json;
}

static yajl_val json_walk(yajl_val v, va_list ap)
{
    for (const char *k; v && (k = va_arg(ap, const char *)) != NULL;) {
        if (YAJL_IS_ARRAY(v) && k[0] && strspn(k, "0123456789") == strlen(k)) {
            size_t i = strtoul(k, NULL, 10);
            v = i < v->u.array.len ? v->u.array.values[i] : NULL;
        } else if (YAJL_IS_OBJECT(v)) {
            yajl_val next = NULL;
            for (size_t i = 0; i < v->u.object.len; i++) {
                if (strcmp(v->u.object.keys[i], k) == 0) {
                    next = v->u.object.values[i];
                    break;
                }
            }
            v = next;
        } else {
            v = NULL;
        }
    }
    return v;
}

yajl_val pt_json_get(yajl_val v, ...)
{
    va_list ap;
    va_start(ap, v);
    v = json_walk(v, ap);
    va_end(ap);
    return v;
}

const char *pt_json_str(yajl_val v, ...)
{
    va_list ap;
    va_start(ap, v);
    v = json_walk(v, ap);
    va_end(ap);
    return YAJL_IS_STRING(v) ? v->u.string : NULL;
}

int64_t pt_json_int(yajl_val v, ...)
{
    va_list ap;
    va_start(ap, v);
    v = json_walk(v, ap);
    va_end(ap);
    return YAJL_IS_INTEGER(v) ? (int64_t)v->u.number.i : PT_JSON_MISSING;
}

/* ---- accounts ---- */

int64_t pt_user_register(struct pt_server *s, enum pt_proto p, const char *prefix,
                         char out_username[PT_USERNAME_MAX])
{
    PL_ASSERT(strlen(prefix) <= 19);
    unsigned char rnd[6];
    PL_ASSERT_INT_EQ(getrandom(rnd, sizeof(rnd), 0), sizeof(rnd));
    snprintf(out_username, PT_USERNAME_MAX, "%s_%02x%02x%02x%02x%02x%02x", prefix, rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5]);
    char body[256];
    snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", out_username,
             PT_PASSWORD);
    struct pt_resp r;
    pt_send_json(s, p, "POST", "/v1/users", NULL, body, &r);
    PT_ASSERT_STATUS(&r, 201);
    int64_t id = pt_json_int(pt_json(&r), "id", NULL);
    if (id == PT_JSON_MISSING)
        pltest_fail(__FILE__, __LINE__, "registration answer has no integer id: %s", r.body);
    pt_resp_free(&r);
    return id;
}

int64_t pt_login(struct pt_server *s, enum pt_proto p, const char *username, const char *password,
                 char out_token[PT_TOKEN_MAX])
{
    char body[1280];
    snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", username, password);
    struct pt_resp r;
    pt_send_json(s, p, "POST", "/v1/sessions", NULL, body, &r);
    PT_ASSERT_STATUS(&r, 201);
    yajl_val t = pt_json(&r);
    const char *token = pt_json_str(t, "token", NULL);
    int64_t device = pt_json_int(t, "device_id", NULL);
    if (!token || strlen(token) >= PT_TOKEN_MAX || device == PT_JSON_MISSING)
        pltest_fail(__FILE__, __LINE__, "login answer lacks token or device_id: %s", r.body);
    strcpy(out_token, token);
    pt_resp_free(&r);
    return device;
}

/* ---- private directories ---- */

static char temp_dirs[8][128];
static unsigned n_temp_dirs;

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void rm_temp_dirs(void)
{
    for (unsigned i = 0; i < n_temp_dirs; i++)
        nftw(temp_dirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *pt_temp_dir(const char *tag)
{
    PL_ASSERT(n_temp_dirs < sizeof(temp_dirs) / sizeof(temp_dirs[0]));
    const char *tmp = env_or_null("TMPDIR");
    char *d = temp_dirs[n_temp_dirs];
    snprintf(d, sizeof(temp_dirs[0]), "%s/pt-%s-XXXXXX", tmp ? tmp : "/tmp", tag);
    if (!mkdtemp(d))
        pltest_fail(__FILE__, __LINE__, "mkdtemp %s: %s", d, strerror(errno));
    if (n_temp_dirs++ == 0)
        atexit(rm_temp_dirs);
    return d;
}
