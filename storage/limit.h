/* SPDX-License-Identifier: MIT */
/* Parley - rate limits and quotas kept in Redis, shared by every node. */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_LIMIT_H
#define PL_STORE_LIMIT_H

#include "redis.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * Counters that every parleyd node sees, so a limit holds however many
 * nodes a client spreads its requests over. Each call is one EVAL of a
 * small Lua script on the worker's synchronous connection (one round trip,
 * atomic in Redis). Worker threads only. Keys are built by the caller
 * ("pl:lim:..." plus ids or an address); they are passed as Redis bulk
 * strings, never spliced into script text.
 *
 * None of these decides what happens when Redis is down: they return
 * PL_EUNAVAIL and the caller (api/limits.c) chooses fail-open or closed.
 */

/* Fixed window: adds cost to the counter of key, whose window started at
 * its first use and lasts window_ms. When the counter plus cost would pass
 * limit, nothing is added (a refused attempt costs nothing, so a client
 * that waits Retry-After is served) and *retry_ms is the time left in the
 * window. Returns 0 (allowed; *retry_ms 0), PL_ERATE (refused), PL_EUNAVAIL,
 * PL_ENOMEM or PL_EINTERNAL. */
PL_MUST_CHECK int store_redis_limit_window(struct store_redis *r, const char *key, uint64_t limit,
                                           uint64_t window_ms, uint64_t cost, uint64_t *retry_ms);

/* Exponential backoff after failures (logins). key holds a count and a
 * "blocked until" time. attempt: PL_ERATE with *retry_ms while blocked
 * (nothing counted); else counts the attempt as a failure and returns 0.
 * From the threshold-th on, a counted attempt blocks the key for
 * base_ms * 2^(count - threshold), at most max_ms; the record is
 * forgotten forget_ms after the last attempt. forgive: takes back one
 * counted attempt that was not a failure (a successful login from this
 * address, or a check that never ran). clear: forgets the record (a
 * successful login to this account). now_ms is the caller's wall clock
 * (nodes' clocks are assumed close; a skew shifts a block by as much).
 * Return 0 or the codes of store_redis_limit_window(). */
struct store_backoff {
    unsigned threshold;
    uint64_t base_ms, max_ms, forget_ms;
};
PL_MUST_CHECK int store_redis_backoff_attempt(struct store_redis *r, const char *key,
                                              uint64_t now_ms, const struct store_backoff *b,
                                              uint64_t *retry_ms);
PL_MUST_CHECK int store_redis_backoff_forgive(struct store_redis *r, const char *key);
PL_MUST_CHECK int store_redis_backoff_clear(struct store_redis *r, const char *key);

/* Open event streams per user across nodes: one hash per user, a field
 * per node holding "count:expires_ms". open: drops the fields of nodes
 * whose lease ran out, and adds one for node unless the sum of the others
 * is already max (PL_ERATE). close: takes one away. refresh: sets node's
 * count to the true number and extends its lease (0 removes the field);
 * a node that dies stops refreshing and its streams stop counting after
 * lease_ms. Return 0 or the codes of store_redis_limit_window(). */
PL_MUST_CHECK int store_redis_streams_open(struct store_redis *r, int64_t user, const char *node,
                                           unsigned max, uint64_t now_ms, uint64_t lease_ms);
PL_MUST_CHECK int store_redis_streams_close(struct store_redis *r, int64_t user, const char *node,
                                            uint64_t now_ms, uint64_t lease_ms);
/* open for n users (at most STORE_REDIS_STREAMS_BATCH; one may repeat) in
 * one round trip: ok[i] is false when users[i] is at max. */
PL_MUST_CHECK int store_redis_streams_open_many(struct store_redis *r, const int64_t *users,
                                                unsigned n, const char *node, unsigned max,
                                                uint64_t now_ms, uint64_t lease_ms, bool *ok);
/* refresh takes n (at most STORE_REDIS_STREAMS_BATCH) users at once. */
#define STORE_REDIS_STREAMS_BATCH 512
PL_MUST_CHECK int store_redis_streams_refresh(struct store_redis *r, const int64_t *users,
                                              const unsigned *counts, unsigned n, const char *node,
                                              uint64_t now_ms, uint64_t lease_ms);

#endif
