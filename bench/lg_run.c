/* SPDX-License-Identifier: MIT */
/* Parley - load generator: the timed phases and the idle-stream measurement. */
/* Copyright (c) 2026 Parley developers                                 */
#include "lg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * How a message is followed. The text of every message starts with
 * "lg:<send time, monotonic ns>:<sender index>:" and is padded to
 * o.msg_bytes. Each stream knows its user's index (r->tag), so a
 * message.created event is a delivery when the sender is someone else and an
 * echo (the sender's own copy) otherwise. Latency is receive time minus the
 * embedded send time; both come from this process's monotonic clock.
 *
 * Open loop: message i is due at t0 + i/rate and carries that *intended*
 * time, not the time it left, so a send that waits for a free connection (or
 * a server that stalls) shows up in the latency instead of hiding from it
 * (coordinated omission). Sends are only skipped, and counted, when more
 * than one second of them is already queued.
 *
 * Closed loop (saturation): keep `window` messages outstanding, where a
 * message is outstanding until its 201 arrived *and* all its deliveries did.
 * Gating on deliveries too means a server that stores faster than it
 * delivers cannot push the streams into unbounded backlog; the phase then
 * measures the end-to-end capacity.
 */

static bool retryable(int st)
{
    return st < 0 || st == 429 || st == 503;
}

/* Parses decimal digits at *p (bounded by end); advances *p past them. */
static bool digits(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    while (s < end && *s >= '0' && *s <= '9')
        v = v * 10 + (uint64_t)(*s++ - '0');
    if (s == *p)
        return false;
    *p = s;
    *out = v;
    return true;
}

static void on_stream_event(struct lg_req *r, const char *ev, const char *data, size_t len)
{
    struct lg_bench *b = r->ctx;
    if (strcmp(ev, "message.created") == 0) {
        const char *m = memmem(data, len, "\"lg:", 4), *end = data + len;
        uint64_t ns, sender;
        if (!m) {
            b->n.other_events++;
            return;
        }
        m += 4;
        if (!digits(&m, end, &ns) || m == end || *m++ != ':' || !digits(&m, end, &sender))
            return;
        if (sender == r->tag) {
            b->n.echo++;
            return;
        }
        b->n.deliv++;
        if (b->measuring) {
            uint64_t now = lg_now_ns();
            lg_hist_add(&b->lat, now > ns ? (now - ns) / 1000 : 0);
        }
    } else if (strcmp(ev, "ready") == 0) {
        if (!r->flag) {
            r->flag = true;
            b->n.ready++;
        }
    } else {
        b->n.other_events++;
    }
}

static void on_stream_end(struct lg_req *r)
{
    struct lg_bench *b = r->ctx;
    if (r->status == -ECANCELED)
        return;
    if (!r->flag && retryable(r->status) && r->tries < 5 &&
        lg_run_stream_open(b, (unsigned)r->tag, r->tries + 1u) == 0)
        return;
    if (b->n.closed++ < 3)
        fprintf(stderr, "loadgen: stream of user %" PRIu64 " ended (status %d, %s ready)\n", r->tag,
                r->status, r->flag ? "was" : "never");
}

int lg_run_stream_open(struct lg_bench *b, unsigned u, unsigned tries)
{
    struct lg_req *r =
        lg_req_new("GET", "/v1/events", b->users[u].token, NULL, 0, on_stream_end, b);
    if (!r)
        return PL_ENOMEM;
    lg_req_set_sse(r, on_stream_event);
    r->tag = u;
    r->tries = (uint8_t)tries;
    lg_client_submit(b->streams, r);
    return 0;
}

/* ---- sending ------------------------------------------------------------- */

static void on_sent(struct lg_req *r)
{
    struct lg_bench *b = r->ctx;
    if (r->status == -ECANCELED)
        return;
    b->n.resp++;
    int st = r->status;
    if (st == 201) {
        b->n.ok++;
        if (b->measuring) {
            uint64_t now = lg_now_ns(), ts = r->tag;
            lg_hist_add(&b->lat_w, now > ts ? (now - ts) / 1000 : 0);
        }
        return;
    }
    uint64_t *c = st < 0      ? &b->n.st_net
                  : st == 429 ? &b->n.st_429
                  : st == 503 ? &b->n.st_503
                  : st >= 500 ? &b->n.st_5xx
                              : &b->n.st_4xx;
    if ((*c)++ < 3)
        fprintf(stderr, "loadgen: send failed: status %d: %.*s\n", st,
                (int)PL_MIN(r->resp.len, 300), pl_buf_head(&r->resp));
}

static void send_one(struct lg_bench *b, uint64_t ts)
{
    unsigned s = 0;
    int64_t conv = b->group;
    if (!conv) {
        s = (unsigned)(lg_rand(b) % (b->n_users & ~1u));
        conv = b->users[s].conv;
    }
    char path[64];
    snprintf(path, sizeof(path), "/v1/conversations/%" PRId64 "/messages", conv);
    size_t cap = b->o.msg_bytes + 160;
    char *body = malloc(cap);
    if (!body)
        return;
    int n = snprintf(body, cap,
                     "{\"client_msg_id\":\"%s-%" PRIu64
                     "\",\"kind\":\"text\",\"text\":\"lg:%" PRIu64 ":%u:",
                     b->run_tag, ++b->msg_seq, ts, s);
    size_t text_start = (size_t)(strstr(body, "\"lg:") - body) + 1, len = (size_t)n;
    while (len - text_start < b->o.msg_bytes && len < cap - 3)
        body[len++] = 'x';
    memcpy(body + len, "\"}", 3);
    len += 2;
    struct lg_req *r = lg_req_new("POST", path, b->users[s].token, body, len, on_sent, b);
    if (!r)
        return;
    r->tag = ts;
    b->n.sent++;
    lg_client_submit(b->send, r);
}

/* Starts o.on_measure (a profiler, typically) in the background once; main()
 * waits for it before exiting. */
void lg_fire_hook(struct lg_bench *b)
{
    if (!b->o.on_measure || b->hook_pid)
        return;
    fflush(NULL);
    int pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", b->o.on_measure, (char *)NULL);
        _exit(127);
    }
    b->hook_pid = pid > 0 ? pid : -1;
}

