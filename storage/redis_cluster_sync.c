/* SPDX-License-Identifier: MIT */
/* Parley - Redis Cluster from worker threads (blocking, per worker).   */
/* Copyright (c) 2026 Parley developers                                 */
#include "redis_cluster_int.h"

#include "common/log.h"
#include "common/loop.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PL_LOG_TOPIC("store");

/*
 * One blocking connection per master this worker has talked to, a slot
 * map read with CLUSTER SLOTS, and the redirection rules: MOVED updates
 * the map for that slot at once (and a full refresh follows on the next
 * command), ASK sends ASKING plus the command to the named node once.
 * A master that died refuses connections until its replica is promoted
 * (the cluster's node timeout plus an election): meanwhile commands for
 * its slots return PL_EUNAVAIL fast and every call may refresh the map,
 * at most every REFRESH_GAP_MS, so the new master is found by itself.
 */

#define RECONNECT_GAP_MS 250
#define REFRESH_GAP_MS 100
/* Redirections followed for one command: a slot in migration answers ASK
 * once, a stale map MOVED once; more means the cluster is reshaping. */
#define MAX_HOPS 5
#define MAX_SEEDS 16

struct node_conn {
    char addr[STORE_REDIS_ADDR_MAX];
    redisContext *c;
    bool failed;
    uint64_t failed_at_ms;
};

struct store_redis_csync {
    char *seeds[MAX_SEEDS];
    unsigned n_seeds;
    struct timeval tv;
    struct store_redis_slotmap map, tmp;
    bool have_map, stale;
    uint64_t refreshed_at_ms;
    struct node_conn conns[STORE_REDIS_MAP_NODES];
    unsigned n_conns;
};

int store_redis__csync_new(const char *seeds, unsigned timeout_ms, struct store_redis_csync **out)
{
    struct store_redis_csync *cs = calloc(1, sizeof(*cs));
    if (!cs)
        return PL_ENOMEM;
    int rc = store_redis__seeds_parse(seeds, cs->seeds, MAX_SEEDS, &cs->n_seeds);
    if (rc < 0) {
        free(cs);
        return rc;
    }
    cs->tv.tv_sec = timeout_ms / 1000;
    cs->tv.tv_usec = (timeout_ms % 1000) * 1000;
    store_redis__slotmap_init(&cs->map);
    *out = cs;
    return 0;
}

void store_redis__csync_free(struct store_redis_csync *cs)
{
    if (!cs)
        return;
    for (unsigned i = 0; i < cs->n_conns; i++)
        if (cs->conns[i].c)
            redisFree(cs->conns[i].c);
    for (unsigned i = 0; i < cs->n_seeds; i++)
        free(cs->seeds[i]);
    free(cs);
}

static struct node_conn *conn_find(struct store_redis_csync *cs, const char *addr)
{
    for (unsigned i = 0; i < cs->n_conns; i++)
        if (strcmp(cs->conns[i].addr, addr) == 0)
            return &cs->conns[i];
    /* A full table reuses a slot without a connection, else the last. */
    struct node_conn *nc = NULL;
    if (cs->n_conns < STORE_REDIS_MAP_NODES) {
        nc = &cs->conns[cs->n_conns++];
    } else {
        nc = &cs->conns[STORE_REDIS_MAP_NODES - 1];
        for (unsigned i = 0; i < cs->n_conns; i++)
            if (!cs->conns[i].c)
                nc = &cs->conns[i];
        if (nc->c)
            redisFree(nc->c);
    }
    *nc = (struct node_conn){0};
    snprintf(nc->addr, sizeof(nc->addr), "%s", addr);
    return nc;
}

static void conn_drop(struct node_conn *nc)
{
    if (nc->c)
        redisFree(nc->c);
    nc->c = NULL;
}

/* Connects to addr if needed. NULL while it is unreachable. */
static redisContext *conn_get(struct store_redis_csync *cs, const char *addr)
{
    struct node_conn *nc = conn_find(cs, addr);
    if (nc->c)
        return nc->c;
    if (nc->failed && pl_now_ms() - nc->failed_at_ms < RECONNECT_GAP_MS)
        return NULL;
    char *host = NULL;
    int port = 0;
    if (store_redis__parse_addr(addr, &host, &port) < 0 || port == 0) {
        free(host);
        return NULL;
    }
    redisContext *c = redisConnectWithTimeout(host, port, cs->tv);
    free(host);
    if (!c || c->err || redisSetTimeout(c, cs->tv) != REDIS_OK) {
        if (c)
            redisFree(c);
        nc->failed = true;
        nc->failed_at_ms = pl_now_ms();
        return NULL;
    }
    nc->failed = false;
    nc->c = c;
    return c;
}

/* Reads the slot map from the first node that answers: the known masters
 * first (they know the newest epoch), then the seeds. */
