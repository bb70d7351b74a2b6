/* SPDX-License-Identifier: MIT */
/* Parley - Redis Cluster clients, internal to storage/.                */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_REDIS_CLUSTER_INT_H
#define PL_STORE_REDIS_CLUSTER_INT_H

#include "redis.h"
#include "redis_cluster.h"

#include "common/loop.h"

#include <stddef.h>

/* ---- blocking, for one worker thread (redis_cluster_sync.c) ---- */

struct store_redis_csync;

/* seeds: "host:port,host:port" (copied); timeout_ms: connect and per-
 * command timeout. No I/O until the first command. Returns 0, PL_EINVAL
 * for a bad seed list, or PL_ENOMEM. Free with store_redis__csync_free(). */
PL_MUST_CHECK int store_redis__csync_new(const char *seeds, unsigned timeout_ms,
                                         struct store_redis_csync **out);
void store_redis__csync_free(struct store_redis_csync *cs);

/* Sends one formatted (RESP) command, borrowed for the call, to the master
 * of its slot, following MOVED and ASK, and waits for the reply. On 0,
 * *reply is a redisReply * the caller frees (freeReplyObject), possibly an
 * error reply other than a redirection (CLUSTERDOWN, TRYAGAIN, a script
 * error). Returns PL_EUNAVAIL when no node for the slot answers, the
 * connection broke (the command may or may not have run) or redirections
 * did not settle; PL_ENOMEM. The calling worker thread only. */
PL_MUST_CHECK int store_redis__csync_command(struct store_redis_csync *cs, const char *cmd,
                                             size_t len, void **reply);

/* ---- asynchronous, on a loop (redis_cluster_async.c) ---- */

struct store_redis_casync;

/* The outcome of one command: status 0 with the reply (a redisReply *,
 * borrowed for the call, possibly an error reply), or PL_EUNAVAIL (the
 * node was lost or the command timed out: it may or may not have run) or
 * PL_ECANCELED (the client is being freed) with reply NULL. */
typedef void store_redis_reply_cb(void *ctx, int status, const void *reply);
/* One message of the sharded channel; data is borrowed for the call. */
typedef void store_redis_smsg_cb(void *ctx, const char *data, size_t len);

/* A cluster client attached to loop: a connection per master, opened on
 * first use, a slot map refreshed when a node is lost or a command was
 * redirected, and every few seconds. No I/O happens in this call.
 * Returns 0, PL_EINVAL (bad seed list) or PL_ENOMEM. Loop thread only. */
PL_MUST_CHECK int store_redis__casync_new(struct pl_loop *loop, const char *seeds,
                                          unsigned timeout_ms, struct store_redis_casync **out);
/* Closes every connection; callbacks of pending commands run with
 * PL_ECANCELED before it returns. NULL is fine. */
void store_redis__casync_free(struct store_redis_casync *cl);

/* Sends a command (argv copied; lens NULL for NUL-terminated arguments)
 * to the master of its slot; cb (may be NULL) runs exactly once, later,
 * unless this returns an error. Returns 0; PL_EUNAVAIL when the slot's
 * master is known to be unreachable right now (fail fast); PL_EBUSY when
 * too many commands await replies; PL_ENOMEM. */
PL_MUST_CHECK int store_redis__casync_argv(struct store_redis_casync *cl, int argc,
                                           const char **argv, const size_t *lens,
                                           store_redis_reply_cb *cb, void *ctx);

/* Subscribes (SSUBSCRIBE) to one sharded channel (copied) on the master
 * of its slot and stays subscribed: after a failover, a slot move or a
 * lost connection it subscribes again on the new master within a second
 * or two of the map telling. One channel per client. Returns 0, PL_EINVAL
 * when a channel is already set, or PL_ENOMEM. */
PL_MUST_CHECK int store_redis__casync_ssubscribe(struct store_redis_casync *cl, const char *channel,
                                                 store_redis_smsg_cb *cb, void *ctx);

/* Called on the loop each time a master confirms the subscription; n
 * counts the confirmations (1 the first time, more after each move). */
typedef void store_redis_subscribed_cb(void *ctx, unsigned n);
void store_redis__casync_on_subscribed(struct store_redis_casync *cl, store_redis_subscribed_cb *cb,
                                       void *ctx);

/* Called on the loop with true when a master confirms the subscription
 * and with false when a confirmed one is lost (store_relay_on_state()). */
typedef void store_redis_state_cb(void *ctx, bool listening);
void store_redis__casync_on_state(struct store_redis_casync *cl, store_redis_state_cb *cb,
                                  void *ctx);

/* Whether the subscription is confirmed by the master right now. */
bool store_redis__casync_subscribed(const struct store_redis_casync *cl);

#endif
