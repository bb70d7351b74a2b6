/* SPDX-License-Identifier: MIT */
/* Parley - live delivery on this node: the hub, publishing, presence.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "live.h"
#include "presence.h"
#include "relay_gate.h"

#include "api/replica.h"
#include "api/token_cache.h"
#include "storage/events.h"
#include "storage/relay.h"

#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PL_LOG_TOPIC("live");

/* How long an out-of-order event waits for the ones before it before the
 * gap is read from PostgreSQL. Events from this node's writer arrive in
 * order; waits come from concurrent transactions finishing their publish
 * in a different order than they committed. */
#define GAP_WAIT_MS 200

/* A revocation crosses nodes as a relay frame of its own type: position 0,
 * the user as the audience and the device as the payload. Hubs never see
 * it as an event. */
#define CLOSE_TYPE "!close"

struct srv_live {
    const struct srv_config *cfg;
    const char *node;
    struct store_relay *relay;
    struct srv_relay_gate *gate; /* events go out only while another node listens */
    struct pl_loop *loop;
    struct srv_pool *pool;
    struct api_env *env;
    struct push_hub *hub;
    struct srv_presence *presence;
    struct pl_timer presence_timer;
    struct pl_timer resync_timer; /* a presence catch-up to try again */
    bool resync_failing;          /* said once per outage */
    struct pl_timer prune_timer;
    struct pl_timer sweep_timer;
    struct pl_task gap_done;
    bool gap_pending;
};

/*
 * An event crosses to the loop once: the task delivers it to this node's
 * hub and hands the same frame to the Redis relay for the other nodes.
 * Relay frame: "<node>\n<pos>\n<type>\n<user>,<user>...\n<json>".
 */
struct outgoing {
    struct pl_task task;
    struct srv_live *l;
    struct push_event *ev;
    char *frame;
    size_t frame_len;
    unsigned n;
    int64_t users[];
};

/* ---- e2e messages: each device sees only its own ciphertext ---- */

/* Marks an e2e message.created event for per-device projection. Every
 * path into the hub (local publish, relay, gap fill) goes through here. */
static struct push_event *event_new(uint64_t pos, const char *type, const char *json, size_t len)
{
    struct push_event *ev = push_event_new(pos, type, json, len);
    if (ev && strcmp(type, "message.created") == 0 && api_e2e_is_enveloped(json, len))
        push_event_set_per_device(ev);
    return ev;
}

/* The hub's projection (loop thread): string work on one payload, no
 * storage. The payload of the shared event is never queued anywhere. */
static struct push_event *project(void *ctx, struct push_event *ev, int64_t user, int64_t device)
{
    (void)ctx;
    size_t len, n;
    const char *data = push_event_data(ev, &len);
    char *out;
    int rc = api_e2e_project(data, len, device, &out, &n);
    if (rc == 0) {
        push_event_ref(ev);
        return ev;
    }
    if (rc < 0) {
        pl_log_warn("event %llu for user %lld: cannot project: %s",
                    (unsigned long long)push_event_pos(ev), (long long)user, pl_strerror(rc));
        return NULL;
    }
    struct push_event *p = push_event_new(push_event_pos(ev), "message.created", out, n);
    free(out);
    return p;
}

static char *encode_frame(const char *node, uint64_t pos, const char *type, const char *json,
                          size_t len, const int64_t *users, unsigned n, size_t *out_len)
{
    size_t cap = strlen(node) + strlen(type) + len + (size_t)n * 21 + 64;
    char *f = malloc(cap);
    if (!f)
        return NULL;
    size_t o = (size_t)snprintf(f, cap, "%s\n%llu\n%s\n", node, (unsigned long long)pos, type);
    for (unsigned i = 0; i < n; i++)
        o += (size_t)snprintf(f + o, cap - o, "%s%lld", i ? "," : "", (long long)users[i]);
    f[o++] = '\n';
    memcpy(f + o, json, len);
    *out_len = o + len;
    return f;
}

