/* SPDX-License-Identifier: MIT */
/* Parley - live event delivery: events, streams, the hub.              */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_PUSH_H
#define PL_PUSH_H

#include "common/err.h"
#include "common/loop.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * push/ owns live streams and knows nothing of HTTP or storage. A
 * transport drains a stream through push_stream_read() ("bytes ready" and
 * "consume" in one call) and is told to try again through the stream's
 * wake callback, so HTTP/1.1 and HTTP/2 drain the same bounded buffer.
 *
 * Events are immutable and refcounted: the SSE bytes are built once and
 * every stream they are queued on holds a reference (lwan's approach).
 * Persisted events carry a stream position; the hub delivers them in
 * position order (see push_hub_publish) so a client's Last-Event-ID is
 * always a safe place to resume from.
 */

/* ---- events (event.c): any thread ---- */

struct push_event;

/* Builds "id: POS\nevent: NAME\ndata: DATA\n\n" (no id line when pos is 0,
 * for ephemeral events such as typing). data must be one line of JSON
 * (JSON writers escape newlines). Returns NULL when out of memory; the
 * caller holds the only reference. */
struct push_event *push_event_new(uint64_t pos, const char *name, const char *data, size_t len);
/* A raw frame (a comment, a retry: hint) with no position. */
struct push_event *push_event_raw(const char *frame, size_t len);
void push_event_ref(struct push_event *ev);
void push_event_unref(struct push_event *ev);
const char *push_event_frame(const struct push_event *ev, size_t *len);
/* Marks an event (before it is published) as one the hub must not queue
 * as is: each stream gets the hub's projection of it for its device (an
 * e2e message carries every device's ciphertext; a device may only see
 * its own). */
void push_event_set_per_device(struct push_event *ev);
uint64_t push_event_pos(const struct push_event *ev);
/* The value of an event's data: line (len bytes, not NUL-terminated). */
const char *push_event_data(const struct push_event *ev, size_t *len);

/* ---- the hub (hub.c): one per loop ---- */

struct push_hub;

struct push_hub_config {
    size_t stream_max_bytes; /* queued bytes per stream before it is closed */
    unsigned keepalive_ms;   /* ": keep-alive" after this long without output */
    unsigned gap_wait_ms;    /* how long an out-of-order event waits for the gap */
};

/* Called on the loop thread when positions from..to (inclusive) have not
 * arrived within gap_wait_ms; the callee fetches them (on a worker) and
 * publishes them. Until then, later events wait. */
typedef void push_gap_cb(void *ctx, uint64_t from, uint64_t to);

/* Called on the loop thread for each stream a per-device event goes to:
 * returns the event that device may see (a new reference, or a new
 * reference to ev itself), or NULL when it cannot be built (out of
 * memory, malformed), which closes that stream so that its client
 * resumes. CPU only: it must not block. */
typedef struct push_event *push_project_cb(void *ctx, struct push_event *ev, int64_t user_id,
                                           int64_t device_id);

PL_MUST_CHECK int push_hub_new(struct pl_loop *loop, const struct push_hub_config *cfg,
                               struct push_hub **out);
/* Closes every stream (their transports see the end) and frees the hub. */
void push_hub_free(struct push_hub *hub);
void push_hub_on_gap(struct push_hub *hub, push_gap_cb *cb, void *ctx);
/* Sets the projection of per-device events (without one they are queued
 * as they are). */
void push_hub_on_project(struct push_hub *hub, push_project_cb *cb, void *ctx);
/* Loop thread: the last position already committed before this node started
 * listening; delivery continues from pos + 1. */
void push_hub_set_position(struct push_hub *hub, uint64_t pos);
uint64_t push_hub_position(const struct push_hub *hub);

/* Any thread: delivers ev to every open stream of the given users. Takes
 * over the caller's reference to ev; users is copied. Events with a
 * position are delivered strictly in position order, each once: duplicates
 * (the same event from the local writer and from another node's relay) are
 * dropped, and an early event waits for the ones before it. Returns 0 or
 * PL_ENOMEM (ev released). */
PL_MUST_CHECK int push_hub_publish(struct push_hub *hub, struct push_event *ev,
                                   const int64_t *users, unsigned n_users);

/* Loop thread: the same as push_hub_publish without the hop through the
 * loop's task queue. */
PL_MUST_CHECK int push_hub_deliver(struct push_hub *hub, struct push_event *ev,
                                   const int64_t *users, unsigned n_users);
/* Loop thread: queues ev (no position: presence) on the open streams of
 * the n (users[i], devices[i]) pairs only, not on the users' other
 * devices. Borrows ev (the caller keeps its reference) and the arrays.
 * Returns how many streams it was queued on. */
unsigned push_hub_deliver_devices(struct push_hub *hub, struct push_event *ev, const int64_t *users,
                                  const int64_t *devices, unsigned n);
/* Loop thread: whether the device of user holds an open stream here. */
bool push_hub_has_device(const struct push_hub *hub, int64_t user_id, int64_t device_id);
/* Loop thread: ends every stream (shutdown); owners see the end and
 * release their streams. */
void push_hub_close_all(struct push_hub *hub);
/* Loop thread: closes every stream of one device (logout), or of a user. */
void push_hub_close_device(struct push_hub *hub, int64_t user_id, int64_t device_id);
unsigned push_hub_stream_count(const struct push_hub *hub);
/* Users with at least one open stream on this hub. */
unsigned push_hub_user_count(const struct push_hub *hub);
/* Loop thread: copies up to max ids of users holding streams; returns how
 * many were copied. */
unsigned push_hub_users(const struct push_hub *hub, int64_t *out, unsigned max);
/* The same, and each user's number of open streams into counts (may be
 * NULL), index for index. */
unsigned push_hub_users_streams(const struct push_hub *hub, int64_t *out, unsigned *counts,
                                unsigned max);
/* The (user, device) pairs with an open stream here, each once, index for
 * index into users and devices (at most max). */
unsigned push_hub_devices(const struct push_hub *hub, int64_t *users, int64_t *devices,
                          unsigned max);

/* ---- streams (stream.c): loop thread only ---- */

struct push_stream;

struct push_stream_ops {
    unsigned version; /* PUSH_STREAM_OPS_VERSION */
    /* Bytes became ready: the transport should call push_stream_read(). */
    void (*wake)(void *ctx);
};
#define PUSH_STREAM_OPS_VERSION 1

/* Opens a stream for one device and registers it with the hub. It starts
 * in replay mode when replaying is true: live events are held back until
 * push_stream_replay_end(). ops and ctx are borrowed until the stream is
 * released. Returns NULL when out of memory. */
struct push_stream *push_stream_open(struct push_hub *hub, int64_t user_id, int64_t device_id,
                                     bool replaying, const struct push_stream_ops *ops, void *ctx);
/* Queues one event (takes a reference). Events at or below the stream's
 * last position are dropped as duplicates. Overflowing the byte cap closes
 * the stream: the client reconnects with Last-Event-ID and loses nothing.
 * Returns 0, or PL_ETOOBIG when that happened. */
int push_stream_enqueue(struct push_stream *s, struct push_event *ev);
/* Queues one replayed event (from PostgreSQL) while in replay mode. */
int push_stream_replay_add(struct push_stream *s, struct push_event *ev);
/* Ends replay: held-back live events newer than the replay are queued. */
void push_stream_replay_end(struct push_stream *s);
/* Copies up to max ready bytes. Returns the count, 0 when nothing is ready
 * (the transport waits for wake), or -1 when the stream has ended (closed
 * or overflowed) and everything before the end was read. */
ssize_t push_stream_read(struct push_stream *s, char *dst, size_t max);
/* Ends the stream from the server side (logout, shutdown); the transport is
 * woken and reads the end. */
void push_stream_close(struct push_stream *s);
/* The transport is done with the stream (client gone or response ended):
 * unregisters it and frees it at the end of the loop iteration. */
void push_stream_release(struct push_stream *s);
/* Loop thread: live events at or below pos are dropped from now on (the
 * client was told it is at pos). */
void push_stream_skip_to(struct push_stream *s, uint64_t pos);
/* Bytes that may still be queued before the stream overflows. */
size_t push_stream_room(const struct push_stream *s);
size_t push_stream_queued_bytes(const struct push_stream *s);
bool push_stream_closed(const struct push_stream *s);

#endif
