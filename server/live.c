/* SPDX-License-Identifier: MIT */
/* Parley - live delivery on this node: the hub, publishing, presence.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "live.h"

#include "storage/events.h"

#include "common/log.h"

#include <stdlib.h>
#include <string.h>

PL_LOG_TOPIC("live");

/* How long an out-of-order event waits for the ones before it before the
 * gap is read from PostgreSQL. Events from this node's writer arrive in
 * order; waits come from concurrent transactions finishing their publish
 * in a different order than they committed. */
#define GAP_WAIT_MS 200

struct srv_live {
    const struct srv_config *cfg;
    struct pl_loop *loop;
    struct srv_pool *pool;
    struct api_env *env;
    struct push_hub *hub;
    struct pl_timer presence_timer;
    struct pl_task gap_done;
    bool gap_pending;
};

static void publish(void *ctx, uint64_t pos, const char *type, const char *json, size_t len,
                    const int64_t *users, unsigned n_users)
{
    struct srv_live *l = ctx;
    struct push_event *ev = push_event_new(pos, type, json, len);
    /* Out of memory: streams that miss the event get it on resume. If it
     * had a position, the hub's gap filler fetches it from PostgreSQL. */
    if (!ev || push_hub_publish(l->hub, ev, users, n_users) < 0)
        pl_log_warn("event %llu (%s) not delivered live: out of memory",
                    (unsigned long long)pos, type);
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
                publish(g->l, pos, ev[k].type, ev[k].payload, strlen(ev[k].payload), ev[k].users,
                        ev[k].n_users);
                k++;
            } else {
                publish(g->l, pos, "gap", "{}", 2, NULL, 0);
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
    unsigned n;
    int64_t users[];
};

static void presence_job(struct api_worker *w, void *arg)
{
    struct presence_job *p = arg;
    api_presence_tick(w, p->users, p->n);
    free(p);
}

static unsigned presence_period_ms(const struct srv_live *l)
{
    return PL_MAX(500u, l->cfg->presence_timeout_s * 1000 / 3);
}

static void on_presence_timer(void *ctx)
{
    struct srv_live *l = ctx;
    unsigned n = push_hub_user_count(l->hub);
    struct presence_job *p = malloc(sizeof(*p) + (size_t)n * sizeof(int64_t));
    if (p) {
        p->n = push_hub_users(l->hub, p->users, n);
        if (run(l, presence_job, p) < 0)
            free(p); /* busy: the next tick catches up */
    }
    pl_loop_timer_start(l->loop, &l->presence_timer, presence_period_ms(l), on_presence_timer, l);
}

/* ---- setup ---- */

static int read_position(const struct srv_config *cfg, uint64_t *pos)
{
    struct store_pg_config pc = {.conninfo = cfg->pg, .connect_timeout_s = cfg->pg_connect_timeout_s};
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
    env->hub = l->hub;
    env->loop = loop;
    env->publish = publish;
    env->publish_ctx = l;
    env->close_device = close_device;
    env->close_ctx = l;
    env->run = run;
    env->run_ctx = l;
    pl_loop_timer_start(loop, &l->presence_timer, presence_period_ms(l), on_presence_timer, l);
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
    push_hub_free(l->hub);
    free(l);
}

struct push_hub *srv_live_hub(struct srv_live *l)
{
    return l->hub;
}