static void on_outgoing(struct pl_task *t)
{
    struct outgoing *o = PL_CONTAINER_OF(t, struct outgoing, task);
    api_replica_note_seen(push_event_pos(o->ev), o->users, o->n);
    if (push_hub_deliver(o->l->hub, o->ev, o->users, o->n) < 0)
        pl_log_warn("event not delivered live: out of memory");
    /* Redis down: other nodes miss the live event; their streams get it
     * on resume, and their hubs fill the position gap from PostgreSQL. */
    if (o->frame && o->l->gate)
        srv_relay_gate_publish(o->l->gate, o->frame, o->frame_len); /* owns the frame */
    else
        free(o->frame);
    free(o);
}

static void publish(void *ctx, uint64_t pos, const char *type, const char *json, size_t len,
                    const int64_t *users, unsigned n_users)
{
    struct srv_live *l = ctx;
    struct outgoing *o = malloc(sizeof(*o) + (size_t)n_users * sizeof(int64_t));
    struct push_event *ev = o ? event_new(pos, type, json, len) : NULL;
    if (!ev) {
        /* Out of memory: streams that miss the event get it on resume; a
         * positioned event is also refetched by the hub's gap filler. */
        pl_log_warn("event %llu (%s) not delivered live: out of memory", (unsigned long long)pos,
                    type);
        free(o);
        return;
    }
    *o = (struct outgoing){.l = l, .ev = ev, .n = n_users};
    if (n_users)
        memcpy(o->users, users, (size_t)n_users * sizeof(int64_t));
    o->frame = encode_frame(l->node, pos, type, json, len, users, n_users, &o->frame_len);
    o->task.run = on_outgoing;
    pl_loop_post(l->loop, &o->task);
}

/* A frame from another node (or our own echo, which is dropped). */
/* Revocations reach this node as relay frames (on_relay()), so the token
 * cache answers only while the relay's subscription stands: from a loss to
 * the next confirmation a revocation elsewhere could pass unseen, and every
 * request asks PostgreSQL instead. Before the first confirmation, too. */
static void on_relay_state(void *ctx, bool listening)
{
    struct srv_live *l = ctx;
    if (!listening)
        pl_log_warn("relay subscription lost: token cache held until it is back");
    api_token_cache_hold(l->env->tokens, !listening);
}

static void on_relay(void *ctx, const char *data, size_t len)
{
    struct srv_live *l = ctx;
    const char *end = data + len, *p = data, *line[4];
    size_t n_line[4];
    for (int i = 0; i < 4; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return; /* malformed: ignore */
        line[i] = p;
        n_line[i] = (size_t)(nl - p);
        p = nl + 1;
    }
    if (n_line[0] == strlen(l->node) && memcmp(line[0], l->node, n_line[0]) == 0)
        return;
    char type[64];
    if (n_line[2] == 0 || n_line[2] >= sizeof(type))
        return;
    memcpy(type, line[2], n_line[2]);
    type[n_line[2]] = '\0';
    if (strcmp(type, SRV_RELAY_GATE_HELLO) == 0) {
        if (l->gate)
            srv_relay_gate_hello(l->gate);
        return;
    }
    if (strcmp(type, CLOSE_TYPE) == 0) {
        char dev[24];
        size_t dn = PL_MIN((size_t)(end - p), sizeof(dev) - 1);
        memcpy(dev, p, dn);
        dev[dn] = '\0';
        /* The token's cached lookup goes first: once the stream has ended,
         * a reconnect with the token must already be refused here. */
        api_token_cache_evict_device(l->env->tokens, strtoll(dev, NULL, 10));
        push_hub_close_device(l->hub, strtoll(line[3], NULL, 10), strtoll(dev, NULL, 10));
        return;
    }
    uint64_t pos = strtoull(line[1], NULL, 10);
    unsigned cap = 1;
    for (size_t i = 0; i < n_line[3]; i++)
        cap += line[3][i] == ',';
    int64_t *users = malloc(cap * sizeof(*users));
    if (!users)
        return;
    unsigned n = 0;
    for (const char *u = line[3]; u < line[3] + n_line[3] && n < cap;) {
        char *stop;
        users[n++] = strtoll(u, &stop, 10);
        u = stop + 1;
    }
    struct push_event *ev = event_new(pos, type, p, (size_t)(end - p));
    api_replica_note_seen(pos, users, n);
    if (ev && push_hub_deliver(l->hub, ev, users, n) < 0)
        pl_log_warn("relayed event %llu not delivered: out of memory", (unsigned long long)pos);
    free(users);
}

