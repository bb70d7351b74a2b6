/* SPDX-License-Identifier: MIT */
/* Parley - integration: the group-commit writer (server/writer.c).     */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The writer commits sends in batches on its own PostgreSQL connection, so
 * what it does can only be seen with a real PostgreSQL behind it: this is
 * its test, here rather than in tests/unit. Senders on their own
 * connections race each other into the writer's queue; how the sends
 * split into batches and refusals varies from run to run, but every count
 * must add up exactly: each send is answered once (201, or 503 when the
 * queue was full), /metrics counts the same sends, batches never exceed
 * writer_batch, and the history holds exactly the stored messages with
 * gap-free seqs. The search indexer (migration 0015) then gives every one
 * of them its search vector: none is skipped between concurrent batches.
 */

#define THREADS 4
#define PER_THREAD 12
#define BATCH "4"

struct shared {
    struct pt_server *s;
    enum pt_proto proto;
    int64_t conv;
    struct pt_user who[THREADS];
    pthread_mutex_t lock;
    unsigned stored, refused;
};

struct sender {
    struct shared *sh;
    int index, round;
};

static void *send_all(void *arg)
{
    struct sender *t = arg;
    struct shared *sh = t->sh;
    struct pt_client *c = pt_client_new(sh->s, sh->proto);
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)sh->conv);
    for (int i = 0; i < PER_THREAD; i++) {
        char body[128];
        snprintf(body, sizeof(body),
                 "{\"client_msg_id\":\"w%d.%d-%d\",\"kind\":\"text\",\"text\":\"%d\"}", t->round,
                 t->index, i, i);
        struct pt_resp r;
        if (pt_client_req(c, "POST", path, sh->who[t->index].token, "application/json", body,
                          strlen(body), NULL, &r) < 0)
            pltest_fail(__FILE__, __LINE__, "sender %d: %s", t->index, pt_req_error());
        if (r.status != 201 && r.status != 503)
            pltest_fail(__FILE__, __LINE__, "sender %d send %d: %ld %.300s", t->index, i, r.status,
                        r.body);
        pthread_mutex_lock(&sh->lock);
        if (r.status == 201)
            sh->stored++;
        else
            sh->refused++;
        pthread_mutex_unlock(&sh->lock);
        pt_resp_free(&r);
    }
    pt_client_free(c);
    return NULL;
}

/* The value of the metric line that starts with name (labels included)
 * followed by a space; fails the case when there is none. */
static unsigned long long metric(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtoull(p + n + 1, NULL, 10);
    pltest_fail(__FILE__, __LINE__, "no metric %s", name);
}

struct writer_counts {
    unsigned long long sends, batches, failed, rejected, within_batch, all_batches;
};

static void read_counts(struct pt_server *s, enum pt_proto p, struct writer_counts *w)
{
    struct pt_resp r;
    pt_get(s, p, "/metrics", PT_METRICS_TOKEN, &r);
    PL_ASSERT_INT_EQ(r.status, 200);
    w->sends = metric(r.body, "parley_writer_sends_total");
    w->batches = metric(r.body, "parley_writer_batches_total");
    w->failed = metric(r.body, "parley_writer_failed_batches_total");
    w->rejected = metric(r.body, "parley_writer_queue_rejected_total");
    w->within_batch = metric(r.body, "parley_writer_batch_size_bucket{le=\"" BATCH "\"}");
    w->all_batches = metric(r.body, "parley_writer_batch_size_count");
    pt_resp_free(&r);
}

/* Once the indexer has caught up: how many of conv's messages have a search
 * vector; fails the case if any has none. */
static unsigned indexed(int64_t conv)
{
    pt_search_wait();
    PGconn *c = PQconnectdb(getenv("PARLEY_TEST_PG"));
    PL_ASSERT(PQstatus(c) == CONNECTION_OK);
    char q[256];
    snprintf(q, sizeof(q),
             "SELECT count(s.tsv), count(*) FILTER (WHERE s.tsv IS NULL) FROM messages m"
             " LEFT JOIN message_search s USING (conversation_id, seq)"
             " WHERE m.conversation_id = %lld",
             (long long)conv);
    PGresult *r = PQexec(c, q);
    PL_ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
    unsigned n = (unsigned)atoi(PQgetvalue(r, 0, 0));
    PL_ASSERT_INT_EQ(atoi(PQgetvalue(r, 0, 1)), 0);
    PQclear(r);
    PQfinish(c);
    return n;
}

/* Starts the server with args and a group of THREADS users for sh. */
static void setup(struct shared *sh, enum pt_proto proto, const char *const *args,
                  const char *prefix)
{
    *sh = (struct shared){.proto = proto, .lock = PTHREAD_MUTEX_INITIALIZER};
    sh->s = PT_SERVER_START(args);
    int64_t ids[THREADS];
    for (int i = 0; i < THREADS; i++) {
        PT_USER_NEW(sh->s, proto, prefix, &sh->who[i]);
        ids[i] = sh->who[i].id;
    }
    sh->conv = PT_GROUP(sh->s, proto, &sh->who[0], prefix, ids + 1, THREADS - 1);
}

