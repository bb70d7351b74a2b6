/* SPDX-License-Identifier: MIT */
/* Parley - the loop's Redis Cluster client, shared by its two files.   */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_REDIS_CLUSTER_ASYNC_INT_H
#define PL_STORE_REDIS_CLUSTER_ASYNC_INT_H

#include "redis_cluster_int.h"

#include <hiredis/hiredis.h>
#include <stdint.h>

/*
 * The loop client is two files along one seam: redis_cluster_async.c
 * moves commands (connections, their FIFOs, replies, redirections,
 * parking) and redis_cluster_amap.c keeps the picture of the cluster (the
 * slot map refresh, the sharded subscription's placement, the tick with
 * its timeouts, creation and teardown). Only those two include this
 * header. Loop thread only, like everything of store_redis_casync.
 */

#define TICK_MS 250
#define REFRESH_MS 5000
#define RECONNECT_GAP_MS 250
#define MAX_HOPS 5
#define MAX_SEEDS 16
/* Longer than a failover takes (node timeout plus election, 3-5 s with the
 * test clusters' 2 s node timeout; longer settings need more). */
#define PARK_MS 10000
/* Commands awaiting replies over all connections (bounded memory). */
#define MAX_PENDING 16384

struct req {
    struct req *next;
    char *cmd;
    size_t len;
    int slot;
    unsigned hops;
    bool asking;     /* ASKING goes first ... */
    bool skip_reply; /* ... and its +OK is still to come */
    uint64_t sent_ms;
    uint64_t parked_ms; /* first parked, 0 never */
    store_redis_reply_cb *cb;
    void *ctx;
};

struct aconn {
    struct store_redis_casync *cl;
    char addr[STORE_REDIS_ADDR_MAX];
    redisContext *c; /* NULL: closed */
    struct pl_io io;
    uint32_t events;
    bool registered, connecting, sub, subscribed;
    bool down_logged; /* connect failures are logged once per outage */
    uint64_t opened_ms;
    bool failed;
    uint64_t failed_at_ms;
    struct req *head, *tail;
};

struct store_redis_casync {
    struct pl_loop *loop;
    char *seeds[MAX_SEEDS];
    unsigned n_seeds;
    unsigned timeout_ms;
    struct store_redis_slotmap map;
    bool have_map, stale, refreshing, freeing;
    uint64_t refreshed_ms;
    struct aconn *conns[STORE_REDIS_MAP_NODES];
    unsigned n_conns;
    unsigned pending;
    struct req *parked, *parked_tail; /* waiting for a master */
    struct aconn sub;
    char *channel;
    int channel_slot;
    store_redis_smsg_cb *msg_cb;
    void *msg_ctx;
    store_redis_subscribed_cb *sub_cb;
    void *sub_ctx;
    unsigned subs; /* confirmations so far */
    store_redis_state_cb *state_cb;
    void *state_ctx;
    struct pl_timer tick;
};

/* ---- redis_cluster_async.c, for redis_cluster_amap.c ---- */

/* Closes a's connection: sent commands fail (PL_EUNAVAIL, or
 * PL_ECANCELED while freeing), unsent ones are parked. */
void store_redis__ca_conn_fail(struct aconn *a, const char *why);
/* Opens a's connection (non-blocking). 0, or PL_EUNAVAIL inside the
 * reconnect gap or when no socket can be made. */
int store_redis__ca_conn_open(struct aconn *a);
/* Writes what the socket takes now; asks for EPOLLOUT for the rest. */
void store_redis__ca_flush(struct aconn *a);
/* Dispatches the parked commands again (after a map refresh), failing
 * those parked longer than PARK_MS. expired_only: only fail the old ones;
 * status < 0: fail every one with it. */
void store_redis__ca_unpark(struct store_redis_casync *cl, bool expired_only, int status);
/* Queues a formatted command (taken over) to the master of its slot; cb
 * runs once unless this returns an error. 0, PL_EUNAVAIL or PL_ENOMEM. */
int store_redis__ca_submit(struct store_redis_casync *cl, char *cmd, int len,
                           store_redis_reply_cb *cb, void *ctx);

#endif
