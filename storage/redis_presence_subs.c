/* SPDX-License-Identifier: MIT */
/* Parley - presence subscriptions: who watches whom, on which node.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "presence.h"
#include "redis_cluster.h"
#include "relay.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Three kinds of keys, all maintained by server-side scripts so that each
 * operation is one round trip and atomic:
 *   psub:d:<device>  hash {user, exp, targets}: the device's set, as
 *                    replaced by its last PUT; expires at exp.
 *   psub:t:<target>  sorted set of "<user>:<device>" scored by expiry:
 *                    the reverse index a transition reads.
 *   psub:dn:<device> set of node names holding an event stream of the
 *                    device, written when a stream opens and removed when
 *                    its last one on a node closed.
 * A transition of a target reads its subscribers and their devices'
 * nodes, so it is sent to exactly the nodes that hold a subscriber's
 * stream: no broadcast to every node, and no node-level entry that could
 * outlive the stream that justified it.
 */

/* Every script here names no key on a single Redis. In cluster mode it
 * gets one, the presence hash tag, which every key it builds starts with:
 * all of them live in that tag's slot (a subscription joins keys of many
 * users: the target's subscribers and each subscriber device's nodes).
 * Heartbeats are the exception: hb_many_lua reads one heartbeat bucket
 * per call. */
#define P_LUA "local P = KEYS[1] or ''\n"

/* Removes the device's old set from the reverse index. Shared by the
 * replace, clear and stream-close scripts. */
#define CLEAR_LUA                                                                                  \
    P_LUA                                                                                          \
    "local function clear(dev)\n"                                                                  \
    "  local dk = P .. 'psub:d:' .. dev\n"                                                         \
    "  local f = redis.call('HMGET', dk, 'user', 'targets')\n"                                     \
    "  if f[1] and f[2] then\n"                                                                    \
    "    for t in string.gmatch(f[2], '[^,]+') do\n"                                               \
    "      redis.call('ZREM', P .. 'psub:t:' .. t, f[1] .. ':' .. dev)\n"                          \
    "    end\n"                                                                                    \
    "  end\n"                                                                                      \
    "  return redis.call('DEL', dk)\n"                                                             \
    "end\n"

static const char set_lua[] = CLEAR_LUA
    "local user, dev, now, exp = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "clear(dev)\n"
    "if #ARGV < 5 then return 0 end\n"
    "local member, list = user .. ':' .. dev, {}\n"
    "for i = 5, #ARGV do\n"
    "  local tk = P .. 'psub:t:' .. ARGV[i]\n"
    "  redis.call('ZREMRANGEBYSCORE', tk, '-inf', now)\n"
    "  redis.call('ZADD', tk, exp, member)\n"
    "  local ttl = redis.call('PTTL', tk)\n"
    "  if ttl < 0 or now + ttl < exp then redis.call('PEXPIREAT', tk, exp) end\n"
    "  list[#list + 1] = ARGV[i]\n"
    "end\n"
    "local dk = P .. 'psub:d:' .. dev\n"
    "redis.call('HSET', dk, 'user', user, 'exp', exp, 'targets', table.concat(list, ','))\n"
    "redis.call('PEXPIREAT', dk, exp)\n"
    "return #list\n";

/* argv[0..]: EVAL, the script, the key count and in cluster mode the tag
 * as the one key. Returns how many entries it filled (3 or 4). */
static int eval_head(const char *tag, const char **argv, const char *script)
{
    argv[0] = "EVAL";
    argv[1] = script;
    argv[2] = tag[0] ? "1" : "0";
    argv[3] = tag;
    return tag[0] ? 4 : 3;
}

static char *i64s(const int64_t *v, unsigned n, const char **argv)
{
    char *nums = malloc((size_t)(n ? n : 1) * 24);
    if (!nums)
        return NULL;
    for (unsigned i = 0; i < n; i++) {
        snprintf(nums + (size_t)i * 24, 24, "%" PRId64, v[i]);
        argv[i] = nums + (size_t)i * 24;
    }
    return nums;
}

