/* SPDX-License-Identifier: MIT */
/* Parley - bounded in-process cache of bearer token lookups.          */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_API_TOKEN_CACHE_H
#define PL_API_TOKEN_CACHE_H

#include "common/err.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * Token hash -> (user, device) for sessions PostgreSQL confirmed live a
 * moment ago, so that a busy client's requests (sends above all) cost no
 * session query. An entry lives at most ttl_ms after the lookup that
 * confirmed it, and a hit also refuses a session idle for session_ttl_s
 * (the session's own expiry). Capacity is fixed at creation (4 bytes an
 * entry up front, 72 more once the entry is first used); a full shard
 * replaces entries by the clock algorithm (an entry used since the hand
 * last passed gets a second chance).
 *
 * Revocation: whoever revokes a session calls
 * api_token_cache_evict_device() after the revocation committed and before
 * answering, and a frame over the Redis relay does the same on the other
 * nodes. A lookup racing an eviction cannot put a revoked session back:
 * api_token_cache_get() hands out a generation, every eviction bumps it,
 * and api_token_cache_put() with an older one stores nothing. If a relay
 * frame is lost (Redis down), ttl_ms bounds how long another node keeps
 * accepting the token.
 *
 * Every function is safe from any thread (16 shards, a mutex each);
 * NULL stands for a disabled cache.
 */
struct api_token_cache;

struct api_token_cache_stats {
    uint64_t hits, misses; /* lookups answered / not answered from the cache */
    uint64_t evicted;      /* entries dropped by a revocation */
    uint64_t replaced;     /* entries pushed out by the clock (cache full) */
    bool held;             /* api_token_cache_hold() */
    unsigned entries, capacity;
};

/* capacity entries (0: no cache, *out = NULL); entries live
 * min(ttl_ms, session_ttl_s * 500) ms, so that PostgreSQL still records a
 * session's use (store_pg_session_auth() touches it) well within
 * session_ttl_s; 0 there: no cache either. Returns 0 or PL_ENOMEM. The
 * caller frees *out with api_token_cache_free(). */
PL_MUST_CHECK int api_token_cache_new(unsigned capacity, unsigned ttl_ms, unsigned session_ttl_s,
                                      struct api_token_cache **out);
void api_token_cache_free(struct api_token_cache *tc);

/* Looks hash (32 bytes, borrowed) up. true with *user and *device on a hit;
 * false on a miss, and then *gen is what the caller passes to
 * api_token_cache_put() after asking PostgreSQL. */
bool api_token_cache_get(struct api_token_cache *tc, const uint8_t hash[32], int64_t *user,
                         int64_t *device, uint64_t *gen);
/* Remembers a session PostgreSQL just confirmed live, unless an eviction
 * happened since the api_token_cache_get() that returned gen. */
void api_token_cache_put(struct api_token_cache *tc, const uint8_t hash[32], int64_t user,
                         int64_t device, uint64_t gen);
/* Drops every entry of device (a revoked or deleted session). */
void api_token_cache_evict_device(struct api_token_cache *tc, int64_t device);
/* Drops everything (e.g. after the relay was away and frames were lost). */
void api_token_cache_clear(struct api_token_cache *tc);
/* Holding (on true): drops everything, and until released (on false) every
 * lookup misses and nothing is stored, so every request asks PostgreSQL.
 * For while this node may miss the relay's revocation frames (Redis away):
 * what the cache answers then could be a session revoked elsewhere. A
 * release also outdates every generation handed out before it, so a lookup
 * that began while held stores nothing. A new cache is not held. */
void api_token_cache_hold(struct api_token_cache *tc, bool on);
/* Counters since creation; all zero for NULL. */
void api_token_cache_stats(struct api_token_cache *tc, struct api_token_cache_stats *st);

#endif
