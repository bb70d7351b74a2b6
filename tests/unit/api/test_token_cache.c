/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for api/token_cache.c: hits, expiry, revocation.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "api/token_cache.c"

#include "pltest.h"

#include <pthread.h>

/* The cache's clock, moved by hand. */
static uint64_t fake_ms = 1000000;
static uint64_t fake_now(void)
{
    return fake_ms;
}

static struct api_token_cache *cache(unsigned cap, unsigned ttl_ms, unsigned session_ttl_s)
{
    struct api_token_cache *tc;
    PL_ASSERT_INT_EQ(api_token_cache_new(cap, ttl_ms, session_ttl_s, &tc), 0);
    PL_ASSERT(tc);
    tc->now = fake_now;
    return tc;
}

static void hash_of(uint64_t n, uint8_t h[32])
{
    /* Spread like a real hash: the low bytes pick the shard and bucket. */
    uint64_t x = n * 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 4; i++)
        memcpy(h + 8 * i, &x, 8);
    h[31] = (uint8_t)n;
}

static bool get(struct api_token_cache *tc, uint64_t n, int64_t *user, uint64_t *gen)
{
    uint8_t h[32];
    int64_t dev;
    hash_of(n, h);
    return api_token_cache_get(tc, h, user, &dev, gen);
}

static void put(struct api_token_cache *tc, uint64_t n, int64_t user, int64_t device, uint64_t gen)
{
    uint8_t h[32];
    hash_of(n, h);
    api_token_cache_put(tc, h, user, device, gen);
}

PLTEST(a_confirmed_lookup_is_a_hit_until_its_ttl)
{
    struct api_token_cache *tc = cache(64, 5000, 3600);
    int64_t user = 0;
    uint64_t gen = 0;
    PL_ASSERT(!get(tc, 1, &user, &gen));
    put(tc, 1, 42, 7, gen);
    PL_ASSERT(get(tc, 1, &user, &gen));
    PL_ASSERT_INT_EQ(user, 42);
    fake_ms += 4999;
    PL_ASSERT(get(tc, 1, &user, &gen));
    fake_ms += 1; /* hits do not extend it: PostgreSQL is asked again */
    PL_ASSERT(!get(tc, 1, &user, &gen));
    struct api_token_cache_stats st;
    api_token_cache_stats(tc, &st);
    PL_ASSERT_INT_EQ(st.hits, 2);
    PL_ASSERT_INT_EQ(st.misses, 2);
    PL_ASSERT_INT_EQ(st.entries, 0);
    api_token_cache_free(tc);
}

/* The cache never outlives half the session lifetime, and a hit refuses a
 * session idle for its whole lifetime even while the entry is fresh (a
 * cache built with the clamp lifted to show it). */
PLTEST(a_hit_refuses_an_expired_session)
{
    struct api_token_cache *tc = cache(64, 60000, 4);
    PL_ASSERT_INT_EQ(tc->ttl_ms, 2000);
    tc->ttl_ms = 60000;
    int64_t user;
    uint64_t gen = 0;
    PL_ASSERT(!get(tc, 1, &user, &gen));
    put(tc, 1, 42, 7, gen);
    fake_ms += 3999;
    PL_ASSERT(get(tc, 1, &user, &gen)); /* used: idle again from here */
    fake_ms += 3999;
    PL_ASSERT(get(tc, 1, &user, &gen));
    fake_ms += 4000;
    PL_ASSERT(!get(tc, 1, &user, &gen));
    api_token_cache_free(tc);
}

