/* SPDX-License-Identifier: MIT */
/* Parley - load generator: presence scenarios (issue 17).              */
/* Copyright (c) 2026 Parley developers                                 */
#include "lg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * presence-burst: one group of N members (--users), each subscribed to the
 * --subs members after it (user i watches i+1 .. i+S, mod N), all of whose
 * event streams are opened within --burst-ms. Reports whether every
 * stream was established (failures and retries counted), parleyd's VmRSS
 * per stream at its peak during the burst and after it settled, and the
 * presence events: every transition (a member coming online) may reach
 * only its subscribers whose streams were already open. For each user the
 * subscribers certainly open before its own open was sent and those open
 * at the latest by its `ready` bound what it may reach; the received
 * total must lie between the bounds, and no event may reach a stream that
 * did not subscribe to its user ("unsolicited", must be 0).
 *
 * presence-mixed: N users each subscribed to S others at odd offsets (user
 * i watches i+1, i+3, ..., i+2S-1); even users hold event streams, odd
 * users are away. In a measured window odd users come online by one
 * heartbeat each at --churn-rate per second and go offline again after
 * parleyd's presence_timeout, so every transition has exactly S
 * subscribers with streams: events per transition must be S. CPU of
 * parleyd, PostgreSQL and Redis is read over the churn and over an equal
 * window without churn, and their difference per transition reported.
 */

struct idx {
    int64_t id;
    unsigned i;
};

static struct {
    struct lg_bench *b;
    struct idx *by_id;
    uint64_t *t_sent, *t_ready; /* burst: when each stream was sent, and ready */
    uint32_t *on, *off;         /* events received about each user */
    uint64_t events, unsolicited, failed, retries, hb_sent, hb_ok;
    bool holder_even; /* mixed: only even users hold streams */
} P;

static int cmp_idx(const void *a, const void *b)
{
    int64_t x = ((const struct idx *)a)->id, y = ((const struct idx *)b)->id;
    return (x > y) - (x < y);
}

static long index_of(int64_t id)
{
    struct idx k = {id, 0};
    struct idx *f = bsearch(&k, P.by_id, P.b->n_users, sizeof(k), cmp_idx);
    return f ? (long)f->i : -1;
}

/* Whether receiver r subscribed to user u. */
static bool watches(unsigned r, unsigned u)
{
    struct lg_bench *b = P.b;
    unsigned d = (u + b->n_users - r) % b->n_users + b->sub_stride - 1;
    return d % b->sub_stride == 0 && d / b->sub_stride >= 1 && d / b->sub_stride <= b->subs;
}

static void on_event(struct lg_req *r, const char *ev, const char *data, size_t len)
{
    struct lg_bench *b = r->ctx;
    unsigned me = (unsigned)r->tag;
    if (strcmp(ev, "ready") == 0) {
        if (!r->flag) {
            r->flag = true;
            b->n.ready++;
            P.t_ready[me] = lg_now_ns();
        }
        return;
    }
    if (strcmp(ev, "presence") != 0)
        return;
    P.events++;
    const char *k = memmem(data, len, "\"user_id\":", 10);
    long u = k ? index_of(strtoll(k + 10, NULL, 10)) : -1;
    if (u < 0 || !watches(me, (unsigned)u)) {
        P.unsolicited++;
        return;
    }
    if (memmem(data, len, "\"online\":true", 13))
        P.on[u]++;
    else
        P.off[u]++;
}

static int stream_open(struct lg_bench *b, unsigned u, unsigned tries);

static void on_end(struct lg_req *r)
{
    struct lg_bench *b = r->ctx;
    if (r->status == -ECANCELED)
        return;
    if (!r->flag && (r->status < 0 || r->status == 503 || r->status == 429) && r->tries < 5) {
        P.retries++;
        if (stream_open(b, (unsigned)r->tag, r->tries + 1u) == 0)
            return;
    }
    if (!r->flag)
        P.failed++;
    b->n.closed++;
}

