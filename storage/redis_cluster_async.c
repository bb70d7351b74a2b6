/* SPDX-License-Identifier: MIT */
/* Parley - Redis Cluster on an event loop: connections and commands.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "redis_cluster_async_int.h"

#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

PL_LOG_TOPIC("relay");

/*
 * hiredis 0.14's async API knows SUBSCRIBE but not SSUBSCRIBE: the pushes
 * of a sharded subscription would reach a context it does not consider
 * subscribed, with no callback waiting for them. So this file drives non-blocking
 * hiredis contexts itself: hiredis formats commands, buffers output and
 * parses replies; our loop owns the socket, the timers and the callbacks.
 *
 * Each master gets one command connection, created on first use. Replies
 * come back in order, so a connection keeps its commands in a FIFO; a
 * command sent with ASKING expects one reply more. A lost connection
 * fails its commands once (PL_EUNAVAIL) and marks the slot map stale; the
 * tick (every TICK_MS) times commands out, refreshes a stale map with
 * CLUSTER SLOTS, refreshes it anyway every REFRESH_MS, and moves the
 * subscription to the master now serving the channel's slot.
 *
 * A command whose master is known to be down is not sent anywhere: it is
 * parked (in order, within MAX_PENDING) and dispatched again after each
 * map refresh, so a publish made while a replica is being promoted goes
 * out once the map names it, instead of being lost; one parked longer
 * than PARK_MS fails. While anything is parked or a master of the map is
 * unreachable, the map is refreshed on every tick rather than every
 * REFRESH_MS: the new master is found within a tick of its promotion.
 */

static void on_io(void *ctx, uint32_t events);
static int dispatch(struct store_redis_casync *cl, struct req *q, const char *addr);

static void req_done(struct store_redis_casync *cl, struct req *q, int status, const void *rep)
{
    cl->pending--;
    if (q->cb)
        q->cb(q->ctx, status, rep);
    free(q->cmd);
    free(q);
}

static void park(struct store_redis_casync *cl, struct req *q)
{
    q->next = NULL;
    if (!q->parked_ms) {
        q->parked_ms = pl_now_ms();
        pl_log_debug("slot %d: master unreachable, command parked", q->slot);
    }
    if (cl->parked_tail)
        cl->parked_tail->next = q;
    else
        cl->parked = q;
    cl->parked_tail = q;
    cl->stale = true;
}

/* Sends the parked commands again (after a map refresh), failing those
 * parked too long; the others stay parked, in order. expired_only: just
 * fail the old ones (the tick); all: fail every one (closing). */
void store_redis__ca_unpark(struct store_redis_casync *cl, bool expired_only, int status)
{
    struct req *q = cl->parked;
    cl->parked = cl->parked_tail = NULL;
    uint64_t now = pl_now_ms();
    while (q) {
        struct req *next = q->next;
        if (status < 0 || now - q->parked_ms > PARK_MS) {
            req_done(cl, q, status < 0 ? status : PL_EUNAVAIL, NULL);
        } else if (expired_only) {
            park(cl, q);
        } else {
            int rc = dispatch(cl, q, NULL);
            if (rc == PL_EUNAVAIL)
                park(cl, q);
            else if (rc < 0)
                req_done(cl, q, rc, NULL);
        }
        q = next;
    }
}

/* ---- socket readiness ---- */

static void set_events(struct aconn *a, uint32_t ev)
{
    if (!a->c || (a->registered && ev == a->events))
        return;
    if (!a->registered) {
        if (pl_loop_io_add(a->cl->loop, &a->io, a->c->fd, ev, on_io, a) < 0)
            return;
        a->registered = true;
    } else if (pl_loop_io_mod(a->cl->loop, &a->io, ev) < 0) {
        pl_log_warn("redis cluster %s: cannot update the registration", a->addr);
    }
    a->events = ev;
}

/* Writes what the socket takes now; asks for EPOLLOUT for the rest. */
void store_redis__ca_flush(struct aconn *a)
{
    if (a->connecting) {
        set_events(a, EPOLLIN | EPOLLOUT);
        return;
    }
    int done = 0;
    if (redisBufferWrite(a->c, &done) != REDIS_OK) {
        store_redis__ca_conn_fail(a, a->c->errstr);
        return;
    }
    set_events(a, done ? EPOLLIN : EPOLLIN | EPOLLOUT);
}

