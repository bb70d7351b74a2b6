/* SPDX-License-Identifier: MIT */
/* Parley - integration: the Redis Cluster clients follow moved slots.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness.h"

#include "storage/presence.h"
#include "storage/redis.h"
#include "storage/redis_cluster_int.h"

#include "common/loop.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * storage/'s cluster layer against the harness's real Redis Cluster, with
 * no parleyd: a slot is moved to another master (the resharding steps of
 * the cluster specification, done here by hand with CLUSTER SETSLOT and
 * MIGRATE) while a client holds a map that says otherwise. The blocking
 * client must follow MOVED, and ASK while the slot is half-moved; the
 * loop client must move its sharded subscription with the slot. The
 * process-wide redirection counters prove the paths ran.
 */

#define MAX_NODES 16

struct node {
    char id[48];
    unsigned port;
    bool master;
    int lo[16], hi[16], n_ranges;
};

static redisContext *node_ctx(unsigned port)
{
    redisContext *c = redisConnect("127.0.0.1", (int)port);
    PL_ASSERT(c && !c->err);
    return c;
}

/* Runs a command on the node at port and checks that it did not fail. */
static void admin(unsigned port, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void admin(unsigned port, const char *fmt, ...)
{
    redisContext *c = node_ctx(port);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    PL_ASSERT(r);
    if (r->type == REDIS_REPLY_ERROR)
        pltest_fail(__FILE__, __LINE__, "port %u: %s: %s", port, fmt, r->str);
    freeReplyObject(r);
    redisFree(c);
}

/* What the node says of itself: a node restarted after a failover is
 * listed as a master by the others until it has turned into a replica. */
static bool is_master(unsigned port)
{
    redisContext *c = redisConnect("127.0.0.1", (int)port);
    redisReply *r = c && !c->err ? redisCommand(c, "ROLE") : NULL;
    bool m = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
             r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "master") == 0;
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return m;
}

/* The cluster's nodes, as the first live seed sees them. */
static unsigned read_nodes(struct node *nodes)
{
    const char *seeds = pt_redis_cluster();
    redisReply *r = NULL;
    for (const char *p = seeds; p && *p && !r; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        const char *colon = strchr(p, ':');
        redisContext *c = redisConnect("127.0.0.1", atoi(colon + 1));
        if (c && !c->err)
            r = redisCommand(c, "CLUSTER NODES");
        redisFree(c);
    }
    PL_ASSERT(r && r->type == REDIS_REPLY_STRING);
    unsigned n = 0;
    char *save = NULL;
    for (char *line = strtok_r(r->str, "\n", &save); line && n < MAX_NODES;
         line = strtok_r(NULL, "\n", &save)) {
        struct node *nd = &nodes[n];
        *nd = (struct node){0};
        char addr[64], flags[96];
        int off = 0;
        if (sscanf(line, "%47s %63s %95s %*s %*s %*s %*s %*s%n", nd->id, addr, flags, &off) < 3)
            continue;
        nd->port = (unsigned)atoi(strchr(addr, ':') + 1);
        nd->master = strstr(flags, "master") && !strstr(flags, "fail") && is_master(nd->port);
        for (char *t = line + off; *t && nd->n_ranges < 16;) {
            while (*t == ' ')
                t++;
            if (*t == '[' || !*t)
                break; /* a migration marker; never ours at this point */
            char *end;
            nd->lo[nd->n_ranges] = (int)strtol(t, &end, 10);
            nd->hi[nd->n_ranges] =
                *end == '-' ? (int)strtol(end + 1, &end, 10) : nd->lo[nd->n_ranges];
            nd->n_ranges++;
            t = end;
        }
        n++;
    }
    freeReplyObject(r);
    return n;
}

/* The master serving slot and another master. */
static void find_masters(unsigned slot, struct node *src, struct node *dst)
{
    struct node nodes[MAX_NODES];
    unsigned n = read_nodes(nodes);
    int s = -1, d = -1;
    for (unsigned i = 0; i < n; i++) {
        if (!nodes[i].master)
            continue;
        bool owns = false;
        for (int k = 0; k < nodes[i].n_ranges; k++)
            owns = owns || ((int)slot >= nodes[i].lo[k] && (int)slot <= nodes[i].hi[k]);
        if (owns)
            s = (int)i;
        else if (d < 0)
            d = (int)i;
    }
    PL_ASSERT(s >= 0 && d >= 0);
    *src = nodes[s];
    *dst = nodes[d];
}

