/* SPDX-License-Identifier: MIT */
/* Parley - presence heartbeats in Redis.                               */
/* Copyright (c) 2026 Parley developers                                 */
#include "presence.h"
#include "redis_cluster.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOUCH 4096

/*
 * In cluster mode a user's heartbeat keys live in its bucket
 * (store_redis__presence_bucket(): "{pl:presence:<k>}presence:hb" and
 * "{pl:presence:<k>}presence:u:<id>"), so that the refresh of every online
 * user, the busiest presence traffic, is spread over every master instead
 * of loading the one that holds a single tag. A call that names users of
 * several buckets becomes one script per bucket; a single Redis has one
 * bucket and the untagged names it always had.
 */

/* One round trip for any number of users of one bucket. The hash outlives
 * the set entry (30 days) so last_seen is still known after the user went
 * offline. In cluster mode KEYS[2] is the bucket's tag, which every key
 * the script builds starts with (one slot); a single Redis passes one key
 * and the names stay untagged. */
static const char touch_lua[] =
    "local now, node, new, P = ARGV[1], ARGV[2], {}, KEYS[2] or ''\n"
    "for i = 3, #ARGV do\n"
    "  local u = ARGV[i]\n"
    "  if redis.call('ZADD', KEYS[1], now, u) == 1 then new[#new + 1] = u end\n"
    "  redis.call('HSET', P .. 'presence:u:' .. u, 'node', node, 'hb', now)\n"
    "  redis.call('EXPIRE', P .. 'presence:u:' .. u, 2592000)\n"
    "end\n"
    "return new\n";

/* Touches users[0..n) (all in the bucket whose tag is tag) and sets
 * came_online[i] of all[0..n_all) for those the script reports new. */
static int touch_bucket(struct store_redis *r, const char *tag, const int64_t *users, unsigned n,
                        const char *node, uint64_t now_ms, const int64_t *all, unsigned n_all,
                        bool *came_online)
{
    int k = tag[0] ? 1 : 0; /* the tag as a second key */
    const char **argv = malloc((n + 7) * sizeof(*argv));
    char *nums = malloc((size_t)(n + 1) * 24);
    char hb[48];
    if (!argv || !nums) {
        free(argv);
        free(nums);
        return PL_ENOMEM;
    }
    snprintf(hb, sizeof(hb), "%spresence:hb", tag);
    argv[0] = "EVAL";
    argv[1] = touch_lua;
    argv[2] = k ? "2" : "1";
    argv[3] = hb;
    argv[4] = tag;
    snprintf(nums, 24, "%" PRIu64, now_ms);
    argv[4 + k] = nums;
    argv[5 + k] = node;
    for (unsigned i = 0; i < n; i++) {
        snprintf(nums + (i + 1) * 24, 24, "%" PRId64, users[i]);
        argv[6 + k + i] = nums + (i + 1) * 24;
    }
    void *v;
    int rc = store_redis__command_argv(r, &v, (int)n + 6 + k, argv, NULL);
    free(argv);
    free(nums);
    if (rc < 0)
        return rc;
    redisReply *rep = v;
    for (size_t j = 0; rep->type == REDIS_REPLY_ARRAY && j < rep->elements; j++) {
        int64_t u = strtoll(rep->element[j]->str ? rep->element[j]->str : "0", NULL, 10);
        for (unsigned i = 0; i < n_all; i++)
            if (all[i] == u)
                came_online[i] = true;
    }
    store_redis_reply_free(v);
    return 0;
}

int store_redis_presence_touch(struct store_redis *r, const int64_t *users, unsigned n,
                               const char *node, uint64_t now_ms, bool *came_online)
{
    if (n == 0)
        return 0;
    if (n > MAX_TOUCH)
        return PL_EINVAL;
    for (unsigned i = 0; i < n; i++)
        came_online[i] = false;
    unsigned nb = store_redis__presence_buckets(r);
    if (nb == 1)
        return touch_bucket(r, "", users, n, node, now_ms, users, n, came_online);
    int64_t *sub = malloc(n * sizeof(*sub));
    if (!sub)
        return PL_ENOMEM;
    /* A bucket whose master is down (a failover) does not stop the others:
     * their users' came_online is set, and the caller announces those. */
    int rc = 0, one;
    char tag[STORE_REDIS_TAG_MAX];
    for (unsigned b = 0; b < nb && rc != PL_ENOMEM; b++) {
        unsigned k = 0;
        for (unsigned i = 0; i < n; i++)
            if (store_redis__presence_bucket(r, users[i]) == b)
                sub[k++] = users[i];
        if (k && (one = touch_bucket(r, store_redis__presence_tag(r, b, tag), sub, k, node, now_ms,
                                     users, n, came_online)) < 0)
            rc = one;
    }
    free(sub);
    return rc;
}

