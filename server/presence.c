/* SPDX-License-Identifier: MIT */
/* Parley - presence delivery to subscribed devices, across nodes.      */
/* Copyright (c) 2026 Parley developers                                 */
#include "presence.h"

#include "storage/presence.h"
#include "storage/relay.h"

#include "common/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PL_LOG_TOPIC("presence");

#define CHANNEL_PREFIX "parley:presence:"
/* Devices waiting for the presence chore; past this, closes are dropped
 * and those subscriptions run out by their TTL instead. */
#define CLOSED_MAX 65536

struct srv_presence {
    struct pl_loop *loop;
    struct push_hub *hub;
    const char *node;
    struct store_relay *relay; /* subscribed to this node's channel */
    int64_t *closed_users, *closed_devices;
    unsigned n_closed;
    void (*resync_cb)(void *ctx);
    void *resync_ctx;
    struct srv_presence_stats st;
};

/*
 * One crossing to the loop per (transition, node). Frame between nodes:
 * "<user>:<device>,<user>:<device>...\n<json>".
 */
struct send {
    struct pl_task task;
    struct srv_presence *p;
    bool local;
    char *frame; /* remote: the frame; local: the json */
    size_t len;
    char channel[128];
    unsigned n;
    int64_t ids[]; /* local: users, then devices */
};

static void deliver(struct srv_presence *p, const char *json, size_t len, const int64_t *users,
                    const int64_t *devices, unsigned n)
{
    struct push_event *ev = push_event_new(0, "presence", json, len);
    if (!ev) {
        pl_log_warn("presence event not delivered: out of memory");
        return;
    }
    p->st.events += push_hub_deliver_devices(p->hub, ev, users, devices, n);
    push_event_unref(ev);
}

static void on_send(struct pl_task *t)
{
    struct send *s = PL_CONTAINER_OF(t, struct send, task);
    struct srv_presence *p = s->p;
    if (s->local) {
        deliver(p, s->frame, s->len, s->ids, s->ids + s->n, s->n);
    } else if (p->relay && store_relay_publish_to(p->relay, s->channel, s->frame, s->len) == 0) {
        p->st.frames_out++;
    } else {
        p->st.frames_lost++; /* the subscriber can still ask GET .../presence */
        pl_log_debug("presence frame for %s lost (Redis unavailable)", s->channel);
    }
    free(s->frame);
    free(s);
}

static char *encode(const char *json, size_t len, const int64_t *users, const int64_t *devices,
                    unsigned n, size_t *out_len)
{
    size_t cap = (size_t)n * 42 + len + 2;
    char *f = malloc(cap);
    if (!f)
        return NULL;
    size_t o = 0;
    for (unsigned i = 0; i < n; i++)
        o += (size_t)snprintf(f + o, cap - o, "%s%" PRId64 ":%" PRId64, i ? "," : "", users[i],
                              devices[i]);
    f[o++] = '\n';
    memcpy(f + o, json, len);
    *out_len = o + len;
    return f;
}

void srv_presence_send(struct srv_presence *p, const char *node, const char *json, size_t len,
                       const int64_t *users, const int64_t *devices, unsigned n)
{
    if (n == 0)
        return;
    bool local = strcmp(node, p->node) == 0;
    struct send *s = calloc(1, sizeof(*s) + (local ? 2 * (size_t)n * sizeof(int64_t) : 0));
    if (!s)
        return;
    s->p = p;
    s->local = local;
    if (local) {
        s->n = n;
        memcpy(s->ids, users, n * sizeof(int64_t));
        memcpy(s->ids + n, devices, n * sizeof(int64_t));
        if ((s->frame = malloc(len ? len : 1)))
            memcpy(s->frame, json, len);
        s->len = len;
    } else {
        snprintf(s->channel, sizeof(s->channel), CHANNEL_PREFIX "%s", node);
        s->frame = encode(json, len, users, devices, n, &s->len);
    }
    if (!s->frame) {
        free(s);
        return;
    }
    s->task.run = on_send;
    pl_loop_post(p->loop, &s->task);
}

