/* SPDX-License-Identifier: MIT */
/* Parley - internals shared by the files of push/ only.                */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_PUSH_INT_H
#define PL_PUSH_INT_H

#include "push.h"

struct push_event {
    int refs; /* atomic: events are built on workers and released on loops */
    uint64_t pos;
    bool per_device; /* fanned out through the hub's projection */
    size_t data_off; /* where the data: line's value starts in frame */
    size_t len;
    char frame[]; /* the SSE bytes */
};

struct push_stream {
    struct push_hub *hub;
    int64_t user_id, device_id;
    const struct push_stream_ops *ops;
    void *ctx;
    struct push_stream *prev, *next; /* the user's streams */

    struct push_event **ring; /* queued events, oldest first */
    unsigned cap, head, len;
    size_t head_off;     /* bytes of ring[head] already read */
    size_t queued_bytes; /* unread bytes across the ring */

    struct push_event **held; /* live events held back during replay */
    unsigned n_held, cap_held;
    size_t held_bytes;

    uint64_t last_pos;
    uint64_t last_output_ms;
    bool replaying, closed, released, registered;
    struct pl_timer keepalive;
    struct pl_task free_task;
};

/* hub.c */
int push__hub_add(struct push_hub *hub, struct push_stream *s);
void push__hub_remove(struct push_hub *hub, struct push_stream *s);
struct pl_loop *push__hub_loop(struct push_hub *hub);
const struct push_hub_config *push__hub_config(const struct push_hub *hub);
/* The shared ": keep-alive" frame. */
struct push_event *push__keepalive_event(void);

#endif