int store_redis_presence_get(struct store_redis *r, int64_t user, uint64_t *hb_ms)
{
    char tag[STORE_REDIS_TAG_MAX];
    void *v;
    int rc = store_redis__command(
        r, &v, "HGET %spresence:u:%lld hb",
        store_redis__presence_tag(r, store_redis__presence_bucket(r, user), tag), (long long)user);
    if (rc < 0)
        return rc;
    redisReply *rep = v;
    rc = rep->type == REDIS_REPLY_STRING ? 0 : PL_ENOTFOUND;
    if (rc == 0)
        *hb_ms = strtoull(rep->str, NULL, 10);
    store_redis_reply_free(v);
    return rc;
}

/* Range and removal in one script so a user's entry is judged and removed
 * atomically; ZREM's result tells which node announces the change. */
static const char expire_lua[] =
    "local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES',"
    " 'LIMIT', 0, ARGV[2])\n"
    "local out = {}\n"
    "for i = 1, #gone, 2 do\n"
    "  if redis.call('ZREM', KEYS[1], gone[i]) == 1 then\n"
    "    out[#out + 1] = gone[i]; out[#out + 1] = gone[i + 1]\n"
    "  end\n"
    "end\n"
    "return out\n";

/* One bucket's expired users, appended to users/hb_ms from *n on. */
static int expire_bucket(struct store_redis *r, const char *tag, const char *cut, int64_t *users,
                         uint64_t *hb_ms, unsigned max, unsigned *n)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%u", max - *n);
    void *v;
    int rc =
        store_redis__command(r, &v, "EVAL %s 1 %spresence:hb %s %s", expire_lua, tag, cut, lim);
    if (rc < 0)
        return rc;
    redisReply *rep = v;
    for (size_t k = 0; rep->type == REDIS_REPLY_ARRAY && k + 1 < rep->elements && *n < max;
         k += 2) {
        users[*n] = strtoll(rep->element[k]->str, NULL, 10);
        hb_ms[*n] = strtoull(rep->element[k + 1]->str, NULL, 10);
        (*n)++;
    }
    store_redis_reply_free(v);
    return 0;
}

int store_redis_presence_expire(struct store_redis *r, uint64_t cutoff_ms, int64_t *users,
                                uint64_t *hb_ms, unsigned max, unsigned *n)
{
    /* Each call starts one bucket further, so a bucket with more than max
     * expired users cannot keep the later ones waiting. */
    static atomic_uint next;
    char cut[24], tag[STORE_REDIS_TAG_MAX];
    snprintf(cut, sizeof(cut), "%" PRIu64, cutoff_ms);
    unsigned nb = store_redis__presence_buckets(r);
    unsigned first = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed);
    int rc = 0, one;
    *n = 0;
    /* A bucket that fails (its master is down) does not stop the others;
     * what was removed is reported whatever failed: its ZREM is done. */
    for (unsigned i = 0; i < nb && *n < max; i++)
        if ((one = expire_bucket(r, store_redis__presence_tag(r, (first + i) % nb, tag), cut, users,
                                 hb_ms, max, n)) < 0)
            rc = one;
    return *n ? 0 : rc;
}

int store_redis_presence_forget(struct store_redis *r, int64_t user)
{
    char buf[STORE_REDIS_TAG_MAX];
    const char *tag = store_redis__presence_tag(r, store_redis__presence_bucket(r, user), buf);
    void *v;
    int rc = store_redis__command(r, &v, "ZREM %spresence:hb %lld", tag, (long long)user);
    if (rc < 0)
        return rc;
    store_redis_reply_free(v);
    rc = store_redis__command(r, &v, "DEL %spresence:u:%lld", tag, (long long)user);
    if (rc == 0)
        store_redis_reply_free(v);
    return rc;
}
