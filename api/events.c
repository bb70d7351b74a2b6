/* SPDX-License-Identifier: MIT */
/* Parley - GET /v1/events (Server-Sent Events) and GET /v1/sync.       */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "analytics/samples.h"
#include "storage/events.h"
#include "storage/presence.h"

#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PL_LOG_TOPIC("events");

/*
 * Opening a stream has three steps on two threads:
 *   1. worker: authenticate, read the current and oldest stream positions;
 *   2. loop:   register the stream with the hub (holding live events back
 *              when resuming) and start the response;
 *   3. worker: read the events after Last-Event-ID from PostgreSQL;
 *      loop:   queue them, then release the held live events newer than
 *              the last replayed one.
 * Registering before reading is what makes resume gap-free: any event
 * committed after step 2 arrives live, any event before it is in the read,
 * and the overlap is dropped by position.
 */
#define REPLAY_PAGE 500
#define REPLAY_MAX 20000 /* more than this to catch up: reset and refetch */
#define RETRY_FRAME "retry: 3000\n\n"

struct sse {
    int refs; /* loop thread only: the transport and a pending replay job */
    struct http_req *req;
    const struct api_env *env;
    struct push_stream *stream;
    int64_t user, device;
    bool resuming, reset, gone;
    uint64_t after, current;
    struct pl_task task;
    /* replay results, filled on a worker */
    struct pl_arena *arena;
    struct store_event *events;
    unsigned n_events;
    unsigned fed; /* replayed events handed to the stream so far */
    bool feeding;
    int replay_rc;
    bool too_many;
    bool counted; /* holds a place in the user's streams quota */
};

static void streams_closed_job(struct api_worker *w, void *arg)
{
    int64_t *user = arg;
    api__streams_closed(w, *user);
    free(user);
}

/* Gives the stream's place in the quota back (on a worker: it is a Redis
 * call). When no worker takes it, the next presence refresh corrects the
 * count. */
static void uncount(struct sse *s)
{
    if (!s->counted)
        return;
    s->counted = false;
    int64_t *user = malloc(sizeof(*user));
    if (!user)
        return;
    *user = s->user;
    if (s->env->run(s->env->run_ctx, streams_closed_job, user) < 0)
        free(user);
}

static void sse_unref(struct sse *s)
{
    if (--s->refs)
        return;
    pl_arena_free(s->arena);
    free(s);
}

/* A stored event's payload as device may see it: e2e messages carry
 * every device's ciphertext and are projected (api/e2e.c), exactly as the
 * hub does for live events. *owned is set when the result must be freed.
 * NULL when out of memory or malformed. */
static const char *payload_for(const struct store_event *e, int64_t device, size_t *len,
                               char **owned)
{
    size_t n = strlen(e->payload);
    *owned = NULL;
    *len = n;
    if (strcmp(e->type, "message.created") != 0)
        return e->payload;
    int rc = api_e2e_project(e->payload, n, device, owned, len);
    return rc == 0 ? e->payload : rc == 1 ? *owned : NULL;
}

/* ---- the transport side: pull bytes from the push stream ---- */

static void feed(struct sse *s);

static ssize_t sse_read(void *ctx, char *dst, size_t max)
{
    struct sse *s = ctx;
    ssize_t n = push_stream_read(s->stream, dst, max);
    if (s->feeding && n >= 0)
        feed(s);
    return n != 0 || !s->feeding ? n : push_stream_read(s->stream, dst, max);
}

static void sse_on_close(void *ctx, int status)
{
    struct sse *s = ctx;
    (void)status;
    s->gone = true;
    analytics_stream_closed();
    if (s->env->stream_closed)
        s->env->stream_closed(s->env->presence_ctx, s->user, s->device);
    uncount(s);
    push_stream_release(s->stream);
    sse_unref(s);
}

static const struct http_stream_ops sse_http_ops = {HTTP_STREAM_OPS_VERSION, sse_read,
                                                    sse_on_close};

static void sse_wake(void *ctx)
{
    struct sse *s = ctx;
    if (!s->gone)
        http_stream_wake(s->req);
}

static const struct push_stream_ops sse_push_ops = {PUSH_STREAM_OPS_VERSION, sse_wake};

static void raw(struct sse *s, const char *frame)
{
    struct push_event *ev = push_event_raw(frame, strlen(frame));
    if (ev) {
        push_stream_enqueue(s->stream, ev);
        push_event_unref(ev);
    }
}

