/* SPDX-License-Identifier: MIT */
/* Parley - integration: several group-commit writers (writer lanes).  */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * With writer_connections > 1 (server/writer.c) several transactions of
 * sends are in flight at once, one per lane, and the lanes only meet at
 * the position counter. Here 8 sender threads, each with its own device,
 * send into 8 conversations as fast as they can, with 4 lanes and batches
 * of at most 4 (so a second lane starts as soon as one send waits), every
 * 7th send repeated with the same client_msg_id. Then:
 *  - every send got 201 with a distinct id, every repeat 200 with the same
 *    id and seq;
 *  - the receiver, member of every conversation, saw every message exactly
 *    once, ids strictly increasing, and in each conversation the seqs are
 *    gap-free and grow with the id; each sender's messages in a
 *    conversation are in the order it sent them;
 *  - the positions from the first message to the last are dense: every one
 *    is a stored event (this test runs alone, so nothing else took any);
 *  - resuming from any of several positions replays exactly the messages
 *    after it, once each, in order.
 * The second case has one device send the same client_msg_id into two
 * conversations at the same moment (in one batch, or in two lanes' at
 * once): exactly one send stores it, the other gets 409, and nothing
 * stalls.
 */

#define LANES "4"
#define CONVS 8
#define THREADS 8
#define PER_THREAD 30
#define REPEAT_EVERY 7
#define TOTAL (THREADS * PER_THREAD)
#define EV_MS 20000

struct sent {
    int64_t id, seq, conv;
    int thread, index;
};

struct shared {
    struct pt_server *s;
    enum pt_proto proto;
    int64_t conv[CONVS];
    pthread_mutex_t lock;
    struct sent sent[TOTAL];
    unsigned n_sent;
};

struct sender {
    struct shared *sh;
    struct pt_user who; /* its own device */
    int index;
    pthread_t th;
};

/* POSTs body to conv and returns the status; *id and *seq from the body. */
static long post(struct pt_client *c, const struct pt_user *u, int64_t conv, const char *body,
                 int64_t *id, int64_t *seq)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)conv);
    struct pt_resp r;
    if (pt_client_req(c, "POST", path, u->token, "application/json", body, strlen(body), NULL, &r) <
        0)
        pltest_fail(__FILE__, __LINE__, "send: %s", pt_req_error());
    long status = r.status;
    *id = *seq = 0;
    if (status == 200 || status == 201) {
        *id = pt_json_int(pt_json(&r), "id", NULL);
        *seq = pt_json_int(pt_json(&r), "seq", NULL);
    }
    pt_resp_free(&r);
    return status;
}

static void *send_all(void *arg)
{
    struct sender *t = arg;
    struct shared *sh = t->sh;
    struct pt_client *c = pt_client_new(sh->s, sh->proto);
    for (int i = 0; i < PER_THREAD; i++) {
        int64_t conv = sh->conv[(t->index + i) % CONVS], id, seq;
        char body[160];
        snprintf(body, sizeof(body),
                 "{\"client_msg_id\":\"lane%d-%d\",\"kind\":\"text\",\"text\":\"t%d m%d\"}",
                 t->index, i, t->index, i);
        long st = post(c, &t->who, conv, body, &id, &seq);
        if (st != 201 || id <= 0 || seq <= 0)
            pltest_fail(__FILE__, __LINE__, "sender %d send %d: %ld", t->index, i, st);
        if (i % REPEAT_EVERY == 0) { /* a retry is answered with the stored message */
            int64_t id2, seq2;
            long st2 = post(c, &t->who, conv, body, &id2, &seq2);
            if (st2 != 200 || id2 != id || seq2 != seq)
                pltest_fail(__FILE__, __LINE__, "retry %d-%d: %ld id %lld/%lld", t->index, i, st2,
                            (long long)id2, (long long)id);
        }
        pthread_mutex_lock(&sh->lock);
        sh->sent[sh->n_sent++] = (struct sent){id, seq, conv, t->index, i};
        pthread_mutex_unlock(&sh->lock);
    }
    pt_client_free(c);
    return NULL;
}

static int cmp_sent(const void *a, const void *b)
{
    int64_t x = ((const struct sent *)a)->id, y = ((const struct sent *)b)->id;
    return x < y ? -1 : x > y;
}

static int conv_index(const struct shared *sh, int64_t conv)
{
    for (int k = 0; k < CONVS; k++)
        if (sh->conv[k] == conv)
            return k;
    return -1;
}

/* Reads the stream until it has seen the message with id last; checks
 * that it saw exactly the sent messages with ids above from, in id order.
 * sh->sent is sorted by id. */
