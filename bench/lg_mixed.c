/* SPDX-License-Identifier: MIT */
/* Parley - load generator: the mixed realistic scenario (issue 13).    */
/* Copyright (c) 2026 Parley developers                                 */
#include "lg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every user holds one event stream. At `rate` messages/s (open loop):
 * 80 % go to the sender's direct partner, 20 % to one of the groups (5-200
 * members, contiguous runs of users); each send is preceded by a typing
 * call, and 5 % are media messages (reserve an upload, PUT 1 KiB to the
 * presigned URL, send kind "media" referencing it). Every recipient's
 * stream posts a read receipt for every message it receives. 10 % of the
 * streams reconnect per minute (the old one is cancelled, the new one
 * resumes with last_event_id), and search runs at search_rate queries/s.
 * Each operation has its own latency histogram: send -> 201, send -> the
 * recipient's message.created (text messages), receipt, typing, search,
 * the media chain (reserve -> 201 of the message) and reconnect (open ->
 * ready). One RESULT line per rate; the rate is sustainable when every
 * p99 is under 100 ms and nothing failed or was lost.
 */

enum op { OP_SEND, OP_DELIV, OP_RECEIPT, OP_TYPING, OP_SEARCH, OP_MEDIA, OP_RECONNECT, OPS };
static const char *const op_name[OPS] = {"send",   "deliv", "receipt",  "typing",
                                         "search", "media", "reconnect"};

#define CANCELLED 255 /* lg_req.tries of a stream we cancelled ourselves */
#define MEDIA_BYTES 1024
/* sha256 of MEDIA_BYTES spaces (the upload's body) */
#define MEDIA_SHA "67fa8b7e479417053708e46f2b3669c2f1c2857df57acbff83ac6a06ea0232e9"

struct mixed {
    struct lg_bench *b;
    struct lg_req **stream; /* per user: the open stream */
    uint64_t *opened;       /* per user: when it was opened */
    struct lg_client *rcpt; /* receipts: a pool of their own, so that their
                             * backlog never queues sends behind it */
    struct lg_hist h[OPS];
    uint64_t n[OPS], err[OPS];
    uint64_t want, got; /* text deliveries expected and received */
    bool measuring;
};
static struct mixed mx;

static void count(enum op op, int status, uint64_t t0)
{
    if (status < 200 || status > 299) {
        if (mx.err[op]++ < 3)
            fprintf(stderr, "loadgen: mixed %s failed: status %d\n", op_name[op], status);
        return;
    }
    mx.n[op]++;
    if (mx.measuring) {
        uint64_t now = lg_now_ns();
        lg_hist_add(&mx.h[op], now > t0 ? (now - t0) / 1000 : 0);
    }
}

static void on_op(struct lg_req *r);

static void submit(const char *method, const char *path, const char *token, char *body, enum op op,
                   lg_done_cb *cb, uint64_t t0)
{
    struct lg_req *r = lg_req_new(method, path, token, body, body ? strlen(body) : 0, cb, &mx);
    if (!r)
        return;
    r->tag = t0;
    r->tries = (uint8_t)op; /* the op, for on_op() */
    lg_client_submit(op == OP_RECEIPT ? mx.rcpt : mx.b->send, r);
}

static void on_op(struct lg_req *r)
{
    if (r->status != -ECANCELED)
        count((enum op)r->tries, r->status, r->tag);
}

