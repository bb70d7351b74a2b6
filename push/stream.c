/* SPDX-License-Identifier: MIT */
/* Parley - one device's live stream: a bounded queue of events.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "push_int.h"

#include "common/log.h"

#include <stdlib.h>
#include <string.h>

PL_LOG_TOPIC("push");

/* The queue holds references, not copies: a group message fanned out to a
 * thousand streams is one allocation. The byte cap counts the frames'
 * sizes, so a stream that stops reading holds at most stream_max_bytes of
 * events alive, and is then closed (redis client-output-buffer-limit). */
#define RING_MIN 8

static void on_keepalive(void *ctx);

static void arm_keepalive(struct push_stream *s)
{
    unsigned ms = push__hub_config(s->hub)->keepalive_ms;
    if (ms)
        pl_loop_timer_start(push__hub_loop(s->hub), &s->keepalive, ms, on_keepalive, s);
}

struct push_stream *push_stream_open(struct push_hub *hub, int64_t user_id, int64_t device_id,
                                     bool replaying, const struct push_stream_ops *ops, void *ctx)
{
    struct push_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->hub = hub;
    s->user_id = user_id;
    s->device_id = device_id;
    s->ops = ops;
    s->ctx = ctx;
    s->replaying = replaying;
    s->last_output_ms = pl_loop_now(push__hub_loop(hub));
    if (push__hub_add(hub, s) < 0) {
        free(s);
        return NULL;
    }
    s->registered = true;
    arm_keepalive(s);
    return s;
}

static void wake(struct push_stream *s)
{
    if (s->ops && s->ops->wake && !s->released)
        s->ops->wake(s->ctx);
}

static int ring_push(struct push_stream *s, struct push_event *ev)
{
    if (s->len == s->cap) {
        unsigned cap = s->cap ? s->cap * 2 : RING_MIN;
        struct push_event **r = malloc(cap * sizeof(*r));
        if (!r)
            return PL_ENOMEM;
        for (unsigned i = 0; i < s->len; i++)
            r[i] = s->ring[(s->head + i) % s->cap];
        free(s->ring);
        s->ring = r;
        s->cap = cap;
        s->head = 0;
    }
    s->ring[(s->head + s->len) % s->cap] = ev;
    s->len++;
    return 0;
}

static void drop_all(struct push_stream *s)
{
    for (unsigned i = 0; i < s->len; i++)
        push_event_unref(s->ring[(s->head + i) % s->cap]);
    s->len = s->head = 0;
    s->head_off = s->queued_bytes = 0;
    for (unsigned i = 0; i < s->n_held; i++)
        push_event_unref(s->held[i]);
    s->n_held = 0;
    s->held_bytes = 0;
}

void push_stream_close(struct push_stream *s)
{
    if (s->closed)
        return;
    s->closed = true;
    wake(s);
}

/* Overflow: what is queued was never sent, so the client's last id is
 * before all of it and a resume replays it from PostgreSQL. Dropping it
 * here is what keeps memory flat under slow consumers. */
static int overflow(struct push_stream *s)
{
    pl_log_info("stream of user %lld device %lld: over %zu queued bytes, closing",
                (long long)s->user_id, (long long)s->device_id,
                push__hub_config(s->hub)->stream_max_bytes);
    drop_all(s);
    push_stream_close(s);
    return PL_ETOOBIG;
}

static int hold(struct push_stream *s, struct push_event *ev)
{
    if (s->held_bytes + ev->len > push__hub_config(s->hub)->stream_max_bytes)
        return PL_ETOOBIG;
    if (s->n_held == s->cap_held) {
        unsigned cap = s->cap_held ? s->cap_held * 2 : RING_MIN;
        struct push_event **h = realloc(s->held, cap * sizeof(*h));
        if (!h)
            return PL_ENOMEM;
        s->held = h;
        s->cap_held = cap;
    }
    push_event_ref(ev);
    s->held[s->n_held++] = ev;
    s->held_bytes += ev->len;
    return 0;
}

