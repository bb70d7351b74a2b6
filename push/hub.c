/* SPDX-License-Identifier: MIT */
/* Parley - the hub: users to streams, and in-order delivery.           */
/* Copyright (c) 2026 Parley developers                                 */
#include "push_int.h"

#include "common/log.h"

#include <stdlib.h>
#include <string.h>

PL_LOG_TOPIC("push");

/*
 * Positions come from one counter that PostgreSQL advances inside the
 * committing transaction, so they are dense and commit-ordered. Events can
 * still reach a node out of order (two nodes publish concurrently, or the
 * local writer races the relay), so the hub delivers position P only after
 * P-1: early events wait in a sorted list, duplicates are dropped, and a gap
 * that does not fill within gap_wait_ms is fetched from the database
 * through the gap callback. The list is bounded; past the bound the hub
 * skips ahead and says so, and clients resuming across the skipped range
 * still get it from PostgreSQL.
 */
#define PENDING_MAX 65536

struct user {
    int64_t id;
    struct user *next; /* hash chain */
    struct push_stream *streams;
    unsigned n;
};

struct delivery {
    struct pl_task task;
    struct push_hub *hub;
    struct push_event *ev;
    struct delivery *next; /* in the pending list */
    unsigned n;
    int64_t users[];
};

struct push_hub {
    struct pl_loop *loop;
    struct push_hub_config cfg;
    struct user **buckets;
    unsigned n_buckets, n_users, n_streams;
    uint64_t next_pos; /* 0 until known */
    struct delivery *pending;
    unsigned n_pending;
    struct pl_timer gap_timer;
    push_gap_cb *gap_cb;
    void *gap_ctx;
    push_project_cb *project_cb;
    void *project_ctx;
};

static struct push_event *keepalive_ev;

struct push_event *push__keepalive_event(void)
{
    return keepalive_ev;
}

struct pl_loop *push__hub_loop(struct push_hub *hub)
{
    return hub->loop;
}

const struct push_hub_config *push__hub_config(const struct push_hub *hub)
{
    return &hub->cfg;
}

static unsigned bucket_of(const struct push_hub *hub, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull; /* Fibonacci hashing */
    return (unsigned)(h >> 32) & (hub->n_buckets - 1);
}

static struct user *find_user(const struct push_hub *hub, int64_t id)
{
    for (struct user *u = hub->buckets[bucket_of(hub, id)]; u; u = u->next)
        if (u->id == id)
            return u;
    return NULL;
}

static int grow(struct push_hub *hub)
{
    unsigned n = hub->n_buckets * 2;
    struct user **b = calloc(n, sizeof(*b));
    if (!b)
        return PL_ENOMEM;
    struct user **old = hub->buckets;
    unsigned old_n = hub->n_buckets;
    hub->buckets = b;
    hub->n_buckets = n;
    for (unsigned i = 0; i < old_n; i++)
        for (struct user *u = old[i], *next; u; u = next) {
            next = u->next;
            unsigned k = bucket_of(hub, u->id);
            u->next = b[k];
            b[k] = u;
        }
    free(old);
    return 0;
}

int push__hub_add(struct push_hub *hub, struct push_stream *s)
{
    struct user *u = find_user(hub, s->user_id);
    if (!u) {
        if (hub->n_users >= hub->n_buckets && grow(hub) < 0)
            return PL_ENOMEM;
        if (!(u = calloc(1, sizeof(*u))))
            return PL_ENOMEM;
        u->id = s->user_id;
        unsigned k = bucket_of(hub, u->id);
        u->next = hub->buckets[k];
        hub->buckets[k] = u;
        hub->n_users++;
    }
    s->next = u->streams;
    s->prev = NULL;
    if (u->streams)
        u->streams->prev = s;
    u->streams = s;
    u->n++;
    hub->n_streams++;
    return 0;
}

void push__hub_remove(struct push_hub *hub, struct push_stream *s)
{
    struct user *u = find_user(hub, s->user_id);
    if (!u)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        u->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    hub->n_streams--;
    if (--u->n)
        return;
    struct user **pp = &hub->buckets[bucket_of(hub, u->id)];
    while (*pp != u)
        pp = &(*pp)->next;
    *pp = u->next;
    free(u);
    hub->n_users--;
}

int push_hub_new(struct pl_loop *loop, const struct push_hub_config *cfg, struct push_hub **out)
{
    static const char ka[] = ": keep-alive\n\n";
    if (!keepalive_ev && !(keepalive_ev = push_event_raw(ka, sizeof(ka) - 1)))
        return PL_ENOMEM;
    struct push_hub *hub = calloc(1, sizeof(*hub));
    if (!hub)
        return PL_ENOMEM;
    hub->loop = loop;
    hub->cfg = *cfg;
    hub->n_buckets = 1024;
    if (!(hub->buckets = calloc(hub->n_buckets, sizeof(*hub->buckets)))) {
        free(hub);
        return PL_ENOMEM;
    }
    *out = hub;
    return 0;
}

