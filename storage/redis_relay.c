/* SPDX-License-Identifier: MIT */
/* Parley - Redis pub/sub relay between nodes, on the event loop.       */
/* Copyright (c) 2026 Parley developers                                 */
#include "relay.h"

#include "redis_cluster_int.h"

#include "common/log.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

PL_LOG_TOPIC("relay");

#define RETRY_MS 1000
/* Publishes awaiting a reply. hiredis 0.14 has no command timeout, so a
 * stalled Redis is detected by this bound instead of by time. */
#define MAX_PENDING 16384

struct conn {
    struct store_relay *r;
    redisAsyncContext *ac;
    struct pl_io io;
    bool registered;
    uint32_t events;
    bool subscriber;
    bool connected;
    unsigned pending;
    struct pl_timer retry;
};

struct store_relay {
    struct pl_loop *loop;
    char *host;
    int port; /* 0: host is a unix socket path */
    char *channel;
    store_relay_msg_cb *cb;
    void *ctx;
    struct conn pub, sub;
    bool freeing;
    uint64_t received, dropped;
    /* Cluster mode: one client routes publishes and commands by slot and
     * keeps the sharded subscription; pub and sub stay unused. */
    struct store_redis_casync *cl;
    unsigned cl_pending;
    store_relay_subscribed_cb *sub_cb;
    void *sub_ctx;
    unsigned subs;  /* single Redis: confirmations so far */
    bool listening; /* single Redis: confirmed on the live subscriber connection */
    store_relay_count_cb *count_cb;
    void *count_ctx;
    store_relay_state_cb *state_cb;
    void *state_ctx;
};

static void connect_conn(struct conn *c);

/* ---- the hiredis event adapter for pl_loop ---- */

