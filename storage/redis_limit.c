/* SPDX-License-Identifier: MIT */
/* Parley - rate limits and quotas kept in Redis, shared by every node. */
/* Copyright (c) 2026 Parley developers                                 */
#include "limit.h"
#include "redis_cluster.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * Each limit is one Lua script, so reading and updating a counter is
 * atomic across nodes without WATCH/MULTI retries. Times are milliseconds
 * passed as arguments (Lua numbers are doubles: exact far beyond 2^53 ms).
 * string.format('%d') keeps large numbers out of Lua's "1e+12" notation.
 */

/* Refused attempts add nothing, so waiting Retry-After always helps; a
 * key without a TTL (never written by us) is treated as a fresh window. */
static const char window_lua[] =
    "local v = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "local cost, limit, win = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "if v + cost > limit then\n"
    "  local t = redis.call('PTTL', KEYS[1])\n"
    "  if t <= 0 then t = win end\n"
    "  return t\n"
    "end\n"
    "if v == 0 then redis.call('SET', KEYS[1], string.format('%d', cost), 'PX', win)\n"
    "else redis.call('INCRBY', KEYS[1], string.format('%d', cost)) end\n"
    "return 0\n";

/* An attempt is counted as a failure when it starts and forgiven when it
 * turns out not to be one: a burst of parallel guesses is counted before
 * any of them is verified. The exponent is capped so 2^k stays a small
 * exact number. */
static const char backoff_attempt_lua[] =
    "local now, th, base, mx, forget = tonumber(ARGV[1]), tonumber(ARGV[2]),\n"
    "  tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "local u = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')\n"
    "if u > now then return u - now end\n"
    "local n = redis.call('HINCRBY', KEYS[1], 'n', 1)\n"
    "local d = 0\n"
    "if n >= th then\n"
    "  d = base * 2 ^ math.min(n - th, 40)\n"
    "  if d > mx then d = mx end\n"
    "  redis.call('HSET', KEYS[1], 'until', string.format('%d', now + d))\n"
    "end\n"
    "redis.call('PEXPIRE', KEYS[1], string.format('%d', forget + d))\n"
    "return 0\n";

static const char backoff_forgive_lua[] = "if redis.call('EXISTS', KEYS[1]) == 1 and\n"
                                          "   redis.call('HINCRBY', KEYS[1], 'n', -1) <= 0 then\n"
                                          "  redis.call('DEL', KEYS[1])\n"
                                          "end\n"
                                          "return 0\n";

static const char streams_open_lua[] =
    "local now, node, max, lease = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]),\n"
    "  tonumber(ARGV[4])\n"
    "local t = redis.call('HGETALL', KEYS[1])\n"
    "local sum, mine = 0, 0\n"
    "for i = 1, #t, 2 do\n"
    "  local c, e = string.match(t[i + 1], '^(%d+):(%d+)$')\n"
    "  c, e = tonumber(c or '0'), tonumber(e or '0')\n"
    "  if e <= now then redis.call('HDEL', KEYS[1], t[i])\n"
    "  else\n"
    "    sum = sum + c\n"
    "    if t[i] == node then mine = c end\n"
    "  end\n"
    "end\n"
    "if sum >= max then return 0 end\n"
    "redis.call('HSET', KEYS[1], node, string.format('%d:%d', mine + 1, now + lease))\n"
    "redis.call('PEXPIRE', KEYS[1], string.format('%d', lease))\n"
    "return 1\n";

/* streams_open_lua for every key in turn (a key may repeat); an array of
 * 0/1, one per key. */
static const char streams_open_many_lua[] =
    "local now, node, max, lease = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]),\n"
    "  tonumber(ARGV[4])\n"
    "local res = {}\n"
    "for k = 1, #KEYS do\n"
    "  local t = redis.call('HGETALL', KEYS[k])\n"
    "  local sum, mine = 0, 0\n"
    "  for i = 1, #t, 2 do\n"
    "    local c, e = string.match(t[i + 1], '^(%d+):(%d+)$')\n"
    "    c, e = tonumber(c or '0'), tonumber(e or '0')\n"
    "    if e <= now then redis.call('HDEL', KEYS[k], t[i])\n"
    "    else\n"
    "      sum = sum + c\n"
    "      if t[i] == node then mine = c end\n"
    "    end\n"
    "  end\n"
    "  if sum >= max then res[k] = 0 else\n"
    "    redis.call('HSET', KEYS[k], node, string.format('%d:%d', mine + 1, now + lease))\n"
    "    redis.call('PEXPIRE', KEYS[k], string.format('%d', lease))\n"
    "    res[k] = 1\n"
    "  end\n"
    "end\n"
    "return res\n";