static int queue(struct push_stream *s, struct push_event *ev);

int push_stream_enqueue(struct push_stream *s, struct push_event *ev)
{
    if (s->closed)
        return 0;
    if (s->replaying && ev->pos) {
        int rc = hold(s, ev);
        return rc < 0 ? overflow(s) : 0;
    }
    return queue(s, ev);
}

int push_stream_replay_add(struct push_stream *s, struct push_event *ev)
{
    return s->closed ? 0 : queue(s, ev);
}

static int queue(struct push_stream *s, struct push_event *ev)
{
    if (ev->pos && ev->pos <= s->last_pos)
        return 0; /* already queued (replay and live overlap) */
    if (s->queued_bytes + ev->len > push__hub_config(s->hub)->stream_max_bytes)
        return overflow(s);
    push_event_ref(ev);
    if (ring_push(s, ev) < 0) {
        push_event_unref(ev);
        return overflow(s);
    }
    bool was_empty = s->queued_bytes == 0;
    s->queued_bytes += ev->len;
    if (ev->pos)
        s->last_pos = ev->pos;
    if (was_empty)
        wake(s);
    return 0;
}

void push_stream_replay_end(struct push_stream *s)
{
    s->replaying = false;
    unsigned n = s->n_held;
    s->n_held = 0;
    s->held_bytes = 0;
    for (unsigned i = 0; i < n; i++) {
        push_stream_enqueue(s, s->held[i]);
        push_event_unref(s->held[i]);
    }
}

ssize_t push_stream_read(struct push_stream *s, char *dst, size_t max)
{
    size_t out = 0;
    while (s->len && out < max) {
        struct push_event *ev = s->ring[s->head];
        size_t n = PL_MIN(ev->len - s->head_off, max - out);
        memcpy(dst + out, ev->frame + s->head_off, n);
        out += n;
        s->head_off += n;
        s->queued_bytes -= n;
        if (s->head_off == ev->len) {
            push_event_unref(ev);
            s->head = (s->head + 1) % s->cap;
            s->len--;
            s->head_off = 0;
        }
    }
    if (out) {
        s->last_output_ms = pl_loop_now(push__hub_loop(s->hub));
        return (ssize_t)out;
    }
    return s->closed ? -1 : 0;
}

static void on_keepalive(void *ctx)
{
    struct push_stream *s = ctx;
    if (s->closed || s->released)
        return;
    uint64_t now = pl_loop_now(push__hub_loop(s->hub));
    unsigned ms = push__hub_config(s->hub)->keepalive_ms;
    /* Only an idle stream needs the comment; proxies time out on silence. */
    if (s->queued_bytes == 0 && now - s->last_output_ms + 5 >= ms)
        push_stream_enqueue(s, push__keepalive_event());
    arm_keepalive(s);
}

static void free_stream(struct pl_task *t)
{
    struct push_stream *s = PL_CONTAINER_OF(t, struct push_stream, free_task);
    drop_all(s);
    free(s->ring);
    free(s->held);
    free(s);
}

void push_stream_release(struct push_stream *s)
{
    if (s->released)
        return;
    s->released = true;
    s->closed = true;
    pl_loop_timer_stop(push__hub_loop(s->hub), &s->keepalive);
    if (s->registered)
        push__hub_remove(s->hub, s);
    s->registered = false;
    /* The caller may be inside a callback of this stream: free later. */
    s->free_task.run = free_stream;
    pl_loop_defer(push__hub_loop(s->hub), &s->free_task);
}

void push_stream_skip_to(struct push_stream *s, uint64_t pos)
{
    if (pos > s->last_pos)
        s->last_pos = pos;
}

size_t push_stream_room(const struct push_stream *s)
{
    size_t cap = push__hub_config(s->hub)->stream_max_bytes;
    return s->queued_bytes >= cap ? 0 : cap - s->queued_bytes;
}

size_t push_stream_queued_bytes(const struct push_stream *s)
{
    return s->queued_bytes;
}

bool push_stream_closed(const struct push_stream *s)
{
    return s->closed;
}
