/* SPDX-License-Identifier: MIT */
/* Parley - relaying events only while another node listens.            */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_SRV_RELAY_GATE_H
#define PL_SRV_RELAY_GATE_H

#include "common/loop.h"
#include "storage/relay.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * Every event a node commits goes to the other nodes as a relay frame on
 * one Redis channel. A node that is the only subscriber still paid for it
 * twice: Redis took each PUBLISH and sent it straight back to the node,
 * which dropped its own echo (about a fifth of a CPU in Redis at 8,000
 * messages/s, bench/README.md). The gate stops publishing event frames
 * while nobody else listens, without letting a node that joins miss one:
 *
 *  - A PUBLISH answers with its receiver count. A count of one (this node's
 *    own subscription, confirmed and connected) means that when Redis ran
 *    it nobody else listened: the gate goes *alone*. Every node that
 *    (re)subscribes says so with a hello frame on the channel, and each
 *    hello moves an epoch; a count taken before a hello (its tag is an
 *    older epoch) is not believed.
 *  - Alone, the gate keeps each frame it does not publish for
 *    SRV_RELAY_GATE_KEEP_MS (and at most SRV_RELAY_GATE_KEEP_BYTES), and
 *    still publishes one
 *    frame every SRV_RELAY_GATE_PROBE_MS: its count finds a listener whose
 *    hello was lost.
 *  - A hello from another node, or a probe counting more than one receiver,
 *    ends alone: the kept frames are published first, in order, then every
 *    frame again. The newcomer's hub drops what it already has and delivers
 *    the rest in position order, so a frame skipped between its
 *    subscription and its hello arriving here still reaches it live.
 *
 * In Redis Cluster mode counts are not reported and the gate always
 * publishes. Presence and stream-closing frames do not pass through it.
 * Loop thread only.
 */
#define SRV_RELAY_GATE_PROBE_MS 1000
#define SRV_RELAY_GATE_KEEP_MS 2000
/* Kept frames are held memory: enough for the moment between a node's
 * subscription and its hello at any rate, and for a whole probe period at
 * a few hundred events a second. Past it the oldest go, and a node that
 * missed them fills the gap from PostgreSQL (as after a Redis outage). */
#define SRV_RELAY_GATE_KEEP_BYTES ((size_t)1 << 20)
/* A hello that could not be sent (the publishing connection not up yet)
 * is tried again this often until it goes out. */
#define SRV_RELAY_GATE_HELLO_RETRY_MS 100

/* The relay frame type of a hello (never an event type). */
#define SRV_RELAY_GATE_HELLO "!hello"

struct srv_relay_gate;

/* Registers on relay's count and subscription callbacks (so it must be the
 * only one to) and says hello on each confirmed subscription, as node (on
 * loop, again every SRV_RELAY_GATE_HELLO_RETRY_MS until Redis took it).
 * Returns 0 or PL_ENOMEM. */
PL_MUST_CHECK int srv_relay_gate_new(struct pl_loop *loop, struct store_relay *relay,
                                     const char *node, struct srv_relay_gate **out);
void srv_relay_gate_free(struct srv_relay_gate *g);

/* Publishes frame (malloc'd; the gate owns it from here) or keeps it. */
void srv_relay_gate_publish(struct srv_relay_gate *g, char *frame, size_t len);

/* A hello from another node arrived. */
void srv_relay_gate_hello(struct srv_relay_gate *g);

struct srv_relay_gate_stats {
    uint64_t skipped;  /* event frames not published: no other node listened */
    uint64_t replayed; /* of which published later, when a node appeared */
    bool alone;
};
void srv_relay_gate_stats(const struct srv_relay_gate *g, struct srv_relay_gate_stats *out);

#endif
