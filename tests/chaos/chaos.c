/* SPDX-License-Identifier: MIT */
/* Parley - chaos driver: parleyd under kill -9, PostgreSQL kills,      */
/* reconnect storms and a soak; prints the numbers, fails on any loss.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "chaos.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

static const char usage[] =
    "usage: chaos CASE [options] -- PARLEYD ARGS...\n"
    "  CASE: kill-parleyd | kill-pg | storm | soak\n"
    "  --port N       parleyd's cleartext port (PARLEYD ARGS must use it)\n"
    "  --rate R       messages/s (2000)       --cycles N   kills (10)\n"
    "  --cycle-ms MS  traffic between kills (3000)   --users N  (200)\n"
    "  --streams N    storm: event streams (10000)   --soak-s S  soak seconds (120)\n"
    "  --svc CMD      scripts/svc (kill-pg)  --log FILE  parleyd's log (appended)\n"
    "  kill-node: no PARLEYD ARGS; --port is HAProxy's, and each cycle runs\n"
    "  `--node-cmd CMD` I kill, then CMD I start, for node I = 1, 2, ... --nodes N\n";

uint64_t chaos_ms(void)
{
    return lg_now_ns() / 1000000u;
}

/* ---- parleyd ------------------------------------------------------------- */

static bool healthz_ok(unsigned port)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd),
             "curl -s -o /dev/null -m 2 -w '%%{http_code}' http://127.0.0.1:%u/healthz "
             "| grep -qx 200",
             port);
    return system(cmd) == 0;
}

static int wait_healthz(unsigned port)
{
    for (uint64_t end = chaos_ms() + 30000; chaos_ms() < end; usleep(50000))
        if (healthz_ok(port))
            return 0;
    return PL_ETIMEDOUT;
}

int chaos_server_start(struct chaos *c)
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* parleyd must not outlive the driver, however the driver ends. */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        FILE *f = freopen(c->log, "a", stdout);
        if (f)
            (void)dup2(fileno(stdout), 2);
        execv(c->server_argv[0], c->server_argv);
        _exit(127);
    }
    c->server = pid;
    for (uint64_t end = chaos_ms() + 30000; chaos_ms() < end; usleep(50000)) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            c->server = 0;
            return PL_EINTERNAL;
        }
        if (healthz_ok(c->port)) {
            c->server_up = true;
            return 0;
        }
    }
    return PL_ETIMEDOUT;
}

void chaos_server_kill(struct chaos *c, int sig)
{
    if (!c->server)
        return;
    kill(c->server, sig);
    (void)waitpid(c->server, NULL, 0);
    c->server = 0;
    c->server_up = false;
}

/* SIGTERM, then its exit status (0 for a clean, leak-free exit). */
static int server_stop(struct chaos *c)
{
    if (!c->server)
        return -1;
    int st = 0;
    kill(c->server, SIGTERM);
    (void)waitpid(c->server, &st, 0);
    c->server = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int chaos_svc(struct chaos *c, const char *what, const char *verb)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s %s %s >/dev/null", c->svc, what, verb);
    return system(cmd) == 0 ? 0 : PL_EINTERNAL;
}

/* kill-node: `node_cmd I verb` (scripts/cluster node). */
static int node_cmd(struct chaos *c, unsigned node, const char *verb)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s %u %s >/dev/null", c->node_cmd, node, verb);
    fprintf(stderr, "chaos: node%u %s\n", node, verb);
    return system(cmd) == 0 ? 0 : PL_EINTERNAL;
}

struct runner {
    struct chaos *c;
    uint64_t start, end, sent;
    unsigned rate;
    lg_cond_cb *cond;
};

static bool run_cond(void *ctx)
{
    struct runner *r = ctx;
    return chaos_ms() >= r->end || (r->cond && r->cond(r->c));
}

static void run_tick(void *ctx)
{
    struct runner *r = ctx;
    struct chaos *c = r->c;
    chaos_traffic_tick(c);
    if (!r->rate || c->stop_sending)
        return;
    uint64_t due = (chaos_ms() - r->start) * r->rate / 1000;
    unsigned pairs = c->n_users & ~1u;
    while (r->sent < due) {
        r->sent++;
        chaos_send(c, chaos_msg_new(c, (unsigned)(lg_rand(&c->b) % pairs)));
    }
}

static void run_for(struct chaos *c, unsigned ms, unsigned rate)
{
    struct runner r = {c, chaos_ms(), chaos_ms() + ms, 0, rate, NULL};
    (void)lg_loop_run(run_cond, run_tick, &r, 5, ms + 1000);
}

