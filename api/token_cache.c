/* SPDX-License-Identifier: MIT */
/* Parley - bounded in-process cache of bearer token lookups.          */
/* Copyright (c) 2026 Parley developers                                 */
#include "token_cache.h"

#include "common/loop.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Shards keep the workers from queueing on one mutex; a hit holds its
 * shard for a hash-chain walk and two stores. */
#define SHARDS 16
#define NIL (-1)

struct entry {
    uint8_t hash[32];
    int64_t user, device;
    uint64_t fetched_ms; /* when PostgreSQL confirmed the session */
    uint64_t used_ms;    /* the last hit or lookup on this node */
    int32_t next;        /* bucket chain, or free list */
    bool live, ref;
};

struct shard {
    pthread_mutex_t mu;
    unsigned cap, n_live, hand;
    unsigned used; /* entries e[0..used) handed out so far; the rest never touched */
    uint32_t mask; /* buckets - 1 */
    int32_t free_head;
    int32_t *buckets;
    struct entry *e;
};

struct api_token_cache {
    uint64_t ttl_ms, idle_ms;
    /* The clock, a field so that the unit test can move time. */
    uint64_t (*now)(void);
    _Atomic uint64_t gen;
    _Atomic bool held;
    _Atomic uint64_t hits, misses, evicted, replaced;
    struct shard shards[SHARDS];
};

/* The token hash is a cryptographic hash of a random token: any 8 of its
 * bytes are uniform, so they index shards and buckets as they are. */
static uint64_t key_of(const uint8_t hash[32])
{
    uint64_t k;
    memcpy(&k, hash, sizeof(k));
    return k;
}

static struct shard *shard_of(struct api_token_cache *tc, uint64_t k)
{
    return &tc->shards[k % SHARDS];
}

static int32_t *bucket_of(struct shard *s, uint64_t k)
{
    return &s->buckets[(k / SHARDS) & s->mask];
}

static size_t entries_bytes(unsigned cap)
{
    return (size_t)cap * sizeof(struct entry);
}

static void shard_free(struct shard *s)
{
    pthread_mutex_destroy(&s->mu);
    free(s->buckets);
    munmap(s->e, entries_bytes(s->cap));
}

static int shard_init(struct shard *s, unsigned cap)
{
    uint32_t nb = 1;
    while (nb < cap)
        nb <<= 1;
    *s = (struct shard){.cap = cap, .mask = nb - 1, .free_head = NIL};
    s->buckets = malloc(nb * sizeof(*s->buckets));
    /* Mapped, not calloc()ed: the pages stay untouched until take_slot()
     * hands their entries out (calloc() may fill them, and does when
     * MALLOC_PERTURB_ is set), so a large capacity costs address space,
     * not memory, until used. */
    void *e =
        mmap(NULL, entries_bytes(cap), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    s->e = e == MAP_FAILED ? NULL : e;
    if (!s->buckets || !s->e || pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s->buckets);
        if (s->e)
            munmap(s->e, entries_bytes(cap));
        return PL_ENOMEM;
    }
    for (uint32_t i = 0; i < nb; i++)
        s->buckets[i] = NIL;
    return 0;
}

int api_token_cache_new(unsigned capacity, unsigned ttl_ms, unsigned session_ttl_s,
                        struct api_token_cache **out)
{
    *out = NULL;
    uint64_t ttl = ttl_ms, half = (uint64_t)session_ttl_s * 500;
    if (half < ttl)
        ttl = half;
    if (capacity == 0 || ttl == 0)
        return 0;
    struct api_token_cache *tc = calloc(1, sizeof(*tc));
    if (!tc)
        return PL_ENOMEM;
    tc->ttl_ms = ttl;
    tc->idle_ms = (uint64_t)session_ttl_s * 1000;
    tc->now = pl_now_ms;
    unsigned per = (capacity + SHARDS - 1) / SHARDS;
    for (unsigned i = 0; i < SHARDS; i++) {
        if (shard_init(&tc->shards[i], per) < 0) {
            while (i-- > 0)
                shard_free(&tc->shards[i]);
            free(tc);
            return PL_ENOMEM;
        }
    }
    *out = tc;
    return 0;
}

void api_token_cache_free(struct api_token_cache *tc)
{
    if (!tc)
        return;
    for (unsigned i = 0; i < SHARDS; i++)
        shard_free(&tc->shards[i]);
    free(tc);
}

/* Unlinks entry i from its chain and puts it on the free list. */
static void remove_at(struct shard *s, int32_t i)
{
    struct entry *e = &s->e[i];
    int32_t *p = bucket_of(s, key_of(e->hash));
    while (*p != i)
        p = &s->e[*p].next;
    *p = e->next;
    e->live = false;
    e->next = s->free_head;
    s->free_head = i;
    s->n_live--;
}

static int32_t find(struct shard *s, uint64_t k, const uint8_t hash[32])
{
    int32_t i = *bucket_of(s, k);
    while (i != NIL && memcmp(s->e[i].hash, hash, 32) != 0)
        i = s->e[i].next;
    return i;
}

