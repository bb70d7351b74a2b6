/* SPDX-License-Identifier: MIT */
/* Parley - integration: resume without gaps under concurrent senders.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The brief's warning: with many senders, transactions commit out of the
 * order in which they took their positions, so a naive "send what is
 * newer than the last id" stream skips events for good. Here 8 threads,
 * each with its own connection and device, send 400 messages into two
 * conversations as fast as they can, while the receiver's stream is
 * dropped three times and resumed from the last id it saw. In the end the
 * receiver must have seen every message exactly once, in increasing id
 * order, and every conversation's seqs must be dense.
 *
 * The second case runs the same with three nodes on one PostgreSQL and
 * Redis (as behind HAProxy): the writers spread over two nodes, and the
 * receiver resumes on a different node each time.
 */
#define NODES 3

#define THREADS 8
#define PER_THREAD 50
#define TOTAL (THREADS * PER_THREAD)
#define DROPS 3
#define EV_MS 10000

struct shared {
    struct pt_server *s; /* where users and conversations are made */
    struct pt_server *nodes[NODES];
    unsigned n_nodes;
    enum pt_proto proto;
    pthread_mutex_t lock;
    int64_t sent_ids[TOTAL];
    unsigned n_sent; /* under lock */
};

struct sender {
    struct shared *sh;
    struct pt_user who; /* its own device */
    int64_t conv;
    int index;
    pthread_t th;
};

static unsigned sent_count(struct shared *sh)
{
    pthread_mutex_lock(&sh->lock);
    unsigned n = sh->n_sent;
    pthread_mutex_unlock(&sh->lock);
    return n;
}

static void *send_all(void *arg)
{
    struct sender *t = arg;
    /* With several nodes, writers go to nodes 1.. and the receiver starts
     * on node 0. */
    struct shared *sh = t->sh;
    struct pt_server *node =
        sh->n_nodes > 1 ? sh->nodes[1 + (unsigned)t->index % (sh->n_nodes - 1)] : sh->s;
    struct pt_client *c = pt_client_new(node, sh->proto);
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)t->conv);
    for (int i = 0; i < PER_THREAD; i++) {
        char body[160];
        snprintf(body, sizeof(body),
                 "{\"client_msg_id\":\"t%d-%d\",\"kind\":\"text\",\"text\":\"thread %d msg %d\"}",
                 t->index, i, t->index, i);
        struct pt_resp r;
        if (pt_client_req(c, "POST", path, t->who.token, "application/json", body, strlen(body),
                          NULL, &r) < 0)
            pltest_fail(__FILE__, __LINE__, "sender %d: %s", t->index, pt_req_error());
        if (r.status != 201)
            pltest_fail(__FILE__, __LINE__, "sender %d message %d: %ld %.300s", t->index, i,
                        r.status, r.body);
        int64_t id = pt_json_int(pt_json(&r), "id", NULL);
        PL_ASSERT(id > 0);
        pt_resp_free(&r);
        pthread_mutex_lock(&t->sh->lock);
        t->sh->sent_ids[t->sh->n_sent++] = id;
        pthread_mutex_unlock(&t->sh->lock);
    }
    pt_client_free(c);
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The receiver's view. */
struct receiver {
    struct pt_sse *sse;
    int64_t seen[TOTAL + 1];
    unsigned n_seen;
    int64_t last_pos; /* every stored event counts, not just messages */
    int64_t conv[2];
    int64_t max_seq[2];
};

/* Takes one event; fails on anything out of order or repeated. Returns 1
 * when it was a message.created. */
static int take(struct receiver *rv, const struct pt_sse_event *ev)
{
    if (ev->pos <= 0)
        pltest_fail(__FILE__, __LINE__, "%s without an id: %.200s", ev->name, ev->data);
    if (ev->pos <= rv->last_pos)
        pltest_fail(__FILE__, __LINE__, "id %lld after %lld: repeated or out of order (%s)",
                    (long long)ev->pos, (long long)rv->last_pos, ev->name);
    rv->last_pos = ev->pos;
    if (strcmp(ev->name, "message.created") != 0)
        return 0;
    PL_ASSERT_INT_EQ(pt_sse_int(ev, "message", "id"), ev->pos);
    int64_t conv = pt_sse_int(ev, "conversation_id", NULL);
    int k = conv == rv->conv[0] ? 0 : conv == rv->conv[1] ? 1 : -1;
    if (k < 0)
        pltest_fail(__FILE__, __LINE__, "message in conversation %lld", (long long)conv);
    /* Within a conversation, seq grows with id. */
    int64_t seq = pt_sse_int(ev, "message", "seq");
    if (seq <= rv->max_seq[k])
        pltest_fail(__FILE__, __LINE__, "seq %lld after %lld in conversation %lld", (long long)seq,
                    (long long)rv->max_seq[k], (long long)conv);
    rv->max_seq[k] = seq;
    PL_ASSERT(rv->n_seen <= TOTAL);
    rv->seen[rv->n_seen++] = ev->pos;
    return 1;
}

/* Drops the stream, lets some sends happen while nobody listens, and
 * resumes from the last id, by header or by query parameter. */