void chaos_run(struct chaos *c, unsigned ms, lg_cond_cb *cond)
{
    struct runner r = {c, chaos_ms(), chaos_ms() + ms, 0, 0, cond};
    (void)lg_loop_run(run_cond, run_tick, &r, 5, ms + 1000);
}

/* ---- setup and the report --------------------------------------------- */

static bool all_ready(void *ctx)
{
    struct chaos *c = ctx;
    for (unsigned i = 0; i < c->n_st; i++)
        if (!c->st[i].ready)
            return false;
    return true;
}

static bool all_acked(void *ctx)
{
    struct chaos *c = ctx;
    return c->acked == c->n_msgs;
}

static int setup(struct chaos *c, unsigned n_streams)
{
    struct lg_bench *b = &c->b;
    b->o.setup_conns = 32;
    b->o.setup_timeout = 300;
    b->o.password = "chaos-password";
    b->o.prefix = "ch";
    /* Each case is its own process with its own users: a tag drawn from the
     * clock repeated when two cases started within two seconds, and the later
     * case then reused the earlier one's users, conversations and
     * client_msg_ids (its history held the earlier case's messages). */
    randombytes_buf(&b->rng, sizeof(b->rng));
    b->rng |= 1;
    snprintf(b->run_tag, sizeof(b->run_tag), "%08" PRIx64, lg_rand(b) & 0xffffffffu);
    char prefix[24];
    snprintf(prefix, sizeof(prefix), "ch%s", b->run_tag);
    b->o.prefix = strdup(prefix);
    b->setup = lg_client_new(LG_H1, 32, 1);
    c->send = lg_client_new(LG_H1, 256, 1);
    c->aux = lg_client_new(LG_H1, 8, 1);
    c->streams = lg_client_new(LG_H1, n_streams, 1);
    if (!b->setup || !c->send || !c->aux || !c->streams)
        return PL_ENOMEM;
    int rc = lg_setup_users(b, c->n_users);
    if (rc == 0)
        rc = lg_setup_direct(b);
    if (rc == 0)
        rc = chaos_streams_init(c, n_streams);
    if (rc < 0)
        return rc;
    c->t0_ms = chaos_ms();
    for (unsigned i = 0; i < n_streams; i++)
        chaos_stream_open(c, i);
    chaos_run(c, 120000, all_ready);
    return all_ready(c) ? 0 : PL_ETIMEDOUT;
}

/* Settles, repeats some sends, reads history; prints the CHAOS line.
 * Returns 0 when nothing was lost or doubled. */
static int report(struct chaos *c, const char *extra)
{
    c->stop_sending = true;
    chaos_settle(c, 60000);
    uint64_t dup_before = c->dup;
    chaos_repeat_check(c, 200);
    chaos_settle(c, 30000);
    uint64_t found = 0, hdups = 0;
    int rc = chaos_verify_history(c, &found, &hdups);
    uint64_t missing = chaos_events_missing(c);
    uint64_t unacked = c->n_msgs - c->acked;
    printf("CHAOS %s: messages=%u acknowledged=%" PRIu64 " found=%" PRIu64 " duplicated=%" PRIu64
           " retry_other_id=%" PRIu64 " retries=%" PRIu64 " st503=%" PRIu64 " net_errors=%" PRIu64
           " st4xx=%" PRIu64 " st5xx=%" PRIu64 " streams=%u dropped=%" PRIu64
           " reestablished=%" PRIu64 " events=%" PRIu64 " events_missing=%" PRIu64
           " events_duplicated=%" PRIu64 "%s\n",
           c->mode, c->n_msgs, c->acked, found, hdups, c->dup - dup_before + dup_before, c->retried,
           c->st_503, c->st_net, c->st_4xx, c->st_5xx, c->n_st, c->drops, c->reopened, c->events,
           missing, c->dup_events, extra ? extra : "");
    fflush(stdout);
    bool ok = rc == 0 && unacked == 0 && found == c->acked && hdups == 0 && c->dup == 0 &&
              missing == 0 && c->st_4xx == 0;
    return ok ? 0 : PL_EINTERNAL;
}

/* ---- cases ------------------------------------------------------------- */