/* Queues a control event (no position). */
static void control(struct sse *s, const char *name, const char *json)
{
    struct push_event *ev = push_event_new(0, name, json, strlen(json));
    if (ev) {
        push_stream_enqueue(s->stream, ev);
        push_event_unref(ev);
    }
}

/* ---- step 3: the replay ---- */

/* Hands replayed events to the stream only as it drains: a client far
 * behind must not overflow its own queue with its catch-up before the
 * first byte is sent. Half the cap is the high-water mark: one more event
 * never pushes the queue past the cap unless a single event is larger
 * than half of it, and live events held back meanwhile have room too. */
static void feed(struct sse *s)
{
    /* Fill while less than half the cap is queued (queued < cap - queued). */
    while (s->fed < s->n_events &&
           push_stream_queued_bytes(s->stream) < push_stream_room(s->stream)) {
        const struct store_event *e = &s->events[s->fed];
        size_t len;
        char *owned;
        const char *data = payload_for(e, s->device, &len, &owned);
        struct push_event *ev = data ? push_event_new(e->pos, e->type, data, len) : NULL;
        free(owned);
        if (!ev)
            break;
        push_stream_replay_add(s->stream, ev);
        push_event_unref(ev);
        s->fed++;
    }
    if (s->fed < s->n_events)
        return;
    s->feeding = false;
    push_stream_replay_end(s->stream);
    pl_arena_free(s->arena);
    s->arena = NULL;
    s->events = NULL;
}

static void on_replayed(struct pl_task *t)
{
    struct sse *s = PL_CONTAINER_OF(t, struct sse, task);
    if (!s->gone) {
        if (s->replay_rc < 0) {
            pl_log_warn("stream of user %lld: replay failed: %s", (long long)s->user,
                        pl_strerror(s->replay_rc));
            push_stream_close(s->stream); /* the client reconnects and resumes */
            push_stream_replay_end(s->stream);
        } else if (s->too_many) {
            char json[96];
            snprintf(json, sizeof(json), "{\"reason\":\"too_far_behind\",\"position\":%llu}",
                     (unsigned long long)s->current);
            control(s, "reset", json);
            push_stream_skip_to(s->stream, s->current);
            push_stream_replay_end(s->stream);
        } else {
            s->feeding = true;
            feed(s);
        }
    }
    if (!s->feeding) {
        pl_arena_free(s->arena);
        s->arena = NULL;
    }
    sse_unref(s);
}

static void replay_job(struct api_worker *w, void *arg)
{
    struct sse *s = arg;
    uint64_t after = s->after;
    s->arena = pl_arena_new();
    s->replay_rc = s->arena ? 0 : PL_ENOMEM;
    struct store_event *all = NULL;
    unsigned total = 0;
    while (s->replay_rc == 0) {
        struct store_event *page;
        unsigned n;
        s->replay_rc =
            store_pg_events_for_user(w->pg, s->arena, s->user, after, REPLAY_PAGE, &page, &n);
        if (s->replay_rc < 0 || n == 0)
            break;
        struct store_event *grown = pl_arena_alloc(s->arena, (total + n) * sizeof(*grown));
        if (!grown) {
            s->replay_rc = PL_ENOMEM;
            break;
        }
        if (total)
            memcpy(grown, all, total * sizeof(*grown));
        memcpy(grown + total, page, n * sizeof(*grown));
        all = grown;
        total += n;
        after = page[n - 1].pos;
        if (total > REPLAY_MAX) {
            s->too_many = true;
            break;
        }
        if (n < REPLAY_PAGE)
            break;
    }
    s->events = all;
    s->n_events = total;
    s->task.run = on_replayed;
    pl_loop_post(s->env->loop, &s->task);
}

/* ---- step 2: on the loop ---- */

