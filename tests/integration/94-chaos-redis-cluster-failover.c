/* SPDX-License-Identifier: MIT */
/* Parley - integration: two nodes on Redis Cluster survive a failover. */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include "storage/redis_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Issue 14: kill -9 the master that serves the relay channel (or the
 * presence keys) while two parleyd nodes run on the harness's Redis
 * Cluster. Its replica takes over after the cluster's node timeout; the
 * nodes must find the new master by themselves. Messages are never lost
 * (they come from PostgreSQL): those sent during the failover arrive late,
 * when a later event shows the receiving node the gap, but in order and
 * once. Every wait has a deadline; none is a timing assertion.
 */

#define EV_MS 5000
/* The bound for relay and presence to recover by themselves. */
#define RECOVER_MS 10000
/* The relay channel (server/live.c). */
#define RELAY_CHANNEL "parley:events"
#define MAX_SENT 64

/* Two nodes on the harness's Redis Cluster; a_node and b_node name them
 * (--node-id) unless NULL. */
static void start_nodes(struct pt_server **a, struct pt_server **b, const char *presence_timeout,
                        const char *a_node, const char *b_node)
{
    pt_svc_require();
    const char *args[] = {"--redis-cluster",
                          pt_redis_cluster(),
                          "--presence-timeout",
                          presence_timeout,
                          a_node ? "--node-id" : NULL,
                          a_node,
                          NULL};
    *a = PT_SERVER_START(args);
    args[5] = b_node;
    *b = PT_SERVER_START(args);
}

static void start_two(struct pt_server **a, struct pt_server **b)
{
    start_nodes(a, b, "2", NULL, NULL);
}

/* Reads y's stream until every message in sent[0..*n) arrived, in order
 * and once. While nothing comes for a second, sends another message
 * through b (a later event is what shows a node the gap left by a lost
 * relay frame): the probe joins sent. Fails past deadline. */
static void expect_all(struct pt_sse *ys, struct pt_server *b, const struct pt_user *x,
                       int64_t conv, int64_t *sent, unsigned *n, uint64_t deadline)
{
    unsigned got = 0;
    while (got < *n) {
        struct pt_sse_event ev;
        int rc = pt_sse_next_durable(ys, 1000, &ev);
        if (rc == 0) {
            int64_t id = pt_sse_int(&ev, "message", "id");
            if (strcmp(ev.name, "message.created") != 0 || id != sent[got])
                pltest_fail(__FILE__, __LINE__, "expected message %lld (#%u), got %s %s: %.200s",
                            (long long)sent[got], got, ev.name, ev.id, ev.data);
            pt_sse_event_free(&ev);
            got++;
            continue;
        }
        PL_ASSERT_INT_EQ(rc, PT_SSE_TIMEOUT);
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "%u of %u messages arrived within the deadline", got,
                        *n);
        PL_ASSERT(*n < MAX_SENT);
        sent[(*n)++] = PT_SEND(b, PT_H1, x, conv, "probe").id;
    }
}

PLTEST(relay_recovers_from_a_master_failover_without_losing_messages)
{
    struct pt_server *a, *b;
    start_two(&a, &b);
    struct pt_user x, y;
    PT_USER_NEW(b, PT_H1, "rcf_x", &x);
    PT_USER_NEW(a, PT_H1, "rcf_y", &y);
    int64_t conv = PT_DIRECT(b, PT_H1, &x, y.id, 201);
    struct pt_sse *ys = PT_SSE_OPEN_READY(a, PT_H2C, y.token, NULL);
    /* The relay works: a message sent through b reaches y's stream on a. */
    struct pt_msg m = PT_SEND(b, PT_H1, &x, conv, "before the failover");
    PT_SSE_EXPECT_MSG(ys, m.id, EV_MS);

    unsigned port = pt_redis_cluster_kill_master(RELAY_CHANNEL);
    fprintf(stderr, "killed the master on port %u (slot of %s)\n", port, RELAY_CHANNEL);
    uint64_t deadline = pt_now_ms() + RECOVER_MS;
    int64_t sent[MAX_SENT];
    unsigned n = 0;
    /* Acknowledged by PostgreSQL whatever Redis does. */
    for (int i = 0; i < 3; i++)
        sent[n++] = PT_SEND(b, PT_H1, &x, conv, "during the failover").id;
    expect_all(ys, b, &x, conv, sent, &n, deadline);

    /* Recovered: a new message is live again, and so is typing. */
    m = PT_SEND(b, PT_H1, &x, conv, "after the failover");
    PT_SSE_EXPECT_MSG(ys, m.id, EV_MS);
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/typing", (long long)conv);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(pt_req(b, PT_H1, "POST", path, x.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    struct pt_sse_event ev;
    PL_ASSERT_INT_EQ(pt_sse_wait(ys, "typing", EV_MS, &ev), 0);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "user_id", NULL), x.id);
    pt_sse_event_free(&ev);

    pt_sse_close(ys);
    PL_ASSERT_INT_EQ(pt_server_stop(a), 0);
    PL_ASSERT_INT_EQ(pt_server_stop(b), 0);
    pt_redis_cluster_restore();
}

/* Waits until y's stream says x is online (or offline): true, or false
 * when deadline passed (rc: the last wait's result). */
static bool heard_presence(struct pt_sse *ys, int64_t user, int online, uint64_t deadline, int *rc)
{
    for (;;) {
        struct pt_sse_event ev;
        uint64_t now = pt_now_ms();
        if ((*rc = pt_sse_wait(ys, "presence", now < deadline ? (int)(deadline - now) : 0, &ev)) <
            0)
            return false;
        int match = pt_sse_int(&ev, "user_id", NULL) == user &&
                    YAJL_IS_TRUE(pt_json_get(ev.json, "online", NULL)) == !!online;
        pt_sse_event_free(&ev);
        if (match)
            return true;
    }
}