static void on_io(void *ctx, uint32_t events)
{
    struct conn *c = ctx;
    if (c->ac && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        redisAsyncHandleRead(c->ac);
    if (c->ac && (events & EPOLLOUT))
        redisAsyncHandleWrite(c->ac);
}

static void set_events(struct conn *c, uint32_t events)
{
    if (!c->registered) {
        if (pl_loop_io_add(c->r->loop, &c->io, c->ac->c.fd, events, on_io, c) == 0)
            c->registered = true;
    } else if (pl_loop_io_mod(c->r->loop, &c->io, events) < 0) {
        pl_log_warn("cannot update Redis relay registration");
    }
    c->events = events;
}

static void add_read(void *p)
{
    struct conn *c = p;
    set_events(c, c->events | EPOLLIN);
}

static void del_read(void *p)
{
    struct conn *c = p;
    set_events(c, c->events & ~(uint32_t)EPOLLIN);
}

static void add_write(void *p)
{
    struct conn *c = p;
    set_events(c, c->events | EPOLLOUT);
}

static void del_write(void *p)
{
    struct conn *c = p;
    set_events(c, c->events & ~(uint32_t)EPOLLOUT);
}

static void cleanup(void *p)
{
    struct conn *c = p;
    if (c->registered)
        pl_loop_io_del(c->r->loop, &c->io);
    c->registered = false;
    c->events = 0;
}

/* ---- connection life ---- */

static void on_retry(void *ctx)
{
    connect_conn(ctx);
}

static void schedule_retry(struct conn *c)
{
    c->ac = NULL;
    c->connected = false;
    c->pending = 0;
    if (c->subscriber && c->r->listening) {
        c->r->listening = false;
        if (c->r->state_cb && !c->r->freeing)
            c->r->state_cb(c->r->state_ctx, false);
    }
    if (!c->r->freeing)
        pl_loop_timer_start(c->r->loop, &c->retry, RETRY_MS, on_retry, c);
}

static void on_message(redisAsyncContext *ac, void *reply, void *priv)
{
    struct conn *c = priv;
    redisReply *rep = reply;
    (void)ac;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3)
        return;
    if (rep->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(rep->element[0]->str, "message") == 0 &&
        rep->element[2]->type == REDIS_REPLY_STRING) {
        c->r->received++;
        c->r->cb(c->r->ctx, rep->element[2]->str, rep->element[2]->len);
    } else if (strcmp(rep->element[0]->str, "subscribe") == 0) {
        c->r->subs++;
        c->r->listening = true;
        if (c->r->state_cb)
            c->r->state_cb(c->r->state_ctx, true);
        if (c->r->sub_cb)
            c->r->sub_cb(c->r->sub_ctx, c->r->subs);
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct conn *c = ac->data;
    if (status != REDIS_OK) {
        schedule_retry(c); /* hiredis frees ac after this callback */
        return;
    }
    c->connected = true;
    pl_log_info("%s connected", c->subscriber ? "subscriber" : "publisher");
    if (c->subscriber &&
        redisAsyncCommand(c->ac, on_message, c, "SUBSCRIBE %s", c->r->channel) != REDIS_OK)
        pl_log_warn("cannot subscribe to %s", c->r->channel);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct conn *c = ac->data;
    (void)status;
    if (c->connected && !c->r->freeing)
        pl_log_warn("%s lost its Redis connection; retrying every %d ms",
                    c->subscriber ? "subscriber" : "publisher", RETRY_MS);
    schedule_retry(c);
}

static void connect_conn(struct conn *c)
{
    struct store_relay *r = c->r;
    redisAsyncContext *ac =
        r->port ? redisAsyncConnect(r->host, r->port) : redisAsyncConnectUnix(r->host);
    if (!ac || ac->err) {
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(c);
        return;
    }
    c->ac = ac;
    ac->data = c;
    ac->ev.data = c;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* hiredis asks for write readiness to learn when the connect is done. */
    add_write(c);
}

/* ---- cluster mode: SPUBLISH / SSUBSCRIBE through redis_cluster_async.c ---- */

static void on_cluster_message(void *ctx, const char *data, size_t len)
{
    struct store_relay *r = ctx;
    r->received++;
    r->cb(r->ctx, data, len);
}

static void on_cluster_reply(void *ctx, int status, const void *reply)
{
    struct store_relay *r = ctx;
    const redisReply *rep = reply;
    if (r->cl_pending)
        r->cl_pending--;
    if (status < 0 || rep->type == REDIS_REPLY_ERROR) {
        r->dropped++; /* sent but lost, like a publish into a dead connection */
        pl_log_debug("a command was lost: %s", status < 0 ? pl_strerror(status) : rep->str);
    }
}

static int cluster_new(struct store_relay *r, const struct store_redis_config *cfg)
{
    int rc = store_redis__casync_new(r->loop, cfg->cluster, cfg->timeout_ms, &r->cl);
    if (rc == 0 &&
        (rc = store_redis__casync_ssubscribe(r->cl, r->channel, on_cluster_message, r)) < 0)
        store_redis__casync_free(r->cl);
    return rc;
}

static int cluster_send(struct store_relay *r, int argc, const char **argv, const size_t *lens)
{
    if (r->cl_pending >= MAX_PENDING) {
        r->dropped++;
        return PL_EBUSY;
    }
    int rc = store_redis__casync_argv(r->cl, argc, argv, lens, on_cluster_reply, r);
    if (rc < 0) {
        pl_log_debug("%s %s refused: %s", argv[0], argv[1], pl_strerror(rc));
        r->dropped++;
        return rc == PL_ENOMEM ? PL_EUNAVAIL : rc;
    }
    r->cl_pending++;
    return 0;
}

void store_relay_on_subscribed(struct store_relay *r, store_relay_subscribed_cb *cb, void *ctx)
{
    r->sub_cb = cb;
    r->sub_ctx = ctx;
    if (r->cl)
        store_redis__casync_on_subscribed(r->cl, cb, ctx);
}

void store_relay_on_state(struct store_relay *r, store_relay_state_cb *cb, void *ctx)
{
    r->state_cb = cb;
    r->state_ctx = ctx;
    if (r->cl)
        store_redis__casync_on_state(r->cl, cb, ctx);
}

const char *store_relay__tag(const struct store_relay *r, const char *tag)
{
    return r->cl ? tag : "";
}

int store_relay_new(struct pl_loop *loop, const struct store_redis_config *cfg, const char *channel,
                    store_relay_msg_cb *cb, void *ctx, struct store_relay **out)
{
    struct store_relay *r = calloc(1, sizeof(*r));
    if (!r)
        return PL_ENOMEM;
    *r = (struct store_relay){.loop = loop, .cb = cb, .ctx = ctx};
    if (cfg->cluster && cfg->cluster[0]) {
        int rc = (r->channel = strdup(channel)) ? cluster_new(r, cfg) : PL_ENOMEM;
        if (rc < 0) {
            free(r->channel);
            free(r);
            return rc;
        }
        *out = r;
        return 0;
    }
    int rc = store_redis__parse_addr(cfg->addr, &r->host, &r->port);
    if (rc == 0 && !(r->channel = strdup(channel)))
        rc = PL_ENOMEM;
    if (rc < 0) {
        free(r->host);
        free(r);
        return rc;
    }
    r->pub = (struct conn){.r = r};
    r->sub = (struct conn){.r = r, .subscriber = true};
    connect_conn(&r->pub);
    connect_conn(&r->sub);
    *out = r;
    return 0;
}

void store_relay_free(struct store_relay *r)
{
    if (!r)
        return;
    r->freeing = true;
    store_redis__casync_free(r->cl); /* cancels: the callbacks only count */
    struct conn *conns[] = {&r->pub, &r->sub};
    for (size_t i = 0; i < 2; i++) {
        pl_loop_timer_stop(r->loop, &conns[i]->retry);
        if (conns[i]->ac)
            redisAsyncFree(conns[i]->ac); /* runs the callbacks with no reply */
    }
    free(r->host);
    free(r->channel);
    free(r);
}

static void on_published(redisAsyncContext *ac, void *reply, void *priv)
{
    struct conn *c = priv;
    (void)ac;
    (void)reply;
    if (c->pending)
        c->pending--;
}

int store_relay_publish(struct store_relay *r, const char *data, size_t len)
{
    return store_relay_publish_to(r, r->channel, data, len);
}

/* A tagged publish's answer: the receiver count. The tag travels as the
 * privdata, the connection is the context's. A lost connection answers
 * NULL, which counts nothing. */
static void on_counted(redisAsyncContext *ac, void *reply, void *priv)
{
    struct conn *c = ac->data;
    redisReply *rep = reply;
    on_published(ac, reply, c);
    if (rep && rep->type == REDIS_REPLY_INTEGER && c->r->count_cb)
        c->r->count_cb(c->r->count_ctx, (uintptr_t)priv, rep->integer);
}

/* PUBLISH on a single Redis, answered to cb with priv (NULL: no answer
 * wanted, only counted as no longer pending). */
static int single_publish(struct store_relay *r, const char *channel, const char *data, size_t len,
                          redisCallbackFn *cb, void *priv)
{
    struct conn *c = &r->pub;
    if (!c->connected) {
        r->dropped++;
        return PL_EUNAVAIL;
    }
    if (c->pending >= MAX_PENDING) {
        r->dropped++;
        return PL_EBUSY;
    }
    if (redisAsyncCommand(c->ac, cb ? cb : on_published, cb ? priv : c, "PUBLISH %s %b", channel,
                          data, len) != REDIS_OK) {
        r->dropped++;
        return PL_EUNAVAIL;
    }
    c->pending++;
    return 0;
}

int store_relay_publish_tagged(struct store_relay *r, const char *data, size_t len, uintptr_t tag)
{
    if (r->cl)
        return store_relay_publish(r, data, len);
    return single_publish(r, r->channel, data, len, on_counted, (void *)tag);
}

void store_relay_on_count(struct store_relay *r, store_relay_count_cb *cb, void *ctx)
{
    r->count_cb = cb;
    r->count_ctx = ctx;
}

bool store_relay_listening(const struct store_relay *r)
{
    return !r->cl && r->listening; /* cleared when the subscriber's connection goes */
}

int store_relay_publish_to(struct store_relay *r, const char *channel, const char *data, size_t len)
{
    if (r->cl) {
        const char *argv[] = {"SPUBLISH", channel, data};
        const size_t lens[] = {8, strlen(channel), len};
        return cluster_send(r, 3, argv, lens);
    }
    return single_publish(r, channel, data, len, NULL, NULL);
}

int store_relay_command(struct store_relay *r, int argc, const char **argv)
{
    if (r->cl)
        return cluster_send(r, argc, argv, NULL);
    struct conn *c = &r->pub;
    if (!c->connected || c->pending >= MAX_PENDING) {
        r->dropped++;
        return c->connected ? PL_EBUSY : PL_EUNAVAIL;
    }
    if (redisAsyncCommandArgv(c->ac, on_published, c, argc, argv, NULL) != REDIS_OK) {
        r->dropped++;
        return PL_EUNAVAIL;
    }
    c->pending++;
    return 0;
}

void store_relay_stats(const struct store_relay *r, uint64_t *received, uint64_t *dropped)
{
    *received = r->received;
    *dropped = r->dropped;
}