static int stream_open(struct lg_bench *b, unsigned u, unsigned tries)
{
    struct lg_req *r = lg_req_new("GET", "/v1/events", b->users[u].token, NULL, 0, on_end, b);
    if (!r)
        return PL_ENOMEM;
    lg_req_set_sse(r, on_event);
    r->tag = u;
    r->tries = (uint8_t)tries;
    if (!tries)
        P.t_sent[u] = lg_now_ns();
    lg_client_submit(b->streams, r);
    return 0;
}

static int init(struct lg_bench *b)
{
    P.b = b;
    unsigned n = b->n_users;
    P.by_id = calloc(n, sizeof(*P.by_id));
    P.t_sent = calloc(n, sizeof(uint64_t));
    P.t_ready = calloc(n, sizeof(uint64_t));
    P.on = calloc(n, sizeof(uint32_t));
    P.off = calloc(n, sizeof(uint32_t));
    if (!P.by_id || !P.t_sent || !P.t_ready || !P.on || !P.off)
        return PL_ENOMEM;
    for (unsigned i = 0; i < n; i++)
        P.by_id[i] = (struct idx){b->users[i].id, i};
    qsort(P.by_id, n, sizeof(*P.by_id), cmp_idx);
    return 0;
}

/* ---- parleyd's own counters (GET /metrics with --metrics-token) ---- */

struct metrics {
    bool done;
    long long events, transitions, audience;
};

static long long metric(const char *body, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtoll(p + n + 1, NULL, 10);
    return -1;
}

static void on_metrics(struct lg_req *r)
{
    struct metrics *m = r->ctx;
    m->done = true;
    if (r->status != 200 || pl_buf_append(&r->resp, "", 1) < 0)
        return;
    const char *body = pl_buf_head(&r->resp);
    m->events = metric(body, "parley_presence_events_total");
    m->transitions = metric(body, "parley_presence_transitions_total");
    m->audience = metric(body, "parley_presence_audience_total");
}

static bool metrics_done(void *ctx)
{
    return ((struct metrics *)ctx)->done;
}

static void read_metrics(struct lg_bench *b, struct metrics *m)
{
    *m = (struct metrics){.events = -1, .transitions = -1, .audience = -1};
    if (!b->o.metrics_token)
        return;
    struct lg_req *r = lg_req_new("GET", "/metrics", b->o.metrics_token, NULL, 0, on_metrics, m);
    if (!r)
        return;
    lg_client_submit(b->send, r);
    (void)lg_loop_run(metrics_done, NULL, m, 50, 10000);
}

/* ---- presence-burst ---- */

struct burst {
    struct lg_bench *b;
    uint64_t t0, ns;
    unsigned opened;
    long rss_peak;
    uint64_t next_rss;
};

static bool burst_done(void *ctx)
{
    struct burst *w = ctx;
    return w->b->n.ready + P.failed >= w->b->n_users;
}

static void burst_tick(void *ctx)
{
    struct burst *w = ctx;
    struct lg_bench *b = w->b;
    uint64_t now = lg_now_ns(), el = now - w->t0;
    unsigned due =
        el >= w->ns ? b->n_users : (unsigned)((double)b->n_users * (double)el / (double)w->ns);
    while (w->opened < due && stream_open(b, w->opened, 0) == 0)
        w->opened++;
    if (now >= w->next_rss) {
        long r = lg_rss_kib(b->o.server_pid);
        w->rss_peak = PL_MAX(w->rss_peak, r);
        w->next_rss = now + 20000000ull; /* every 20 ms */
    }
}

/* The subscribers of u that were open before u's open was sent (lo) and
 * by u's ready at the latest (hi). */
static void bounds(struct lg_bench *b, unsigned u, uint64_t *lo, uint64_t *hi)
{
    for (unsigned k = 1; k <= b->subs; k++) {
        unsigned off = (k * b->sub_stride - (b->sub_stride - 1)) % b->n_users;
        unsigned v = (u + b->n_users - off) % b->n_users;
        if (P.t_ready[v] && P.t_ready[v] < P.t_sent[u])
            (*lo)++;
        if (P.t_sent[v] && P.t_sent[v] < P.t_ready[u])
            (*hi)++;
    }
}