PLTEST(eviction_drops_the_device_and_beats_a_racing_lookup)
{
    struct api_token_cache *tc = cache(64, 5000, 3600);
    int64_t user;
    uint64_t gen = 0, racing = 0;
    PL_ASSERT(!get(tc, 1, &user, &gen));
    put(tc, 1, 42, 7, gen);
    PL_ASSERT(!get(tc, 2, &user, &gen));
    put(tc, 2, 42, 8, gen);
    /* A lookup of device 7 is in PostgreSQL while 7 is revoked. */
    PL_ASSERT(!get(tc, 3, &user, &racing));
    api_token_cache_evict_device(tc, 7);
    PL_ASSERT(!get(tc, 1, &user, &gen));
    PL_ASSERT(get(tc, 2, &user, &gen)); /* another device of the user stays */
    put(tc, 3, 42, 7, racing);          /* what it read may predate the revocation */
    PL_ASSERT(!get(tc, 3, &user, &gen));
    struct api_token_cache_stats st;
    api_token_cache_stats(tc, &st);
    PL_ASSERT_INT_EQ(st.evicted, 1);
    PL_ASSERT_INT_EQ(st.entries, 1);
    api_token_cache_clear(tc);
    PL_ASSERT(!get(tc, 2, &user, &gen));
    api_token_cache_free(tc);
}

/* Held (the relay away), the cache forgets everything, answers nothing and
 * stores nothing; a lookup begun while held stores nothing after the
 * release either, one begun after it does. */
PLTEST(a_held_cache_answers_and_keeps_nothing)
{
    struct api_token_cache *tc = cache(64, 5000, 3600);
    int64_t user;
    uint64_t gen = 0, during = 0, after = 0;
    PL_ASSERT(!get(tc, 1, &user, &gen));
    put(tc, 1, 42, 7, gen);
    PL_ASSERT(get(tc, 1, &user, &gen));
    api_token_cache_hold(tc, true);
    struct api_token_cache_stats st;
    api_token_cache_stats(tc, &st);
    PL_ASSERT(st.held);
    PL_ASSERT_INT_EQ(st.entries, 0);
    PL_ASSERT(!get(tc, 1, &user, &during));
    put(tc, 1, 42, 7, during);
    PL_ASSERT(!get(tc, 1, &user, &gen));
    api_token_cache_stats(tc, &st);
    PL_ASSERT_INT_EQ(st.entries, 0);
    api_token_cache_hold(tc, false);
    put(tc, 1, 42, 7, during); /* read PostgreSQL while frames could be lost */
    PL_ASSERT(!get(tc, 1, &user, &after));
    put(tc, 1, 42, 7, after);
    PL_ASSERT(get(tc, 1, &user, &gen));
    PL_ASSERT_INT_EQ(user, 42);
    api_token_cache_stats(tc, &st);
    PL_ASSERT(!st.held);
    api_token_cache_free(tc);
}

PLTEST(a_full_cache_replaces_by_clock_within_its_bound)
{
    struct api_token_cache *tc = cache(16 * 4, 5000, 3600); /* 4 entries a shard */
    int64_t user;
    uint64_t gen = 0;
    for (uint64_t n = 1; n <= 1000; n++) {
        PL_ASSERT(!get(tc, n, &user, &gen));
        put(tc, n, (int64_t)n, (int64_t)n, gen);
        PL_ASSERT(get(tc, n, &user, &gen)); /* the newest entry is always there */
        PL_ASSERT_INT_EQ(user, (int64_t)n);
    }
    struct api_token_cache_stats st;
    api_token_cache_stats(tc, &st);
    PL_ASSERT_INT_EQ(st.capacity, 64);
    PL_ASSERT(st.entries <= 64);
    PL_ASSERT(st.replaced >= 1000 - 64);
    /* Every entry left still answers with its own user (chains intact). */
    unsigned found = 0;
    for (uint64_t n = 1; n <= 1000; n++)
        if (get(tc, n, &user, &gen)) {
            PL_ASSERT_INT_EQ(user, (int64_t)n);
            found++;
        }
    PL_ASSERT_INT_EQ(found, st.entries);
    api_token_cache_free(tc);
}

/* A cache sized for a big node costs memory only for what it holds: its
 * entries are touched when first used (their bucket heads, 4 bytes per
 * entry, are set up front). Every slot is still handed out before the
 * clock replaces anything. */