int store_redis_psub_set(struct store_redis *r, int64_t user, int64_t device, uint64_t now_ms,
                         uint64_t expires_ms, const int64_t *targets, unsigned n)
{
    if (n > STORE_PSUB_MAX)
        return PL_EINVAL;
    const char **argv = malloc((n + 8) * sizeof(*argv));
    char head[4][24];
    int k = argv ? eval_head(store_redis__tag(r, STORE_REDIS_TAG_PRESENCE), argv, set_lua) : 0;
    char *nums = argv ? i64s(targets, n, argv + k + 4) : NULL;
    if (!nums) {
        free(argv);
        return PL_ENOMEM;
    }
    snprintf(head[0], 24, "%" PRId64, user);
    snprintf(head[1], 24, "%" PRId64, device);
    snprintf(head[2], 24, "%" PRIu64, now_ms);
    snprintf(head[3], 24, "%" PRIu64, expires_ms);
    for (int i = 0; i < 4; i++)
        argv[k + i] = head[i];
    void *v;
    int rc = store_redis__command_argv(r, &v, (int)n + k + 4, argv, NULL);
    free(argv);
    free(nums);
    store_redis_reply_free(v);
    return rc;
}

int store_redis_psub_clear(struct store_redis *r, int64_t user, int64_t device)
{
    return store_redis_psub_set(r, user, device, 0, 0, NULL, 0);
}

int store_redis_psub_get(struct store_redis *r, struct pl_arena *a, int64_t device,
                         int64_t **targets, unsigned *n, uint64_t *expires_ms)
{
    void *v;
    *n = 0;
    *targets = NULL;
    *expires_ms = 0;
    int rc = store_redis__command(r, &v, "HMGET %spsub:d:%lld exp targets",
                                  store_redis__tag(r, STORE_REDIS_TAG_PRESENCE), (long long)device);
    if (rc < 0)
        return rc;
    redisReply *rep = v;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_STRING)
        goto done; /* no set, or it expired */
    *expires_ms = strtoull(rep->element[0]->str, NULL, 10);
    const char *t = rep->element[1]->str;
    unsigned cap = 1;
    for (const char *p = t; *p; p++)
        cap += *p == ',';
    if (!(*targets = pl_arena_alloc(a, cap * sizeof(**targets)))) {
        rc = PL_ENOMEM;
        goto done;
    }
    while (*t && *n < cap) {
        char *end;
        (*targets)[(*n)++] = strtoll(t, &end, 10);
        t = *end == ',' ? end + 1 : end;
    }
done:
    store_redis_reply_free(v);
    return rc;
}

static const char open_lua[] = P_LUA "redis.call('SADD', P .. 'psub:dn:' .. ARGV[1], ARGV[2])\n"
                                     "redis.call('EXPIRE', P .. 'psub:dn:' .. ARGV[1], 86400)\n"
                                     "return 1\n";

int store_relay_psub_stream_open(struct store_relay *r, int64_t device, const char *node)
{
    char dev[24];
    snprintf(dev, sizeof(dev), "%" PRId64, device);
    const char *argv[6];
    int k = eval_head(store_relay__tag(r, STORE_REDIS_TAG_PRESENCE), argv, open_lua);
    argv[k] = dev;
    argv[k + 1] = node;
    return store_relay_command(r, k + 2, argv);
}

int store_redis_psub_stream_open(struct store_redis *r, int64_t device, const char *node)
{
    char dev[24];
    snprintf(dev, sizeof(dev), "%" PRId64, device);
    const char *argv[6];
    int k = eval_head(store_redis__tag(r, STORE_REDIS_TAG_PRESENCE), argv, open_lua);
    argv[k] = dev;
    argv[k + 1] = node;
    void *v;
    int rc = store_redis__command_argv(r, &v, k + 2, argv, NULL);
    store_redis_reply_free(v);
    return rc;
}

/* A device whose last stream anywhere closed loses its subscriptions:
 * they "expire with the stream". */