int lg_presence_burst(struct lg_bench *b)
{
    int rc = init(b);
    if (rc < 0)
        return rc;
    long base = lg_rss_kib(b->o.server_pid);
    struct burst w = {
        .b = b, .t0 = lg_now_ns(), .ns = b->o.burst_ms * 1000000ull, .rss_peak = base};
    rc = lg_loop_run(burst_done, burst_tick, &w, 1, b->o.setup_timeout * 1000ull);
    uint64_t last = 0;
    for (unsigned u = 0; u < b->n_users; u++)
        last = PL_MAX(last, P.t_ready[u]);
    double sent_s = (double)(P.t_sent[b->n_users - 1] - w.t0) / 1e9;
    double ready_s = last ? (double)(last - w.t0) / 1e9 : 0;
    /* Late presence events and the server's own bookkeeping settle. */
    (void)lg_loop_run(NULL, NULL, NULL, 100, b->o.settle * 1000ull);
    long after = lg_rss_kib(b->o.server_pid);
    uint64_t lo = 0, hi = 0, on = 0;
    for (unsigned u = 0; u < b->n_users; u++) {
        bounds(b, u, &lo, &hi);
        on += P.on[u];
    }
    struct metrics m;
    read_metrics(b, &m);
    printf("RESULT scenario=presence-burst proto=%s members=%u subs=%u streams_ready=%" PRIu64
           " failed=%" PRIu64 " retries=%" PRIu64 " sent_within_s=%.2f all_ready_s=%.2f"
           " rss_before_kib=%ld rss_peak_kib=%ld rss_after_kib=%ld peak_bytes_per_stream=%.0f"
           " after_bytes_per_stream=%.0f transitions=%u events=%" PRIu64 " online_events=%" PRIu64
           " expected_min=%" PRIu64 " expected_max=%" PRIu64 " unsolicited=%" PRIu64
           " srv_transitions=%lld srv_audience=%lld srv_events=%lld old_broadcast_events=%llu\n",
           b->o.proto == LG_H1 ? "h1" : "h2c", b->n_users, b->subs, b->n.ready, P.failed, P.retries,
           sent_s, ready_s, base, w.rss_peak, after,
           (double)(w.rss_peak - base) * 1024.0 / b->n_users,
           (double)(after - base) * 1024.0 / b->n_users, b->n_users, P.events, on, lo, hi,
           P.unsolicited, m.transitions, m.audience, m.events,
           (unsigned long long)b->n_users * (b->n_users - 1) / 2);
    fflush(stdout);
    return rc < 0 ? rc : P.failed || P.unsolicited ? PL_EINTERNAL : 0;
}

/* ---- presence-mixed ---- */

struct mixed {
    struct lg_bench *b;
    unsigned want, opened; /* streams (even users) */
    uint64_t t0, ns;
    unsigned next_odd, hb_due;
    double rate;
    bool churn;
};

static bool mixed_ready(void *ctx)
{
    struct mixed *w = ctx;
    return w->b->n.ready + P.failed >= w->want;
}

static void mixed_open_tick(void *ctx)
{
    struct mixed *w = ctx;
    struct lg_bench *b = w->b;
    while (w->opened < w->want && w->opened - b->n.ready < 512) {
        if (stream_open(b, 2 * w->opened, 0) < 0)
            return;
        w->opened++;
    }
}

static void on_heartbeat(struct lg_req *r)
{
    if (r->status == 204)
        P.hb_ok++;
}

static bool window_over(void *ctx)
{
    struct mixed *w = ctx;
    return lg_now_ns() - w->t0 >= w->ns;
}

static void churn_tick(void *ctx)
{
    struct mixed *w = ctx;
    struct lg_bench *b = w->b;
    if (!w->churn)
        return;
    uint64_t el = lg_now_ns() - w->t0;
    unsigned due = (unsigned)(w->rate * (double)el / 1e9);
    while (w->hb_due < due && w->next_odd < b->n_users) {
        struct lg_req *r = lg_req_new("POST", "/v1/presence/heartbeat", b->users[w->next_odd].token,
                                      NULL, 0, on_heartbeat, b);
        if (!r)
            return;
        lg_client_submit(b->send, r);
        P.hb_sent++;
        w->hb_due++;
        w->next_odd += 2;
    }
}