static void on_sub_reply(struct aconn *a, redisReply *rep)
{
    struct store_redis_casync *cl = a->cl;
    if (rep->type == REDIS_REPLY_ERROR) {
        /* MOVED: the map was behind. Reconnect where the slot is now. */
        unsigned s;
        char to[STORE_REDIS_ADDR_MAX];
        if (store_redis__redirect_parse(rep->str, &s, to, sizeof(to)) == 1) {
            store_redis__cluster_count(1);
            int idx = store_redis__slotmap_node(&cl->map, to);
            if (idx >= 0)
                cl->map.owner[s] = (uint8_t)idx;
        }
        cl->stale = true;
        store_redis__ca_conn_fail(a, rep->str);
        return;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
        rep->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = rep->element[0]->str;
    if (strcmp(kind, "smessage") == 0 && rep->element[2]->type == REDIS_REPLY_STRING) {
        cl->msg_cb(cl->msg_ctx, rep->element[2]->str, rep->element[2]->len);
    } else if (strcmp(kind, "ssubscribe") == 0) {
        a->subscribed = true;
        cl->subs++;
        pl_log_info("subscribed to %s on %s", cl->channel, a->addr);
        if (cl->state_cb)
            cl->state_cb(cl->state_ctx, true);
        if (cl->sub_cb)
            cl->sub_cb(cl->sub_ctx, cl->subs);
    } else if (strcmp(kind, "sunsubscribe") == 0) {
        /* The server dropped us: the slot left this node (a failover
         * demoted it, or a migration). Find the new owner. */
        cl->stale = true;
        store_redis__ca_conn_fail(a, "slot moved away");
    }
}

static void on_cmd_reply(struct aconn *a, redisReply *rep)
{
    struct store_redis_casync *cl = a->cl;
    struct req *q = a->head;
    if (!q) {
        store_redis__ca_conn_fail(a, "reply without a command");
        return;
    }
    if (q->skip_reply) {
        q->skip_reply = false; /* the +OK of ASKING */
        return;
    }
    if (!(a->head = q->next))
        a->tail = NULL;
    q->next = NULL;
    unsigned s;
    char to[STORE_REDIS_ADDR_MAX];
    int kind = rep->type == REDIS_REPLY_ERROR
                   ? store_redis__redirect_parse(rep->str, &s, to, sizeof(to))
                   : 0;
    if (kind && q->hops < MAX_HOPS) {
        store_redis__cluster_count(kind);
        if (kind == 1) {
            int idx = store_redis__slotmap_node(&cl->map, to);
            if (idx >= 0)
                cl->map.owner[s] = (uint8_t)idx;
            cl->stale = true;
        }
        q->hops++;
        q->asking = kind == 2;
        int rc = dispatch(cl, q, to);
        if (rc == PL_EUNAVAIL)
            park(cl, q);
        else if (rc < 0)
            req_done(cl, q, rc, NULL);
        return;
    }
    req_done(cl, q, 0, rep);
}

static void on_readable(struct aconn *a)
{
    if (redisBufferRead(a->c) != REDIS_OK) {
        store_redis__ca_conn_fail(a, a->c->errstr);
        return;
    }
    /* A callback may fail this connection (a->c becomes NULL). */
    while (a->c) {
        void *rep = NULL;
        if (redisGetReplyFromReader(a->c, &rep) != REDIS_OK) {
            store_redis__ca_conn_fail(a, "protocol error");
            return;
        }
        if (!rep)
            break;
        if (a->sub)
            on_sub_reply(a, rep);
        else
            on_cmd_reply(a, rep);
        freeReplyObject(rep);
    }
}

static void on_connected(struct aconn *a)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(a->c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
        store_redis__ca_conn_fail(a, strerror(err ? err : errno));
        return;
    }
    a->connecting = false;
    a->failed = false;
    if (a->down_logged)
        pl_log_info("redis cluster %s: connected again", a->addr);
    a->down_logged = false;
}

static void on_io(void *ctx, uint32_t events)
{
    struct aconn *a = ctx;
    if (a->connecting) {
        on_connected(a);
        if (!a->c)
            return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(a);
    if (a->c && (events & EPOLLOUT))
        store_redis__ca_flush(a);
}

/* ---- connection life ---- */

void store_redis__ca_conn_fail(struct aconn *a, const char *why)
{
    struct store_redis_casync *cl = a->cl;
    if (a->c) {
        if (!cl->freeing && (!a->connecting || !a->down_logged))
            pl_log_warn("redis cluster %s: %s: %s", a->addr,
                        a->connecting ? "cannot connect" : "connection lost", why);
        a->down_logged = a->down_logged || a->connecting;
        if (a->registered)
            pl_loop_io_del(cl->loop, &a->io);
        redisFree(a->c);
    }
    /* Commands queued on a connection that never came up were never
     * sent: they wait for a master like any other. Sent ones may have
     * run, so they fail. */
    bool unsent = a->connecting && !cl->freeing;
    bool lost = a->subscribed && !cl->freeing;
    a->c = NULL;
    a->registered = a->connecting = a->subscribed = false;
    a->failed = true;
    a->failed_at_ms = pl_now_ms();
    cl->stale = true;
    if (lost && cl->state_cb)
        cl->state_cb(cl->state_ctx, false);
    struct req *q = a->head;
    a->head = a->tail = NULL;
    while (q) {
        struct req *next = q->next;
        if (unsent && q->slot >= 0) {
            park(cl, q);
        } else {
            req_done(cl, q, cl->freeing ? PL_ECANCELED : PL_EUNAVAIL, NULL);
        }
        q = next;
    }
}

/* Opens a's connection. 0, or PL_EUNAVAIL inside the reconnect gap or
 * when the socket cannot even be created. */
int store_redis__ca_conn_open(struct aconn *a)
{
    if (a->c)
        return 0;
    if (a->failed && pl_now_ms() - a->failed_at_ms < RECONNECT_GAP_MS)
        return PL_EUNAVAIL;
    char *host = NULL;
    int port = 0;
    if (store_redis__parse_addr(a->addr, &host, &port) < 0 || port == 0) {
        free(host);
        return PL_EUNAVAIL;
    }
    /* Addresses come from CLUSTER SLOTS as IPs; only a seed given as a
     * name makes getaddrinfo() look it up, once per connect. */
    redisContext *c = redisConnectNonBlock(host, port);
    free(host);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        a->failed = true;
        a->failed_at_ms = pl_now_ms();
        return PL_EUNAVAIL;
    }
    a->c = c;
    a->connecting = true;
    a->opened_ms = pl_now_ms();
    set_events(a, EPOLLIN | EPOLLOUT);
    return 0;
}