static int refresh(struct store_redis_csync *cs)
{
    uint64_t now = pl_now_ms();
    if (cs->have_map && now - cs->refreshed_at_ms < REFRESH_GAP_MS)
        return cs->stale ? PL_EUNAVAIL : 0;
    cs->refreshed_at_ms = now;
    unsigned total = cs->map.n + cs->n_seeds;
    for (unsigned i = 0; i < total; i++) {
        char addr[STORE_REDIS_ADDR_MAX];
        snprintf(addr, sizeof(addr), "%s",
                 i < cs->map.n ? cs->map.addr[i] : cs->seeds[i - cs->map.n]);
        redisContext *c = conn_get(cs, addr);
        if (!c)
            continue;
        redisReply *rep = redisCommand(c, "CLUSTER SLOTS");
        if (!rep) {
            conn_drop(conn_find(cs, addr));
            continue;
        }
        int rc = store_redis__slotmap_parse(&cs->tmp, rep, addr);
        freeReplyObject(rep);
        if (rc == 0) {
            memcpy(&cs->map, &cs->tmp, sizeof(cs->map));
            cs->have_map = true;
            cs->stale = false;
            store_redis__cluster_count(3);
            return 0;
        }
    }
    return PL_EUNAVAIL;
}

/* Where a command for slot goes: its master, or for a command without a
 * key (slot -1) or an unknown slot, the first node that is not known to
 * be down. */
static bool pick(struct store_redis_csync *cs, int slot, char *addr)
{
    const char *a = slot >= 0 ? store_redis__slotmap_lookup(&cs->map, (unsigned)slot) : NULL;
    if (a) {
        snprintf(addr, STORE_REDIS_ADDR_MAX, "%s", a);
        return true;
    }
    /* Open connections first: a dead master early in the list would
     * otherwise cost every keyless command a refused connect. */
    unsigned total = cs->map.n + cs->n_seeds;
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < total; i++) {
            a = i < cs->map.n ? cs->map.addr[i] : cs->seeds[i - cs->map.n];
            struct node_conn *nc = conn_find(cs, a);
            if (pass == 0 ? nc->c != NULL
                          : !nc->failed || pl_now_ms() - nc->failed_at_ms >= RECONNECT_GAP_MS) {
                snprintf(addr, STORE_REDIS_ADDR_MAX, "%s", a);
                return true;
            }
        }
    }
    return false;
}

/* One exchange with addr; ASKING first when asked to. */
static redisReply *exchange(redisContext *c, const char *cmd, size_t len, bool asking)
{
    void *rep = NULL;
    if (asking && redisAppendCommand(c, "ASKING") != REDIS_OK)
        return NULL;
    if (redisAppendFormattedCommand(c, cmd, len) != REDIS_OK)
        return NULL;
    if (asking) {
        if (redisGetReply(c, &rep) != REDIS_OK)
            return NULL;
        freeReplyObject(rep);
        rep = NULL;
    }
    if (redisGetReply(c, &rep) != REDIS_OK)
        return NULL;
    return rep;
}

int store_redis__csync_command(struct store_redis_csync *cs, const char *cmd, size_t len,
                               void **reply)
{
    *reply = NULL;
    int slot = store_redis__command_slot(cmd, len);
    if (!cs->have_map || cs->stale)
        (void)!refresh(cs); /* a failed refresh leaves the old map or the seeds */
    char addr[STORE_REDIS_ADDR_MAX];
    if (!pick(cs, slot, addr))
        return PL_EUNAVAIL;
    bool asking = false;
    for (int hop = 0; hop < MAX_HOPS; hop++) {
        redisContext *c = conn_get(cs, addr);
        if (!c) {
            /* Its master is down: nothing was sent, so the map may be
             * refreshed and the command tried on the new owner. */
            cs->stale = true;
            if (refresh(cs) < 0 || !pick(cs, slot, addr) || !(c = conn_get(cs, addr)))
                return PL_EUNAVAIL;
        }
        redisReply *rep = exchange(c, cmd, len, asking);
        if (!rep) {
            /* Sent, maybe run: not retried (the store_redis contract). */
            conn_drop(conn_find(cs, addr));
            cs->stale = true;
            return PL_EUNAVAIL;
        }
        unsigned s;
        char to[STORE_REDIS_ADDR_MAX];
        int kind = rep->type == REDIS_REPLY_ERROR
                       ? store_redis__redirect_parse(rep->str, &s, to, sizeof(to))
                       : 0;
        if (kind == 0) {
            *reply = rep;
            return 0;
        }
        freeReplyObject(rep);
        store_redis__cluster_count(kind);
        if (kind == 1) {
            int idx = store_redis__slotmap_node(&cs->map, to);
            if (idx >= 0)
                cs->map.owner[s] = (uint8_t)idx;
            cs->stale = true; /* a whole range probably moved: refresh soon */
        }
        asking = kind == 2;
        snprintf(addr, sizeof(addr), "%s", to);
    }
    pl_log_warn("redis cluster: too many redirections for slot %d", slot);
    return PL_EUNAVAIL;
}
