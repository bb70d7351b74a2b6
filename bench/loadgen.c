/* SPDX-License-Identifier: MIT */
/* Parley - load generator for parleyd: options, scenarios, results.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "lg.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * Talks only to 127.0.0.1. Setup (users, sessions, conversations, event
 * streams) is not timed; then each phase runs warm-up + measured window +
 * drain and prints one `RESULT key=value ...` line on stdout, which
 * scripts/bench turns into its table. Progress goes to stderr.
 */

static const char usage[] =
    "usage: loadgen --port N --scenario 1:1|fanout|idle|idle-live|mixed|presence-burst|\n"
    "       presence-mixed\n"
    "       [options]\n"
    "  --port N | --port-file F  parleyd's cleartext port (or parleyd's port file)\n"
    "  --send-port N[,N...]      send messages through these ports (other nodes of a cluster,\n"
    "                            one per new connection in turn: streams on --port, sends\n"
    "                            relayed across nodes; at most 4); default --port\n"
    "  --proto h1|h2c            HTTP/1.1 (one connection per stream) or h2c (default h1)\n"
    "  --users N                 users, each with one event stream (1:1, idle; 10000)\n"
    "  --members N               group size for fanout, sender included (1000)\n"
    "  --rate R[,R...]           open-loop phases at R messages/s (default 2000; 0 = none)\n"
    "  --saturate W[,W...]       closed-loop phases keeping W messages outstanding\n"
    "  --warmup S --duration S --drain S   per phase (2, 10, 5 seconds)\n"
    "  --send-conns N            connections that send (default: enough for max(256, W)\n"
    "                            requests in flight)\n"
    "  --send-streams N          h2c: concurrent sends per connection (100)\n"
    "  --streams-per-conn N      h2c: event streams per connection (100)\n"
    "  --setup-conns N           concurrent setup requests (64)\n"
    "  --msg-bytes N             message text length (100)\n"
    "  --prefix P --password PW  usernames are P_0, P_1, ... (lg, loadgen-password)\n"
    "  --server-pid PID          parleyd's pid, for the idle scenario's VmRSS\n"
    "  --idle-steps K[,K...]     idle: open streams up to K, then read RSS (10000,50000)\n"
    "  --settle S                idle: seconds to wait before reading RSS (3)\n"
    "  --groups G                mixed: groups of 5-200 members (users / 50)\n"
    "  --search-rate R           mixed: searches per second (20)\n"
    "  --per-min M               idle-live: messages each user receives per minute (1); the\n"
    "                            users are paired in direct conversations and the streams\n"
    "                            (--idle-steps, a multiple of --users) spread over them\n"
    "  --src-addrs N             spread connections over 127.0.0.1..127.0.0.N (1)\n"
    "  --setup-timeout S         deadline of each setup step (300)\n"
    "  --cpu-watch N=PID[+],...  report CPU use of these processes over each measured window\n"
    "                            (a + adds the pid's children, e.g. a postmaster's backends)\n"
    "  --after-setup CMD         run `sh -c CMD` to completion after users and conversations\n"
    "                            exist, before streams open (e.g. ANALYZE)\n"
    "  --on-measure CMD          run `sh -c CMD` in the background when the first measured\n"
    "                            window opens (e.g. a perf record of parleyd)\n"
    "  --subs S                  presence: users each user subscribes to (20)\n"
    "  --burst-ms T              presence-burst: open every stream within T ms (1000)\n"
    "  --churn-rate R            presence-mixed: users coming online per second (200)\n"
    "  --metrics-token T         read parleyd's presence counters from /metrics with T\n"
    "  --seed N --verbose\n";

enum {
    O_PORT = 256,
    O_PORT_FILE,
    O_PROTO,
    O_SCEN,
    O_USERS,
    O_MEMBERS,
    O_RATE,
    O_SAT,
    O_WARM,
    O_DUR,
    O_DRAIN,
    O_SCONNS,
    O_SSTREAMS,
    O_SPC,
    O_SETUP,
    O_MSG,
    O_PREFIX,
    O_PASS,
    O_PID,
    O_STEPS,
    O_SETTLE,
    O_SRC,
    O_STIMEOUT,
    O_SEED,
    O_VERBOSE,
    O_HOOK,
    O_CPU,
    O_AFTER,
    O_SUBS,
    O_BURST,
    O_CHURN,
    O_MTOKEN,
    O_PERMIN,
    O_GROUPS,
    O_SRATE,
    O_SPORT,
    O_HELP
};