static const char closed_lua[] = CLEAR_LUA "local node, cleared = ARGV[1], 0\n"
                                           "for i = 2, #ARGV do\n"
                                           "  local nk = P .. 'psub:dn:' .. ARGV[i]\n"
                                           "  redis.call('SREM', nk, node)\n"
                                           "  if redis.call('SCARD', nk) == 0 then\n"
                                           "    cleared = cleared + clear(ARGV[i])\n"
                                           "  end\n"
                                           "end\n"
                                           "return cleared\n";

int store_redis_psub_streams_closed(struct store_redis *r, const char *node, const int64_t *devices,
                                    unsigned n, unsigned *cleared)
{
    *cleared = 0;
    if (n == 0)
        return 0;
    if (n > STORE_PSUB_BATCH)
        return PL_EINVAL;
    const char **argv = malloc((n + 5) * sizeof(*argv));
    int k = argv ? eval_head(store_redis__tag(r, STORE_REDIS_TAG_PRESENCE), argv, closed_lua) : 0;
    char *nums = argv ? i64s(devices, n, argv + k + 1) : NULL;
    if (!nums) {
        free(argv);
        return PL_ENOMEM;
    }
    argv[k] = node;
    void *v;
    int rc = store_redis__command_argv(r, &v, (int)n + k + 1, argv, NULL);
    free(argv);
    free(nums);
    if (rc == 0 && ((redisReply *)v)->type == REDIS_REPLY_INTEGER)
        *cleared = (unsigned)((redisReply *)v)->integer;
    store_redis_reply_free(v);
    return rc;
}

/* Subscribers still within their expiry, each with every node holding
 * one of its device's streams: "<user>:<device>", node, ... */
static const char audience_lua[] =
    P_LUA "local subs = redis.call('ZRANGEBYSCORE', P .. 'psub:t:' .. ARGV[1], ARGV[2], '+inf')\n"
          "local out = {}\n"
          "for _, m in ipairs(subs) do\n"
          "  local dev = string.match(m, ':(%d+)$')\n"
          "  if dev then\n"
          "    for _, n in ipairs(redis.call('SMEMBERS', P .. 'psub:dn:' .. dev)) do\n"
          "      out[#out + 1] = m; out[#out + 1] = n\n"
          "    end\n"
          "  end\n"
          "end\n"
          "return out\n";

int store_redis_psub_audience(struct store_redis *r, struct pl_arena *a, int64_t target,
                              uint64_t now_ms, struct store_psub **subs, unsigned *n)
{
    char t[24], now[24];
    snprintf(t, sizeof(t), "%" PRId64, target);
    snprintf(now, sizeof(now), "%" PRIu64, now_ms);
    void *v;
    *n = 0;
    *subs = NULL;
    const char *argv[6];
    int h = eval_head(store_redis__tag(r, STORE_REDIS_TAG_PRESENCE), argv, audience_lua);
    argv[h] = t;
    argv[h + 1] = now;
    int rc = store_redis__command_argv(r, &v, h + 2, argv, NULL);
    if (rc < 0)
        return rc;
    redisReply *rep = v;
    size_t cnt = rep->type == REDIS_REPLY_ARRAY ? rep->elements / 2 : 0;
    if (cnt && !(*subs = pl_arena_alloc(a, cnt * sizeof(**subs))))
        rc = PL_ENOMEM;
    for (size_t k = 0; rc == 0 && k < cnt; k++) {
        redisReply *m = rep->element[2 * k], *node = rep->element[2 * k + 1];
        struct store_psub *s = &(*subs)[*n];
        char *end;
        if (m->type != REDIS_REPLY_STRING || node->type != REDIS_REPLY_STRING)
            continue;
        s->user = strtoll(m->str, &end, 10);
        s->device = *end == ':' ? strtoll(end + 1, NULL, 10) : 0;
        if (!(s->node = pl_arena_strdup(a, node->str)))
            rc = PL_ENOMEM;
        else if (s->user > 0 && s->device > 0)
            (*n)++;
    }
    store_redis_reply_free(v);
    return rc;
}