/* THREADS senders racing PER_THREAD sends each into the writer. */
static void race(struct shared *sh, int round)
{
    pthread_t th[THREADS];
    struct sender snd[THREADS];
    for (int i = 0; i < THREADS; i++) {
        snd[i] = (struct sender){sh, i, round};
        PL_ASSERT_INT_EQ(pthread_create(&th[i], NULL, send_all, &snd[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        PL_ASSERT_INT_EQ(pthread_join(th[i], NULL), 0);
}

/* The history holds exactly the stored sends, seqs 1..stored. */
static void expect_history(struct shared *sh)
{
    struct pt_resp r;
    char path[128];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages?limit=100", (long long)sh->conv);
    pt_get(sh->s, sh->proto, path, sh->who[0].token, &r);
    PL_ASSERT_INT_EQ(r.status, 200);
    yajl_val msgs = pt_json_get(pt_json(&r), "messages", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(msgs));
    PL_ASSERT_INT_EQ(msgs->u.array.len, sh->stored);
    bool *seen = calloc(sh->stored + 1, 1);
    PL_ASSERT(seen != NULL);
    for (size_t i = 0; i < msgs->u.array.len; i++) {
        int64_t seq = pt_json_int(msgs->u.array.values[i], "seq", NULL);
        PL_ASSERT(seq >= 1 && seq <= (int64_t)sh->stored && !seen[seq]);
        seen[seq] = true;
    }
    free(seen);
    pt_resp_free(&r);
}

PLTEST_PROTO(every_send_is_counted_once)
{
    static const char *const args[] = {"--writer-batch", BATCH, "--writer-queue", "3", NULL};
    struct shared sh;
    setup(&sh, proto, args, "wrt");
    struct writer_counts before, after;
    read_counts(sh.s, proto, &before);
    race(&sh, 0);
    PL_ASSERT_INT_EQ(sh.stored + sh.refused, THREADS * PER_THREAD);
    PL_ASSERT(sh.stored > 0);

    /* Every answer went out after its batch: the counters are final. */
    read_counts(sh.s, proto, &after);
    PL_ASSERT_INT_EQ(after.sends - before.sends, sh.stored);
    PL_ASSERT_INT_EQ(after.rejected - before.rejected, sh.refused);
    PL_ASSERT_INT_EQ(after.failed, before.failed);
    unsigned long long batches = after.batches - before.batches;
    PL_ASSERT(batches >= (sh.stored + 3) / 4 && batches <= sh.stored);
    /* The histogram counts every batch, none of them above writer_batch. */
    PL_ASSERT_INT_EQ(after.all_batches, after.batches);
    PL_ASSERT_INT_EQ(after.within_batch, after.all_batches);

    expect_history(&sh);
    PL_ASSERT_INT_EQ(indexed(sh.conv), sh.stored);
    PL_ASSERT_INT_EQ(pt_server_stop(sh.s), 0);
}

/*
 * writer_hold_us: while sends arrive steadily, a small batch waits for
 * company (so there are fewer batches than sends, and some were held),
 * and nothing is lost or reordered by it; after a quiet spell a lone send
 * is not held. With a generous hold (10 ms) steady senders are bound to
 * meet it: held stays 0 only if holding never happens. (The arrival rate
 * is measured over windows of writer_hold_us, so the hold must be short
 * enough for the senders' rounds to span several windows.)
 */
PLTEST(small_batches_wait_for_company_but_a_lone_send_does_not)
{
    static const char *const args[] = {"--writer-hold-us", "10000", "--writer-queue", "1024", NULL};
    struct shared sh;
    setup(&sh, PT_H1, args, "hold");
    /* Warm-up sends make the arrival rate known, then the senders race. */
    race(&sh, 0);
    race(&sh, 1);
    PL_ASSERT_INT_EQ(sh.refused, 0);
    PL_ASSERT_INT_EQ(sh.stored, 2 * THREADS * PER_THREAD);
    long long held = pt_metric(sh.s, PT_H1, "parley_writer_held_total");
    PL_ASSERT(held > 0);
    PL_ASSERT(pt_metric(sh.s, PT_H1, "parley_writer_batches_total") < (long long)sh.stored);

    expect_history(&sh);

    /* A quiet spell (over a second: the rate starts afresh), then one send. */
    pt_sleep_ms(1500);
    PT_SEND(sh.s, PT_H1, &sh.who[0], sh.conv, "alone");
    PL_ASSERT_INT_EQ(pt_metric(sh.s, PT_H1, "parley_writer_held_total"), held);
    PL_ASSERT_INT_EQ(pt_server_stop(sh.s), 0);
}