struct close_req {
    struct pl_task task;
    struct srv_live *l;
    int64_t user, device;
};

static void on_close_device(struct pl_task *t)
{
    struct close_req *c = PL_CONTAINER_OF(t, struct close_req, task);
    push_hub_close_device(c->l->hub, c->user, c->device);
    /* A stolen token's stream on another node ends too. With Redis down
     * the frame is lost, but the token is already dead in PostgreSQL:
     * that stream gets nothing it could not have read before and ends
     * at its next authentication (a reconnect). */
    char dev[24];
    int n = snprintf(dev, sizeof(dev), "%lld", (long long)c->device);
    size_t len;
    char *frame = c->l->relay
                      ? encode_frame(c->l->node, 0, CLOSE_TYPE, dev, (size_t)n, &c->user, 1, &len)
                      : NULL;
    if (frame)
        (void)!store_relay_publish(c->l->relay, frame, len); /* counted as dropped */
    free(frame);
    free(c);
}

static void close_device(void *ctx, int64_t user, int64_t device)
{
    struct srv_live *l = ctx;
    struct close_req *c = malloc(sizeof(*c));
    if (!c)
        return; /* the token is revoked; the stream ends at its next use */
    *c = (struct close_req){.l = l, .user = user, .device = device};
    c->task.run = on_close_device;
    pl_loop_post(l->loop, &c->task);
}

static void presence_send(void *ctx, const char *node, const char *json, size_t len,
                          const int64_t *users, const int64_t *devices, unsigned n)
{
    struct srv_live *l = ctx;
    srv_presence_send(l->presence, node, json, len, users, devices, n);
}

static void stream_opened(void *ctx, int64_t user, int64_t device)
{
    struct srv_live *l = ctx;
    (void)user;
    srv_presence_stream_opened(l->presence, device);
}

static void stream_closed(void *ctx, int64_t user, int64_t device)
{
    struct srv_live *l = ctx;
    srv_presence_stream_closed(l->presence, user, device);
}

static int run(void *ctx, void (*fn)(struct api_worker *w, void *arg), void *arg)
{
    struct srv_live *l = ctx;
    return l->pool ? srv_pool_run(l->pool, fn, arg) : PL_ECANCELED;
}

/* ---- gaps: events that did not reach the hub ---- */

struct gap_job {
    struct srv_live *l;
    uint64_t from, to;
};

static void on_gap_done(struct pl_task *t)
{
    struct srv_live *l = PL_CONTAINER_OF(t, struct srv_live, gap_done);
    l->gap_pending = false;
}

/* Gap fills are for this node's hub only; the other nodes fill their own. */
static void deliver_local(struct srv_live *l, uint64_t pos, const char *type, const char *json,
                          const int64_t *users, unsigned n)
{
    struct push_event *ev = event_new(pos, type, json, strlen(json));
    api_replica_note_seen(pos, users, n);
    if (!ev || push_hub_publish(l->hub, ev, users, n) < 0)
        pl_log_warn("gap event %llu not delivered: out of memory", (unsigned long long)pos);
}