/* The first half of a slot move: keys not yet moved answer ASK. */
static void begin_move(unsigned slot, const struct node *src, const struct node *dst)
{
    admin(dst->port, "CLUSTER SETSLOT %u IMPORTING %s", slot, src->id);
    admin(src->port, "CLUSTER SETSLOT %u MIGRATING %s", slot, dst->id);
}

/* Moves the slot's keys and gives the slot to dst on every master. */
static void finish_move(unsigned slot, const struct node *src, const struct node *dst)
{
    redisContext *c = node_ctx(src->port);
    for (;;) {
        redisReply *keys = redisCommand(c, "CLUSTER GETKEYSINSLOT %u 100", slot);
        PL_ASSERT(keys && keys->type == REDIS_REPLY_ARRAY);
        size_t nk = keys->elements;
        for (size_t i = 0; i < nk; i++) {
            redisReply *m = redisCommand(c, "MIGRATE 127.0.0.1 %u %b 0 5000", dst->port,
                                         keys->element[i]->str, keys->element[i]->len);
            PL_ASSERT(m && m->type != REDIS_REPLY_ERROR);
            freeReplyObject(m);
        }
        freeReplyObject(keys);
        if (nk == 0)
            break;
    }
    redisFree(c);
    admin(dst->port, "CLUSTER SETSLOT %u NODE %s", slot, dst->id);
    admin(src->port, "CLUSTER SETSLOT %u NODE %s", slot, dst->id);
    struct node nodes[MAX_NODES];
    unsigned n = read_nodes(nodes);
    for (unsigned i = 0; i < n; i++)
        if (nodes[i].master && nodes[i].port != src->port && nodes[i].port != dst->port)
            admin(nodes[i].port, "CLUSTER SETSLOT %u NODE %s", slot, dst->id);
}

static struct store_redis *cluster_client(void)
{
    struct store_redis_config cfg = {.addr = "unused:1", .cluster = pt_redis_cluster()};
    struct store_redis *r;
    PL_ASSERT_INT_EQ(store_redis_new(&cfg, &r), 0);
    return r;
}

