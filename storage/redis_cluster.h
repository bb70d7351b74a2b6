/* SPDX-License-Identifier: MIT */
/* Parley - Redis Cluster: key slots, the slot map, redirections.       */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_REDIS_CLUSTER_H
#define PL_STORE_REDIS_CLUSTER_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * hiredis has no cluster support, so storage/ keeps its own small layer
 * (the parts of the Redis Cluster specification a client needs):
 *   - the key slot: CRC16 (XMODEM) of the key, or of its hash tag (the
 *     text between the first '{' and the next '}', when not empty), mod
 *     16384;
 *   - the slot map from CLUSTER SLOTS: which master serves each slot;
 *   - MOVED / ASK error replies: where a slot went (for good, or for one
 *     command during a migration).
 * The synchronous client (workers: redis_cluster_sync.c, behind
 * store_redis) and the asynchronous one (loops: redis_cluster_async.c,
 * behind store_relay) are built on this file. Pure functions: any thread.
 *
 * Internal to storage/; tests/unit/storage/test_redis_cluster.c tests it.
 */

#define STORE_REDIS_SLOTS 16384
/* Most masters a slot map holds (a cluster with more is served through
 * redirections for the rest). */
#define STORE_REDIS_MAP_NODES 64
/* "ip:port" with room for an IPv6 address. */
#define STORE_REDIS_ADDR_MAX 64
#define STORE_REDIS_NO_NODE 0xff

/* Hash tags keeping keys that one script touches in one slot (one shard):
 * presence, presence subscriptions and the stream counters. In cluster
 * mode the keys of those areas start with their tag; a single Redis sees
 * the untagged names it always had. */
#define STORE_REDIS_TAG_PRESENCE "{pl:presence}"
#define STORE_REDIS_TAG_STREAMS "{pl:streams}"

/* Presence heartbeats (presence:hb and presence:u:<id>, refreshed for
 * every online user every few seconds: the busiest keys) do not share one
 * tag: user u's live under "{pl:presence:<u mod BUCKETS>}", so the
 * buckets hash to slots all over the ring and every master holds some (a
 * script still names keys of one bucket only). 16 buckets put 4-6 on each
 * of 3 masters and leave room for up to 16 shards; a sweep reads every
 * bucket, so more would cost round trips for nothing. The subscription
 * keys keep STORE_REDIS_TAG_PRESENCE (their scripts join several users'
 * keys; docs/architecture.md). */
#define STORE_REDIS_PRESENCE_BUCKETS 16
/* Longest bucket tag, NUL included. */
#define STORE_REDIS_TAG_MAX 32
/* Writes the tag of presence bucket b ("{pl:presence:<b>}") into buf. */
void store_redis_presence_bucket_tag(unsigned b, char buf[STORE_REDIS_TAG_MAX]);

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the checksum
 * Redis Cluster uses. "123456789" gives 0x31C3. */
uint16_t store_redis_crc16(const char *buf, size_t len);

/* The slot (0..16383) of a key, honouring hash tags. */
unsigned store_redis_key_slot(const char *key, size_t len);

struct store_redis_slotmap {
    unsigned n;                                             /* masters in addr[] */
    char addr[STORE_REDIS_MAP_NODES][STORE_REDIS_ADDR_MAX]; /* "ip:port" */
    uint8_t owner[STORE_REDIS_SLOTS]; /* index into addr, or STORE_REDIS_NO_NODE */
};

/* Empties m (no slot has an owner). */
void store_redis__slotmap_init(struct store_redis_slotmap *m);

/* Fills m from a CLUSTER SLOTS reply (a redisReply *, void * so that
 * hiredis stays out of this header). from is the address the reply came
 * from, used for a master whose reported ip is empty. Returns 0, or
 * PL_EINTERNAL when the reply is not a CLUSTER SLOTS array or serves no
 * slot (m is then left empty). */
PL_MUST_CHECK int store_redis__slotmap_parse(struct store_redis_slotmap *m, const void *reply,
                                             const char *from);

/* The index of addr in m, added when missing. -1 when m is full. */
int store_redis__slotmap_node(struct store_redis_slotmap *m, const char *addr);

/* The master serving slot, or NULL when unknown. Borrowed from m. */
const char *store_redis__slotmap_lookup(const struct store_redis_slotmap *m, unsigned slot);

/* Parses an error reply "MOVED 3999 127.0.0.1:6381" or "ASK 3999 ...".
 * Returns 1 (MOVED) or 2 (ASK) with *slot and addr (cap bytes) set; 0 for
 * any other error. */
int store_redis__redirect_parse(const char *err, unsigned *slot, char *addr, size_t cap);

/* The slot a formatted (RESP) command addresses, for routing: the first
 * key of EVAL / EVALSHA (none with numkeys 0), the channel of SPUBLISH /
 * SSUBSCRIBE, else the first argument. -1 for a command without a key
 * (PING, CLUSTER ..., EVAL with no keys) or an unparseable buffer. */
int store_redis__command_slot(const char *cmd, size_t len);

/* Counts one (kind 1: MOVED, 2: ASK, 3: a refresh). */
void store_redis__cluster_count(int kind);

/* Splits a seed list "host:port,host:port" (spaces allowed around the
 * commas) into at most max heap strings in seeds (free each with free()).
 * Returns 0 with *n >= 1, PL_EINVAL for an empty list, an entry that is
 * not host:port or more than max entries, or PL_ENOMEM (nothing to free). */
PL_MUST_CHECK int store_redis__seeds_parse(const char *list, char **seeds, unsigned max,
                                           unsigned *n);

#endif