static void gap_job(struct api_worker *w, void *arg)
{
    struct gap_job *g = arg;
    struct pl_arena *a = pl_arena_new();
    struct store_event *ev = NULL;
    unsigned n = 0;
    int rc = a ? store_pg_events_range(w->pg, a, g->from, g->to, &ev, &n) : PL_ENOMEM;
    if (rc == 0) {
        /* Positions with no row (pruned, or never written) are published
         * as empty deliveries so the hub can move past them. */
        unsigned k = 0;
        for (uint64_t pos = g->from; pos <= g->to; pos++) {
            if (k < n && ev[k].pos == pos) {
                deliver_local(g->l, pos, ev[k].type, ev[k].payload, ev[k].users, ev[k].n_users);
                k++;
            } else {
                deliver_local(g->l, pos, "gap", "{}", NULL, 0);
            }
        }
        pl_log_info("filled stream positions %llu..%llu from PostgreSQL",
                    (unsigned long long)g->from, (unsigned long long)g->to);
    }
    pl_arena_free(a);
    g->l->gap_done.run = on_gap_done;
    pl_loop_post(g->l->loop, &g->l->gap_done);
    free(g);
}

static void on_gap(void *ctx, uint64_t from, uint64_t to)
{
    struct srv_live *l = ctx;
    if (l->gap_pending)
        return; /* one fill at a time; the hub asks again if needed */
    struct gap_job *g = malloc(sizeof(*g));
    if (!g)
        return;
    *g = (struct gap_job){l, from, to};
    l->gap_pending = true;
    if (run(l, gap_job, g) < 0) {
        l->gap_pending = false;
        free(g);
    }
}

/* ---- presence: heartbeats for the users holding streams here ---- */

struct presence_job {
    unsigned n, n_closed;
    unsigned *counts; /* streams per user, after users[] */
    int64_t *closed;  /* devices whose last stream here closed, after counts */
    int64_t users[];
};

static void presence_job(struct api_worker *w, void *arg)
{
    struct presence_job *p = arg;
    api_presence_tick(w, p->users, p->n);
    api_presence_streams_closed(w, p->closed, p->n_closed);
    /* The same period keeps this node's share of the cross-node streams
     * quota alive and true (a missed close is corrected here). */
    api_streams_refresh(w, p->users, p->counts, p->n);
    free(p);
}

/* The streams here whose presence frames may have been lost. */
struct resync_job {
    struct pl_task task; /* back to the loop when it must run again */
    struct srv_live *l;
    unsigned n;
    int64_t *devices; /* after users */
    int64_t users[];
};

#define RESYNC_RETRY_MS 1000

static void presence_resync(void *ctx);

static void on_resync_timer(void *ctx)
{
    presence_resync(ctx);
}

static void on_resync_failed(struct pl_task *t)
{
    struct resync_job *r = PL_CONTAINER_OF(t, struct resync_job, task);
    struct srv_live *l = r->l;
    free(r);
    if (!l->resync_failing)
        pl_log_warn("presence catch-up cannot finish yet (Redis or PostgreSQL); trying every %d ms",
                    RESYNC_RETRY_MS);
    l->resync_failing = true;
    pl_loop_timer_start(l->loop, &l->resync_timer, RESYNC_RETRY_MS, on_resync_timer, l);
}

static void on_resync_done(struct pl_task *t)
{
    struct resync_job *r = PL_CONTAINER_OF(t, struct resync_job, task);
    r->l->resync_failing = false;
    free(r);
}

static void resync_job(struct api_worker *w, void *arg)
{
    struct resync_job *r = arg;
    /* Failed: Redis still settling after a failover; again in a second. */
    r->task.run =
        api_presence_resync(w, r->users, r->devices, r->n) == 0 ? on_resync_done : on_resync_failed;
    pl_loop_post(r->l->loop, &r->task);
}

static void presence_resync(void *ctx)
{
    struct srv_live *l = ctx;
    unsigned max = push_hub_stream_count(l->hub);
    struct resync_job *r = malloc(sizeof(*r) + 2 * (size_t)(max ? max : 1) * sizeof(int64_t));
    if (r) {
        *r = (struct resync_job){.l = l};
        r->devices = r->users + (max ? max : 1);
        r->n = push_hub_devices(l->hub, r->users, r->devices, max);
    }
    if (!r || run(l, resync_job, r) < 0) {
        free(r);
        pl_loop_timer_start(l->loop, &l->resync_timer, RESYNC_RETRY_MS, on_resync_timer, l);
    }
}

static unsigned presence_period_ms(const struct srv_live *l)
{
    return PL_MAX(500u, l->cfg->presence_timeout_s * 1000 / 3);
}

