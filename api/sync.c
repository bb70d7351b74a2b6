/* SPDX-License-Identifier: MIT */
/* Parley - GET /v1/sync: the events of GET /v1/events as JSON batches. */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/events.h"

#include <stdlib.h>

/* ---- GET /v1/sync: the same events as a JSON batch ---- */

struct sync_wait {
    struct pl_task task;
    struct http_req *req;
    const struct api_env *env;
    struct push_stream *stream;
    struct pl_timer timer;
    int64_t user, device;
    uint64_t since, seen;
    unsigned limit;
    uint64_t deadline_ms; /* monotonic */
    bool finishing;
};

static void gen_events(yajl_gen g, const struct store_event *ev, unsigned n, int64_t device)
{
    api__gen_key(g, "events");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        api__gen_int(g, "id", (long long)ev[i].pos);
        api__gen_str(g, "event", ev[i].type);
        api__gen_key(g, "data");
        /* The payload is JSON we generated and stored: splice it as is
         * (projected for the device when it is an e2e message). */
        size_t len;
        char *owned;
        const char *data = api__event_payload(&ev[i], device, &len, &owned);
        if (data)
            yajl_gen_number(g, data, len);
        else
            yajl_gen_null(g);
        free(owned);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

/* Answers a sync from PostgreSQL. Returns the number of events sent, or a
 * negative code (no response set). */
static int sync_answer(struct api_worker *w, struct http_req *req, int64_t user, int64_t device,
                       uint64_t since, unsigned limit, uint64_t *seen)
{
    struct api_call c = {.req = req, .w = w, .env = w->env, .a = http_req_arena(req)};
    uint64_t current, oldest;
    int rc = api__positions(&c, &current, &oldest);
    if (rc < 0)
        return rc;
    *seen = current;
    bool reset = since > current || since + 1 < oldest;
    struct store_event *ev = NULL;
    unsigned n = 0;
    if (!reset && (rc = store_pg_events_for_user(w->pg, c.a, user, since, limit, &ev, &n)) < 0)
        return rc;
    /* Everything visible up to `current` was in the read (it ran after
     * current was taken), so a short page may move the client up to it. */
    uint64_t next = n == limit ? ev[n - 1].pos : PL_MAX(n ? ev[n - 1].pos : since, current);
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    gen_events(g, ev, n, device);
    api__gen_int(g, "position", (long long)next);
    api__gen_key(g, "reset");
    yajl_gen_bool(g, reset);
    yajl_gen_map_close(g);
    if ((rc = api__reply_json(&c, 200, g)) < 0)
        return rc;
    return (int)n + (reset ? 1 : 0);
}

static void sync_wait_open(struct pl_task *t);

/* A wake only says something happened for the user (or anywhere, for the
 * race check): if the read finds nothing visible and time is left, wait
 * again instead of answering early. */
static void sync_requery(struct api_worker *w, void *arg)
{
    struct sync_wait *sw = arg;
    uint64_t seen;
    int rc = sync_answer(w, sw->req, sw->user, sw->device, sw->since, sw->limit, &seen);
    if (rc == 0 && pl_now_ms() + 10 < sw->deadline_ms) {
        sw->seen = seen;
        sw->finishing = false;
        sw->task.run = sync_wait_open;
        pl_loop_post(sw->env->loop, &sw->task);
        return;
    }
    if (rc < 0)
        api_problem_send(sw->req, rc, NULL);
    http_req_complete(sw->req);
    free(sw);
}

static void sync_finish(struct pl_task *t)
{
    struct sync_wait *sw = PL_CONTAINER_OF(t, struct sync_wait, task);
    pl_loop_timer_stop(sw->env->loop, &sw->timer);
    push_stream_release(sw->stream);
    if (sw->env->run(sw->env->run_ctx, sync_requery, sw) < 0) {
        api_problem_send(sw->req, PL_EBUSY, NULL);
        http_req_complete(sw->req);
        free(sw);
    }
}

/* Woken by an event for the user, or by the timeout: finish at the end of
 * the loop pass, outside the hub's delivery. */
static void sync_trigger(void *ctx)
{
    struct sync_wait *sw = ctx;
    if (sw->finishing)
        return;
    sw->finishing = true;
    sw->task.run = sync_finish;
    pl_loop_defer(sw->env->loop, &sw->task);
}

static const struct push_stream_ops sync_push_ops = {PUSH_STREAM_OPS_VERSION, sync_trigger};

static void sync_wait_open(struct pl_task *t)
{
    struct sync_wait *sw = PL_CONTAINER_OF(t, struct sync_wait, task);
    sw->stream = push_stream_open(sw->env->hub, sw->user, sw->device, false, &sync_push_ops, sw);
    if (!sw->stream) {
        api_problem_send(sw->req, PL_ENOMEM, NULL);
        http_req_complete(sw->req);
        free(sw);
        return;
    }
    uint64_t now = pl_now_ms();
    pl_loop_timer_start(sw->env->loop, &sw->timer,
                        sw->deadline_ms > now ? sw->deadline_ms - now : 0, sync_trigger, sw);
    /* An event delivered between our read and this registration would not
     * wake us: if the hub moved past what the read saw, look again now. */
    if (push_hub_position(sw->env->hub) > sw->seen)
        sync_trigger(sw);
}

static int query_uint(struct api_call *c, const char *name, uint64_t def, uint64_t max,
                      uint64_t *out)
{
    const char *v = http_req_query(c->req, name);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!api__parse_pos(v, out) || *out > max) {
        api_problem_send(c->req, PL_EMALFORMED,
                         pl_arena_sprintf(c->a, "%s must be an integer from 0 to %llu", name,
                                          (unsigned long long)max));
        return PL_EMALFORMED;
    }
    return 0;
}

int api__sync_get(struct api_call *c)
{
    uint64_t since, timeout, limit;
    int rc = query_uint(c, "since", 0, UINT64_MAX / 2, &since);
    if (rc == 0)
        rc = query_uint(c, "timeout", 0, c->env->cfg->sync_max_wait_ms, &timeout);
    if (rc == 0)
        rc = query_uint(c, "limit", 500, 1000, &limit);
    if (rc < 0)
        return rc;
    if (limit == 0) {
        api_problem_send(c->req, PL_EMALFORMED, "limit must be from 1 to 1000");
        return PL_EMALFORMED;
    }
    uint64_t seen;
    int n = sync_answer(c->w, c->req, c->user_id, c->device_id, since, (unsigned)limit, &seen);
    if (n != 0 || timeout == 0)
        return n < 0 ? n : 0;
    struct sync_wait *sw = calloc(1, sizeof(*sw));
    if (!sw)
        return 0; /* the empty answer is already set */
    *sw = (struct sync_wait){.req = c->req,
                             .env = c->env,
                             .user = c->user_id,
                             .device = c->device_id,
                             .since = since,
                             .seen = seen,
                             .limit = (unsigned)limit,
                             .deadline_ms = pl_now_ms() + timeout};
    sw->task.run = sync_wait_open;
    pl_loop_post(c->env->loop, &sw->task);
    return API_DEFERRED;
}