/* ---- phases --------------------------------------------------------------- */

struct phase {
    struct lg_bench *b;
    double rate;
    unsigned window;
    uint64_t t0, t_meas, t_end, m0_ns, m1_ns, planned, backlog;
    struct lg_counts start, m0, m1;
    uint64_t cpu0[LG_CPU_MAX], cpu1[LG_CPU_MAX];
    bool sending, started;
};

static uint64_t outstanding(const struct phase *p)
{
    const struct lg_counts *n = &p->b->n, *s = &p->start;
    uint64_t f = p->b->fanout ? p->b->fanout : 1;
    uint64_t inflight = (n->sent - s->sent) - (n->resp - s->resp);
    uint64_t want = (n->ok - s->ok) * f, got = n->deliv - s->deliv;
    return inflight + (want > got ? (want - got + f - 1) / f : 0);
}

static void phase_tick(void *ctx)
{
    struct phase *p = ctx;
    struct lg_bench *b = p->b;
    uint64_t now = lg_now_ns();
    if (!p->started && now >= p->t_meas) {
        p->started = true;
        p->m0 = b->n;
        p->m0_ns = now;
        lg_cpu_sample(b, p->cpu0);
        lg_hist_reset(&b->lat);
        lg_hist_reset(&b->lat_w);
        b->measuring = true;
        lg_fire_hook(b);
    }
    if (p->sending && now >= p->t_end) {
        p->m1 = b->n;
        p->m1_ns = now;
        lg_cpu_sample(b, p->cpu1);
        b->measuring = false;
        p->sending = false;
    }
    if (!p->sending)
        return;
    /* Both loops are bounded per pass so that reading keeps up. */
    if (p->rate > 0) {
        uint64_t due = (uint64_t)((double)(now - p->t0) * p->rate / 1e9);
        for (unsigned k = 0; p->planned < due && k < 20000; k++) {
            uint64_t ts = p->t0 + (uint64_t)((double)p->planned * 1e9 / p->rate);
            p->planned++;
            if (b->send->queued > p->backlog)
                b->n.skipped++;
            else
                send_one(b, ts);
        }
    } else {
        for (unsigned k = 0; k < p->window && outstanding(p) < p->window; k++)
            send_one(b, now);
    }
}

static bool phase_sent(void *ctx)
{
    return !((struct phase *)ctx)->sending;
}

