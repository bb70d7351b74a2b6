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
 * nothing.
 */

/* Refreshes the heartbeat of users (n at most 4096) on node at now_ms.
 * came_online[i] is set for users that were not online before. Returns 0
 * or PL_EUNAVAIL. One round trip (a server-side script). */
PL_MUST_CHECK int store_redis_presence_touch(struct store_redis *r, const int64_t *users,
                                             unsigned n, const char *node, uint64_t now_ms,
                                             bool *came_online);
/* The last heartbeat of user in *hb_ms; PL_ENOTFOUND when never seen. */
PL_MUST_CHECK int store_redis_presence_get(struct store_redis *r, int64_t user, uint64_t *hb_ms);
/* Removes users whose heartbeat is older than cutoff_ms (at most max) and
 * returns those this call removed, with their last heartbeat. */
PL_MUST_CHECK int store_redis_presence_expire(struct store_redis *r, uint64_t cutoff_ms,
                                              int64_t *users, uint64_t *hb_ms, unsigned max,
                                              unsigned *n);

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