static int64_t json_num(const char *data, size_t len, const char *key)
{
    const char *p = memmem(data, len, key, strlen(key));
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* ---- streams ---------------------------------------------------------------- */

static int stream_open(unsigned u, uint64_t last);

static void on_event(struct lg_req *r, const char *ev, const char *data, size_t len)
{
    unsigned u = (unsigned)(r->tag >> 32);
    if (strcmp(ev, "ready") == 0) {
        if (!r->flag) {
            r->flag = true;
            mx.b->n.ready++;
            count(OP_RECONNECT, 200, mx.opened[u]);
        }
        return;
    }
    if (strcmp(ev, "message.created") != 0)
        return;
    int64_t conv = json_num(data, len, "\"conversation_id\":");
    int64_t seq = json_num(data, len, "\"seq\":");
    int64_t sender = json_num(data, len, "\"sender\":");
    if (sender == mx.b->users[u].id || conv < 0 || seq < 1)
        return; /* our own message */
    const char *m = memmem(data, len, "\"lg:", 4);
    if (m) {
        uint64_t ns = strtoull(m + 4, NULL, 10);
        mx.got++;
        if (mx.measuring) {
            uint64_t now = lg_now_ns();
            lg_hist_add(&mx.h[OP_DELIV], now > ns ? (now - ns) / 1000 : 0);
        }
    }
    char path[80], *body = malloc(64);
    if (!body)
        return;
    snprintf(path, sizeof(path), "/v1/conversations/%" PRId64 "/receipts", conv);
    snprintf(body, 64, "{\"type\":\"read\",\"up_to_seq\":%" PRId64 "}", seq);
    submit("POST", path, mx.b->users[u].token, body, OP_RECEIPT, on_op, lg_now_ns());
}

static void on_stream_end(struct lg_req *r)
{
    unsigned u = (unsigned)(r->tag >> 32);
    if (r->status == -ECANCELED || r->tries == CANCELLED)
        return;
    if (mx.b->n.closed++ < 3)
        fprintf(stderr, "loadgen: mixed stream of user %u ended (status %d)\n", u, r->status);
    if (mx.stream[u] == r)
        mx.stream[u] = NULL;
}

/* The last event id a stream saw is kept in tag's low 32 bits. */
static void on_event_id(struct lg_req *r, const char *ev, const char *data, size_t len)
{
    uint64_t id = r->sse_p.last_id;
    if (id)
        r->tag = (r->tag & ~0xffffffffull) | (id & 0xffffffffull);
    on_event(r, ev, data, len);
}

static int stream_open(unsigned u, uint64_t last)
{
    char path[64];
    if (last)
        snprintf(path, sizeof(path), "/v1/events?last_event_id=%" PRIu64, last);
    else
        snprintf(path, sizeof(path), "/v1/events");
    struct lg_req *r = lg_req_new("GET", path, mx.b->users[u].token, NULL, 0, on_stream_end, &mx);
    if (!r)
        return PL_ENOMEM;
    lg_req_set_sse(r, on_event_id);
    r->tag = (uint64_t)u << 32 | (last & 0xffffffffull);
    mx.opened[u] = lg_now_ns();
    mx.stream[u] = r;
    lg_client_submit(mx.b->streams, r);
    return 0;
}

static void reconnect(unsigned u)
{
    struct lg_req *old = mx.stream[u];
    if (!old || !old->flag)
        return; /* not ready yet: leave it */
    uint64_t last = old->tag & 0xffffffffull;
    old->tries = CANCELLED;
    lg_req_cancel(old);
    (void)stream_open(u, last);
}

/* ---- sends -------------------------------------------------------------------- */

struct media_op {
    unsigned s;
    int64_t conv, media_id;
    uint64_t t0;
};

static void send_text(unsigned s, int64_t conv, uint64_t t0, unsigned fan)
{
    char path[80];
    snprintf(path, sizeof(path), "/v1/conversations/%" PRId64 "/typing", conv);
    submit("POST", path, mx.b->users[s].token, NULL, OP_TYPING, on_op, t0);
    snprintf(path, sizeof(path), "/v1/conversations/%" PRId64 "/messages", conv);
    char *body = malloc(256);
    if (!body)
        return;
    snprintf(body, 256,
             "{\"client_msg_id\":\"%s-%" PRIu64 "\",\"kind\":\"text\",\"text\":\"lg:%" PRIu64
             ":%u: mixed load word%u and more text to search\"}",
             mx.b->run_tag, ++mx.b->msg_seq, t0, s, (unsigned)(lg_rand(mx.b) % 100));
    mx.want += fan;
    submit("POST", path, mx.b->users[s].token, body, OP_SEND, on_op, t0);
}

static void on_media_sent(struct lg_req *r)
{
    struct media_op *m = r->ctx;
    if (r->status != -ECANCELED)
        count(OP_MEDIA, r->status == 201 ? 201 : r->status, m->t0);
    free(m);
}

static void on_media_put(struct lg_req *r)
{
    struct media_op *m = r->ctx;
    if (r->status < 200 || r->status > 299) {
        if (r->status != -ECANCELED)
            count(OP_MEDIA, r->status, m->t0);
        free(m);
        return;
    }
    char path[80], *body = malloc(192);
    snprintf(path, sizeof(path), "/v1/conversations/%" PRId64 "/messages", m->conv);
    struct lg_req *n = NULL;
    if (body) {
        snprintf(body, 192,
                 "{\"client_msg_id\":\"%s-%" PRIu64 "\",\"kind\":\"media\",\"media\":{\"media_id\":"
                 "%" PRId64 "}}",
                 mx.b->run_tag, ++mx.b->msg_seq, m->media_id);
        n = lg_req_new("POST", path, mx.b->users[m->s].token, body, strlen(body), on_media_sent, m);
    }
    if (!n) {
        free(m);
        return;
    }
    lg_client_submit(mx.b->send, n);
}

static void on_media_reserved(struct lg_req *r)
{
    struct media_op *m = r->ctx;
    const char *data = pl_buf_head(&r->resp);
    size_t len = r->resp.len;
    const char *url = r->status == 201 ? memmem(data, len, "\"upload_url\":\"", 14) : NULL;
    m->media_id = json_num(data, len, "\"media_id\":");
    char path[512], *body = malloc(MEDIA_BYTES);
    const char *end = url ? memchr(url + 14, '"', len - (size_t)(url + 14 - data)) : NULL;
    struct lg_req *n = NULL;
    if (body && end && (size_t)(end - url - 14) < sizeof(path) && m->media_id > 0) {
        memcpy(path, url + 14, (size_t)(end - url - 14));
        path[end - url - 14] = 0;
        memset(body, ' ', MEDIA_BYTES);
        n = lg_req_new("PUT", path, NULL, body, MEDIA_BYTES, on_media_put, m);
        body = NULL;
    }
    free(body);
    if (!n) {
        if (r->status != -ECANCELED)
            count(OP_MEDIA, r->status == 201 ? -EPROTO : r->status, m->t0);
        free(m);
        return;
    }
    lg_client_submit(mx.b->send, n);
}

static void send_media(unsigned s, int64_t conv, uint64_t t0)
{
    struct media_op *m = calloc(1, sizeof(*m));
    char *body = malloc(160);
    if (!m || !body) {
        free(m);
        free(body);
        return;
    }
    *m = (struct media_op){.s = s, .conv = conv, .t0 = t0};
    snprintf(body, 160,
             "{\"content_type\":\"application/json\",\"size\":%d,\"sha256\":\"" MEDIA_SHA "\"}",
             MEDIA_BYTES);
    struct lg_req *r = lg_req_new("POST", "/v1/media", mx.b->users[s].token, body, strlen(body),
                                  on_media_reserved, m);
    if (!r) {
        free(m);
        return;
    }
    lg_client_submit(mx.b->send, r);
}

static void send_one(uint64_t t0)
{
    struct lg_bench *b = mx.b;
    unsigned s, fan;
    int64_t conv;
    if (b->n_groups && lg_rand(b) % 100 < 20) {
        const struct lg_group *g = &b->groups[lg_rand(b) % b->n_groups];
        s = (g->first + (unsigned)(lg_rand(b) % g->size)) % b->n_users;
        conv = g->conv;
        fan = g->size - 1;
    } else {
        s = (unsigned)(lg_rand(b) % (b->n_users & ~1u));
        conv = b->users[s].conv;
        fan = 1;
    }
    if (lg_rand(b) % 100 < 5)
        send_media(s, conv, t0);
    else
        send_text(s, conv, t0, fan);
}

static void search_one(uint64_t t0)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/search?q=word%u", (unsigned)(lg_rand(mx.b) % 100));
    unsigned u = (unsigned)(lg_rand(mx.b) % mx.b->n_users);
    submit("GET", path, mx.b->users[u].token, NULL, OP_SEARCH, on_op, t0);
}