static const struct option longopts[] = {
    {"port", 1, 0, O_PORT},
    {"port-file", 1, 0, O_PORT_FILE},
    {"proto", 1, 0, O_PROTO},
    {"scenario", 1, 0, O_SCEN},
    {"users", 1, 0, O_USERS},
    {"members", 1, 0, O_MEMBERS},
    {"rate", 1, 0, O_RATE},
    {"saturate", 1, 0, O_SAT},
    {"warmup", 1, 0, O_WARM},
    {"duration", 1, 0, O_DUR},
    {"drain", 1, 0, O_DRAIN},
    {"send-conns", 1, 0, O_SCONNS},
    {"send-streams", 1, 0, O_SSTREAMS},
    {"streams-per-conn", 1, 0, O_SPC},
    {"setup-conns", 1, 0, O_SETUP},
    {"msg-bytes", 1, 0, O_MSG},
    {"prefix", 1, 0, O_PREFIX},
    {"password", 1, 0, O_PASS},
    {"server-pid", 1, 0, O_PID},
    {"idle-steps", 1, 0, O_STEPS},
    {"settle", 1, 0, O_SETTLE},
    {"src-addrs", 1, 0, O_SRC},
    {"setup-timeout", 1, 0, O_STIMEOUT},
    {"seed", 1, 0, O_SEED},
    {"verbose", 0, 0, O_VERBOSE},
    {"help", 0, 0, O_HELP},
    {"on-measure", 1, 0, O_HOOK},
    {"cpu-watch", 1, 0, O_CPU},
    {"after-setup", 1, 0, O_AFTER},
    {"subs", 1, 0, O_SUBS},
    {"burst-ms", 1, 0, O_BURST},
    {"churn-rate", 1, 0, O_CHURN},
    {"metrics-token", 1, 0, O_MTOKEN},
    {"per-min", 1, 0, O_PERMIN},
    {"groups", 1, 0, O_GROUPS},
    {"search-rate", 1, 0, O_SRATE},
    {"send-port", 1, 0, O_SPORT},
    {0, 0, 0, 0},
};

static unsigned num(const char *s, const char *name, unsigned min, unsigned max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > max) {
        fprintf(stderr, "loadgen: --%s must be %u..%u\n", name, min, max);
        exit(2);
    }
    return (unsigned)v;
}

static double secs(const char *s, const char *name)
{
    char *end;
    double v = strtod(s, &end);
    if (*end || v < 0 || v > 3600) {
        fprintf(stderr, "loadgen: --%s must be 0..3600 seconds\n", name);
        exit(2);
    }
    return v;
}

static unsigned port_from_file(const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned p = 0;
    if (!f || fscanf(f, "%u", &p) != 1 || p == 0 || p > 65535) {
        fprintf(stderr, "loadgen: no port in %s\n", path);
        exit(2);
    }
    fclose(f);
    return p;
}