bool api_token_cache_get(struct api_token_cache *tc, const uint8_t hash[32], int64_t *user,
                         int64_t *device, uint64_t *gen)
{
    *gen = 0;
    if (!tc)
        return false;
    /* Taken before the lookup, so before the caller's query: an eviction
     * that lands while the query runs makes the put a no-op. */
    *gen = atomic_load(&tc->gen);
    if (atomic_load(&tc->held)) { /* nothing to trust: no lock, no lookup */
        atomic_fetch_add_explicit(&tc->misses, 1, memory_order_relaxed);
        return false;
    }
    uint64_t k = key_of(hash), now = tc->now();
    struct shard *s = shard_of(tc, k);
    bool hit = false;
    pthread_mutex_lock(&s->mu);
    int32_t i = find(s, k, hash);
    if (i != NIL) {
        struct entry *e = &s->e[i];
        /* Stale, or the session went idle past its own expiry (a hit must
         * refuse what PostgreSQL would): ask PostgreSQL again. */
        if (now - e->fetched_ms >= tc->ttl_ms || now - e->used_ms >= tc->idle_ms) {
            remove_at(s, i);
        } else {
            e->used_ms = now;
            e->ref = true;
            *user = e->user;
            *device = e->device;
            hit = true;
        }
    }
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_add_explicit(hit ? &tc->hits : &tc->misses, 1, memory_order_relaxed);
    return hit;
}

/* A free entry, one never used, or the one the clock hand picks (second
 * chance for entries used since it last passed). The shard is full then,
 * so the hand finds one within two turns. */
static int32_t take_slot(struct api_token_cache *tc, struct shard *s)
{
    if (s->free_head != NIL) {
        int32_t i = s->free_head;
        s->free_head = s->e[i].next;
        return i;
    }
    if (s->used < s->cap)
        return (int32_t)s->used++;
    for (;;) {
        struct entry *e = &s->e[s->hand];
        int32_t i = (int32_t)s->hand;
        s->hand = (s->hand + 1) % s->cap;
        if (e->ref) {
            e->ref = false;
            continue;
        }
        remove_at(s, i);
        atomic_fetch_add_explicit(&tc->replaced, 1, memory_order_relaxed);
        s->free_head = e->next; /* remove_at() pushed it */
        return i;
    }
}

void api_token_cache_put(struct api_token_cache *tc, const uint8_t hash[32], int64_t user,
                         int64_t device, uint64_t gen)
{
    if (!tc)
        return;
    uint64_t k = key_of(hash), now = tc->now();
    struct shard *s = shard_of(tc, k);
    pthread_mutex_lock(&s->mu);
    /* Compared under the shard lock: an eviction either bumped gen before
     * this (nothing is stored) or scans this shard after the unlock (and
     * removes what was stored). */
    if (atomic_load(&tc->gen) == gen && !atomic_load(&tc->held)) {
        int32_t i = find(s, k, hash);
        if (i == NIL) {
            i = take_slot(tc, s);
            memcpy(s->e[i].hash, hash, 32);
            int32_t *b = bucket_of(s, k);
            s->e[i].next = *b;
            *b = i;
            s->e[i].live = true;
            s->n_live++;
        }
        struct entry *e = &s->e[i];
        e->user = user;
        e->device = device;
        e->fetched_ms = e->used_ms = now;
        e->ref = false;
    }
    pthread_mutex_unlock(&s->mu);
}

/* Drops device's entries (every entry when device is 0). */
static void evict(struct api_token_cache *tc, int64_t device)
{
    if (!tc)
        return;
    atomic_fetch_add(&tc->gen, 1);
    for (unsigned n = 0; n < SHARDS; n++) {
        struct shard *s = &tc->shards[n];
        unsigned dropped = 0;
        pthread_mutex_lock(&s->mu);
        for (unsigned i = 0; i < s->used && s->n_live; i++)
            if (s->e[i].live && (device == 0 || s->e[i].device == device)) {
                remove_at(s, (int32_t)i);
                dropped++;
            }
        pthread_mutex_unlock(&s->mu);
        atomic_fetch_add_explicit(&tc->evicted, dropped, memory_order_relaxed);
    }
}

void api_token_cache_evict_device(struct api_token_cache *tc, int64_t device)
{
    if (device != 0)
        evict(tc, device);
}

void api_token_cache_clear(struct api_token_cache *tc)
{
    evict(tc, 0);
}

void api_token_cache_hold(struct api_token_cache *tc, bool on)
{
    if (!tc)
        return;
    if (on) {
        /* Set first: a put that checks after this stores nothing, one that
         * checked before is removed by the scan. */
        atomic_store(&tc->held, true);
        evict(tc, 0);
    } else {
        atomic_fetch_add(&tc->gen, 1);
        atomic_store(&tc->held, false);
    }
}

void api_token_cache_stats(struct api_token_cache *tc, struct api_token_cache_stats *st)
{
    *st = (struct api_token_cache_stats){0};
    if (!tc)
        return;
    st->hits = atomic_load(&tc->hits);
    st->misses = atomic_load(&tc->misses);
    st->evicted = atomic_load(&tc->evicted);
    st->replaced = atomic_load(&tc->replaced);
    st->held = atomic_load(&tc->held);
    for (unsigned n = 0; n < SHARDS; n++) {
        struct shard *s = &tc->shards[n];
        pthread_mutex_lock(&s->mu);
        st->entries += s->n_live;
        st->capacity += s->cap;
        pthread_mutex_unlock(&s->mu);
    }
}