static const char streams_set_lua[] =
    "local now, node, delta, lease = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]),\n"
    "  tonumber(ARGV[4])\n"
    "local c = tonumber(ARGV[5])\n"
    "if delta ~= 0 then\n"
    "  local v = redis.call('HGET', KEYS[1], node)\n"
    "  if not v then return 0 end\n"
    "  c = tonumber(string.match(v, '^(%d+):') or '0') + delta\n"
    "end\n"
    "if c <= 0 then redis.call('HDEL', KEYS[1], node) return 0 end\n"
    "redis.call('HSET', KEYS[1], node, string.format('%d:%d', c, now + lease))\n"
    "redis.call('PEXPIRE', KEYS[1], string.format('%d', lease))\n"
    "return 0\n";

/* The refresh of many users at once: KEYS are the users' hashes, ARGV
 * now, node, lease, then one count per key. */
static const char streams_refresh_lua[] =
    "local now, node, lease = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])\n"
    "for i = 1, #KEYS do\n"
    "  local c = tonumber(ARGV[3 + i])\n"
    "  if c <= 0 then redis.call('HDEL', KEYS[i], node)\n"
    "  else\n"
    "    redis.call('HSET', KEYS[i], node, string.format('%d:%d', c, now + lease))\n"
    "    redis.call('PEXPIRE', KEYS[i], string.format('%d', lease))\n"
    "  end\n"
    "end\n"
    "return 0\n";

/* Runs script with one key and the given numeric/text arguments; the
 * integer reply goes to *out. */
static int eval(struct store_redis *r, const char *script, const char *key, int nargs,
                const char *const *args, long long *out)
{
    const char *argv[12] = {"EVAL", script, "1", key};
    for (int i = 0; i < nargs && i < 8; i++)
        argv[4 + i] = args[i];
    void *v;
    int rc = store_redis__command_argv(r, &v, 4 + nargs, argv, NULL);
    if (rc < 0)
        return rc;
    redisReply *rep = v;
    if (rep->type == REDIS_REPLY_INTEGER)
        *out = rep->integer;
    else
        rc = PL_EINTERNAL;
    store_redis_reply_free(v);
    return rc;
}

#define NUM(buf, v) (snprintf((buf), sizeof(buf), "%" PRIu64, (uint64_t)(v)), (buf))
#define NUM_AT(p, v) (snprintf((p), 48, "%" PRIu64, (uint64_t)(v)), (p))

int store_redis_limit_window(struct store_redis *r, const char *key, uint64_t limit,
                             uint64_t window_ms, uint64_t cost, uint64_t *retry_ms)
{
    char a[24], b[24], c[24];
    const char *args[] = {NUM(a, cost), NUM(b, limit), NUM(c, window_ms ? window_ms : 1)};
    long long left = 0;
    *retry_ms = 0;
    int rc = eval(r, window_lua, key, 3, args, &left);
    if (rc < 0)
        return rc;
    if (left > 0) {
        *retry_ms = (uint64_t)left;
        return PL_ERATE;
    }
    return 0;
}

int store_redis_backoff_attempt(struct store_redis *r, const char *key, uint64_t now_ms,
                                const struct store_backoff *b, uint64_t *retry_ms)
{
    char a[24], t[24], c[24], d[24], e[24];
    const char *args[] = {NUM(a, now_ms), NUM(t, b->threshold), NUM(c, b->base_ms),
                          NUM(d, b->max_ms), NUM(e, b->forget_ms)};
    long long left = 0;
    *retry_ms = 0;
    int rc = eval(r, backoff_attempt_lua, key, 5, args, &left);
    if (rc < 0)
        return rc;
    if (left > 0) {
        *retry_ms = (uint64_t)left;
        return PL_ERATE;
    }
    return 0;
}

int store_redis_backoff_forgive(struct store_redis *r, const char *key)
{
    long long ignored;
    return eval(r, backoff_forgive_lua, key, 0, NULL, &ignored);
}

int store_redis_backoff_clear(struct store_redis *r, const char *key)
{
    void *v;
    int rc = store_redis__command(r, &v, "DEL %s", key);
    store_redis_reply_free(v);
    return rc;
}

/* In cluster mode the counters share one hash tag: the refresh names many
 * users' keys in one script, which must all be in one slot. */
static void streams_key(const struct store_redis *r, char *buf, size_t size, int64_t user)
{
    snprintf(buf, size, "%spl:lim:streams:%" PRId64, store_redis__tag(r, STORE_REDIS_TAG_STREAMS),
             user);
}