static void expect_replay(struct shared *sh, struct pt_sse *sse, int64_t from, int64_t last)
{
    unsigned k = 0;
    while (k < sh->n_sent && sh->sent[k].id <= from)
        k++;
    uint64_t deadline = pt_now_ms() + EV_MS;
    for (;;) {
        struct pt_sse_event ev;
        int rc = pt_sse_next_durable(sse, 1000, &ev);
        if (rc == PT_SSE_ENDED)
            pltest_fail(__FILE__, __LINE__, "replay from %lld: the stream ended", (long long)from);
        if (pt_now_ms() >= deadline)
            pltest_fail(__FILE__, __LINE__, "replay from %lld: %u of %u messages", (long long)from,
                        k, sh->n_sent);
        if (rc < 0)
            continue;
        if (strcmp(ev.name, "message.created") != 0) {
            pt_sse_event_free(&ev);
            continue;
        }
        if (ev.pos == last) {
            pt_sse_event_free(&ev);
            break;
        }
        if (k >= sh->n_sent || ev.pos != sh->sent[k].id)
            pltest_fail(__FILE__, __LINE__, "replay from %lld: got %lld, expected %lld",
                        (long long)from, (long long)ev.pos,
                        k < sh->n_sent ? (long long)sh->sent[k].id : -1LL);
        PL_ASSERT_INT_EQ(pt_sse_int(&ev, "message", "id"), ev.pos);
        k++;
        pt_sse_event_free(&ev);
    }
    PL_ASSERT_INT_EQ(k, sh->n_sent);
}

/* Every position from lo to hi is a stored event. */
static void expect_dense(int64_t lo, int64_t hi)
{
    PGconn *c = PQconnectdb(getenv("PARLEY_TEST_PG"));
    PL_ASSERT(PQstatus(c) == CONNECTION_OK);
    char q[256];
    snprintf(q, sizeof(q),
             "SELECT count(*), count(DISTINCT pos), min(pos), max(pos) FROM events"
             " WHERE pos BETWEEN %lld AND %lld",
             (long long)lo, (long long)hi);
    PGresult *r = PQexec(c, q);
    PL_ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
    PL_ASSERT_INT_EQ(atoll(PQgetvalue(r, 0, 0)), hi - lo + 1);
    PL_ASSERT_INT_EQ(atoll(PQgetvalue(r, 0, 1)), hi - lo + 1);
    PQclear(r);
    PQfinish(c);
}

/* The receiver's live view: every message once, in id order; seqs per
 * conversation gap-free and growing with the id; each sender's messages
 * per conversation in its order. */
static void receive_all(struct shared *sh, struct pt_sse *sse)
{
    int64_t max_seq[CONVS] = {0}, last_pos = 0;
    int last_index[CONVS][THREADS];
    memset(last_index, -1, sizeof(last_index));
    unsigned seen = 0;
    uint64_t deadline = pt_now_ms() + 60000;
    while (seen < TOTAL) {
        struct pt_sse_event ev;
        int rc = pt_sse_next_durable(sse, 1000, &ev);
        if (rc == PT_SSE_ENDED)
            pltest_fail(__FILE__, __LINE__, "the stream ended after %u messages", seen);
        if (pt_now_ms() >= deadline)
            pltest_fail(__FILE__, __LINE__, "only %u of %d messages arrived", seen, TOTAL);
        if (rc < 0)
            continue;
        if (ev.pos > 0 && ev.pos <= last_pos)
            pltest_fail(__FILE__, __LINE__, "id %lld after %lld", (long long)ev.pos,
                        (long long)last_pos);
        last_pos = ev.pos > 0 ? ev.pos : last_pos;
        if (strcmp(ev.name, "message.created") == 0) {
            int k = conv_index(sh, pt_sse_int(&ev, "conversation_id", NULL));
            PL_ASSERT(k >= 0);
            int64_t seq = pt_sse_int(&ev, "message", "seq");
            PL_ASSERT_INT_EQ(seq, max_seq[k] + 1); /* gap-free, in id order */
            max_seq[k] = seq;
            int t, i;
            const char *text = pt_json_str(ev.json, "message", "text", NULL);
            PL_ASSERT(text && sscanf(text, "t%d m%d", &t, &i) == 2 && t >= 0 && t < THREADS);
            PL_ASSERT(i > last_index[k][t]);
            last_index[k][t] = i;
            seen++;
        }
        pt_sse_event_free(&ev);
    }
}

