/* SPDX-License-Identifier: MIT */
/* Parley - presence: heartbeats in Redis, contacts and privacy in PG.  */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_PRESENCE_H
#define PL_STORE_PRESENCE_H

#include "pg.h"
#include "redis.h"

#include <stdbool.h>

/*
 * Redis keeps, per user, the node holding its streams and its last
 * heartbeat (hash presence:u:<id>, fields node and hb in epoch ms), and a
 * sorted set presence:hb of user ids scored by heartbeat. Online means
 * now - hb < timeout. A user enters the set when it comes online; the
 * sweeper removes expired users with ZREM, whose reply (1 on exactly one
 * node) decides who announces "offline" — so transitions are announced
 * once per deployment, and a user who flaps inside the timeout announces
 * nothing. On a Redis Cluster both are split into
 * STORE_REDIS_PRESENCE_BUCKETS buckets by user id, each under its own hash
 * tag (so on every master): a call naming users of several buckets makes
 * one round trip per bucket, and a sweep visits every bucket.
 */

/* Refreshes the heartbeat of users (n at most 4096) on node at now_ms.
 * came_online[i] is set for users that were not online before. Returns 0,
 * PL_EUNAVAIL or PL_ENOMEM. One round trip (a server-side script) per
 * bucket the users fall in. */
PL_MUST_CHECK int store_redis_presence_touch(struct store_redis *r, const int64_t *users,
                                             unsigned n, const char *node, uint64_t now_ms,
                                             bool *came_online);
/* The last heartbeat of user in *hb_ms; PL_ENOTFOUND when never seen. */
PL_MUST_CHECK int store_redis_presence_get(struct store_redis *r, int64_t user, uint64_t *hb_ms);
/* Removes users whose heartbeat is older than cutoff_ms (at most max) and
 * returns those this call removed, with their last heartbeat. In cluster
 * mode it visits the buckets in turn, starting one further each call. 0
 * when anything was removed (a later bucket's failure is not reported:
 * those removed must be announced), else PL_EUNAVAIL. */
PL_MUST_CHECK int store_redis_presence_expire(struct store_redis *r, uint64_t cutoff_ms,
                                              int64_t *users, uint64_t *hb_ms, unsigned max,
                                              unsigned *n);

/* Drops user's heartbeat and node (a deleted account): from now on it is
 * never online, and the sweeper announces nothing for it. Returns 0 or
 * PL_EUNAVAIL. */
PL_MUST_CHECK int store_redis_presence_forget(struct store_redis *r, int64_t user);

/* Users sharing at least one conversation with user. */
PL_MUST_CHECK int store_pg_contacts(struct store_pg *pg, struct pl_arena *a, int64_t user,
                                    int64_t **ids, unsigned *n);
/* Whether viewer may see user's last-seen time, by user's setting
 * (everyone / contacts / nobody). A user always sees their own. */
PL_MUST_CHECK int store_pg_last_seen_visible(struct store_pg *pg, int64_t viewer, int64_t user,
                                             bool *visible);
/* The user's setting: "everyone", "contacts" or "nobody" (static string). */
PL_MUST_CHECK int store_pg_last_seen_setting(struct store_pg *pg, int64_t user,
                                             const char **setting);

/* ---- subscriptions (redis_presence_subs.c) ---- */

/* Most targets one device may watch, whatever the configured cap. */
#define STORE_PSUB_MAX 10000
/* Most devices one streams_closed call takes. */
#define STORE_PSUB_BATCH 4096

/* One subscriber of a target: its user, its device, and one node holding
 * a stream of that device (a device with streams on two nodes appears
 * twice). node is in the arena. */
struct store_psub {
    int64_t user, device;
    const char *node;
};

/* Replaces device's set with targets (n at most STORE_PSUB_MAX; n = 0
 * empties it), valid until expires_ms. One round trip. 0, PL_EINVAL,
 * PL_EUNAVAIL or PL_ENOMEM. */
PL_MUST_CHECK int store_redis_psub_set(struct store_redis *r, int64_t user, int64_t device,
                                       uint64_t now_ms, uint64_t expires_ms, const int64_t *targets,
                                       unsigned n);
/* Empties device's set. */
PL_MUST_CHECK int store_redis_psub_clear(struct store_redis *r, int64_t user, int64_t device);
/* device's current set (targets in a; n = 0 and *expires_ms = 0 when it
 * has none or it expired). */
