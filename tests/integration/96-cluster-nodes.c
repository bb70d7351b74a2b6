/* SPDX-License-Identifier: MIT */
/* Parley - integration: several nodes on one PostgreSQL and Redis.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Two or three parleyd on the harness's PostgreSQL and Redis, as
 * scripts/cluster runs them behind HAProxy: whatever one node accepts
 * reaches the streams held by another (messages, typing, receipts,
 * presence), and a node killed with -9 takes its users offline within the
 * presence timeout, as seen from a surviving node. (Revocation across
 * nodes: 23-accounts-revoke.)
 */

#define EV_MS 10000
/* The presence timeout the nodes run with (seconds), and how long past it
 * a dead node's user may still show online: one sweep period. */
#define PRESENCE_S "3"
#define OFFLINE_MS 9000

static const char *const node_args[] = {"--presence-timeout", PRESENCE_S, NULL};

/* Makes sure the stream on a node hears what another node publishes: a
 * message sent through `via` reaches st (the relay subscription is up). */
static void relay_ready(struct pt_server *via, enum pt_proto proto, const struct pt_user *from,
                        int64_t conv, struct pt_sse *st)
{
    uint64_t deadline = pt_now_ms() + EV_MS;
    for (int got = 0; !got;) {
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "no event crossed nodes within %d ms", EV_MS);
        struct pt_msg m = PT_SEND(via, proto, from, conv, "relay check");
        struct pt_sse_event ev;
        while (!got && pt_sse_wait(st, "message.created", 500, &ev) == 0) {
            got = pt_json_int(ev.json, "message", "id", NULL) == m.id;
            pt_sse_event_free(&ev);
        }
    }
}

/* Waits for message id on st, skipping other messages (the relay checks
 * that came before). */
static void expect_msg(struct pt_sse *st, int64_t id)
{
    uint64_t deadline = pt_now_ms() + EV_MS;
    for (;;) {
        uint64_t now = pt_now_ms();
        struct pt_sse_event ev;
        if (now >= deadline || pt_sse_wait(st, "message.created", (int)(deadline - now), &ev) < 0)
            pltest_fail(__FILE__, __LINE__, "message %lld never arrived", (long long)id);
        int64_t got = pt_json_int(ev.json, "message", "id", NULL);
        pt_sse_event_free(&ev);
        if (got == id)
            return;
    }
}

static int online(struct pt_server *s, enum pt_proto proto, const struct pt_user *viewer,
                  int64_t user)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/users/%lld/presence", (long long)user);
    struct pt_resp r;
    pt_get(s, proto, path, viewer->token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val on = pt_json_get(pt_json(&r), "online", NULL);
    int v = YAJL_IS_TRUE(on) ? 1 : 0;
    pt_resp_free(&r);
    return v;
}

static void wait_online(struct pt_server *s, enum pt_proto proto, const struct pt_user *viewer,
                        int64_t user, int want, int ms)
{
    uint64_t deadline = pt_now_ms() + (uint64_t)ms;
    while (online(s, proto, viewer, user) != want) {
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "user %lld not %s on the other node within %d ms",
                        (long long)user, want ? "online" : "offline", ms);
        pt_sleep_ms(50);
    }
}

/* A message, typing and receipts accepted by node A reach a stream on
 * node B, and the other way round. */
PLTEST_PROTO(events_cross_nodes)
{
    struct pt_server *na = PT_SERVER_START(node_args), *nb = PT_SERVER_START(node_args);
    struct pt_user a, b;
    PT_USER_NEW(na, proto, "xn_a", &a);
    PT_USER_NEW(nb, proto, "xn_b", &b);
    int64_t conv = PT_DIRECT(na, proto, &a, b.id, 201);
    struct pt_sse *sb = PT_SSE_OPEN_READY(nb, proto, b.token, NULL);
    struct pt_sse *sa = PT_SSE_OPEN_READY(na, proto, a.token, NULL);
    relay_ready(na, proto, &a, conv, sb);
    relay_ready(nb, proto, &b, conv, sa);
    /* Both relays' subscriptions stand (events crossed both ways), so
     * neither node holds its token cache any more (single Redis and
     * Redis Cluster alike). */
    PL_ASSERT_INT_EQ(pt_metric(na, proto, "parley_token_cache_held"), 0);
    PL_ASSERT_INT_EQ(pt_metric(nb, proto, "parley_token_cache_held"), 0);

    /* A message sent through A, on B's stream; its receipts, posted
     * through B, on A's stream. */
    struct pt_msg m = PT_SEND(na, proto, &a, conv, "hello from node A");
    expect_msg(sb, m.id);
    PT_RECEIPT(nb, proto, &b, conv, "read", m.seq);
    struct pt_sse_event ev;
    PT_SSE_EXPECT(sa, "receipt", EV_MS, &ev);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "conversation_id", NULL), conv);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "user_id", NULL), b.id);
    pt_sse_event_free(&ev);

    /* Typing through B, on A's stream (ephemeral: relayed, not stored). */
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/typing", (long long)conv);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(pt_req(nb, proto, "POST", path, b.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    PT_SSE_EXPECT(sa, "typing", EV_MS, &ev);
    PL_ASSERT_INT_EQ(pt_sse_int(&ev, "user_id", NULL), b.id);
    pt_sse_event_free(&ev);

    /* History through either node has the message. */
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages?limit=50", (long long)conv);
    pt_get(nb, proto, path, b.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    PL_ASSERT(strstr(r.body, "hello from node A") != NULL);
    pt_resp_free(&r);

    pt_sse_close(sa);
    pt_sse_close(sb);
    PL_ASSERT_INT_EQ(pt_server_stop(nb), 0);
    PL_ASSERT_INT_EQ(pt_server_stop(na), 0);
}