/* ---- the phase ------------------------------------------------------------------ */

struct mphase {
    double rate, search_rate, reconnect_rate;
    uint64_t t0, t_meas, t_end, planned[3];
    uint64_t cpu0[LG_CPU_MAX], cpu1[LG_CPU_MAX];
    bool sending, started;
};

static void due(struct mphase *p, uint64_t now, int k, double rate)
{
    uint64_t want = (uint64_t)((double)(now - p->t0) * rate / 1e9);
    for (unsigned i = 0; p->planned[k] < want && i < 5000; i++) {
        uint64_t ts = p->t0 + (uint64_t)((double)p->planned[k] * 1e9 / rate);
        p->planned[k]++;
        if (k == 0)
            send_one(ts);
        else if (k == 1)
            search_one(ts);
        else
            reconnect((unsigned)(lg_rand(mx.b) % mx.b->n_users));
    }
}

static void mphase_tick(void *ctx)
{
    struct mphase *p = ctx;
    uint64_t now = lg_now_ns();
    if (!p->started && now >= p->t_meas) {
        p->started = true;
        lg_cpu_sample(mx.b, p->cpu0);
        for (int i = 0; i < OPS; i++)
            lg_hist_reset(&mx.h[i]);
        mx.measuring = true;
        lg_fire_hook(mx.b);
    }
    if (p->sending && now >= p->t_end) {
        lg_cpu_sample(mx.b, p->cpu1);
        mx.measuring = false;
        p->sending = false;
    }
    if (!p->sending)
        return;
    due(p, now, 0, p->rate);
    due(p, now, 1, p->search_rate);
    due(p, now, 2, p->reconnect_rate);
}

