/* SPDX-License-Identifier: MIT */
/* Parley - live delivery on this node: the hub, publishing, presence.  */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_SRV_LIVE_H
#define PL_SRV_LIVE_H

#include "config.h"
#include "pool.h"

#include "push/push.h"

/*
 * Glue between the modules that may not see each other: the hub (push/)
 * learns the last committed position from storage at startup and fills
 * delivery gaps through a worker; committed events from workers and the
 * writer become refcounted SSE events on the hub; a timer runs the
 * presence chore for the users holding streams here.
 */
struct srv_live;

/* Loop thread. Creates the hub on loop and reads the current position
 * (retrying while PostgreSQL is unreachable is the caller's startup wait).
 * env gets publish/close_device/hub/run wired to this object. */
PL_MUST_CHECK int srv_live_new(const struct srv_config *cfg, struct pl_loop *loop,
                               struct srv_pool *pool, struct api_env *env, struct srv_live **out);
/* Loop thread, at shutdown before the transports close: ends every
 * stream and long-poll so their owners answer and release them. */
void srv_live_close_all(struct srv_live *l);
/* The pool is about to go: work submitted from now on is refused. */
void srv_live_detach_pool(struct srv_live *l);
/* Loop thread; after the transports are gone. */
void srv_live_free(struct srv_live *l);

struct srv_live_stats {
    unsigned streams, users;
    uint64_t position;
    uint64_t relay_received, relay_dropped;
    uint64_t relay_skipped, relay_replayed; /* server/relay_gate.h */
    bool relay_alone;
    uint64_t presence_events, presence_frames_out, presence_frames_in, presence_frames_lost;
    uint64_t presence_resyncs;
};
/* Loop thread. */
void srv_live_stats(const struct srv_live *l, struct srv_live_stats *out);

#endif