PL_MUST_CHECK int store_redis_psub_get(struct store_redis *r, struct pl_arena *a, int64_t device,
                                       int64_t **targets, unsigned *n, uint64_t *expires_ms);
/* A stream of device opened on node. A node that stops (or dies) before
 * its presence chore reported its closed streams leaves its name in the
 * device's node set: the device's subscriptions then last until their TTL
 * rather than until its last stream, and transitions for it are published
 * to that node's channel, where nobody listens. */
PL_MUST_CHECK int store_redis_psub_stream_open(struct store_redis *r, int64_t device,
                                               const char *node);
/* The same from a loop thread, on a relay's connection: sent without
 * waiting (the loop never blocks); 0, PL_EUNAVAIL or PL_EBUSY. */
struct store_relay;
PL_MUST_CHECK int store_relay_psub_stream_open(struct store_relay *r, int64_t device,
                                               const char *node);
/* The last streams of devices (n at most STORE_PSUB_BATCH) on node
 * closed; devices with no stream left on any node lose their sets
 * (*cleared counts them). */
PL_MUST_CHECK int store_redis_psub_streams_closed(struct store_redis *r, const char *node,
                                                  const int64_t *devices, unsigned n,
                                                  unsigned *cleared);
/* The current subscribers of target with the nodes holding their streams
 * (array in a). Devices without a stream are left out. */
PL_MUST_CHECK int store_redis_psub_audience(struct store_redis *r, struct pl_arena *a,
                                            int64_t target, uint64_t now_ms,
                                            struct store_psub **subs, unsigned *n);
/* The last heartbeat of each of users (n at most STORE_PSUB_MAX) in
 * hb_ms[i], 0 when never seen. One round trip per heartbeat bucket. */
PL_MUST_CHECK int store_redis_presence_get_many(struct store_redis *r, const int64_t *users,
                                                unsigned n, uint64_t *hb_ms);
/* The same, and whether each user is still listed as online (listed[i],
 * may be NULL): the state presence transitions start from, which can lag
 * the heartbeat's age until the sweeper runs. */
PL_MUST_CHECK int store_redis_presence_listed_many(struct store_redis *r, const int64_t *users,
                                                   unsigned n, uint64_t *hb_ms, bool *listed);
/* Typing rate limit: *allowed is true at most once per interval_ms for a
 * user in a conversation (always with interval_ms = 0). */
PL_MUST_CHECK int store_redis_typing_allow(struct store_redis *r, int64_t conv, int64_t user,
                                           unsigned interval_ms, bool *allowed);

/* Those of viewers (n) who may see user's presence — online state and
 * last seen alike — under user's last_seen_visibility: everyone; contacts
 * (viewers sharing a conversation with user); nobody. A user always sees
 * their own. *allowed is an arena array. PL_ENOTFOUND for an unknown user. */
PL_MUST_CHECK int store_pg_presence_viewers(struct store_pg *pg, struct pl_arena *a, int64_t user,
                                            const int64_t *viewers, unsigned n, int64_t **allowed,
                                            unsigned *n_allowed);
/* The reverse: those of users (n) who show their presence to viewer. */
PL_MUST_CHECK int store_pg_presence_shown(struct store_pg *pg, struct pl_arena *a, int64_t viewer,
                                          const int64_t *users, unsigned n, int64_t **shown,
                                          unsigned *n_shown);
/* Durable last seen (users.last_seen_at), which outlives Redis restarts.
 * Sets it to ms for each of users[0..n) (borrowed) whose stored value is
 * unset or at least min_age_ms older; never moves it backwards. Pass 0
 * for a transition (came online, went offline) and 60000 for the
 * periodic refresh. Returns 0, PL_ENOMEM or a store_pg__exec() code. */
PL_MUST_CHECK int store_pg_last_seen_save(struct store_pg *pg, const int64_t *users, unsigned n,
                                          uint64_t ms, uint64_t min_age_ms);
/* The durable last seen of user in *ms (epoch ms): 0, PL_ENOTFOUND when
 * the user was never seen (or does not exist), or a store_pg__exec() code. */
PL_MUST_CHECK int store_pg_last_seen_get(struct store_pg *pg, int64_t user, uint64_t *ms);

#endif