static bool mphase_sent(void *ctx)
{
    return !((struct mphase *)ctx)->sending;
}

static bool drained(void *ctx)
{
    (void)ctx;
    return mx.got >= mx.want && mx.b->send->queued == 0;
}

static void mphase_run(double rate)
{
    struct lg_bench *b = mx.b;
    struct mphase p = {.rate = rate,
                       .search_rate = b->o.search_rate,
                       .reconnect_rate = b->n_users * 0.10 / 60.0,
                       .sending = true};
    uint64_t e0[OPS], want0 = mx.want, got0 = mx.got;
    memcpy(e0, mx.err, sizeof(e0));
    p.t0 = lg_now_ns();
    p.t_meas = p.t0 + (uint64_t)(b->o.warmup * 1e9);
    p.t_end = p.t_meas + (uint64_t)(b->o.duration * 1e9);
    fprintf(stderr, "loadgen: mixed phase at %.0f messages/s\n", rate);
    uint64_t budget = (uint64_t)((b->o.warmup + b->o.duration) * 1000) + 5000;
    if (lg_loop_run(mphase_sent, mphase_tick, &p, 1, budget) < 0) {
        lg_cpu_sample(b, p.cpu1);
        mx.measuring = false;
    }
    (void)lg_loop_run(drained, NULL, NULL, 10, (uint64_t)(b->o.drain * 1000));
    double secs = b->o.duration;
    printf("RESULT scenario=mixed proto=%s rate=%.0f secs=%.0f users=%u groups=%u",
           b->o.proto == LG_H1 ? "h1" : "h2c", rate, secs, b->n_users, b->n_groups);
    bool ok = true;
    for (int i = 0; i < OPS; i++) {
        double p99 = (double)lg_hist_quantile(&mx.h[i], 0.99) / 1000.0;
        printf(" %s_per_s=%.0f %s_p50_ms=%.2f %s_p99_ms=%.2f %s_errors=%" PRIu64, op_name[i],
               (double)mx.h[i].count / secs, op_name[i],
               (double)lg_hist_quantile(&mx.h[i], 0.5) / 1000.0, op_name[i], p99, op_name[i],
               mx.err[i] - e0[i]);
        ok = ok && p99 < 100.0 && mx.err[i] == e0[i];
    }
    uint64_t want = mx.want - want0, got = mx.got - got0;
    ok = ok && got >= want;
    printf(" lost=%" PRIu64 " streams_closed=%" PRIu64 " sustainable=%d",
           want > got ? want - got : 0, b->n.closed, ok);
    lg_cpu_print(b, p.cpu0, p.cpu1, secs);
    printf("\n");
    fflush(stdout);
}

static bool all_ready(void *ctx)
{
    (void)ctx;
    return mx.b->n.ready >= mx.b->n_users;
}

int lg_mixed_run(struct lg_bench *b)
{
    mx = (struct mixed){.b = b,
                        .stream = calloc(b->n_users, sizeof(*mx.stream)),
                        .opened = calloc(b->n_users, sizeof(*mx.opened))};
    mx.rcpt = b->o.proto == LG_H1 ? lg_client_new(LG_H1, 256, 1) : lg_client_new(LG_H2, 4, 100);
    if (!mx.stream || !mx.opened || !mx.rcpt)
        return PL_ENOMEM;
    for (unsigned u = 0; u < b->n_users; u++)
        if (stream_open(u, 0) < 0)
            return PL_ENOMEM;
    if (lg_loop_run(all_ready, NULL, NULL, 100, b->o.setup_timeout * 1000ull) < 0) {
        fprintf(stderr, "loadgen: mixed: %" PRIu64 " of %u streams ready in time\n", b->n.ready,
                b->n_users);
        return -ETIMEDOUT;
    }
    fprintf(stderr, "loadgen: mixed: %u streams ready\n", b->n_users);
    const char *s = b->o.rates;
    for (unsigned k = 0; k < 16 && s && *s; k++) {
        char *end;
        double r = strtod(s, &end);
        s = *end == ',' ? end + 1 : NULL;
        if (r > 0)
            mphase_run(r);
    }
    return 0; /* the streams stay open until the process ends */
}