/* heard_presence(), failing past deadline. */
static void expect_presence(struct pt_sse *ys, int64_t user, int online, uint64_t deadline)
{
    int rc;
    if (!heard_presence(ys, user, online, deadline, &rc))
        pltest_fail(__FILE__, __LINE__, "no presence event (%s) for user %lld in time: %s",
                    online ? "online" : "offline", (long long)user,
                    rc == PT_SSE_TIMEOUT ? "timed out" : "the stream ended");
}

/* Whether GET /v1/users/{user}/presence through s says online. */
static bool presence_online(struct pt_server *s, const struct pt_user *viewer, int64_t user)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/users/%lld/presence", (long long)user);
    struct pt_resp r;
    pt_get(s, PT_H1, path, viewer->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    bool on = YAJL_IS_TRUE(pt_json_get(pt_json(&r), "online", NULL));
    pt_resp_free(&r);
    return on;
}

static void subscribe(struct pt_server *s, const struct pt_user *u, int64_t target)
{
    struct pt_resp r;
    pt_reqf(s, PT_H1, "PUT", u->token, &r, "/v1/presence/subscriptions", "{\"users\":[%lld]}",
            (long long)target);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
}

PLTEST(presence_recovers_from_a_master_failover)
{
    struct pt_server *a, *b;
    start_two(&a, &b);
    struct pt_user x, y;
    PT_USER_NEW(b, PT_H1, "rcp_x", &x);
    PT_USER_NEW(a, PT_H1, "rcp_y", &y);
    PT_DIRECT(b, PT_H1, &x, y.id, 201);
    struct pt_sse *ys = PT_SSE_OPEN_READY(a, PT_H1, y.token, NULL);
    subscribe(a, &y, x.id);
    /* Presence crosses nodes: x comes online on b, y hears it on a. */
    struct pt_sse *xs = PT_SSE_OPEN_READY(b, PT_H1, x.token, NULL);
    expect_presence(ys, x.id, 1, pt_now_ms() + EV_MS);

    /* The master of x's heartbeat bucket (storage/redis_cluster.h). */
    char key[STORE_REDIS_TAG_MAX];
    store_redis_presence_bucket_tag((unsigned)(x.id % STORE_REDIS_PRESENCE_BUCKETS), key);
    unsigned port = pt_redis_cluster_kill_master(key);
    fprintf(stderr, "killed the master on port %u (slot of %s)\n", port, key);
    uint64_t deadline = pt_now_ms() + RECOVER_MS;
    /* x leaves during the failover: once the presence keys are served
     * again, the sweeper sees the heartbeat run out (2 s) and y hears.
     * If y's node subscribed to its presence channel on the killed master
     * too, a frame published on the new master before that node subscribed
     * there again is lost (pub/sub keeps nothing); the node then catches
     * its streams up with the current state (api_presence_resync), so y
     * hears it either way. */
    pt_sse_close(xs);
    expect_presence(ys, x.id, 0, deadline + 2000);
    /* And x's return is announced too. */
    xs = PT_SSE_OPEN_READY(b, PT_H1, x.token, NULL);
    expect_presence(ys, x.id, 1, pt_now_ms() + EV_MS);
    PL_ASSERT(presence_online(a, &y, x.id));

    pt_sse_close(xs);
    pt_sse_close(ys);
    PL_ASSERT_INT_EQ(pt_server_stop(a), 0);
    PL_ASSERT_INT_EQ(pt_server_stop(b), 0);
    pt_redis_cluster_restore();
}

/* A lost subscription is caught up even when nothing changed: y's node
 * loses its presence channel (its master dies) while x stays online and
 * no transition happens (a presence timeout far longer than the
 * failover); once subscribed again, the node tells y's stream x's current
 * state. Without the catch-up y would hear nothing at all. */
PLTEST(presence_catches_up_after_the_channel_moves)
{
    struct pt_server *a, *b;
    start_nodes(&a, &b, "60", "rcp-a", "rcp-b");
    struct pt_user x, y;
    PT_USER_NEW(b, PT_H1, "rcc_x", &x);
    PT_USER_NEW(a, PT_H1, "rcc_y", &y);
    PT_DIRECT(b, PT_H1, &x, y.id, 201);
    struct pt_sse *ys = PT_SSE_OPEN_READY(a, PT_H1, y.token, NULL);
    subscribe(a, &y, x.id);
    struct pt_sse *xs = PT_SSE_OPEN_READY(b, PT_H1, x.token, NULL);
    expect_presence(ys, x.id, 1, pt_now_ms() + EV_MS);

    /* a's channel (server/presence.c: "parley:presence:" + node id). */
    unsigned port = pt_redis_cluster_kill_master("parley:presence:rcp-a");
    fprintf(stderr, "killed the master on port %u (slot of a's presence channel)\n", port);
    struct pt_sse_event ev;
    PL_ASSERT_INT_EQ(pt_sse_wait(ys, "presence", RECOVER_MS, &ev), 0);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "user_id", NULL), x.id);
    PL_ASSERT(YAJL_IS_TRUE(pt_json_get(ev.json, "online", NULL)));
    pt_sse_event_free(&ev);

    pt_sse_close(xs);
    pt_sse_close(ys);
    PL_ASSERT_INT_EQ(pt_server_stop(a), 0);
    PL_ASSERT_INT_EQ(pt_server_stop(b), 0);
    pt_redis_cluster_restore();
}