PLTEST(capacity_costs_memory_only_once_used)
{
    enum { CAP = 1 << 20 };
    long before = pltest_rss_kb(0);
    struct api_token_cache *tc = cache(CAP, 5000, 3600);
    long grown_kb = pltest_rss_kb(0) - before;
    /* Entries touched up front would be ~72 MiB; the buckets are 4 MiB. */
    if (grown_kb >= 16 << 10)
        pltest_fail(__FILE__, __LINE__, "a new cache of %d entries made %ld KiB resident", CAP,
                    grown_kb);
    int64_t user;
    uint64_t gen = 0;
    for (uint64_t n = 1; n <= 5000; n++) {
        PL_ASSERT(!get(tc, n, &user, &gen));
        put(tc, n, (int64_t)n, (int64_t)n, gen);
    }
    struct api_token_cache_stats st;
    api_token_cache_stats(tc, &st);
    PL_ASSERT_INT_EQ(st.capacity, CAP);
    PL_ASSERT_INT_EQ(st.entries, 5000);
    PL_ASSERT_INT_EQ(st.replaced, 0);
    for (uint64_t n = 1; n <= 5000; n++) {
        PL_ASSERT(get(tc, n, &user, &gen));
        PL_ASSERT_INT_EQ(user, (int64_t)n);
    }
    /* A revocation scans the entries in use and frees the slot for reuse. */
    api_token_cache_evict_device(tc, 77);
    PL_ASSERT(!get(tc, 77, &user, &gen));
    put(tc, 6000, 6000, 6000, gen);
    api_token_cache_stats(tc, &st);
    PL_ASSERT_INT_EQ(st.entries, 5000);
    PL_ASSERT_INT_EQ(st.evicted, 1);
    api_token_cache_free(tc);
}

PLTEST(no_cache_when_disabled)
{
    struct api_token_cache *tc = (void *)1;
    PL_ASSERT_INT_EQ(api_token_cache_new(0, 5000, 3600, &tc), 0);
    PL_ASSERT(!tc);
    PL_ASSERT_INT_EQ(api_token_cache_new(64, 0, 3600, &tc), 0);
    PL_ASSERT(!tc);
    int64_t user;
    uint64_t gen = 0;
    PL_ASSERT(!get(NULL, 1, &user, &gen));
    put(NULL, 1, 1, 1, gen);
    api_token_cache_evict_device(NULL, 1);
}

/* Workers hammering while revocations land: every call balanced, the
 * chains intact, and a device evicted while nobody looks it up stays out. */
struct hammer {
    struct api_token_cache *tc;
    unsigned seed;
};

static void *hammer(void *arg)
{
    struct hammer *h = arg;
    for (unsigned i = 0; i < 20000; i++) {
        uint64_t n = (h->seed * 7919u + i) % 300 + 1, gen = 0;
        int64_t user;
        if (!get(h->tc, n, &user, &gen))
            put(h->tc, n, (int64_t)n, (int64_t)n, gen);
        else
            PL_ASSERT_INT_EQ(user, (int64_t)n);
        if (i % 1000 == 0)
            api_token_cache_evict_device(h->tc, (int64_t)(i % 300) + 1);
    }
    return NULL;
}

PLTEST(concurrent_workers_and_evictions)
{
    struct api_token_cache *tc = cache(128, 5000, 3600);
    pthread_t t[4];
    struct hammer h[4];
    for (unsigned i = 0; i < 4; i++) {
        h[i] = (struct hammer){tc, i};
        PL_ASSERT_INT_EQ(pthread_create(&t[i], NULL, hammer, &h[i]), 0);
    }
    for (unsigned i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    struct api_token_cache_stats st;
    api_token_cache_stats(tc, &st);
    PL_ASSERT_INT_EQ(st.hits + st.misses, 4 * 20000);
    PL_ASSERT(st.entries <= st.capacity);
    api_token_cache_evict_device(tc, 5);
    int64_t user;
    uint64_t gen = 0;
    PL_ASSERT(!get(tc, 5, &user, &gen));
    api_token_cache_free(tc);
}