static bool offline_all(void *ctx)
{
    (void)ctx;
    uint64_t off = 0;
    for (unsigned u = 1; u < P.b->n_users; u += 2)
        off += P.off[u];
    return off >= P.hb_ok * P.b->subs;
}

/* One window of the mixed scenario; returns parleyd/pg/redis ticks used. */
static void window(struct mixed *w, bool churn, uint64_t *cpu0, uint64_t *cpu1, double *secs)
{
    w->churn = churn;
    w->t0 = lg_now_ns();
    w->hb_due = 0;
    lg_cpu_sample(w->b, cpu0);
    (void)lg_loop_run(window_over, churn_tick, w, 5, (uint64_t)(w->ns / 1000000 + 1000));
    if (churn) /* every offline transition of the churned users, too */
        (void)lg_loop_run(offline_all, NULL, NULL, 50, 120000);
    lg_cpu_sample(w->b, cpu1);
    *secs = (double)(lg_now_ns() - w->t0) / 1e9;
}

int lg_presence_mixed(struct lg_bench *b)
{
    int rc = init(b);
    if (rc < 0)
        return rc;
    struct mixed w = {.b = b,
                      .want = b->n_users / 2,
                      .rate = b->o.churn_rate,
                      .ns = (uint64_t)(b->o.duration * 1e9),
                      .next_odd = 1};
    rc = lg_loop_run(mixed_ready, mixed_open_tick, &w, 10, b->o.setup_timeout * 1000ull);
    fprintf(stderr, "loadgen: presence-mixed: %" PRIu64 " streams ready, %" PRIu64 " failed\n",
            b->n.ready, P.failed);
    if (rc < 0 || P.failed)
        return rc < 0 ? rc : PL_EINTERNAL;
    (void)lg_loop_run(NULL, NULL, NULL, 100, b->o.settle * 1000ull);
    uint64_t q0[LG_CPU_MAX], q1[LG_CPU_MAX], c0[LG_CPU_MAX], c1[LG_CPU_MAX];
    double qs, cs;
    window(&w, false, q0, q1, &qs);
    uint64_t ev0 = P.events;
    window(&w, true, c0, c1, &cs);
    uint64_t on = 0, off = 0, ev = P.events - ev0;
    for (unsigned u = 1; u < b->n_users; u += 2) {
        on += P.on[u];
        off += P.off[u];
    }
    uint64_t transitions = 2 * P.hb_ok;
    double hz = (double)sysconf(_SC_CLK_TCK);
    printf("RESULT scenario=presence-mixed proto=%s users=%u streams=%" PRIu64 " subs=%u"
           " heartbeats=%" PRIu64 " transitions=%" PRIu64 " events=%" PRIu64
           " online_events=%" PRIu64 " offline_events=%" PRIu64 " events_per_transition=%.2f"
           " unsolicited=%" PRIu64 " churn_s=%.1f quiet_s=%.1f",
           b->o.proto == LG_H1 ? "h1" : "h2c", b->n_users, b->n.ready, b->subs, P.hb_sent,
           transitions, ev, on, off, transitions ? (double)ev / (double)transitions : 0,
           P.unsolicited, cs, qs);
    /* CPU: per second in each window, and the churn's extra per transition. */
    const char *names[] = {"parleyd", "pg", "redis"};
    for (int i = 0; i < 3; i++) {
        double busy = (double)(c1[i] - c0[i]) / hz, quiet = (double)(q1[i] - q0[i]) / hz;
        double extra = busy - quiet * cs / qs;
        printf(" cpu_%s=%.1f quiet_cpu_%s=%.1f us_per_transition_%s=%.0f", names[i],
               busy / cs * 100, names[i], quiet / qs * 100, names[i],
               transitions ? PL_MAX(extra, 0) * 1e6 / (double)transitions : 0);
    }
    lg_cpu_print(b, c0, c1, cs);
    printf("\n");
    fflush(stdout);
    return P.unsolicited ? PL_EINTERNAL : 0;
}