PLTEST_PROTO(many_senders_over_lanes_dense_ordered_resumable)
{
    static const char *const args[] = {"--writer-connections", LANES, "--writer-batch", "4", NULL};
    struct shared *sh = calloc(1, sizeof(*sh));
    PL_ASSERT(sh);
    sh->s = PT_SERVER_START(args);
    sh->proto = proto;
    pthread_mutex_init(&sh->lock, NULL);
    struct pt_user rcv, u[THREADS];
    PT_USER_NEW(sh->s, proto, "lanes_r", &rcv);
    int64_t members[THREADS];
    for (int i = 0; i < THREADS; i++) {
        PT_USER_NEW(sh->s, proto, "lanes_u", &u[i]);
        members[i] = u[i].id;
    }
    for (int k = 0; k < CONVS; k++) {
        char title[32];
        snprintf(title, sizeof(title), "lane %d", k);
        int64_t with[THREADS];
        memcpy(with, members, sizeof(with));
        with[k % THREADS] = rcv.id; /* the owner plus everyone else */
        sh->conv[k] = PT_GROUP(sh->s, proto, &u[k % THREADS], title, with, THREADS);
    }
    struct sender t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        t[i] = (struct sender){.sh = sh, .index = i};
        pt_user_device(sh->s, proto, &u[i], &t[i].who);
    }
    int64_t start;
    struct pt_sse *sse = PT_SSE_OPEN_READY(sh->s, proto, rcv.token, &start);
    for (int i = 0; i < THREADS; i++)
        PL_ASSERT_INT_EQ(pthread_create(&t[i].th, NULL, send_all, &t[i]), 0);
    receive_all(sh, sse);
    for (int i = 0; i < THREADS; i++)
        PL_ASSERT_INT_EQ(pthread_join(t[i].th, NULL), 0);
    PL_ASSERT_INT_EQ(sh->n_sent, TOTAL);
    struct pt_msg marker = PT_SEND(sh->s, proto, &u[0], sh->conv[0], "the end");
    PT_SSE_EXPECT_MSG(sse, marker.id, EV_MS);
    pt_sse_close(sse);

    qsort(sh->sent, TOTAL, sizeof(sh->sent[0]), cmp_sent);
    for (int i = 1; i < TOTAL; i++)
        PL_ASSERT(sh->sent[i].id > sh->sent[i - 1].id);
    expect_dense(sh->sent[0].id, marker.id);

    /* Resume from before the first, from a few in between, from the last. */
    int64_t from[] = {sh->sent[0].id - 1, sh->sent[TOTAL / 3].id, sh->sent[TOTAL / 2].id,
                      sh->sent[TOTAL - 2].id, sh->sent[TOTAL - 1].id};
    for (size_t i = 0; i < PL_ARRAY_LEN(from); i++) {
        char id[32];
        snprintf(id, sizeof(id), "%lld", (long long)from[i]);
        struct pt_sse *r = pt_sse_open(sh->s, proto, rcv.token, id);
        expect_replay(sh, r, from[i], marker.id);
        pt_sse_close(r);
    }
    PL_ASSERT_INT_EQ(pt_server_stop(sh->s), 0);
    pthread_mutex_destroy(&sh->lock);
    free(sh);
}

/* One device, one client_msg_id, two conversations at once. */
struct race {
    struct pt_server *s;
    enum pt_proto proto;
    const struct pt_user *who;
    int64_t conv;
    const char *body;
    pthread_barrier_t *go;
    long status;
};

static void *race_one(void *arg)
{
    struct race *r = arg;
    struct pt_client *c = pt_client_new(r->s, r->proto);
    int64_t id, seq;
    pthread_barrier_wait(r->go);
    r->status = post(c, r->who, r->conv, r->body, &id, &seq);
    pt_client_free(c);
    return NULL;
}

PLTEST_PROTO(one_key_in_two_lanes_stores_once)
{
    static const char *const args[] = {"--writer-connections", LANES, "--writer-batch", "1", NULL};
    struct pt_server *s = PT_SERVER_START(args);
    struct pt_user a, b, dev;
    PT_USER_NEW(s, proto, "lanes_a", &a);
    PT_USER_NEW(s, proto, "lanes_b", &b);
    int64_t conv[2] = {PT_GROUP(s, proto, &a, "first", &b.id, 1),
                       PT_GROUP(s, proto, &a, "second", &b.id, 1)};
    pt_user_device(s, proto, &a, &dev);
    for (int round = 0; round < 10; round++) {
        char body[128];
        snprintf(body, sizeof(body),
                 "{\"client_msg_id\":\"race-%d\",\"kind\":\"text\",\"text\":\"r%d\"}", round,
                 round);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, 2);
        struct race r[2];
        pthread_t th[2];
        for (int i = 0; i < 2; i++) {
            r[i] = (struct race){s, proto, &dev, conv[i], body, &go, 0};
            PL_ASSERT_INT_EQ(pthread_create(&th[i], NULL, race_one, &r[i]), 0);
        }
        for (int i = 0; i < 2; i++)
            PL_ASSERT_INT_EQ(pthread_join(th[i], NULL), 0);
        pthread_barrier_destroy(&go);
        bool one_stored = (r[0].status == 201 && r[1].status == 409) ||
                          (r[0].status == 409 && r[1].status == 201);
        if (!one_stored)
            pltest_fail(__FILE__, __LINE__, "round %d: %ld and %ld", round, r[0].status,
                        r[1].status);
    }
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