static bool phase_drained(void *ctx)
{
    return outstanding(ctx) == 0;
}

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static void phase_report(struct phase *p)
{
    struct lg_bench *b = p->b;
    const struct lg_counts *a = &p->m0, *z = &p->m1, *s = &p->start, *n = &b->n;
    double secs = (double)(p->m1_ns - p->m0_ns) / 1e9;
    uint64_t f = b->fanout ? b->fanout : 1;
    uint64_t want = (n->ok - s->ok) * f, got = n->deliv - s->deliv;
    /* Errors are counted over the measured window, like the rates; lost
     * and extra over the whole phase, once it has drained. */
    uint64_t errors = (z->st_429 - a->st_429) + (z->st_503 - a->st_503) + (z->st_4xx - a->st_4xx) +
                      (z->st_5xx - a->st_5xx) + (z->st_net - a->st_net);
    char offered[32];
    if (p->rate > 0)
        snprintf(offered, sizeof(offered), "%.0f", p->rate);
    else
        snprintf(offered, sizeof(offered), "max(w=%u)", p->window);
    printf("RESULT scenario=%s proto=%s mode=%s offered=%s secs=%.2f sent=%" PRIu64
           " stored=%" PRIu64 " stored_per_s=%.0f deliveries=%" PRIu64 " deliveries_per_s=%.0f"
           " p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f samples=%" PRIu64
           " errors=%" PRIu64 " e429=%" PRIu64 " e503=%" PRIu64 " enet=%" PRIu64 " skipped=%" PRIu64
           " lost=%" PRIu64 " extra=%" PRIu64 " streams=%" PRIu64 " streams_closed=%" PRIu64
           " fanout=%" PRIu64 " store_p50_ms=%.2f store_p99_ms=%.2f",
           b->o.scenario, b->o.proto == LG_H1 ? "h1" : "h2c", p->rate > 0 ? "rate" : "saturate",
           offered, secs, z->sent - a->sent, z->ok - a->ok, (double)(z->ok - a->ok) / secs,
           z->deliv - a->deliv, (double)(z->deliv - a->deliv) / secs,
           ms(lg_hist_quantile(&b->lat, 0.5)), ms(lg_hist_quantile(&b->lat, 0.9)),
           ms(lg_hist_quantile(&b->lat, 0.99)), ms(lg_hist_quantile(&b->lat, 0.999)),
           ms(b->lat.max), b->lat.count, errors, z->st_429 - a->st_429, z->st_503 - a->st_503,
           z->st_net - a->st_net, z->skipped - a->skipped, want > got ? want - got : 0,
           got > want ? got - want : 0, n->ready - n->closed, n->closed - s->closed, f,
           ms(lg_hist_quantile(&b->lat_w, 0.5)), ms(lg_hist_quantile(&b->lat_w, 0.99)));
    lg_cpu_print(b, p->cpu0, p->cpu1, secs);
    printf("\n");
    fflush(stdout);
}

void lg_run_phase(struct lg_bench *b, double rate, unsigned window)
{
    struct phase p = {.b = b, .rate = rate, .window = window ? window : 1, .sending = true};
    p.start = b->n;
    p.t0 = lg_now_ns();
    p.t_meas = p.t0 + (uint64_t)(b->o.warmup * 1e9);
    p.t_end = p.t_meas + (uint64_t)(b->o.duration * 1e9);
    p.backlog = rate > 0 ? (uint64_t)rate + 1 : 0;
    fprintf(stderr, "loadgen: phase %s %s: %.0f s warm-up, %.0f s measured\n", b->o.scenario,
            rate > 0 ? "rate" : "saturate", b->o.warmup, b->o.duration);
    uint64_t budget_ms = (uint64_t)((b->o.warmup + b->o.duration) * 1000) + 5000;
    if (lg_loop_run(phase_sent, phase_tick, &p, 1, budget_ms) < 0) {
        fprintf(stderr, "loadgen: the phase overran its time budget\n");
        phase_tick(&p);
        p.m1 = b->n;
        p.m1_ns = lg_now_ns();
        lg_cpu_sample(b, p.cpu1);
        b->measuring = false;
        p.sending = false;
    }
    /* Responses and deliveries still on their way belong to this phase. */
    if (lg_loop_run(phase_drained, NULL, &p, 10, (uint64_t)(b->o.drain * 1000)) < 0)
        fprintf(stderr, "loadgen: %" PRIu64 " messages still outstanding after %.0f s of drain\n",
                outstanding(&p), b->o.drain);
    phase_report(&p);
}

/* ---- idle streams ---------------------------------------------------------- */

long lg_rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

int lg_run_idle(struct lg_bench *b)
{
    long base = lg_rss_kib(b->o.server_pid);
    if (base < 0) {
        fprintf(stderr, "loadgen: cannot read VmRSS of pid %d (--server-pid)\n", b->o.server_pid);
        return -ESRCH;
    }
    fprintf(stderr, "loadgen: idle: parleyd VmRSS %ld KiB before any stream\n", base);
    const char *s = b->o.idle_steps;
    for (unsigned k = 0; k < 16 && s && *s; k++) {
        char *end;
        unsigned long want = strtoul(s, &end, 10);
        s = *end == ',' ? end + 1 : NULL;
        if (!want)
            continue;
        int rc = lg_setup_streams(b, (unsigned)want, b->n_users);
        if (rc < 0)
            return rc;
        /* Let the server finish its own bookkeeping (first keep-alive timers,
         * allocator trimming) before reading RSS. */
        (void)lg_loop_run(NULL, NULL, NULL, 100, b->o.settle * 1000ull);
        long rss = lg_rss_kib(b->o.server_pid);
        printf("RESULT scenario=idle proto=%s streams=%lu conns=%u rss_before_kib=%ld"
               " rss_kib=%ld bytes_per_stream=%.0f streams_closed=%" PRIu64 "\n",
               b->o.proto == LG_H1 ? "h1" : "h2c", want, b->streams->n_conns, base, rss,
               (double)(rss - base) * 1024.0 / (double)want, b->n.closed);
        fflush(stdout);
        if (b->n.closed)
            return PL_EINTERNAL;
    }
    return 0;
}
