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
const char *api__event_payload(const struct store_event *e, int64_t device, size_t *len,
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
        const char *data = api__event_payload(e, s->device, &len, &owned);
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

/* Streams that cross between the threads together: one task, one worker
 * job, however many streams (a reconnect storm opens thousands at once). */
struct sse_batch {
    struct pl_task task;
    const struct api_env *env;
    unsigned n;
    struct sse *s[];
};

static struct sse_batch *batch_new(const struct api_env *env, unsigned n)
{
    struct sse_batch *b = calloc(1, sizeof(*b) + (n ? n : 1) * sizeof(b->s[0]));
    if (b)
        b->env = env;
    return b;
}

static void replayed(struct sse *s)
{
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
            if (s->n_events) /* what the client is told, its reads show (api/replica.h) */
                api_replica_note_seen(s->events[s->n_events - 1].pos, &s->user, 1);
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

static void on_replayed_many(struct pl_task *t)
{
    struct sse_batch *b = PL_CONTAINER_OF(t, struct sse_batch, task);
    for (unsigned i = 0; i < b->n; i++)
        replayed(b->s[i]);
    free(b);
}

/* After a full first page: reads on, page by page, until a short page or
 * REPLAY_MAX (then too_many: the client is told to reset). */
static void replay_rest(struct api_worker *w, struct sse *s)
{
    struct store_event *all = s->events;
    unsigned total = s->n_events;
    uint64_t after = total ? all[total - 1].pos : s->after;
    while (s->replay_rc == 0 && total % REPLAY_PAGE == 0 && total) {
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
}

/* Copies the n events of ev into s's own arena (streams drain at their own
 * pace, so each frees its replay alone). */
static int replay_take(struct sse *s, const struct store_event *ev, unsigned n)
{
    s->events = pl_arena_zalloc(s->arena, (n ? n : 1) * sizeof(*s->events));
    if (!s->events)
        return PL_ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        s->events[i].pos = ev[i].pos;
        s->events[i].type = pl_arena_strdup(s->arena, ev[i].type);
        s->events[i].payload = pl_arena_strdup(s->arena, ev[i].payload);
        if (!s->events[i].type || !s->events[i].payload)
            return PL_ENOMEM;
    }
    s->n_events = n;
    return 0;
}

/* Worker: the first page of every stream of the batch in one statement
 * (streams of one user resuming from one place share a read), the rest of
 * a long catch-up page by page. */
static void replay_many_job(struct api_worker *w, void *arg)
{
    struct sse_batch *b = arg;
    unsigned n = b->n, m = 0, k = 0;
    int64_t *users = calloc(n, sizeof(*users));
    uint64_t *afters = calloc(n, sizeof(*afters));
    unsigned *pair = calloc(n, sizeof(*pair)), *first = calloc(n, sizeof(*first)),
             *count = calloc(n, sizeof(*count)), *which = NULL;
    struct pl_arena *a = pl_arena_new();
    struct store_event *ev = NULL;
    int rc = users && afters && pair && first && count && a ? 0 : PL_ENOMEM;
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        struct sse *s = b->s[i];
        unsigned j = 0;
        while (j < m && (users[j] != s->user || afters[j] != s->after))
            j++;
        if (j == m)
            users[m] = s->user, afters[m++] = s->after;
        pair[i] = j;
    }
    if (rc == 0)
        rc = store_pg_events_for_users(w->pg, a, users, afters, m, REPLAY_PAGE, &ev, &which, &k);
    for (unsigned r = 0; rc == 0 && r < k; r++)
        if (count[which[r]]++ == 0)
            first[which[r]] = r;
    for (unsigned i = 0; i < n; i++) {
        struct sse *s = b->s[i];
        s->arena = pl_arena_new();
        s->replay_rc = rc < 0 ? rc : s->arena ? 0 : PL_ENOMEM;
        if (s->replay_rc == 0)
            s->replay_rc = replay_take(s, ev + first[pair[i]], count[pair[i]]);
        if (s->replay_rc == 0 && s->n_events == REPLAY_PAGE)
            replay_rest(w, s);
    }
    pl_arena_free(a);
    free(users);
    free(afters);
    free(pair);
    free(first);
    free(count);
    b->task.run = on_replayed_many;
    pl_loop_post(b->env->loop, &b->task);
}

/* ---- step 2: on the loop ---- */

/* Registers s with the hub and starts its response. Returns true when s
 * replays from PostgreSQL (it then holds a second reference). */
static bool open_one(struct sse *s)
{
    /* A resume from a position this node's hub has already delivered up to
     * needs no read: the hub delivers every later event live, in position
     * order, and the stream drops what is not after Last-Event-ID. */
    bool replay = s->resuming && !s->reset && s->after < push_hub_position(s->env->hub);
    s->stream = push_stream_open(s->env->hub, s->user, s->device, replay, &sse_push_ops, s);
    if (!s->stream) {
        api_problem_send(s->req, PL_ENOMEM, NULL);
        http_req_complete(s->req);
        uncount(s);
        free(s);
        return false;
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
    /* The client is told it is at `current` (or is at Last-Event-ID): live
     * events the hub has not delivered yet but that are not after that
     * must not follow. */
    if (!replay)
        push_stream_skip_to(s->stream, s->resuming && !s->reset ? s->after : s->current);
    /* no-store: an event stream is never cached; X-Accel-Buffering: no
     * tells nginx-style proxies not to hold events back. */
    if (http_resp_header(s->req, "Cache-Control", "no-store") < 0 ||
        http_resp_header(s->req, "X-Accel-Buffering", "no") < 0)
        pl_log_warn("stream of user %lld: could not add headers", (long long)s->user);
    http_resp_stream(s->req, 200, "text/event-stream; charset=utf-8", &sse_http_ops, s);
    s->refs = replay ? 2 : 1;
    http_req_complete(s->req);
    return replay;
}

static void on_open_many(struct pl_task *t)
{
    struct sse_batch *b = PL_CONTAINER_OF(t, struct sse_batch, task);
    unsigned k = 0;
    for (unsigned i = 0; i < b->n; i++)
        if (open_one(b->s[i]))
            b->s[k++] = b->s[i];
    b->n = k;
    if (k && b->env->run(b->env->run_ctx, replay_many_job, b) == 0)
        return;
    for (unsigned i = 0; i < k; i++) {
        b->s[i]->refs--;
        push_stream_close(b->s[i]->stream); /* overloaded: the client retries */
    }
    free(b);
}

/* ---- step 1: on a worker ---- */

bool api__parse_pos(const char *s, uint64_t *out)
{
    if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19)
        return false;
    *out = strtoull(s, NULL, 10);
    return true;
}

int api__positions(struct api_call *c, uint64_t *current, uint64_t *oldest)
{
    return store_pg_positions(c->w->pg, current, oldest);
}

static struct sse *sse_new(struct api_call *c, uint64_t current, uint64_t oldest)
{
    const char *last = http_req_header(c->req, "last-event-id");
    if (!last)
        last = http_req_query(c->req, "last_event_id");
    struct sse *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
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
    if (last && (!api__parse_pos(last, &s->after) || s->after > current || s->after + 1 < oldest))
        s->reset = true;
    return s;
}

/* The part of opening after authentication, for the n calls of one worker
 * whose rcs[i] is 0: one read of the positions, one quota round trip, one
 * presence round trip, then the streams go to the loop as one batch
 * (rcs[i] = API_DEFERRED). The others keep their code (problem set or
 * not) for the caller to answer. */
static void open_authed(struct api_call *cs, unsigned n, int *rcs)
{
    struct api_worker *w = cs[0].w;
    unsigned ok = 0;
    for (unsigned i = 0; i < n; i++)
        ok += rcs[i] == 0;
    if (ok == 0)
        return;
    uint64_t current, oldest;
    int rc = api__positions(&cs[0], &current, &oldest);
    for (unsigned i = 0; rc < 0 && i < n; i++)
        if (rcs[i] == 0)
            rcs[i] = rc;
    if (rc < 0)
        return;
    api__streams_open_many(cs, n, rcs);
    struct sse_batch *b = batch_new(w->env, n);
    int64_t *users = calloc(n, sizeof(*users));
    unsigned m = 0;
    for (unsigned i = 0; i < n; i++) {
        if (rcs[i] != 0)
            continue;
        struct sse *s = b && users ? sse_new(&cs[i], current, oldest) : NULL;
        if (!s) {
            api__streams_closed(w, cs[i].user_id);
            rcs[i] = PL_ENOMEM;
            continue;
        }
        b->s[b->n++] = s;
        users[m++] = cs[i].user_id;
        rcs[i] = API_DEFERRED;
    }
    if (b && b->n) {
        b->task.run = on_open_many;
        pl_loop_post(w->env->loop, &b->task);
    } else {
        free(b);
    }
    /* After the streams went to the loop: they need not wait for it. */
    if (m)
        api__presence_touch_many(w, users, m);
    free(users);
}

/* Through api_handle() (authenticated already): a batch of one. */
static int events_open(struct api_call *c)
{
    int rc = 0;
    open_authed(c, 1, &rc);
    return rc;
}

void api_handle_waiting(struct api_worker *w, struct http_req **reqs, unsigned n)
{
    struct api_call *cs = calloc(n ? n : 1, sizeof(*cs));
    int *rcs = calloc(n ? n : 1, sizeof(*rcs));
    for (unsigned i = 0; cs && i < n; i++)
        cs[i] =
            (struct api_call){.req = reqs[i], .w = w, .env = w->env, .a = http_req_arena(reqs[i])};
    if (cs && rcs && n) {
        if (api__auth_many(cs, n, true, rcs) == 0)
            open_authed(cs, n, rcs);
    }
    for (unsigned i = 0; i < n; i++) {
        if (cs && rcs && rcs[i] == API_DEFERRED)
            continue;
        struct api_call c = {.req = reqs[i], .w = w, .env = w->env, .a = http_req_arena(reqs[i])};
        api__finish(cs ? &cs[i] : &c, cs && rcs ? rcs[i] : PL_ENOMEM);
    }
    free(cs);
    free(rcs);
}

const struct api_route_def api__stream_routes[] = {
    {"GET", "/v1/events", events_open, API_AUTH_ANY | API_WAITS},
    {"GET", "/v1/sync", api__sync_get, API_AUTH_ANY},
    {"GET", "/v1/users/{user}/presence", api_presence_get, API_AUTH},
    {"POST", "/v1/presence/heartbeat", api_presence_heartbeat, API_AUTH},
    {"PUT", "/v1/presence/subscriptions", api_presence_subs_put, API_AUTH},
    {"GET", "/v1/presence/subscriptions", api_presence_subs_get, API_AUTH},
    {"DELETE", "/v1/presence/subscriptions", api_presence_subs_delete, API_AUTH},
    {"POST", "/v1/conversations/{id}/typing", api_typing_post, API_AUTH},
    {NULL, NULL, NULL, 0},
};
