/* SPDX-License-Identifier: MIT */
/* Parley - Redis access from worker threads (hiredis, synchronous).    */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORAGE_REDIS_H
#define PL_STORAGE_REDIS_H

#include "common/err.h"

#include <stdint.h>

/*
 * One synchronous hiredis connection, owned by one worker thread; not
 * thread-safe and blocking, so never used on a loop thread (loops talk to
 * Redis through the async API). The connection opens lazily on the first
 * command and is dropped on any I/O error, so the next command reconnects.
 * After a failed connect, no new attempt is made for 250 ms: calls in
 * between return PL_EUNAVAIL at once, so a dead Redis costs a request
 * nothing but an error.
 *
 * hiredis writes with write(2), so the process must ignore SIGPIPE
 * (server/ does) or a Redis that closes the socket kills it.
 *
 * Later issues add the presence, routing and analytics commands here.
 */
struct store_redis;

struct store_redis_config {
    const char *addr;    /* "host:port", "[v6]:port", or a unix socket path starting with '/' */
    unsigned timeout_ms; /* connect and per-command timeout; 0 picks 1000 ms */
    /* Seeds of a Redis Cluster, "host:port,host:port"; NULL or empty: the
     * single Redis at addr. With seeds, addr is not used: commands go to
     * the master of their key's slot (storage/redis_cluster.h). */
    const char *cluster;
};

/* Creates a connection object without doing any I/O. cfg is borrowed for
 * the call. Free *out with store_redis_free().
 * Returns 0; PL_EINVAL when cfg is NULL or addr is not "host:port" or an
 * absolute path (or, in cluster mode, cluster is not a list of at most 16
 * "host:port"); PL_ENOMEM. In cluster mode the commands below return
 * PL_EUNAVAIL while no master serves the key's slot (during a failover). */
PL_MUST_CHECK int store_redis_new(const struct store_redis_config *cfg, struct store_redis **out);

/* Closes the connection, if open, and frees r. NULL is fine. */
void store_redis_free(struct store_redis *r);

/* Connects if needed and sends PING. For /readyz.
 * Returns 0 or PL_EUNAVAIL (any failure counts as down). */
PL_MUST_CHECK int store_redis_ping(struct store_redis *r);

/* Process-wide number of failed Redis operations (connect failures, I/O
 * errors, timeouts, error replies). For parley_redis_errors_total. Any
 * thread (relaxed atomic). */
uint64_t store_redis_errors(void);

/* Process-wide counts of Redis Cluster redirections followed (MOVED, ASK)
 * and of slot map refreshes that succeeded, by the worker and loop
 * clients alike; all 0 on a single Redis. For /metrics. Any thread
 * (relaxed atomics). */
struct store_redis_cluster_stats {
    uint64_t moved, ask, refreshes;
};
void store_redis_cluster_stats(struct store_redis_cluster_stats *out);

/* ---- Internal to storage/ ------------------------------------------------ */

/* Sends one command built by hiredis from fmt (redisCommand syntax: %s and
 * %b arguments are sent as separate bulk strings, never spliced into the
 * command text) and waits for its reply. On success *reply is a
 * redisReply * (void * here so hiredis types stay out of this header),
 * owned by the caller: free it with store_redis_reply_free(). Not retried:
 * after an I/O error the command may or may not have run.
 * Returns 0; PL_EUNAVAIL when Redis is unreachable, the connection broke,
 * the command timed out, or Redis answered LOADING/BUSY/MASTERDOWN;
 * PL_EINTERNAL for any other error reply (logged); PL_ENOMEM.
 * On failure *reply is NULL. */
PL_MUST_CHECK int store_redis__command(struct store_redis *r, void **reply, const char *fmt, ...);

/* The same with an argument vector (binary-safe; lens may be NULL for
 * NUL-terminated arguments). */
PL_MUST_CHECK int store_redis__command_argv(struct store_redis *r, void **reply, int argc,
                                            const char **argv, const size_t *lens);

/* Splits "host:port" or "[v6addr]:port" into a heap host (free()) and a
 * port; a path starting with '/' is a unix socket, returned whole with port
 * 0. Returns 0, PL_EINVAL or PL_ENOMEM. */
PL_MUST_CHECK int store_redis__parse_addr(const char *addr, char **host, int *port);

/* The hash tag that keys of a multi-key area (STORE_REDIS_TAG_*) start
 * with: the tag in cluster mode, "" on a single Redis. Static string. */
const char *store_redis__tag(const struct store_redis *r, const char *tag);

/* Presence heartbeat buckets: STORE_REDIS_PRESENCE_BUCKETS in cluster
 * mode, 1 on a single Redis (whose key names stay untagged). */
unsigned store_redis__presence_buckets(const struct store_redis *r);
/* The tag bucket b's keys start with: "" on a single Redis, else
 * "{pl:presence:<b>}" written into buf (STORE_REDIS_TAG_MAX bytes) and
 * returned. */
const char *store_redis__presence_tag(const struct store_redis *r, unsigned b, char *buf);
/* The bucket of user's heartbeat keys. */
unsigned store_redis__presence_bucket(const struct store_redis *r, int64_t user);

/* Frees a reply from store_redis__command(). NULL is fine. */
void store_redis_reply_free(void *reply);

#endif