static int case_kill(struct chaos *c, bool pg)
{
    int rc = setup(c, c->n_users);
    for (unsigned k = 0; rc == 0 && k < c->cycles; k++) {
        run_for(c, c->cycle_ms, c->rate);
        if (pg) {
            rc = chaos_svc(c, "pg", "kill");
            run_for(c, 1500, c->rate); /* the outage, under traffic */
            if (rc == 0)
                rc = chaos_svc(c, "pg", "start");
        } else if (c->node_cmd) {
            unsigned victim = k % c->n_nodes + 1;
            rc = node_cmd(c, victim, "kill");
            run_for(c, 1000, c->rate); /* HAProxy notices; streams move */
            if (rc == 0)
                rc = node_cmd(c, victim, "start");
        } else {
            chaos_server_kill(c, SIGKILL);
            run_for(c, 300, c->rate); /* sends and streams fail meanwhile */
            rc = chaos_server_start(c);
        }
        fprintf(stderr, "chaos: cycle %u: %u sent, %" PRIu64 " acked\n", k + 1, c->n_msgs,
                c->acked);
    }
    if (rc < 0) {
        fprintf(stderr, "chaos: %s: setup or restart failed: %s\n", c->mode, pl_strerror(rc));
        return rc;
    }
    return report(c, NULL);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int case_storm(struct chaos *c)
{
    int rc = setup(c, c->storm_streams);
    if (rc < 0)
        return rc;
    unsigned pairs = c->n_users / 2;
    /* Drop every stream at once (the client side closes), send one message
     * per pair while they are all away, then reconnect them all at once. */
    lg_client_free(c->streams);
    for (unsigned i = 0; i < c->n_st; i++)
        c->st[i].open = c->st[i].ready = false, c->st[i].req = NULL;
    c->drops += c->n_st;
    for (unsigned p = 0; p < pairs; p++)
        chaos_send(c, chaos_msg_new(c, 2 * p));
    chaos_run(c, 30000, all_acked);
    c->streams = lg_client_new(LG_H1, c->n_st, 1);
    if (!c->streams)
        return PL_ENOMEM;
    uint64_t t0 = chaos_ms();
    for (unsigned i = 0; i < c->n_st; i++)
        chaos_stream_open(c, i);
    chaos_run(c, 60000, all_ready);
    uint64_t *lat = calloc(c->n_st, sizeof(*lat));
    unsigned n_ready = 0;
    for (unsigned i = 0; lat && i < c->n_st; i++)
        if (c->st[i].ready)
            lat[n_ready++] = c->st[i].ready_ms - t0;
    qsort(lat, n_ready, sizeof(*lat), cmp_u64);
    char extra[160];
    snprintf(extra, sizeof(extra),
             " storm_ready=%u storm_p50_ms=%" PRIu64 " storm_p99_ms=%" PRIu64
             " storm_max_ms=%" PRIu64,
             n_ready, n_ready ? lat[n_ready / 2] : 0, n_ready ? lat[n_ready * 99 / 100] : 0,
             n_ready ? lat[n_ready - 1] : 0);
    bool in_time = n_ready == c->n_st && lat[n_ready - 1] <= 10000;
    free(lat);
    rc = report(c, extra);
    return rc == 0 && in_time ? 0 : PL_EINTERNAL;
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static void on_aux(struct lg_req *r)
{
    struct chaos *c = r->ctx;
    if (r->status == -ECANCELED)
        return;
    if (r->status >= 500 || r->status < 0)
        c->st_5xx++;
    else if (r->status >= 400 && r->status != 429)
        c->st_4xx++;
}

/* Media in the soak: reserve (POST /v1/media), upload to the presigned
 * URL (PUT, 204), then ask for it (GET /v1/media/{id}: a 302 to a
 * download URL, or 200). Each step's callback starts the next. */
#define SOAK_MEDIA_BYTES 32768

static char *media_body(size_t *len)
{
    char *b = malloc(SOAK_MEDIA_BYTES);
    if (!b)
        abort();
    memset(b, 'm', SOAK_MEDIA_BYTES);
    b[0] = '"';
    b[SOAK_MEDIA_BYTES - 1] = '"';
    *len = SOAK_MEDIA_BYTES;
    return b;
}

static void on_media_get(struct lg_req *r)
{
    struct chaos *c = r->ctx;
    if (r->status == -ECANCELED)
        return;
    if (r->status == 302 || r->status == 200)
        c->media_ok++;
    else
        c->st_5xx++, fprintf(stderr, "chaos: media get: %d\n", r->status);
}

static void on_media_put(struct lg_req *r)
{
    struct chaos *c = r->ctx;
    if (r->status == -ECANCELED)
        return;
    if (r->status != 204) {
        c->st_5xx++;
        fprintf(stderr, "chaos: media put: %d %.*s\n", r->status, (int)PL_MIN(r->resp.len, 200),
                pl_buf_head(&r->resp));
        return;
    }
    char path[64];
    snprintf(path, sizeof(path), "/v1/media/%" PRIu64, r->tag);
    lg_client_submit(c->aux,
                     lg_req_new("GET", path, c->b.users[0].token, NULL, 0, on_media_get, c));
}

static void on_media_reserved(struct lg_req *r)
{
    struct chaos *c = r->ctx;
    if (r->status == -ECANCELED)
        return;
    yajl_val t = NULL;
    if (r->status == 201 && pl_buf_append(&r->resp, "", 1) == 0)
        t = yajl_tree_parse(pl_buf_head(&r->resp), NULL, 0);
    const char *up[] = {"upload_url", NULL}, *ip[] = {"media_id", NULL};
    yajl_val url = t ? yajl_tree_get(t, up, yajl_t_string) : NULL;
    yajl_val id = t ? yajl_tree_get(t, ip, yajl_t_number) : NULL;
    if (!url || !id) {
        c->st_5xx++;
        fprintf(stderr, "chaos: media reserve: %d\n", r->status);
    } else {
        size_t len;
        char *body = media_body(&len);
        struct lg_req *put =
            lg_req_new("PUT", YAJL_GET_STRING(url), NULL, body, len, on_media_put, c);
        put->tag = (uint64_t)YAJL_GET_INTEGER(id);
        lg_client_submit(c->aux, put);
    }
    yajl_tree_free(t);
}

static void soak_media(struct chaos *c)
{
    static char hex[2 * crypto_hash_sha256_BYTES + 1];
    if (!hex[0]) {
        size_t len;
        char *b = media_body(&len);
        unsigned char h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(h, (const unsigned char *)b, len);
        sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
        free(b);
    }
    char *body = NULL;
    if (asprintf(&body, "{\"content_type\":\"application/json\",\"size\":%d,\"sha256\":\"%s\"}",
                 SOAK_MEDIA_BYTES, hex) < 0)
        abort();
    lg_client_submit(c->aux, lg_req_new("POST", "/v1/media", c->b.users[0].token, body,
                                        strlen(body), on_media_reserved, c));
}

/* One step of the soak's other traffic: a group message, a search, and a
 * stream cut by the client (it resumes from its last event). */
static void soak_extra(struct chaos *c, unsigned k)
{
    struct lg_user *u = &c->b.users[k % c->n_users];
    char path[96], *body = NULL;
    if (c->b.group && k % 4 == 0 &&
        asprintf(&body, "{\"client_msg_id\":\"g-%s-%u\",\"kind\":\"text\",\"text\":\"group %u\"}",
                 c->b.run_tag, k, k) > 0) {
        snprintf(path, sizeof(path), "/v1/conversations/%" PRId64 "/messages", c->b.group);
        lg_client_submit(
            c->aux, lg_req_new("POST", path, c->b.users[0].token, body, strlen(body), on_aux, c));
    }
    snprintf(path, sizeof(path), "/v1/search?q=chaos%%20%u&limit=5", k % 50);
    lg_client_submit(c->aux, lg_req_new("GET", path, u->token, NULL, 0, on_aux, c));
    if (k % 5 == 0)
        soak_media(c);
    struct chaos_stream *s = &c->st[lg_rand(&c->b) % c->n_st];
    if (s->req && s->ready && s->req->conn)
        lg_conn_fail(s->req->conn, -ECONNRESET);
}

static int case_soak(struct chaos *c)
{
    int rc = setup(c, c->n_users);
    if (rc == 0)
        rc = lg_setup_group(&c->b, c->n_users < 50 ? c->n_users : 50);
    if (rc < 0)
        return rc;
    unsigned steps = c->soak_s * 5, warm = steps * 3 / 10;
    long rss_warm = 0, rss_max = 0, rss_end = 0;
    for (unsigned k = 0; k < steps; k++) {
        run_for(c, 200, c->rate);
        soak_extra(c, k);
        long kb = rss_kib(c->server);
        if (k == warm)
            rss_warm = kb;
        if (k >= warm && kb > rss_max)
            rss_max = kb;
        rss_end = kb;
        if (k % 50 == 0)
            fprintf(stderr, "chaos: soak %u/%u s: %u sent, rss %ld KiB\n", k / 5, c->soak_s,
                    c->n_msgs, kb);
    }
    /* Flat: the end within 10% (plus 8 MiB of allocator slack) of the
     * level reached after warm-up. */
    bool flat = rss_end <= rss_warm + rss_warm / 10 + 8192;
    /* A soak of a few minutes is mostly warm-up (caches, ASan's quarantine,
     * PostgreSQL's buffers): it checks errors and leaks, and only reports
     * RSS; the verdict on RSS needs ten minutes or more. */
    bool judge_rss = c->soak_s >= 600;
    rc = report(c, NULL);
    int st = server_stop(c);
    printf("CHAOS soak-rss: rss_warm_kib=%ld rss_max_kib=%ld rss_end_kib=%ld flat=%s "
           "media_ok=%" PRIu64 " other_failures=%" PRIu64 " exit_status=%d\n",
           rss_warm, rss_max, rss_end,
           !judge_rss ? "not-judged"
           : flat     ? "yes"
                      : "no",
           c->media_ok, c->st_5xx, st);
    return rc == 0 && (flat || !judge_rss) && st == 0 && c->st_5xx == 0 ? 0 : PL_EINTERNAL;
}

/* ---- main ------------------------------------------------------------------ */

static unsigned num(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v > 100000000) {
        fprintf(stderr, "chaos: bad number '%s'\n%s", s, usage);
        exit(2);
    }
    return (unsigned)v;
}

static void parse(int argc, char **argv, struct chaos *c)
{
    if (argc < 2) {
        fputs(usage, stderr);
        exit(2);
    }
    c->mode = argv[1];
    int i = 2;
    for (; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(o, "--port"))
            c->port = num(v);
        else if (!strcmp(o, "--rate"))
            c->rate = num(v);
        else if (!strcmp(o, "--cycles"))
            c->cycles = num(v);
        else if (!strcmp(o, "--cycle-ms"))
            c->cycle_ms = num(v);
        else if (!strcmp(o, "--users"))
            c->n_users = num(v) & ~1u;
        else if (!strcmp(o, "--streams"))
            c->storm_streams = num(v);
        else if (!strcmp(o, "--soak-s"))
            c->soak_s = num(v);
        else if (!strcmp(o, "--svc"))
            c->svc = v;
        else if (!strcmp(o, "--log"))
            c->log = v;
        else if (!strcmp(o, "--node-cmd"))
            c->node_cmd = v;
        else if (!strcmp(o, "--nodes"))
            c->n_nodes = num(v);
        else {
            fprintf(stderr, "chaos: unknown option %s\n%s", o, usage);
            exit(2);
        }
    }
    bool external = !strcmp(c->mode, "kill-node");
    if ((!external && i >= argc - 1) || !c->port || c->n_users < 2 ||
        (external && (!c->node_cmd || !c->n_nodes))) {
        fputs(usage, stderr);
        exit(2);
    }
    c->server_argv = i < argc ? argv + i + 1 : NULL;
}

