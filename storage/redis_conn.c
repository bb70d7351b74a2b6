/* SPDX-License-Identifier: MIT */
/* Parley - one synchronous Redis connection per worker.                */
/* Copyright (c) 2026 Parley developers                                 */
#include "redis.h"
#include "redis_cluster_int.h"

#include "common/log.h"
#include "common/loop.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PL_LOG_TOPIC("store");

/* This file holds the connection and PING. The presence, routing and
 * analytics commands that later issues add go in redis_<area>.c files on
 * top of store_redis__command(). */

/* A failed connect is not retried for this long, so that while Redis is
 * down a request pays an error return rather than a connect timeout. */
#define RECONNECT_GAP_MS 250

#define DEFAULT_TIMEOUT_MS 1000

struct store_redis {
    char *addr;                   /* as configured, for log lines */
    char *host;                   /* host name, or the socket path when port is 0 */
    int port;                     /* 0 for a unix socket */
    struct timeval tv;            /* connect and command timeout */
    redisContext *ctx;            /* NULL while disconnected */
    bool failed;                  /* the last connect attempt failed ... */
    uint64_t failed_at_ms;        /* ... at this monotonic time */
    struct store_redis_csync *cs; /* cluster mode: replaces ctx */
};

static atomic_uint_fast64_t error_count;

/* Process-wide, so an outage is logged once rather than per worker. */
static atomic_bool reachable = true;

static void count_error(void)
{
    atomic_fetch_add_explicit(&error_count, 1, memory_order_relaxed);
}

uint64_t store_redis_errors(void)
{
    return atomic_load_explicit(&error_count, memory_order_relaxed);
}

static void note_down(const struct store_redis *r, const char *msg)
{
    if (atomic_exchange(&reachable, false))
        pl_log_error("redis %s unavailable: %s", r->addr, msg);
}

static void note_up(const struct store_redis *r)
{
    if (!atomic_exchange(&reachable, true))
        pl_log_info("redis %s reachable again", r->addr);
}

int store_redis__parse_addr(const char *addr, char **host, int *port)
{
    if (addr[0] == '/') {
        *port = 0;
        *host = strdup(addr);
        return *host ? 0 : PL_ENOMEM;
    }
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr)
        return PL_EINVAL;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end || p < 1 || p > 65535)
        return PL_EINVAL;
    const char *h = addr;
    size_t n = (size_t)(colon - addr);
    if (h[0] == '[') {
        if (n < 3 || h[n - 1] != ']')
            return PL_EINVAL;
        h++;
        n -= 2;
    }
    *host = strndup(h, n);
    *port = (int)p;
    return *host ? 0 : PL_ENOMEM;
}

static int parse_addr(struct store_redis *r, const char *addr)
{
    return store_redis__parse_addr(addr, &r->host, &r->port);
}

int store_redis_new(const struct store_redis_config *cfg, struct store_redis **out)
{
    if (!cfg || !cfg->addr || !out)
        return PL_EINVAL;
    struct store_redis *r = calloc(1, sizeof(*r));
    if (!r)
        return PL_ENOMEM;
    int rc = PL_ENOMEM;
    bool cluster = cfg->cluster && cfg->cluster[0];
    r->addr = strdup(cluster ? cfg->cluster : cfg->addr);
    if (!r->addr)
        goto fail;
    unsigned ms = cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    if (cluster)
        rc = store_redis__csync_new(cfg->cluster, ms, &r->cs);
    else
        rc = parse_addr(r, cfg->addr);
    if (rc < 0)
        goto fail;
    r->tv.tv_sec = ms / 1000;
    r->tv.tv_usec = (ms % 1000) * 1000;
    *out = r;
    return 0;

fail:
    store_redis_free(r);
    return rc;
}

void store_redis_free(struct store_redis *r)
{
    if (!r)
        return;
    if (r->ctx)
        redisFree(r->ctx);
    store_redis__csync_free(r->cs);
    free(r->host);
    free(r->addr);
    free(r);
}

static int redis_connect(struct store_redis *r)
{
    if (r->failed && pl_now_ms() - r->failed_at_ms < RECONNECT_GAP_MS) {
        count_error(); /* still a failed operation for the caller */
        return PL_EUNAVAIL;
    }
    redisContext *c = r->port ? redisConnectWithTimeout(r->host, r->port, r->tv)
                              : redisConnectUnixWithTimeout(r->host, r->tv);
    int rc = 0;
    if (!c) {
        rc = PL_ENOMEM;
    } else if (c->err) {
        note_down(r, c->errstr);
        rc = PL_EUNAVAIL;
    } else if (redisSetTimeout(c, r->tv) != REDIS_OK) {
        /* The connect timeout only covers connecting; without this a
         * command on a hung Redis would block its worker forever. */
        note_down(r, "cannot set the socket timeout");
        rc = PL_EUNAVAIL;
    }
    if (rc < 0) {
        if (c)
            redisFree(c);
        count_error();
        r->failed = true;
        r->failed_at_ms = pl_now_ms();
        return rc;
    }
    r->ctx = c;
    r->failed = false;
    note_up(r);
    return 0;
}