/* A frame from a node that had a transition one of our devices watches. */
static void on_frame(void *ctx, const char *data, size_t len)
{
    struct srv_presence *p = ctx;
    const char *nl = memchr(data, '\n', len);
    if (!nl)
        return;
    unsigned cap = 1;
    for (const char *c = data; c < nl; c++)
        cap += *c == ',';
    int64_t *ids = malloc(2 * (size_t)cap * sizeof(*ids));
    if (!ids)
        return;
    unsigned n = 0;
    for (const char *c = data; c < nl && n < cap;) {
        char *end;
        ids[n] = strtoll(c, &end, 10);
        if (*end != ':')
            break;
        ids[cap + n] = strtoll(end + 1, &end, 10);
        n++;
        c = end + 1;
    }
    p->st.frames_in++;
    deliver(p, nl + 1, (size_t)(data + len - nl - 1), ids, ids + cap, n);
    free(ids);
}

/* The first confirmation is the start; any later one follows a loss. */
static void on_subscribed(void *ctx, unsigned n)
{
    struct srv_presence *p = ctx;
    if (n > 1 && p->resync_cb) {
        pl_log_info("presence channel subscribed again: catching up this node's streams");
        p->st.resyncs++;
        p->resync_cb(p->resync_ctx);
    }
}

void srv_presence_on_resync(struct srv_presence *p, void (*cb)(void *ctx), void *ctx)
{
    p->resync_cb = cb;
    p->resync_ctx = ctx;
}

void srv_presence_stream_opened(struct srv_presence *p, int64_t device)
{
    /* After the hub registration, on the loop, and in order on one
     * connection: a transition that finds this node in the index can
     * only be delivered after the stream exists here. Redis down: the
     * device gets no transitions until its client reconnects. */
    if (!p->relay || store_relay_psub_stream_open(p->relay, device, p->node) < 0)
        p->st.frames_lost++;
}

void srv_presence_stream_closed(struct srv_presence *p, int64_t user, int64_t device)
{
    if (p->n_closed >= CLOSED_MAX)
        return;
    p->closed_users[p->n_closed] = user;
    p->closed_devices[p->n_closed++] = device;
}

unsigned srv_presence_take_closed(struct srv_presence *p, int64_t *out, unsigned max)
{
    unsigned n = 0, k = 0;
    for (unsigned i = 0; i < p->n_closed; i++) {
        /* Reopened meanwhile (a reconnect): nothing to drop. A device
         * listed twice is harmless to the script. */
        if (push_hub_has_device(p->hub, p->closed_users[i], p->closed_devices[i]))
            continue;
        if (n < max) {
            out[n++] = p->closed_devices[i];
        } else {
            p->closed_users[k] = p->closed_users[i];
            p->closed_devices[k++] = p->closed_devices[i];
        }
    }
    p->n_closed = k;
    return n;
}

int srv_presence_new(const struct srv_config *cfg, struct pl_loop *loop, struct push_hub *hub,
                     const char *node, struct srv_presence **out)
{
    struct srv_presence *p = calloc(1, sizeof(*p));
    if (!p)
        return PL_ENOMEM;
    *p = (struct srv_presence){.loop = loop, .hub = hub, .node = node};
    p->closed_users = malloc(CLOSED_MAX * sizeof(int64_t));
    p->closed_devices = malloc(CLOSED_MAX * sizeof(int64_t));
    char channel[128];
    snprintf(channel, sizeof(channel), CHANNEL_PREFIX "%s", node);
    struct store_redis_config rc_ = {
        .addr = cfg->redis, .timeout_ms = cfg->redis_timeout_ms, .cluster = cfg->redis_cluster};
    int rc = p->closed_users && p->closed_devices ? 0 : PL_ENOMEM;
    if (rc == 0 && store_relay_new(loop, &rc_, channel, on_frame, p, &p->relay) < 0)
        pl_log_warn("no presence channel between nodes (bad Redis address?)");
    else if (rc == 0)
        store_relay_on_subscribed(p->relay, on_subscribed, p);
    if (rc < 0) {
        srv_presence_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void srv_presence_free(struct srv_presence *p)
{
    if (!p)
        return;
    store_relay_free(p->relay);
    free(p->closed_users);
    free(p->closed_devices);
    free(p);
}

void srv_presence_stats(const struct srv_presence *p, struct srv_presence_stats *out)
{
    *out = p->st;
}