void push_hub_free(struct push_hub *hub)
{
    if (!hub)
        return;
    pl_loop_timer_stop(hub->loop, &hub->gap_timer);
    for (unsigned i = 0; i < hub->n_buckets; i++)
        while (hub->buckets[i]) {
            struct push_stream *s = hub->buckets[i]->streams;
            push_stream_close(s);
            push_stream_release(s); /* unlinks it, and the user when last */
        }
    for (struct delivery *d = hub->pending, *next; d; d = next) {
        next = d->next;
        push_event_unref(d->ev);
        free(d);
    }
    free(hub->buckets);
    free(hub);
}

void push_hub_close_all(struct push_hub *hub)
{
    for (unsigned i = 0; i < hub->n_buckets; i++)
        for (struct user *u = hub->buckets[i]; u; u = u->next)
            for (struct push_stream *s = u->streams; s; s = s->next)
                push_stream_close(s);
}

void push_hub_on_gap(struct push_hub *hub, push_gap_cb *cb, void *ctx)
{
    hub->gap_cb = cb;
    hub->gap_ctx = ctx;
}

void push_hub_on_project(struct push_hub *hub, push_project_cb *cb, void *ctx)
{
    hub->project_cb = cb;
    hub->project_ctx = ctx;
}

void push_hub_set_position(struct push_hub *hub, uint64_t pos)
{
    hub->next_pos = pos + 1;
}

uint64_t push_hub_position(const struct push_hub *hub)
{
    return hub->next_pos ? hub->next_pos - 1 : 0;
}

static void fan_out(struct push_hub *hub, struct delivery *d)
{
    for (unsigned i = 0; i < d->n; i++) {
        struct user *u = find_user(hub, d->users[i]);
        if (!u)
            continue;
        /* enqueue may close a stream but never unlinks it, so the list
         * stays walkable. */
        for (struct push_stream *s = u->streams; s; s = s->next) {
            if (!d->ev->per_device || !hub->project_cb) {
                push_stream_enqueue(s, d->ev);
                continue;
            }
            /* The projection keeps the position: the stream's resume
             * point moves exactly as with the shared event. */
            struct push_event *p =
                hub->project_cb(hub->project_ctx, d->ev, s->user_id, s->device_id);
            if (!p) {
                push_stream_close(s);
                continue;
            }
            push_stream_enqueue(s, p);
            push_event_unref(p);
        }
    }
    push_event_unref(d->ev);
    free(d);
}

static void on_gap_timer(void *ctx);

static void drain_pending(struct push_hub *hub)
{
    while (hub->pending && hub->pending->ev->pos <= hub->next_pos) {
        struct delivery *d = hub->pending;
        hub->pending = d->next;
        hub->n_pending--;
        if (d->ev->pos == hub->next_pos) {
            hub->next_pos++;
            fan_out(hub, d);
        } else {
            push_event_unref(d->ev); /* a duplicate that arrived early */
            free(d);
        }
    }
    if (hub->pending && !pl_timer_armed(&hub->gap_timer))
        pl_loop_timer_start(hub->loop, &hub->gap_timer, hub->cfg.gap_wait_ms, on_gap_timer, hub);
    else if (!hub->pending)
        pl_loop_timer_stop(hub->loop, &hub->gap_timer);
}

static void skip_to(struct push_hub *hub, uint64_t pos, const char *why)
{
    pl_log_warn("skipping stream positions %llu..%llu (%s); resuming clients replay them",
                (unsigned long long)hub->next_pos, (unsigned long long)pos - 1, why);
    hub->next_pos = pos;
    drain_pending(hub);
}

static void on_gap_timer(void *ctx)
{
    struct push_hub *hub = ctx;
    if (!hub->pending)
        return;
    uint64_t from = hub->next_pos, to = hub->pending->ev->pos - 1;
    if (!hub->gap_cb) {
        skip_to(hub, to + 1, "no gap filler");
        return;
    }
    hub->gap_cb(hub->gap_ctx, from, to);
    pl_loop_timer_start(hub->loop, &hub->gap_timer, hub->cfg.gap_wait_ms, on_gap_timer, hub);
}

static void insert_pending(struct push_hub *hub, struct delivery *d)
{
    struct delivery **pp = &hub->pending;
    while (*pp && (*pp)->ev->pos < d->ev->pos)
        pp = &(*pp)->next;
    if (*pp && (*pp)->ev->pos == d->ev->pos) {
        push_event_unref(d->ev); /* already waiting */
        free(d);
        return;
    }
    d->next = *pp;
    *pp = d;
    if (++hub->n_pending > PENDING_MAX)
        skip_to(hub, hub->pending->ev->pos, "too many events waiting for a gap");
    else
        drain_pending(hub);
}