static void drop_and_resume(struct shared *sh, struct receiver *rv, const struct pt_user *r,
                            int round)
{
    pt_sse_close(rv->sse);
    unsigned at = sent_count(sh);
    fprintf(stderr, "drop %d: %u seen, %u sent\n", round, rv->n_seen, at);
    uint64_t deadline = pt_now_ms() + 5000;
    while (sent_count(sh) < at + 20 && at + 20 <= TOTAL && pt_now_ms() < deadline)
        pt_sleep_ms(2);
    char id[32];
    snprintf(id, sizeof(id), "%lld", (long long)rv->last_pos);
    struct pt_server *node = sh->nodes[(unsigned)(round + 1) % sh->n_nodes];
    if (round % 2 == 0) {
        rv->sse = pt_sse_open(node, sh->proto, r->token, id);
        return;
    }
    char path[96];
    snprintf(path, sizeof(path), "/v1/events?last_event_id=%s", id);
    struct pt_sse_opts o = {.path = path, .token = r->token};
    PL_ASSERT_INT_EQ(pt_sse_open_opts(node, sh->proto, &o, &rv->sse), 0);
    PL_ASSERT_INT_EQ(pt_sse_status(rv->sse), 200);
}

static void run(enum pt_proto proto, struct pt_server *const *nodes, unsigned n_nodes)
{
    struct pt_server *s = nodes[0];
    struct pt_user r, a, b;
    PT_USER_NEW(s, proto, "conc_r", &r);
    PT_USER_NEW(s, proto, "conc_a", &a);
    PT_USER_NEW(s, proto, "conc_b", &b);
    struct receiver *rv = calloc(1, sizeof(*rv));
    PL_ASSERT(rv);
    rv->conv[0] = PT_DIRECT(s, proto, &a, r.id, 201);
    int64_t members[] = {r.id, a.id};
    rv->conv[1] = PT_GROUP(s, proto, &b, "Busy", members, 2);
    struct shared *sh = calloc(1, sizeof(*sh));
    PL_ASSERT(sh);
    sh->s = s;
    for (unsigned i = 0; i < n_nodes; i++)
        sh->nodes[i] = nodes[i];
    sh->n_nodes = n_nodes;
    sh->proto = proto;
    pthread_mutex_init(&sh->lock, NULL);
    struct sender t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        t[i] = (struct sender){.sh = sh, .conv = rv->conv[i < THREADS / 2 ? 0 : 1], .index = i};
        pt_user_device(s, proto, i < THREADS / 2 ? &a : &b, &t[i].who);
    }
    rv->sse = PT_SSE_OPEN_READY(s, proto, r.token, &rv->last_pos);
    for (int i = 0; i < THREADS; i++)
        PL_ASSERT_INT_EQ(pthread_create(&t[i].th, NULL, send_all, &t[i]), 0);

    int drops = 0;
    uint64_t deadline = pt_now_ms() + 60000;
    while (rv->n_seen < TOTAL) {
        struct pt_sse_event ev;
        int rc = pt_sse_next_durable(rv->sse, 1000, &ev);
        if (rc == PT_SSE_ENDED)
            pltest_fail(__FILE__, __LINE__, "the stream ended after %u messages", rv->n_seen);
        if (pt_now_ms() >= deadline)
            pltest_fail(__FILE__, __LINE__, "only %u of %d messages arrived (%u sent)", rv->n_seen,
                        TOTAL, sent_count(sh));
        if (rc < 0)
            continue;
        take(rv, &ev);
        pt_sse_event_free(&ev);
        if (drops < DROPS && rv->n_seen >= (unsigned)(drops + 1) * TOTAL / (DROPS + 1))
            drop_and_resume(sh, rv, &r, drops++);
    }
    for (int i = 0; i < THREADS; i++)
        PL_ASSERT_INT_EQ(pthread_join(t[i].th, NULL), 0);
    PL_ASSERT_INT_EQ(sh->n_sent, TOTAL);
    /* Nothing more is pending: the next message is the next event. */
    struct pt_msg marker = PT_SEND(s, proto, &a, rv->conv[0], "the end");
    PT_SSE_EXPECT_MSG(rv->sse, marker.id, EV_MS);

    /* The same set: sorted, the ids seen and the ids sent are equal. */
    qsort(sh->sent_ids, TOTAL, sizeof(int64_t), cmp_id);
    qsort(rv->seen, TOTAL, sizeof(int64_t), cmp_id);
    for (int i = 0; i < TOTAL; i++)
        if (sh->sent_ids[i] != rv->seen[i])
            pltest_fail(__FILE__, __LINE__, "sent and received differ at %d: %lld vs %lld", i,
                        (long long)sh->sent_ids[i], (long long)rv->seen[i]);
    /* Gap-free seqs: each conversation holds exactly its messages. */
    PL_ASSERT_INT_EQ(rv->max_seq[0], TOTAL / 2);
    PL_ASSERT_INT_EQ(rv->max_seq[1], TOTAL / 2);
    PL_ASSERT_INT_EQ(drops, DROPS);
    pt_sse_close(rv->sse);
    pthread_mutex_destroy(&sh->lock);
    free(sh);
    free(rv);
}

PLTEST_PROTO(resume_under_concurrent_senders_loses_and_repeats_nothing)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    run(proto, &s, 1);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}

/* The same with the writers on two nodes and the receiver moving between
 * three: positions stay commit-ordered across nodes. */
PLTEST_PROTO(resume_with_writers_on_different_nodes_loses_and_repeats_nothing)
{
    struct pt_server *n[NODES];
    for (unsigned i = 0; i < NODES; i++)
        n[i] = PT_SERVER_START(NULL);
    run(proto, n, NODES);
    for (unsigned i = NODES; i-- > 0;)
        PL_ASSERT_INT_EQ(pt_server_stop(n[i]), 0);
}