static void on_presence_timer(void *ctx)
{
    struct srv_live *l = ctx;
    unsigned n = push_hub_user_count(l->hub);
    struct presence_job *p = malloc(sizeof(*p) + (size_t)n * (sizeof(int64_t) + sizeof(unsigned)) +
                                    API_PRESENCE_CLOSED_MAX * sizeof(int64_t) + sizeof(int64_t));
    if (p) {
        p->counts = (unsigned *)(p->users + n);
        p->n = push_hub_users_streams(l->hub, p->users, p->counts, n);
        /* int64_t alignment after the counts */
        p->closed = (int64_t *)(((uintptr_t)(p->counts + n) + 7) & ~(uintptr_t)7);
        p->n_closed = srv_presence_take_closed(l->presence, p->closed, API_PRESENCE_CLOSED_MAX);
        if (run(l, presence_job, p) < 0)
            free(p); /* busy: the next tick catches up (closes run out by TTL) */
    }
    pl_loop_timer_start(l->loop, &l->presence_timer, presence_period_ms(l), on_presence_timer, l);
}

/* ---- retention: events older than event_retention are deleted; a
 * stream resuming from before them gets a reset ---- */

#define PRUNE_PERIOD_MS (10 * 60 * 1000)

static void prune_job(struct api_worker *w, void *arg)
{
    struct srv_live *l = arg;
    uint64_t n = 0;
    if (store_pg_events_prune(w->pg, l->cfg->event_retention_s, &n) == 0 && n)
        pl_log_info("pruned %llu events older than %u s", (unsigned long long)n,
                    l->cfg->event_retention_s);
}

static void on_prune_timer(void *ctx)
{
    struct srv_live *l = ctx;
    (void)run(l, prune_job, l);
    pl_loop_timer_start(l->loop, &l->prune_timer, PRUNE_PERIOD_MS, on_prune_timer, l);
}

/* Expired uploads: the sweep runs at half their lifetime, at least every
 * ten minutes, and deletes at most a batch per run. */
#define SWEEP_BATCH 500

static uint64_t sweep_period_ms(const struct srv_live *l)
{
    uint64_t ms = l->cfg->media_pending_ttl_s * 500ull;
    return PL_MAX(PL_MIN(ms, 10 * 60 * 1000ull), 500ull);
}

static void sweep_job(struct api_worker *w, void *arg)
{
    (void)arg;
    /* The next timer tick tries again; a failure is only worth a line. */
    int rc = api_media_sweep(w, SWEEP_BATCH);
    if (rc < 0)
        pl_log_warn("media sweep failed: %s", pl_strerror(rc));
}

static void on_sweep_timer(void *ctx)
{
    struct srv_live *l = ctx;
    (void)run(l, sweep_job, l);
    pl_loop_timer_start(l->loop, &l->sweep_timer, sweep_period_ms(l), on_sweep_timer, l);
}

/* ---- setup ---- */

static int read_position(const struct srv_config *cfg, uint64_t *pos)
{
    struct store_pg_config pc = {.conninfo = cfg->pg,
                                 .connect_timeout_s = cfg->pg_connect_timeout_s};
    struct store_pg *pg;
    int rc = store_pg_new(&pc, &pg);
    if (rc < 0)
        return rc;
    rc = store_pg_position_current(pg, pos);
    store_pg_free(pg);
    return rc;
}