/* The heartbeats of users of one bucket (its tag as KEYS[1] in cluster
 * mode: see redis_presence.c), each with whether the bucket's set still
 * lists it: two entries per user. */
static const char hb_many_lua[] =
    P_LUA "local out = {}\n"
          "for i = 1, #ARGV do\n"
          "  out[2 * i - 1] = redis.call('HGET', P .. 'presence:u:' .. ARGV[i], 'hb')"
          " or ''\n"
          "  out[2 * i] = redis.call('ZSCORE', P .. 'presence:hb', ARGV[i]) and 1 or 0\n"
          "end\n"
          "return out\n";

/* hb_ms[idx[i]] (and listed[idx[i]] unless NULL) for users[0..n), all of
 * the bucket whose tag is tag. */
static int hb_bucket(struct store_redis *r, const char *tag, const int64_t *users, unsigned n,
                     const unsigned *idx, uint64_t *hb_ms, bool *listed)
{
    const char **argv = malloc((n + 4) * sizeof(*argv));
    int k = argv ? eval_head(tag, argv, hb_many_lua) : 0;
    char *nums = argv ? i64s(users, n, argv + k) : NULL;
    if (!nums) {
        free(argv);
        return PL_ENOMEM;
    }
    void *v;
    int rc = store_redis__command_argv(r, &v, (int)n + k, argv, NULL);
    free(argv);
    free(nums);
    if (rc < 0)
        return rc;
    redisReply *rep = v;
    for (unsigned i = 0; i < n; i++) {
        bool ok = rep->type == REDIS_REPLY_ARRAY && 2 * i + 1 < rep->elements;
        redisReply *e = ok ? rep->element[2 * i] : NULL, *l = ok ? rep->element[2 * i + 1] : NULL;
        hb_ms[idx[i]] = e && e->type == REDIS_REPLY_STRING ? strtoull(e->str, NULL, 10) : 0;
        if (listed)
            listed[idx[i]] = l && l->type == REDIS_REPLY_INTEGER && l->integer == 1;
    }
    store_redis_reply_free(v);
    return 0;
}

int store_redis_presence_get_many(struct store_redis *r, const int64_t *users, unsigned n,
                                  uint64_t *hb_ms)
{
    return store_redis_presence_listed_many(r, users, n, hb_ms, NULL);
}

int store_redis_presence_listed_many(struct store_redis *r, const int64_t *users, unsigned n,
                                     uint64_t *hb_ms, bool *listed)
{
    if (n == 0)
        return 0;
    if (n > STORE_PSUB_MAX)
        return PL_EINVAL;
    int64_t *sub = malloc(n * sizeof(*sub));
    unsigned *idx = malloc(n * sizeof(*idx));
    int rc = sub && idx ? 0 : PL_ENOMEM;
    char tag[STORE_REDIS_TAG_MAX];
    unsigned nb = store_redis__presence_buckets(r);
    /* One script per bucket that has users (one in all on a single Redis). */
    for (unsigned b = 0; rc == 0 && b < nb; b++) {
        unsigned k = 0;
        for (unsigned i = 0; i < n; i++)
            if (store_redis__presence_bucket(r, users[i]) == b) {
                sub[k] = users[i];
                idx[k++] = i;
            }
        if (k)
            rc = hb_bucket(r, store_redis__presence_tag(r, b, tag), sub, k, idx, hb_ms, listed);
    }
    free(sub);
    free(idx);
    return rc;
}

int store_redis_typing_allow(struct store_redis *r, int64_t conv, int64_t user,
                             unsigned interval_ms, bool *allowed)
{
    *allowed = true;
    if (interval_ms == 0)
        return 0;
    void *v;
    int rc = store_redis__command(r, &v, "SET typing:%lld:%lld 1 PX %u NX", (long long)conv,
                                  (long long)user, interval_ms);
    if (rc < 0)
        return rc;
    *allowed = ((redisReply *)v)->type == REDIS_REPLY_STATUS;
    store_redis_reply_free(v);
    return 0;
}