static void parse(int argc, char **argv, struct lg_opts *o, bool *send_conns_set)
{
    *o = (struct lg_opts){.proto = LG_H1,
                          .users = 10000,
                          .members = 1000,
                          .rates = "2000",
                          .warmup = 2,
                          .duration = 10,
                          .drain = 5,
                          .send_conns = 256,
                          .send_streams = 100,
                          .streams_per_conn = 100,
                          .setup_conns = 64,
                          .msg_bytes = 100,
                          .prefix = "lg",
                          .password = "loadgen-password",
                          .idle_steps = "10000,50000",
                          .src_addrs = 1,
                          .setup_timeout = 300,
                          .settle = 3,
                          .subs = 20,
                          .burst_ms = 1000,
                          .churn_rate = 200,
                          .per_min = 1,
                          .groups = ~0u,
                          .search_rate = 20,
                          .seed = 0x9e3779b97f4a7c15ull};
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_PORT: o->port = (uint16_t)num(optarg, "port", 1, 65535); break;
        case O_PORT_FILE: o->port = (uint16_t)port_from_file(optarg); break;
        case O_PROTO:
            if (strcmp(optarg, "h1") == 0 || strcmp(optarg, "http1") == 0)
                o->proto = LG_H1;
            else if (strcmp(optarg, "h2c") == 0 || strcmp(optarg, "h2") == 0)
                o->proto = LG_H2;
            else
                goto bad;
            break;
        case O_SCEN: o->scenario = optarg; break;
        case O_USERS: o->users = num(optarg, "users", 2, 1000000); break;
        case O_MEMBERS: o->members = num(optarg, "members", 2, 100000); break;
        case O_RATE: o->rates = optarg; break;
        case O_SAT: o->windows = optarg; break;
        case O_WARM: o->warmup = secs(optarg, "warmup"); break;
        case O_DUR: o->duration = secs(optarg, "duration"); break;
        case O_DRAIN: o->drain = secs(optarg, "drain"); break;
        case O_SCONNS:
            o->send_conns = num(optarg, "send-conns", 1, 10000);
            *send_conns_set = true;
            break;
        case O_SSTREAMS: o->send_streams = num(optarg, "send-streams", 1, 10000); break;
        case O_SPC: o->streams_per_conn = num(optarg, "streams-per-conn", 1, 10000); break;
        case O_SETUP: o->setup_conns = num(optarg, "setup-conns", 1, 4096); break;
        case O_MSG: o->msg_bytes = num(optarg, "msg-bytes", 16, 65536); break;
        case O_PREFIX: o->prefix = optarg; break;
        case O_PASS: o->password = optarg; break;
        case O_PID: o->server_pid = (int)num(optarg, "server-pid", 1, 1u << 30); break;
        case O_STEPS: o->idle_steps = optarg; break;
        case O_SETTLE: o->settle = num(optarg, "settle", 0, 600); break;
        case O_SRC: o->src_addrs = num(optarg, "src-addrs", 1, 250); break;
        case O_STIMEOUT: o->setup_timeout = num(optarg, "setup-timeout", 1, 3600); break;
        case O_SEED: o->seed = strtoull(optarg, NULL, 0) | 1; break;
        case O_VERBOSE: lg.verbose = true; break;
        case O_HOOK: o->on_measure = optarg; break;
        case O_CPU: o->cpu_watch = optarg; break;
        case O_AFTER: o->after_setup = optarg; break;
        case O_SUBS: o->subs = num(optarg, "subs", 1, 10000); break;
        case O_BURST: o->burst_ms = num(optarg, "burst-ms", 1, 600000); break;
        case O_CHURN: o->churn_rate = num(optarg, "churn-rate", 1, 100000); break;
        case O_MTOKEN: o->metrics_token = optarg; break;
        case O_GROUPS: o->groups = num(optarg, "groups", 0, 100000); break;
        case O_SRATE: o->search_rate = num(optarg, "search-rate", 0, 100000); break;
        case O_PERMIN: o->per_min = num(optarg, "per-min", 1, 6000); break;
        case O_SPORT: o->send_ports = optarg; break;
        case 'h':
        case O_HELP: fputs(usage, stdout); exit(0);
        default: goto bad;
        }
    }
    if (optind == argc && o->port && o->scenario)
        return;
bad:
    fputs(usage, stderr);
    exit(2);
}

/* Largest number in a comma list (for sizing the stream pool). */
static unsigned list_max(const char *s)
{
    unsigned m = 0;
    while (s && *s) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        m = v > m ? (unsigned)v : m;
        s = *end == ',' ? end + 1 : NULL;
    }
    return m;
}

/* Raises the soft open-file limit to the hard one and says whether that
 * is enough for `want` connections. */
static void raise_nofile(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)want + 64)
            fprintf(stderr,
                    "loadgen: warning: %u connections wanted but the open-file limit is %llu\n",
                    want, (unsigned long long)rl.rlim_cur);
    }
}

