/* SPDX-License-Identifier: MIT */
/* Parley - presence heartbeats in Redis.                               */
/* Copyright (c) 2026 Parley developers                                 */
#include "presence.h"
#include "redis_cluster.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOUCH 4096

/* One round trip for any number of users. The hash outlives the set entry
 * (30 days) so last_seen is still known after the user went offline. */
/* In cluster mode KEYS[2] is the hash tag that every presence key starts
 * with (one slot, so one script may touch them all); a single Redis
 * passes one key and the names stay untagged. */
static const char touch_lua[] =
    "local now, node, new, P = ARGV[1], ARGV[2], {}, KEYS[2] or ''\n"
    "for i = 3, #ARGV do\n"
    "  local u = ARGV[i]\n"
    "  if redis.call('ZADD', KEYS[1], now, u) == 1 then new[#new + 1] = u end\n"
    "  redis.call('HSET', P .. 'presence:u:' .. u, 'node', node, 'hb', now)\n"
    "  redis.call('EXPIRE', P .. 'presence:u:' .. u, 2592000)\n"
    "end\n"
    "return new\n";

int store_redis_presence_touch(struct store_redis *r, const int64_t *users, unsigned n,
                               const char *node, uint64_t now_ms, bool *came_online)
{
    if (n == 0)
        return 0;
    if (n > MAX_TOUCH)
        return PL_EINVAL;
    const char *tag = store_redis__tag(r, STORE_REDIS_TAG_PRESENCE);
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
        came_online[i] = false;
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
        for (unsigned i = 0; i < n; i++)
            if (users[i] == u)
                came_online[i] = true;
    }
    store_redis_reply_free(v);
    return 0;
}

int store_redis_presence_get(struct store_redis *r, int64_t user, uint64_t *hb_ms)
{
    void *v;
    int rc = store_redis__command(r, &v, "HGET %spresence:u:%lld hb",
                                  store_redis__tag(r, STORE_REDIS_TAG_PRESENCE), (long long)user);
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

int store_redis_presence_expire(struct store_redis *r, uint64_t cutoff_ms, int64_t *users,
                                uint64_t *hb_ms, unsigned max, unsigned *n)
{
    char cut[24], lim[16];
    snprintf(cut, sizeof(cut), "%" PRIu64, cutoff_ms);
    snprintf(lim, sizeof(lim), "%u", max);
    void *v;
    int rc = store_redis__command(r, &v, "EVAL %s 1 %spresence:hb %s %s", expire_lua,
                                  store_redis__tag(r, STORE_REDIS_TAG_PRESENCE), cut, lim);
    if (rc < 0)
        return rc;
    redisReply *rep = v;
    *n = 0;
    for (size_t k = 0; rep->type == REDIS_REPLY_ARRAY && k + 1 < rep->elements && *n < max;
         k += 2) {
        users[*n] = strtoll(rep->element[k]->str, NULL, 10);
        hb_ms[*n] = strtoull(rep->element[k + 1]->str, NULL, 10);
        (*n)++;
    }
    store_redis_reply_free(v);
    return 0;
}

int store_redis_presence_forget(struct store_redis *r, int64_t user)
{
    const char *tag = store_redis__tag(r, STORE_REDIS_TAG_PRESENCE);
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