int main(int argc, char **argv)
{
    static struct chaos c = {.rate = 2000,
                             .cycles = 10,
                             .cycle_ms = 3000,
                             .n_users = 200,
                             .storm_streams = 10000,
                             .soak_s = 120,
                             .svc = "scripts/svc",
                             .log = "/dev/null"};
    parse(argc, argv, &c);
    if (sodium_init() < 0) {
        fprintf(stderr, "chaos: libsodium did not initialise\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, SIG_DFL); /* dying is fine: parleyd dies with us (PR_SET_PDEATHSIG) */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* kill-node drives a cluster that scripts/cluster runs: no server of
     * our own, only HAProxy's port to wait for. */
    bool external = !strcmp(c.mode, "kill-node");
    int rc = external ? wait_healthz(c.port) : chaos_server_start(&c);
    if (rc == 0)
        rc = lg_init((uint16_t)c.port, 1);
    if (rc < 0) {
        fprintf(stderr, "chaos: parleyd did not start: %s (log: %s)\n", pl_strerror(rc), c.log);
        return 1;
    }
    if (!strcmp(c.mode, "kill-parleyd") || external)
        rc = case_kill(&c, false);
    else if (!strcmp(c.mode, "kill-pg"))
        rc = case_kill(&c, true);
    else if (!strcmp(c.mode, "storm"))
        rc = case_storm(&c);
    else if (!strcmp(c.mode, "soak"))
        rc = case_soak(&c);
    else
        rc = PL_EINVAL;
    if (strcmp(c.mode, "soak") != 0)
        (void)server_stop(&c);
    chaos_server_kill(&c, SIGKILL);
    printf("CHAOS %s: %s\n", c.mode, rc == 0 ? "PASS" : "FAIL");
    return rc == 0 ? 0 : 1;
}
