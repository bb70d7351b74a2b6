/* SPDX-License-Identifier: MIT */
/* Parley - Redis pub/sub relay between nodes, on the event loop.       */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_RELAY_H
#define PL_STORE_RELAY_H

#include "redis.h"

#include "common/loop.h"

/*
 * Two asynchronous hiredis connections attached to a loop: one publishes,
 * one subscribes (a subscribed Redis connection can do nothing else).
 * With cfg->cluster set, a Redis Cluster client instead: publishes are
 * SPUBLISH to the master of the channel's slot, the subscription is
 * SSUBSCRIBE there and follows the slot through failovers, commands go to
 * the master of their key's slot (storage/redis_cluster_int.h).
 * Both reconnect by themselves every second while Redis is away; while
 * disconnected, publish() fails fast and the node serves its own streams
 * alone. Loop thread only.
 */
struct store_relay;

/* Called for every message on the channel (including this node's own;
 * the caller filters). data is borrowed for the call. */
typedef void store_relay_msg_cb(void *ctx, const char *data, size_t len);

/* cfg->addr is "host:port" or a unix socket path. channel and cfg are
 * copied. Returns 0, PL_EINVAL for a bad address, or PL_ENOMEM; a Redis
 * that is down is not an error (the relay connects when it comes up). */
PL_MUST_CHECK int store_relay_new(struct pl_loop *loop, const struct store_redis_config *cfg,
                                  const char *channel, store_relay_msg_cb *cb, void *ctx,
                                  struct store_relay **out);
void store_relay_free(struct store_relay *r);
/* Publishes data (copied). Returns 0, PL_EUNAVAIL when disconnected, or
 * PL_EBUSY when too many publishes await Redis's reply (bounded memory). */
PL_MUST_CHECK int store_relay_publish(struct store_relay *r, const char *data, size_t len);
/* The same on another channel (a node's own presence channel). */
PL_MUST_CHECK int store_relay_publish_to(struct store_relay *r, const char *channel,
                                         const char *data, size_t len);
/* Sends any command on the publishing connection without waiting for or
 * reading its reply (argv is copied). The same return codes as
 * store_relay_publish(). */
PL_MUST_CHECK int store_relay_command(struct store_relay *r, int argc, const char **argv);
/* The hash tag for keys of a multi-key area (STORE_REDIS_TAG_*) that a
 * command sent with store_relay_command() names: the tag in cluster mode,
 * "" on a single Redis. Internal to storage/. */
const char *store_relay__tag(const struct store_relay *r, const char *tag);
/* Called on the loop each time Redis confirms the relay's subscription,
 * with how many times so far: n > 1 means it was lost (a restart, a
 * failover) and made again, and whatever was published on the channel in
 * between is gone (pub/sub keeps nothing): the caller catches up. */
typedef void store_relay_subscribed_cb(void *ctx, unsigned n);
void store_relay_on_subscribed(struct store_relay *r, store_relay_subscribed_cb *cb, void *ctx);
/* Publishes on the relay's channel like store_relay_publish(). On a single
 * Redis, once Redis answers, the count callback (store_relay_on_count())
 * gets tag and how many subscribers received the message, this node's own
 * subscription included; in cluster mode it is never called. */
PL_MUST_CHECK int store_relay_publish_tagged(struct store_relay *r, const char *data, size_t len,
                                             uintptr_t tag);
typedef void store_relay_count_cb(void *ctx, uintptr_t tag, long long receivers);
void store_relay_on_count(struct store_relay *r, store_relay_count_cb *cb, void *ctx);
/* Called on the loop with true each time Redis confirms the relay's
 * subscription and with false when a confirmed subscription is lost (its
 * connection went, or in cluster mode its master failed or its slot
 * moved): frames published between the false and the next true are never
 * received here. A slot of its own, beside store_relay_on_subscribed(). */
typedef void store_relay_state_cb(void *ctx, bool listening);
void store_relay_on_state(struct store_relay *r, store_relay_state_cb *cb, void *ctx);
/* Whether this node's subscription is confirmed and its connection up, so
 * that a receiver count includes it; always false in cluster mode. */
bool store_relay_listening(const struct store_relay *r);
/* Messages received and publishes refused, for /metrics. */
void store_relay_stats(const struct store_relay *r, uint64_t *received, uint64_t *dropped);

#endif