static void run_phases(struct lg_bench *b)
{
    const char *s = b->o.rates;
    for (unsigned k = 0; k < 16 && s && *s; k++) {
        char *end;
        double r = strtod(s, &end);
        s = *end == ',' ? end + 1 : NULL;
        if (r > 0)
            lg_run_phase(b, r, 0);
    }
    s = b->o.windows;
    for (unsigned k = 0; k < 16 && s && *s; k++) {
        char *end;
        unsigned long w = strtoul(s, &end, 10);
        s = *end == ',' ? end + 1 : NULL;
        if (w > 0)
            lg_run_phase(b, 0, (unsigned)w);
    }
}

/* Waits up to timeout_s for child pid, then stops it. Returns its exit
 * status, or -1 when it had to be stopped. */
static int reap(int pid, unsigned timeout_s)
{
    int st = 0;
    for (unsigned i = 0; i < timeout_s * 10; i++) {
        if (waitpid(pid, &st, WNOHANG) != 0)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        usleep(100000);
    }
    fprintf(stderr, "loadgen: command %d still running after %u s; stopping it\n", pid, timeout_s);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return -1;
}

/* The end of the data setup: frees the setup pool and runs --after-setup
 * (to completion, at most 5 minutes) before any stream opens. */
static int setup_done(struct lg_bench *b)
{
    lg_client_free(b->setup);
    b->setup = NULL;
    if (!b->o.after_setup)
        return 0;
    fflush(NULL);
    int pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", b->o.after_setup, (char *)NULL);
        _exit(127);
    }
    int st = pid > 0 ? reap(pid, 300) : -1;
    if (st != 0)
        fprintf(stderr, "loadgen: --after-setup command failed (%d)\n", st);
    return st == 0 ? 0 : PL_EINTERNAL;
}

