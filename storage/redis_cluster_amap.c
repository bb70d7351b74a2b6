/* SPDX-License-Identifier: MIT */
/* Parley - Redis Cluster on an event loop: slot map, subscription, tick. */
/* Copyright (c) 2026 Parley developers                                 */
#include "redis_cluster_async_int.h"

#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PL_LOG_TOPIC("relay");

/*
 * The loop client's picture of the cluster (see redis_cluster_async.c for
 * how commands move): the slot map comes from CLUSTER SLOTS on the first
 * tick, again whenever a connection was lost or a command redirected
 * (stale), and every REFRESH_MS anyway; each new map re-dispatches the
 * parked commands and re-places the sharded subscription on the master
 * now serving its channel's slot. The tick also gives up on connections
 * whose oldest command (or connect) outlived the timeout.
 */

static void sub_place(struct store_redis_casync *cl);

static void on_slots(void *ctx, int status, const void *reply)
{
    struct store_redis_casync *cl = ctx;
    cl->refreshing = false;
    if (status < 0 || cl->freeing)
        return;
    const redisReply *rep = reply;
    uint64_t now = pl_now_ms();
    if (rep->type == REDIS_REPLY_ERROR) {
        pl_log_warn("redis cluster: CLUSTER SLOTS failed: %s", rep->str);
        return;
    }
    /* Parsed aside, so a bad reply keeps the map we had. */
    struct store_redis_slotmap *m = malloc(sizeof(*m));
    if (!m)
        return;
    if (store_redis__slotmap_parse(m, reply, "") == 0) {
        memcpy(&cl->map, m, sizeof(*m));
        cl->have_map = true;
        cl->refreshed_ms = pl_now_ms();
        store_redis__cluster_count(3);
        pl_log_debug("slot map: %u masters, slot 0 on %s", cl->map.n, cl->map.addr[0]);
        /* A master we could not reach lately is still listed: a failover
         * is under way, so look again on the next tick. */
        cl->stale = false;
        for (unsigned i = 0; i < cl->map.n; i++)
            for (unsigned k = 0; k < cl->n_conns; k++)
                if (strcmp(cl->conns[k]->addr, cl->map.addr[i]) == 0 && !cl->conns[k]->c &&
                    cl->conns[k]->failed && now - cl->conns[k]->failed_at_ms < REFRESH_MS)
                    cl->stale = true;
        store_redis__ca_unpark(cl, false, 0);
    }
    free(m);
    sub_place(cl);
}

static void refresh(struct store_redis_casync *cl)
{
    if (cl->refreshing || cl->freeing)
        return;
    char *cmd = NULL;
    int len = redisFormatCommand(&cmd, "CLUSTER SLOTS");
    /* Not counted against MAX_PENDING: it is what drains a stalled map. */
    cl->refreshing = true;
    if (store_redis__ca_submit(cl, cmd, len, on_slots, cl) < 0)
        cl->refreshing = false;
}

/* Subscribes on the master of the channel's slot, unless the current
 * subscription already is there. */
static void sub_place(struct store_redis_casync *cl)
{
    if (!cl->channel || cl->freeing)
        return;
    /* Before the first map (the tick at start fetches it) any node would
     * be a guess; an unknown owner waits for the next refresh. */
    const char *owner = store_redis__slotmap_lookup(&cl->map, (unsigned)cl->channel_slot);
    if (!owner)
        return;
    struct aconn *a = &cl->sub;
    if (a->c && strcmp(a->addr, owner) == 0)
        return;
    if (a->c)
        store_redis__ca_conn_fail(a, "the channel's slot has a new master");
    if (strcmp(a->addr, owner) != 0)
        a->failed = false; /* the gap was for the old address */
    snprintf(a->addr, sizeof(a->addr), "%s", owner);
    if (store_redis__ca_conn_open(a) < 0)
        return;
    /* Queued before the connect completes; flushed once it does. */
    if (redisAppendCommand(a->c, "SSUBSCRIBE %s", cl->channel) != REDIS_OK)
        store_redis__ca_conn_fail(a, "out of memory");
    else
        store_redis__ca_flush(a);
}