static void on_delivery(struct pl_task *t)
{
    struct delivery *d = PL_CONTAINER_OF(t, struct delivery, task);
    struct push_hub *hub = d->hub;
    uint64_t pos = d->ev->pos;
    if (pos == 0) {
        fan_out(hub, d); /* ephemeral: no order to keep */
    } else if (hub->next_pos == 0 || pos == hub->next_pos) {
        hub->next_pos = pos + 1;
        fan_out(hub, d);
        drain_pending(hub);
    } else if (pos < hub->next_pos) {
        push_event_unref(d->ev); /* delivered already */
        free(d);
    } else {
        insert_pending(hub, d);
    }
}

static struct delivery *delivery_new(struct push_hub *hub, struct push_event *ev,
                                     const int64_t *users, unsigned n_users)
{
    struct delivery *d = malloc(sizeof(*d) + n_users * sizeof(int64_t));
    if (!d) {
        push_event_unref(ev);
        return NULL;
    }
    d->hub = hub;
    d->ev = ev;
    d->n = n_users;
    d->next = NULL;
    if (n_users)
        memcpy(d->users, users, n_users * sizeof(int64_t));
    return d;
}

int push_hub_deliver(struct push_hub *hub, struct push_event *ev, const int64_t *users,
                     unsigned n_users)
{
    struct delivery *d = delivery_new(hub, ev, users, n_users);
    if (!d)
        return PL_ENOMEM;
    on_delivery(&d->task);
    return 0;
}

int push_hub_publish(struct push_hub *hub, struct push_event *ev, const int64_t *users,
                     unsigned n_users)
{
    struct delivery *d = delivery_new(hub, ev, users, n_users);
    if (!d)
        return PL_ENOMEM;
    d->task.run = on_delivery;
    pl_loop_post(hub->loop, &d->task);
    return 0;
}

void push_hub_close_device(struct push_hub *hub, int64_t user_id, int64_t device_id)
{
    struct user *u = find_user(hub, user_id);
    for (struct push_stream *s = u ? u->streams : NULL; s; s = s->next)
        if (device_id == 0 || s->device_id == device_id)
            push_stream_close(s);
}

unsigned push_hub_stream_count(const struct push_hub *hub)
{
    return hub->n_streams;
}

unsigned push_hub_user_count(const struct push_hub *hub)
{
    return hub->n_users;
}

unsigned push_hub_users(const struct push_hub *hub, int64_t *out, unsigned max)
{
    return push_hub_users_streams(hub, out, NULL, max);
}

unsigned push_hub_users_streams(const struct push_hub *hub, int64_t *out, unsigned *counts,
                                unsigned max)
{
    unsigned n = 0;
    for (unsigned i = 0; i < hub->n_buckets && n < max; i++)
        for (struct user *u = hub->buckets[i]; u && n < max; u = u->next) {
            if (counts)
                counts[n] = u->n;
            out[n++] = u->id;
        }
    return n;
}

unsigned push_hub_devices(const struct push_hub *hub, int64_t *users, int64_t *devices,
                          unsigned max)
{
    unsigned n = 0;
    for (unsigned i = 0; i < hub->n_buckets; i++)
        for (struct user *u = hub->buckets[i]; u; u = u->next)
            for (struct push_stream *s = u->streams; s && n < max; s = s->next) {
                /* A user's streams are few: the earlier ones tell a repeat. */
                bool seen = s->closed;
                for (struct push_stream *t = u->streams; t != s && !seen; t = t->next)
                    seen = !t->closed && t->device_id == s->device_id;
                if (!seen) {
                    users[n] = u->id;
                    devices[n++] = s->device_id;
                }
            }
    return n;
}

unsigned push_hub_deliver_devices(struct push_hub *hub, struct push_event *ev, const int64_t *users,
                                  const int64_t *devices, unsigned n)
{
    unsigned queued = 0;
    for (unsigned i = 0; i < n; i++) {
        struct user *u = find_user(hub, users[i]);
        for (struct push_stream *s = u ? u->streams : NULL; s; s = s->next)
            if (s->device_id == devices[i] && !s->closed) {
                push_stream_enqueue(s, ev);
                queued++;
            }
    }
    return queued;
}

bool push_hub_has_device(const struct push_hub *hub, int64_t user_id, int64_t device_id)
{
    struct user *u = find_user(hub, user_id);
    for (struct push_stream *s = u ? u->streams : NULL; s; s = s->next)
        if (s->device_id == device_id && !s->released)
            return true;
    return false;
}
