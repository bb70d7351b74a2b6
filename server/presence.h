/* SPDX-License-Identifier: MIT */
/* Parley - presence delivery to subscribed devices, across nodes.      */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_SRV_PRESENCE_H
#define PL_SRV_PRESENCE_H

#include "config.h"

#include "push/push.h"

/*
 * A presence transition is resolved on a worker into (user, device, node)
 * triples from the subscription index in Redis (storage/presence.h). This
 * object takes them to the streams: triples for this node go to the hub,
 * each other node gets one frame on its own channel
 * "parley:presence:<node>", which only that node subscribes to — so a
 * transition costs one publish per node that holds a subscriber, and
 * nothing on the others. It also collects the devices whose last stream
 * here closed, for the presence chore to drop their subscriptions.
 */
struct srv_presence;

/* Loop thread. hub and node are borrowed for the object's life. A Redis
 * that is down is not an error (the channel is joined when it comes up). */
PL_MUST_CHECK int srv_presence_new(const struct srv_config *cfg, struct pl_loop *loop,
                                   struct push_hub *hub, const char *node,
                                   struct srv_presence **out);
void srv_presence_free(struct srv_presence *p);

/* Any thread: delivers the presence event json (len bytes, copied) to
 * the streams of the n (users[i], devices[i]) on node. */
void srv_presence_send(struct srv_presence *p, const char *node, const char *json, size_t len,
                       const int64_t *users, const int64_t *devices, unsigned n);

/* Loop thread: a stream of the device is registered with the hub; from
 * now on the subscription index sends the device's transitions here. */
void srv_presence_stream_opened(struct srv_presence *p, int64_t device);
/* Loop thread: a stream of the device closed. */
void srv_presence_stream_closed(struct srv_presence *p, int64_t user, int64_t device);
/* Loop thread: moves up to max devices that closed and hold no stream
 * here any more into out; returns how many. */
unsigned srv_presence_take_closed(struct srv_presence *p, int64_t *out, unsigned max);

/* Loop thread: cb runs (on the loop) each time this node's presence
 * channel was lost and subscribed again, since frames sent meanwhile are
 * gone: it starts api_presence_resync() for the streams here (and tries
 * again until it finishes). */
void srv_presence_on_resync(struct srv_presence *p, void (*cb)(void *ctx), void *ctx);
struct srv_presence_stats {
    uint64_t events;      /* presence events queued on this node's streams */
    uint64_t frames_out;  /* frames published to other nodes */
    uint64_t frames_in;   /* frames received from other nodes */
    uint64_t frames_lost; /* frames not published (Redis down, out of memory) */
    uint64_t resyncs;     /* catch-ups after the channel was made again */
};
/* Loop thread. */
void srv_presence_stats(const struct srv_presence *p, struct srv_presence_stats *out);

#endif
