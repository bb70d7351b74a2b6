/* SPDX-License-Identifier: MIT */
/* Parley - fixed-window request counters in Redis (rate limits).      */
/* Copyright (c) 2026 Parley developers                                 */
#include "redis.h"

#include <hiredis/hiredis.h>

/* INCR and the window's expiry in one script, so a counter can never be
 * left without an expiry (a crash between two commands would pin it). */
static const char hit_lua[] = "local n = redis.call('INCR', KEYS[1])\n"
                              "if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end\n"
                              "return n\n";

int store_redis_rate_hit(struct store_redis *r, const char *key, unsigned window_ms,
                         long long *count)
{
    void *v;
    int rc = store_redis__command(r, &v, "EVAL %s 1 %s %u", hit_lua, key, window_ms);
    if (rc < 0)
        return rc;
    redisReply *rep = v;
    rc = rep->type == REDIS_REPLY_INTEGER ? 0 : PL_EINTERNAL;
    if (rc == 0)
        *count = rep->integer;
    store_redis_reply_free(v);
    return rc;
}