int store_redis_streams_open(struct store_redis *r, int64_t user, const char *node, unsigned max,
                             uint64_t now_ms, uint64_t lease_ms)
{
    char key[48], a[24], b[24], c[24];
    streams_key(r, key, sizeof(key), user);
    const char *args[] = {NUM(a, now_ms), node, NUM(b, max), NUM(c, lease_ms)};
    long long ok = 0;
    int rc = eval(r, streams_open_lua, key, 4, args, &ok);
    return rc < 0 ? rc : ok ? 0 : PL_ERATE;
}

static int streams_set(struct store_redis *r, int64_t user, const char *node, int delta,
                       unsigned count, uint64_t now_ms, uint64_t lease_ms)
{
    char key[48], a[24], b[24], c[24], d[24];
    streams_key(r, key, sizeof(key), user);
    snprintf(b, sizeof(b), "%d", delta);
    const char *args[] = {NUM(a, now_ms), node, b, NUM(c, lease_ms), NUM(d, count)};
    long long ignored;
    return eval(r, streams_set_lua, key, 5, args, &ignored);
}

int store_redis_streams_close(struct store_redis *r, int64_t user, const char *node,
                              uint64_t now_ms, uint64_t lease_ms)
{
    return streams_set(r, user, node, -1, 0, now_ms, lease_ms);
}

int store_redis_streams_refresh(struct store_redis *r, const int64_t *users, const unsigned *counts,
                                unsigned n, const char *node, uint64_t now_ms, uint64_t lease_ms)
{
    if (n == 0)
        return 0;
    if (n > STORE_REDIS_STREAMS_BATCH)
        return PL_EINVAL;
    /* argv: EVAL script numkeys keys... now node lease counts... */
    const char **argv = malloc((6 + 2 * (size_t)n) * sizeof(*argv));
    char *bufs = malloc((3 + 2 * (size_t)n) * 48);
    if (!argv || !bufs) {
        free(argv);
        free(bufs);
        return PL_ENOMEM;
    }
    int k = 0;
    argv[k++] = "EVAL";
    argv[k++] = streams_refresh_lua;
    snprintf(bufs, 48, "%u", n);
    argv[k++] = bufs;
    for (unsigned i = 0; i < n; i++) {
        streams_key(r, bufs + 48 * (1 + i), 48, users[i]);
        argv[k++] = bufs + 48 * (1 + i);
    }
    char *p = bufs + 48 * (1 + (size_t)n);
    snprintf(p, 48, "%" PRIu64, now_ms);
    argv[k++] = p;
    argv[k++] = node;
    snprintf(p + 48, 48, "%" PRIu64, lease_ms);
    argv[k++] = p + 48;
    for (unsigned i = 0; i < n; i++) {
        snprintf(p + 96 + 48 * i, 48, "%u", counts[i]);
        argv[k++] = p + 96 + 48 * i;
    }
    void *v;
    int rc = store_redis__command_argv(r, &v, k, argv, NULL);
    if (rc == 0)
        store_redis_reply_free(v);
    free(argv);
    free(bufs);
    return rc;
}

int store_redis_streams_open_many(struct store_redis *r, const int64_t *users, unsigned n,
                                  const char *node, unsigned max, uint64_t now_ms,
                                  uint64_t lease_ms, bool *ok)
{
    if (n == 0)
        return 0;
    if (n > STORE_REDIS_STREAMS_BATCH)
        return PL_EINVAL;
    const char **argv = malloc((7 + (size_t)n) * sizeof(*argv));
    char *bufs = malloc((4 + (size_t)n) * 48);
    if (!argv || !bufs) {
        free(argv);
        free(bufs);
        return PL_ENOMEM;
    }
    int k = 0;
    argv[k++] = "EVAL";
    argv[k++] = streams_open_many_lua;
    snprintf(bufs, 48, "%u", n);
    argv[k++] = bufs;
    for (unsigned i = 0; i < n; i++) {
        streams_key(r, bufs + 48 * (1 + i), 48, users[i]);
        argv[k++] = bufs + 48 * (1 + i);
    }
    char *p = bufs + 48 * (1 + (size_t)n);
    argv[k++] = NUM_AT(p, now_ms);
    argv[k++] = node;
    argv[k++] = NUM_AT(p + 48, max);
    argv[k++] = NUM_AT(p + 96, lease_ms);
    void *v;
    int rc = store_redis__command_argv(r, &v, k, argv, NULL);
    free(argv);
    free(bufs);
    if (rc < 0)
        return rc;
    redisReply *rep = v;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n)
        rc = PL_EINTERNAL;
    for (unsigned i = 0; rc == 0 && i < n; i++)
        ok[i] = rep->element[i]->type == REDIS_REPLY_INTEGER && rep->element[i]->integer == 1;
    store_redis_reply_free(v);
    return rc;
}