/* A user holding a stream on node B is online as node A sees it; after
 * kill -9 of B (no goodbye, no last heartbeat), A shows the user offline
 * within the presence timeout and one sweep. */
PLTEST_PROTO(a_killed_nodes_users_go_offline)
{
    struct pt_server *na = PT_SERVER_START(node_args), *nb = PT_SERVER_START(node_args);
    struct pt_user a, b;
    PT_USER_NEW(na, proto, "xo_a", &a);
    PT_USER_NEW(na, proto, "xo_b", &b);
    (void)PT_DIRECT(na, proto, &a, b.id, 201);
    struct pt_sse *sb = PT_SSE_OPEN_READY(nb, proto, b.token, NULL);
    wait_online(na, proto, &a, b.id, 1, EV_MS);
    pid_t pid = pt_server_pid(nb);
    PL_ASSERT_INT_EQ(kill(pid, SIGKILL), 0);
    uint64_t t0 = pt_now_ms();
    wait_online(na, proto, &a, b.id, 0, OFFLINE_MS);
    fprintf(stderr, "offline %llu ms after the kill\n", (unsigned long long)(pt_now_ms() - t0));
    pt_sse_close(sb);
    /* The killed server: its status says so; its log is kept. */
    PL_ASSERT(pt_server_stop(nb) != 0);
    PL_ASSERT_INT_EQ(pt_server_stop(na), 0);
}

/* Sends through s until s's relay_alone gauge reads want. */
static void wait_alone(struct pt_server *s, const struct pt_user *from, int64_t conv, int want,
                       bool send)
{
    uint64_t deadline = pt_now_ms() + EV_MS;
    while (pt_metric(s, PT_H1, "parley_relay_alone") != want) {
        if (pt_now_ms() > deadline)
            pltest_fail(__FILE__, __LINE__, "parley_relay_alone not %d within %d ms", want, EV_MS);
        if (send)
            PT_SEND(s, PT_H1, from, conv, "anyone there?");
        pt_sleep_ms(50);
    }
}

/*
 * server/relay_gate.h: a node that is the only one on its relay channel
 * stops publishing events (they would only come back to it), and a node
 * that joins is heard at once (its hello), without a send, and receives
 * what is sent next live. The channel is this case's own, so no other
 * test's nodes listen. On a Redis Cluster (./scripts/cluster) the node
 * never goes alone.
 */
PLTEST(a_lone_node_relays_only_once_another_listens)
{
    char chan[64];
    snprintf(chan, sizeof(chan), "parley:test-gate:%d", (int)getpid());
    const char *args[] = {"--relay-channel", chan, NULL};
    struct pt_server *na = PT_SERVER_START(args);
    struct pt_user a, b;
    PT_USER_NEW(na, PT_H1, "gate_a", &a);
    PT_USER_NEW(na, PT_H1, "gate_b", &b);
    int64_t conv = PT_DIRECT(na, PT_H1, &a, b.id, 201);
    const char *cluster = getenv("PARLEY_REDIS_CLUSTER");
    if (cluster && *cluster) {
        /* Redis Cluster reports no receiver counts: the node always relays. */
        for (int i = 0; i < 5; i++)
            PT_SEND(na, PT_H1, &a, conv, "cluster mode");
        pt_sleep_ms(300);
        PL_ASSERT_INT_EQ(pt_metric(na, PT_H1, "parley_relay_alone"), 0);
        PL_ASSERT_INT_EQ(pt_metric(na, PT_H1, "parley_relay_skipped_total"), 0);
        PL_ASSERT_INT_EQ(pt_server_stop(na), 0);
        return;
    }
    wait_alone(na, &a, conv, 1, true);
    long long skipped = pt_metric(na, PT_H1, "parley_relay_skipped_total");
    PT_SEND(na, PT_H1, &a, conv, "nobody else listens");
    PL_ASSERT(pt_metric(na, PT_H1, "parley_relay_skipped_total") > skipped);

    struct pt_server *nb = PT_SERVER_START(args);
    wait_alone(na, &a, conv, 0, false); /* the hello, not a probe: nothing was sent */
    struct pt_sse *sb = PT_SSE_OPEN_READY(nb, PT_H1, b.token, NULL);
    struct pt_msg m = PT_SEND(na, PT_H1, &a, conv, "now node B listens");
    expect_msg(sb, m.id);
    PL_ASSERT_INT_EQ(pt_metric(na, PT_H1, "parley_relay_alone"), 0);
    PL_ASSERT_INT_EQ(pt_metric(nb, PT_H1, "parley_relay_alone"), 0);
    pt_sse_close(sb);
    PL_ASSERT_INT_EQ(pt_server_stop(nb), 0);
    PL_ASSERT_INT_EQ(pt_server_stop(na), 0);
}