static int run(struct lg_bench *b)
{
    const struct lg_opts *o = &b->o;
    int rc;
    if (strcmp(o->scenario, "1:1") == 0) {
        if ((rc = lg_setup_users(b, o->users & ~1u)) < 0 || (rc = lg_setup_direct(b)) < 0 ||
            (rc = setup_done(b)) < 0 || (rc = lg_setup_streams(b, b->n_users, b->n_users)) < 0)
            return rc;
        run_phases(b);
    } else if (strcmp(o->scenario, "fanout") == 0) {
        if ((rc = lg_setup_users(b, o->members)) < 0 || (rc = lg_setup_group(b, o->members)) < 0 ||
            (rc = setup_done(b)) < 0 || (rc = lg_setup_streams(b, b->n_users, b->n_users)) < 0)
            return rc;
        run_phases(b);
    } else if (strcmp(o->scenario, "presence-burst") == 0) {
        b->subs = o->subs;
        b->sub_stride = 1;
        if ((rc = lg_setup_users(b, o->users)) < 0 || (rc = lg_setup_group(b, o->users)) < 0 ||
            (rc = lg_setup_subs(b)) < 0 || (rc = setup_done(b)) < 0)
            return rc;
        return lg_presence_burst(b);
    } else if (strcmp(o->scenario, "presence-mixed") == 0) {
        b->subs = o->subs;
        b->sub_stride = 2;
        if ((rc = lg_setup_users(b, o->users & ~1u)) < 0 || (rc = lg_setup_subs(b)) < 0 ||
            (rc = setup_done(b)) < 0)
            return rc;
        return lg_presence_mixed(b);
    } else if (strcmp(o->scenario, "mixed") == 0) {
        unsigned groups = o->groups == ~0u ? o->users / 50 : o->groups;
        if ((rc = lg_setup_users(b, o->users & ~1u)) < 0 || (rc = lg_setup_direct(b)) < 0 ||
            (rc = lg_setup_groups(b, groups, 5, PL_MIN(200u, b->n_users))) < 0 ||
            (rc = setup_done(b)) < 0)
            return rc;
        return lg_mixed_run(b);
    } else if (strcmp(o->scenario, "idle-live") == 0) {
        /* Idle streams that each receive a message now and then (issue 13:
         * 100,000 streams, each user one message a minute): RSS per stream
         * first, then one open-loop phase of direct messages at
         * users * per_min / 60 per second, every stream of the recipient
         * counting as a delivery. */
        if ((rc = lg_setup_users(b, o->users & ~1u)) < 0 || (rc = lg_setup_direct(b)) < 0 ||
            (rc = setup_done(b)) < 0 || (rc = lg_run_idle(b)) < 0)
            return rc;
        b->fanout = PL_MAX(1u, list_max(o->idle_steps) / b->n_users);
        lg_run_phase(b, (double)b->n_users * o->per_min / 60.0, 0);
    } else {
        if ((rc = lg_setup_users(b, o->users)) < 0 || (rc = setup_done(b)) < 0)
            return rc;
        return lg_run_idle(b);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct lg_bench b;
    bool send_conns_set = false;
    parse(argc, argv, &b.o, &send_conns_set);
    struct lg_opts *o = &b.o;
    if (strcmp(o->scenario, "1:1") != 0 && strcmp(o->scenario, "fanout") != 0 &&
        strncmp(o->scenario, "idle", 4) != 0 && strncmp(o->scenario, "presence-", 9) != 0 &&
        strcmp(o->scenario, "mixed") != 0) {
        fputs(usage, stderr);
        return 2;
    }
    /* Enough sending concurrency that the pool never caps a phase: the
     * largest saturation window, and at least 256 requests in flight (what
     * 5,000 messages/s at 50 ms needs). h2c streams per connection stay
     * under the server's default limit of 128. */
    unsigned conc = PL_MAX(256u, list_max(o->windows));
    if (!send_conns_set)
        o->send_conns = o->proto == LG_H1 ? conc : (conc + o->send_streams - 1) / o->send_streams;
    bool idle = strncmp(o->scenario, "idle", 4) == 0;
    unsigned streams = idle ? list_max(o->idle_steps)
                            : (strcmp(o->scenario, "fanout") == 0 ? o->members : o->users);
    unsigned spc = o->proto == LG_H2 ? o->streams_per_conn : 1;
    unsigned stream_conns = (streams + spc - 1) / spc;
    raise_nofile(stream_conns + o->send_conns + o->setup_conns);
    if (lg_init(o->port, o->src_addrs) < 0) {
        perror("loadgen: epoll");
        return 1;
    }
    b.rng = o->seed;
    snprintf(b.run_tag, sizeof(b.run_tag), "%lx%x", (unsigned long)time(NULL) & 0xffffff,
             (unsigned)getpid() & 0xfff);
    if (o->proto == LG_H1) {
        b.setup = lg_client_new(LG_H1, o->setup_conns, 1);
        b.streams = lg_client_new(LG_H1, stream_conns, 1);
        b.send = lg_client_new(LG_H1, o->send_conns, 1);
    } else {
        b.setup = lg_client_new(LG_H2, (o->setup_conns + 31) / 32, 32);
        b.streams = lg_client_new(LG_H2, stream_conns, spc);
        b.send = lg_client_new(LG_H2, o->send_conns, o->send_streams);
    }
    for (const char *p = o->send_ports; b.send && p && *p;) {
        char one[8];
        size_t n = strcspn(p, ",");
        snprintf(one, sizeof(one), "%.*s", (int)PL_MIN(n, sizeof(one) - 1), p);
        lg_client_add_port(b.send, (uint16_t)num(one, "send-port", 1, 65535));
        p += n + (p[n] == ',');
    }
    int rc = b.setup && b.streams && b.send ? run(&b) : PL_ENOMEM;
    if (b.streams && b.send)
        fprintf(stderr, "loadgen: done: %s; connections opened %llu, failed %llu\n",
                rc < 0 ? pl_strerror(rc) : "ok",
                (unsigned long long)(b.streams->conn_opened + b.send->conn_opened),
                (unsigned long long)(b.streams->conn_failed + b.send->conn_failed));
    lg_deinit();
    if (b.hook_pid > 0)
        (void)reap(b.hook_pid, 60);
    free(b.users);
    return rc < 0 ? 1 : 0;
}