int srv_live_new(const struct srv_config *cfg, struct pl_loop *loop, struct srv_pool *pool,
                 struct api_env *env, struct srv_live **out)
{
    uint64_t pos;
    int rc = read_position(cfg, &pos);
    if (rc < 0) {
        pl_log_error("cannot read the stream position: %s", pl_strerror(rc));
        return rc;
    }
    struct srv_live *l = calloc(1, sizeof(*l));
    if (!l)
        return PL_ENOMEM;
    *l = (struct srv_live){.cfg = cfg, .loop = loop, .pool = pool, .env = env};
    struct push_hub_config hc = {.stream_max_bytes = cfg->stream_max_bytes,
                                 .keepalive_ms = cfg->sse_keepalive_ms,
                                 .gap_wait_ms = GAP_WAIT_MS};
    if ((rc = push_hub_new(loop, &hc, &l->hub)) < 0) {
        free(l);
        return rc;
    }
    push_hub_set_position(l->hub, pos);
    push_hub_on_gap(l->hub, on_gap, l);
    push_hub_on_project(l->hub, project, l);
    l->node = env->node_id;
    if ((rc = srv_presence_new(cfg, loop, l->hub, l->node, &l->presence)) == 0)
        srv_presence_on_resync(l->presence, presence_resync, l);
    if (rc < 0) {
        push_hub_free(l->hub);
        free(l);
        return rc;
    }
    struct store_redis_config rc_ = {
        .addr = cfg->redis, .timeout_ms = cfg->redis_timeout_ms, .cluster = cfg->redis_cluster};
    api_token_cache_hold(env->tokens, true);
    if ((rc = store_relay_new(loop, &rc_, cfg->relay_channel, on_relay, l, &l->relay)) < 0) {
        pl_log_warn("no relay between nodes (bad Redis address?): %s; no token cache",
                    pl_strerror(rc));
    } else if ((rc = srv_relay_gate_new(loop, l->relay, l->node, &l->gate)) < 0) {
        store_relay_free(l->relay);
        srv_presence_free(l->presence);
        push_hub_free(l->hub);
        free(l);
        return rc;
    }
    if (l->relay)
        store_relay_on_state(l->relay, on_relay_state, l);
    env->hub = l->hub;
    env->loop = loop;
    env->publish = publish;
    env->publish_ctx = l;
    env->close_device = close_device;
    env->close_ctx = l;
    env->run = run;
    env->run_ctx = l;
    env->presence_send = presence_send;
    env->stream_opened = stream_opened;
    env->stream_closed = stream_closed;
    env->presence_ctx = l;
    pl_loop_timer_start(loop, &l->presence_timer, presence_period_ms(l), on_presence_timer, l);
    pl_loop_timer_start(loop, &l->prune_timer, 5000, on_prune_timer, l);
    pl_loop_timer_start(loop, &l->sweep_timer, sweep_period_ms(l), on_sweep_timer, l);
    *out = l;
    return 0;
}

void srv_live_close_all(struct srv_live *l)
{
    if (l)
        push_hub_close_all(l->hub);
}

void srv_live_detach_pool(struct srv_live *l)
{
    if (l)
        l->pool = NULL;
}

void srv_live_free(struct srv_live *l)
{
    if (!l)
        return;
    pl_loop_timer_stop(l->loop, &l->presence_timer);
    pl_loop_timer_stop(l->loop, &l->resync_timer);
    pl_loop_timer_stop(l->loop, &l->prune_timer);
    pl_loop_timer_stop(l->loop, &l->sweep_timer);
    srv_relay_gate_free(l->gate);
    store_relay_free(l->relay);
    srv_presence_free(l->presence);
    push_hub_free(l->hub);
    free(l);
}

void srv_live_stats(const struct srv_live *l, struct srv_live_stats *out)
{
    *out = (struct srv_live_stats){.streams = push_hub_stream_count(l->hub),
                                   .users = push_hub_user_count(l->hub),
                                   .position = push_hub_position(l->hub)};
    if (l->relay)
        store_relay_stats(l->relay, &out->relay_received, &out->relay_dropped);
    if (l->gate) {
        struct srv_relay_gate_stats gs;
        srv_relay_gate_stats(l->gate, &gs);
        out->relay_skipped = gs.skipped;
        out->relay_replayed = gs.replayed;
        out->relay_alone = gs.alone;
    }
    struct srv_presence_stats ps;
    srv_presence_stats(l->presence, &ps);
    out->presence_events = ps.events;
    out->presence_frames_out = ps.frames_out;
    out->presence_frames_in = ps.frames_in;
    out->presence_frames_lost = ps.frames_lost;
    out->presence_resyncs = ps.resyncs;
}