static void on_open(struct pl_task *t)
{
    struct sse *s = PL_CONTAINER_OF(t, struct sse, task);
    bool replay = s->resuming && !s->reset;
    s->stream = push_stream_open(s->env->hub, s->user, s->device, replay, &sse_push_ops, s);
    if (!s->stream) {
        api_problem_send(s->req, PL_ENOMEM, NULL);
        http_req_complete(s->req);
        uncount(s);
        free(s);
        return;
    }
    if (s->env->stream_opened)
        s->env->stream_opened(s->env->presence_ctx, s->user, s->device);
    enum http_proto proto = http_req_proto(s->req);
    analytics_stream_opened(proto == HTTP_PROTO_H2C  ? 1
                            : proto == HTTP_PROTO_H2 ? 2
                                                     : 0,
                            s->resuming);
    raw(s, RETRY_FRAME);
    char json[96];
    if (s->reset) {
        snprintf(json, sizeof(json), "{\"reason\":\"%s\",\"position\":%llu}",
                 s->after > s->current ? "unknown_position" : "too_old",
                 (unsigned long long)s->current);
        control(s, "reset", json);
    } else if (!s->resuming) {
        snprintf(json, sizeof(json), "{\"position\":%llu}", (unsigned long long)s->current);
        control(s, "ready", json);
    }
    /* The client is told it is at `current`: live events the hub has not
     * delivered yet but that committed before that must not follow. */
    if (!replay)
        push_stream_skip_to(s->stream, s->current);
    /* no-store: an event stream is never cached; X-Accel-Buffering: no
     * tells nginx-style proxies not to hold events back. */
    if (http_resp_header(s->req, "Cache-Control", "no-store") < 0 ||
        http_resp_header(s->req, "X-Accel-Buffering", "no") < 0)
        pl_log_warn("stream of user %lld: could not add headers", (long long)s->user);
    http_resp_stream(s->req, 200, "text/event-stream; charset=utf-8", &sse_http_ops, s);
    s->refs = 1;
    http_req_complete(s->req);
    if (replay) {
        s->refs++;
        if (s->env->run(s->env->run_ctx, replay_job, s) < 0) {
            s->refs--;
            push_stream_close(s->stream); /* overloaded: the client retries */
        }
    }
}

/* ---- step 1: the handler, on a worker ---- */

/* A stream position as the client sent it: decimal digits only. */
static bool parse_pos(const char *s, uint64_t *out)
{
    if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19)
        return false;
    *out = strtoull(s, NULL, 10);
    return true;
}

/* Reads the positions a resume is judged against. */
static int positions(struct api_call *c, uint64_t *current, uint64_t *oldest)
{
    int rc = store_pg_position_current(c->w->pg, current);
    if (rc == 0)
        rc = store_pg_position_oldest(c->w->pg, oldest);
    return rc;
}

static int events_open(struct api_call *c)
{
    const char *last = http_req_header(c->req, "last-event-id");
    if (!last)
        last = http_req_query(c->req, "last_event_id");
    uint64_t current, oldest;
    int rc = positions(c, &current, &oldest);
    if (rc < 0)
        return rc;
    if ((rc = api__streams_open(c)) < 0)
        return rc;
    struct sse *s = calloc(1, sizeof(*s));
    if (!s) {
        api__streams_closed(c->w, c->user_id);
        return PL_ENOMEM;
    }
    *s = (struct sse){.req = c->req,
                      .env = c->env,
                      .user = c->user_id,
                      .device = c->device_id,
                      .current = current,
                      .resuming = last != NULL,
                      .counted = c->env->cfg->limits.streams != 0};
    /* A position we cannot replay from exactly (malformed, from the future,
     * or older than what is kept) gets an explicit reset, never a silent
     * skip: the client refetches state over REST. */
    if (last && (!parse_pos(last, &s->after) || s->after > current || s->after + 1 < oldest))
        s->reset = true;
    api__presence_touch(c->w, c->user_id);
    s->task.run = on_open;
    pl_loop_post(c->env->loop, &s->task);
    return API_DEFERRED;
}

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
        const char *data = payload_for(&ev[i], device, &len, &owned);
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
    int rc = positions(&c, &current, &oldest);
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
    if (!parse_pos(v, out) || *out > max) {
        api_problem_send(c->req, PL_EMALFORMED,
                         pl_arena_sprintf(c->a, "%s must be an integer from 0 to %llu", name,
                                          (unsigned long long)max));
        return PL_EMALFORMED;
    }
    return 0;
}

static int sync_get(struct api_call *c)
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

const struct api_route_def api__stream_routes[] = {
    {"GET", "/v1/events", events_open, API_AUTH_ANY | API_WAITS},
    {"GET", "/v1/sync", sync_get, API_AUTH_ANY},
    {"GET", "/v1/users/{user}/presence", api_presence_get, API_AUTH},
    {"POST", "/v1/presence/heartbeat", api_presence_heartbeat, API_AUTH},
    {"PUT", "/v1/presence/subscriptions", api_presence_subs_put, API_AUTH},
    {"GET", "/v1/presence/subscriptions", api_presence_subs_get, API_AUTH},
    {"DELETE", "/v1/presence/subscriptions", api_presence_subs_delete, API_AUTH},
    {"POST", "/v1/conversations/{id}/typing", api_typing_post, API_AUTH},
    {NULL, NULL, NULL, 0},
};