/* GET key through r: the value, or "" for none (static storage). */
static const char *get(struct store_redis *r, const char *key)
{
    static char out[64];
    void *v;
    PL_ASSERT_INT_EQ(store_redis__command(r, &v, "GET %s", key), 0);
    const redisReply *rep = v;
    snprintf(out, sizeof(out), "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "");
    store_redis_reply_free(v);
    return out;
}

static void set(struct store_redis *r, const char *key, const char *val)
{
    void *v;
    PL_ASSERT_INT_EQ(store_redis__command(r, &v, "SET %s %s", key, val), 0);
    store_redis_reply_free(v);
}

PLTEST(blocking_client_follows_moved_and_ask)
{
    char key[64], fresh[64];
    snprintf(key, sizeof(key), "{pltest-move-%d}k", (int)getpid());
    snprintf(fresh, sizeof(fresh), "{pltest-move-%d}fresh", (int)getpid());
    unsigned slot = store_redis_key_slot(key, strlen(key));
    struct store_redis *r = cluster_client();
    set(r, key, "before");
    struct node src, dst;
    find_masters(slot, &src, &dst);

    /* Half-moved: the key still on src is served there; a new key is not
     * on src, which answers ASK, so the client asks dst once. */
    struct store_redis_cluster_stats s0, s1, s2;
    store_redis_cluster_stats(&s0);
    begin_move(slot, &src, &dst);
    PL_ASSERT_STR_EQ(get(r, key), "before");
    set(r, fresh, "asked");
    PL_ASSERT_STR_EQ(get(r, fresh), "asked");
    store_redis_cluster_stats(&s1);
    PL_ASSERT(s1.ask >= s0.ask + 2);

    /* Moved: r's map still names src, which answers MOVED. */
    finish_move(slot, &src, &dst);
    PL_ASSERT_STR_EQ(get(r, key), "before");
    PL_ASSERT_STR_EQ(get(r, fresh), "asked");
    store_redis_cluster_stats(&s2);
    PL_ASSERT(s2.moved >= s1.moved + 1);
    /* A client with a fresh map goes straight to dst. */
    struct store_redis *r2 = cluster_client();
    PL_ASSERT_STR_EQ(get(r2, key), "before");
    PL_ASSERT_INT_EQ(store_redis_ping(r2), 0);
    store_redis_free(r2);
    store_redis_free(r);
}

/* ---- presence heartbeats: one bucket per script, every master used ---- */

/* The port of the master serving slot. */
static unsigned master_of(const struct node *nodes, unsigned n, unsigned slot)
{
    for (unsigned i = 0; i < n; i++)
        for (int k = 0; nodes[i].master && k < nodes[i].n_ranges; k++)
            if ((int)slot >= nodes[i].lo[k] && (int)slot <= nodes[i].hi[k])
                return nodes[i].port;
    pltest_fail(__FILE__, __LINE__, "no master serves slot %u", slot);
    return 0;
}

/* 64 users' heartbeats, written in one touch, land on every master (each
 * user's keys in its bucket's slot, checked on the master itself, not
 * through the client's routing), and read back one by one and in one
 * get_many; the users come online once. Expiry is left to the rc-50
 * presence reruns: a sweep here would race the sweepers of parleyd nodes
 * sharing this cluster. */
PLTEST(presence_heartbeats_spread_over_every_master)
{
    enum { N = 64 };
    struct store_redis *r = cluster_client();
    int64_t users[N];
    bool came[N];
    uint64_t hb[N], now = (uint64_t)pt_now_ms();
    /* Ids no parleyd of the suite will use: far above any real user. */
    int64_t base = 4000000000000000000 + (int64_t)getpid() * 1000;
    for (unsigned i = 0; i < N; i++)
        users[i] = base + i;
    PL_ASSERT_INT_EQ(store_redis_presence_touch(r, users, N, "pltest", now, came), 0);
    for (unsigned i = 0; i < N; i++)
        PL_ASSERT(came[i]);
    PL_ASSERT_INT_EQ(store_redis_presence_touch(r, users, N, "pltest", now + 1, came), 0);
    for (unsigned i = 0; i < N; i++)
        PL_ASSERT(!came[i]);

    struct node nodes[MAX_NODES];
    unsigned n = read_nodes(nodes), ports[MAX_NODES], n_ports = 0, masters = 0;
    for (unsigned i = 0; i < n; i++)
        masters += nodes[i].master;
    for (unsigned i = 0; i < N; i++) {
        char tag[STORE_REDIS_TAG_MAX], key[96];
        store_redis_presence_bucket_tag((unsigned)(users[i] % STORE_REDIS_PRESENCE_BUCKETS), tag);
        snprintf(key, sizeof(key), "%spresence:u:%lld", tag, (long long)users[i]);
        unsigned port = master_of(nodes, n, store_redis_key_slot(key, strlen(key)));
        redisContext *c = node_ctx(port);
        redisReply *e = redisCommand(c, "HGET %s hb", key);
        PL_ASSERT(e && e->type == REDIS_REPLY_STRING);
        PL_ASSERT(strtoull(e->str, NULL, 10) == now + 1);
        freeReplyObject(e);
        redisFree(c);
        unsigned k = 0;
        while (k < n_ports && ports[k] != port)
            k++;
        if (k == n_ports)
            ports[n_ports++] = port;
    }
    PL_ASSERT(masters >= 3);
    PL_ASSERT_INT_EQ(n_ports, masters);

    uint64_t one = 0;
    PL_ASSERT_INT_EQ(store_redis_presence_get(r, users[N - 1], &one), 0);
    PL_ASSERT(one == now + 1);
    PL_ASSERT_INT_EQ(store_redis_presence_get_many(r, users, N, hb), 0);
    for (unsigned i = 0; i < N; i++)
        PL_ASSERT(hb[i] == now + 1);

    /* Clean up: the set entries and the hashes. */
    for (unsigned i = 0; i < N; i++) {
        char tag[STORE_REDIS_TAG_MAX];
        store_redis_presence_bucket_tag((unsigned)(users[i] % STORE_REDIS_PRESENCE_BUCKETS), tag);
        void *v;
        PL_ASSERT_INT_EQ(
            store_redis__command(r, &v, "ZREM %spresence:hb %lld", tag, (long long)users[i]), 0);
        store_redis_reply_free(v);
        PL_ASSERT_INT_EQ(
            store_redis__command(r, &v, "DEL %spresence:u:%lld", tag, (long long)users[i]), 0);
        store_redis_reply_free(v);
    }
    store_redis_free(r);
}

/* ---- the loop client ---- */

/* pl_loop_run() runs once per loop, so the case is one run driven by a
 * poll timer through its phases, each with its own deadline. */
enum phase { SUBSCRIBING, FIRST, SECOND, DONE };

struct sub_state {
    struct pl_loop *loop;
    struct store_redis_casync *cl;
    struct pl_timer poll, publish;
    unsigned messages, replies, failures;
    char last[32];
    const char *channel;
    unsigned slot;
    enum phase phase;
    uint64_t deadline;
    char failed[160]; /* why the run stopped early, "" when it did not */
};

static void on_msg(void *ctx, const char *data, size_t len)
{
    struct sub_state *st = ctx;
    st->messages++;
    snprintf(st->last, sizeof(st->last), "%.*s", (int)len, data);
}

static void on_reply(void *ctx, int status, const void *reply)
{
    struct sub_state *st = ctx;
    const redisReply *rep = reply;
    if (status < 0 || rep->type == REDIS_REPLY_ERROR)
        st->failures++;
    else
        st->replies++;
}

/* Publishes the current phase's payload every 200 ms: a publish refused
 * while the master is unknown, or sent before the subscription moved, is
 * simply followed by the next. */
static void on_publish(void *ctx)
{
    struct sub_state *st = ctx;
    if (st->phase == FIRST || st->phase == SECOND) {
        const char *argv[] = {"SPUBLISH", st->channel, st->phase == FIRST ? "one" : "two"};
        (void)!store_redis__casync_argv(st->cl, 3, argv, NULL, on_reply, st);
    }
    pl_loop_timer_start(st->loop, &st->publish, 200, on_publish, st);
}

static void next_phase(struct sub_state *st, enum phase p, unsigned ms)
{
    st->phase = p;
    st->deadline = pl_now_ms() + ms;
}

static void on_poll(void *ctx)
{
    struct sub_state *st = ctx;
    if (st->phase == SUBSCRIBING && store_redis__casync_subscribed(st->cl)) {
        next_phase(st, FIRST, 5000);
    } else if (st->phase == FIRST && strcmp(st->last, "one") == 0) {
        /* Blocking admin commands on the loop: fine in a test. The
         * subscription now sits on a node without the slot: the client
         * must notice (a sunsubscribe push, or its periodic map refresh)
         * and subscribe on dst; publishes follow MOVED. */
        struct node src, dst;
        find_masters(st->slot, &src, &dst);
        begin_move(st->slot, &src, &dst);
        finish_move(st->slot, &src, &dst);
        next_phase(st, SECOND, 10000);
    } else if (st->phase == SECOND && strcmp(st->last, "two") == 0 &&
               store_redis__casync_subscribed(st->cl)) {
        st->phase = DONE;
    } else if (pl_now_ms() > st->deadline) {
        snprintf(st->failed, sizeof(st->failed),
                 "phase %d timed out (messages %u, replies %u, failures %u)", (int)st->phase,
                 st->messages, st->replies, st->failures);
    }
    if (st->phase == DONE || st->failed[0])
        pl_loop_stop(st->loop);
    else
        pl_loop_timer_start(st->loop, &st->poll, 20, on_poll, st);
}

PLTEST(sharded_subscription_moves_with_its_slot)
{
    char channel[64];
    snprintf(channel, sizeof(channel), "{pltest-sub-%d}ch", (int)getpid());
    struct sub_state st = {.channel = channel,
                           .slot = store_redis_key_slot(channel, strlen(channel))};
    PL_ASSERT_INT_EQ(pl_loop_new(&st.loop), 0);
    PL_ASSERT_INT_EQ(store_redis__casync_new(st.loop, pt_redis_cluster(), 1000, &st.cl), 0);
    PL_ASSERT_INT_EQ(store_redis__casync_ssubscribe(st.cl, channel, on_msg, &st), 0);
    next_phase(&st, SUBSCRIBING, 5000);
    pl_loop_timer_start(st.loop, &st.poll, 0, on_poll, &st);
    pl_loop_timer_start(st.loop, &st.publish, 0, on_publish, &st);
    PL_ASSERT_INT_EQ(pl_loop_run(st.loop), 0);
    if (st.failed[0])
        pltest_fail(__FILE__, __LINE__, "%s", st.failed);
    PL_ASSERT(st.replies >= 2);
    pl_loop_timer_stop(st.loop, &st.publish);
    pl_loop_timer_stop(st.loop, &st.poll);
    store_redis__casync_free(st.cl);
    pl_loop_free(st.loop);
}