/* Error replies that mean "Redis is there but cannot serve now" rather
 * than "this command is wrong". */
static bool is_transient(const char *msg)
{
    static const char *const prefixes[] = {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN",
                                           "CLUSTERDOWN"};
    for (size_t i = 0; i < PL_ARRAY_LEN(prefixes); i++)
        if (strncmp(msg, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

static int finish_reply(struct store_redis *r, redisReply *rep, void **reply);

/* Takes the reply of one command and turns failures into codes. */
static int finish(struct store_redis *r, redisReply *rep, void **reply)
{
    if (!rep) {
        /* A hiredis context that reported an error cannot be used again:
         * after a timeout a late reply would be taken for the next
         * command's. Drop it; the next call reconnects. */
        int oom = r->ctx->err == REDIS_ERR_OOM;
        if (!oom)
            note_down(r, r->ctx->errstr);
        redisFree(r->ctx);
        r->ctx = NULL;
        count_error();
        return oom ? PL_ENOMEM : PL_EUNAVAIL;
    }
    return finish_reply(r, rep, reply);
}

static int finish_reply(struct store_redis *r, redisReply *rep, void **reply)
{
    if (rep->type == REDIS_REPLY_ERROR) {
        int rc = PL_EUNAVAIL;
        if (!is_transient(rep->str)) {
            /* Error replies name the problem, not the arguments. */
            pl_log_error("redis %s: command failed: %s", r->addr, rep->str);
            rc = PL_EINTERNAL;
        }
        freeReplyObject(rep);
        count_error();
        return rc;
    }
    *reply = rep;
    return 0;
}

/* Cluster mode: cmd is a formatted command (taken: freed here). */
static int cluster_run(struct store_redis *r, char *cmd, int len, void **reply)
{
    if (len < 0)
        return PL_ENOMEM;
    void *rep = NULL;
    int rc = store_redis__csync_command(r->cs, cmd, (size_t)len, &rep);
    redisFreeCommand(cmd);
    if (rc < 0) {
        if (rc == PL_EUNAVAIL)
            note_down(r, "no master answered for the key's slot");
        count_error();
        return rc;
    }
    note_up(r);
    return finish_reply(r, rep, reply);
}

const char *store_redis__tag(const struct store_redis *r, const char *tag)
{
    return r->cs ? tag : "";
}

unsigned store_redis__presence_buckets(const struct store_redis *r)
{
    return r->cs ? STORE_REDIS_PRESENCE_BUCKETS : 1;
}

const char *store_redis__presence_tag(const struct store_redis *r, unsigned b, char *buf)
{
    if (!r->cs)
        return "";
    store_redis_presence_bucket_tag(b, buf);
    return buf;
}

unsigned store_redis__presence_bucket(const struct store_redis *r, int64_t user)
{
    return (unsigned)((uint64_t)user % store_redis__presence_buckets(r));
}

int store_redis__command(struct store_redis *r, void **reply, const char *fmt, ...)
{
    *reply = NULL;
    if (r->cs) {
        char *cmd = NULL;
        va_list ap;
        va_start(ap, fmt);
        int len = redisvFormatCommand(&cmd, fmt, ap);
        va_end(ap);
        return cluster_run(r, cmd, len, reply);
    }
    if (!r->ctx) {
        int rc = redis_connect(r);
        if (rc < 0)
            return rc;
    }
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r->ctx, fmt, ap);
    va_end(ap);
    return finish(r, rep, reply);
}

int store_redis__command_argv(struct store_redis *r, void **reply, int argc, const char **argv,
                              const size_t *lens)
{
    *reply = NULL;
    if (r->cs) {
        char *cmd = NULL;
        int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
        return cluster_run(r, cmd, len, reply);
    }
    if (!r->ctx) {
        int rc = redis_connect(r);
        if (rc < 0)
            return rc;
    }
    return finish(r, redisCommandArgv(r->ctx, argc, argv, lens), reply);
}

void store_redis_reply_free(void *reply)
{
    if (reply)
        freeReplyObject(reply);
}

int store_redis_ping(struct store_redis *r)
{
    void *v;
    if (store_redis__command(r, &v, "PING") < 0)
        return PL_EUNAVAIL;
    redisReply *rep = v;
    bool ok = rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0;
    store_redis_reply_free(v);
    return ok ? 0 : PL_EUNAVAIL;
}