void store_redis__casync_on_subscribed(struct store_redis_casync *cl, store_redis_subscribed_cb *cb,
                                       void *ctx)
{
    cl->sub_cb = cb;
    cl->sub_ctx = ctx;
}

void store_redis__casync_on_state(struct store_redis_casync *cl, store_redis_state_cb *cb,
                                  void *ctx)
{
    cl->state_cb = cb;
    cl->state_ctx = ctx;
}

bool store_redis__casync_subscribed(const struct store_redis_casync *cl)
{
    return cl->sub.subscribed;
}

int store_redis__casync_ssubscribe(struct store_redis_casync *cl, const char *channel,
                                   store_redis_smsg_cb *cb, void *ctx)
{
    if (cl->channel)
        return PL_EINVAL;
    if (!(cl->channel = strdup(channel)))
        return PL_ENOMEM;
    cl->channel_slot = (int)store_redis_key_slot(channel, strlen(channel));
    cl->msg_cb = cb;
    cl->msg_ctx = ctx;
    sub_place(cl);
    return 0;
}

/* A connection whose oldest command waited longer than the timeout (or
 * whose connect did) is given up: a hung master looks like a dead one. */
static void check_timeouts(struct store_redis_casync *cl, uint64_t now)
{
    for (unsigned i = 0; i < cl->n_conns; i++) {
        struct aconn *a = cl->conns[i];
        if (a->c && ((a->head && now - a->head->sent_ms > cl->timeout_ms) ||
                     (a->connecting && now - a->opened_ms > cl->timeout_ms)))
            store_redis__ca_conn_fail(a, "timed out");
    }
    struct aconn *s = &cl->sub;
    if (s->c && !s->subscribed && now - s->opened_ms > cl->timeout_ms)
        store_redis__ca_conn_fail(s, "subscription not confirmed in time");
}

static void on_tick(void *ctx)
{
    struct store_redis_casync *cl = ctx;
    uint64_t now = pl_now_ms();
    check_timeouts(cl, now);
    if (cl->parked)
        store_redis__ca_unpark(cl, true, 0);
    if (!cl->have_map || cl->stale || now - cl->refreshed_ms >= REFRESH_MS)
        refresh(cl);
    if (cl->channel && !cl->sub.c)
        sub_place(cl);
    pl_loop_timer_start(cl->loop, &cl->tick, TICK_MS, on_tick, cl);
}

int store_redis__casync_new(struct pl_loop *loop, const char *seeds, unsigned timeout_ms,
                            struct store_redis_casync **out)
{
    struct store_redis_casync *cl = calloc(1, sizeof(*cl));
    if (!cl)
        return PL_ENOMEM;
    int rc = store_redis__seeds_parse(seeds, cl->seeds, MAX_SEEDS, &cl->n_seeds);
    if (rc < 0) {
        free(cl);
        return rc;
    }
    cl->loop = loop;
    cl->timeout_ms = timeout_ms ? timeout_ms : 1000;
    cl->sub = (struct aconn){.cl = cl, .sub = true};
    store_redis__slotmap_init(&cl->map);
    /* The first tick fetches the map; commands before it go to a seed
     * and follow MOVED. */
    pl_loop_timer_start(loop, &cl->tick, 0, on_tick, cl);
    *out = cl;
    return 0;
}

void store_redis__casync_free(struct store_redis_casync *cl)
{
    if (!cl)
        return;
    cl->freeing = true;
    pl_loop_timer_stop(cl->loop, &cl->tick);
    store_redis__ca_conn_fail(&cl->sub, "closing");
    store_redis__ca_unpark(cl, false, PL_ECANCELED);
    for (unsigned i = 0; i < cl->n_conns; i++) {
        store_redis__ca_conn_fail(cl->conns[i], "closing");
        free(cl->conns[i]);
    }
    for (unsigned i = 0; i < cl->n_seeds; i++)
        free(cl->seeds[i]);
    free(cl->channel);
    free(cl);
}