static struct aconn *conn_get(struct store_redis_casync *cl, const char *addr)
{
    for (unsigned i = 0; i < cl->n_conns; i++)
        if (strcmp(cl->conns[i]->addr, addr) == 0)
            return cl->conns[i];
    if (cl->n_conns >= STORE_REDIS_MAP_NODES || strlen(addr) >= STORE_REDIS_ADDR_MAX)
        return NULL;
    struct aconn *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->cl = cl;
    snprintf(a->addr, sizeof(a->addr), "%s", addr);
    cl->conns[cl->n_conns++] = a;
    return a;
}

static bool usable(const struct aconn *a)
{
    return a->c || !a->failed || pl_now_ms() - a->failed_at_ms >= RECONNECT_GAP_MS;
}

/* A node for a command without a slot (CLUSTER SLOTS above all): one
 * with an open connection first, then one never tried or not failed
 * lately, then any past its reconnect gap. Without the order, a dead
 * master listed first in a stale map would take every refresh, and the
 * map would never learn that its replica took over. */
static const char *any_node(struct store_redis_casync *cl)
{
    unsigned total = cl->map.n + cl->n_seeds;
    for (int pass = 0; pass < 3; pass++) {
        for (unsigned i = 0; i < total; i++) {
            const char *addr = i < cl->map.n ? cl->map.addr[i] : cl->seeds[i - cl->map.n];
            struct aconn *a = conn_get(cl, addr);
            if (a && (pass == 0   ? a->c && !a->connecting
                      : pass == 1 ? !a->c && !a->failed
                                  : usable(a)))
                return addr;
        }
    }
    return NULL;
}

/* Queues q on the connection to addr (NULL: the slot's master). Returns
 * 0, or a code with q untouched for the caller to finish. */
static int dispatch(struct store_redis_casync *cl, struct req *q, const char *addr)
{
    if (!addr && q->slot >= 0)
        addr = store_redis__slotmap_lookup(&cl->map, (unsigned)q->slot);
    if (!addr)
        addr = any_node(cl);
    struct aconn *a = addr ? conn_get(cl, addr) : NULL;
    if (!a || store_redis__ca_conn_open(a) < 0)
        return PL_EUNAVAIL;
    if ((q->asking && redisAppendCommand(a->c, "ASKING") != REDIS_OK) ||
        redisAppendFormattedCommand(a->c, q->cmd, q->len) != REDIS_OK)
        return PL_ENOMEM; /* hiredis fails an append only for memory */
    q->skip_reply = q->asking;
    q->sent_ms = pl_now_ms();
    if (a->tail)
        a->tail->next = q;
    else
        a->head = q;
    a->tail = q;
    store_redis__ca_flush(a);
    return 0;
}

int store_redis__ca_submit(struct store_redis_casync *cl, char *cmd, int len,
                           store_redis_reply_cb *cb, void *ctx)
{
    if (len < 0)
        return PL_ENOMEM;
    struct req *q = calloc(1, sizeof(*q));
    if (!q) {
        redisFreeCommand(cmd);
        return PL_ENOMEM;
    }
    *q = (struct req){.cmd = cmd, .len = (size_t)len, .cb = cb, .ctx = ctx};
    q->slot = store_redis__command_slot(cmd, q->len);
    cl->pending++;
    int rc = dispatch(cl, q, NULL);
    if (rc == PL_EUNAVAIL && q->slot >= 0 && cl->have_map) {
        park(cl, q); /* its master is down: wait for the new one */
        return 0;
    }
    if (rc < 0) {
        q->cb = NULL;
        req_done(cl, q, rc, NULL);
    }
    return rc;
}

int store_redis__casync_argv(struct store_redis_casync *cl, int argc, const char **argv,
                             const size_t *lens, store_redis_reply_cb *cb, void *ctx)
{
    if (cl->pending >= MAX_PENDING)
        return PL_EBUSY;
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    return store_redis__ca_submit(cl, cmd, len, cb, ctx);
}
