/* SPDX-License-Identifier: MIT */
/* Parley - integration: every way a send can fare within one batch.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * The writer decides all the sends of a batch from one check statement
 * (storage/pg_messages.c, SEND_CHECK) and parleyd's reading of its rows:
 * not a member, blocked, a bad reply_to, a key stored before (in this
 * conversation or another), a key that an earlier send of the same batch
 * stores (in this conversation or another), and the first send of each
 * conversation, which carries the audience of all of them.
 *
 * To put every case into one batch, in a known order, the test holds a lock
 * on a conversation's row from its own PostgreSQL connection: the writer's
 * batch for that conversation waits for it, and the sends started meanwhile
 * queue behind it, one at a time (each waits until the queue shows it).
 * Released, the writer takes them all as its next batch, which /metrics
 * confirms: two batches for all the sends.
 */

#define WAIT_MS 5000

struct send {
    struct pt_server *s;
    enum pt_proto proto;
    const struct pt_user *who;
    int64_t conv;
    char body[160];
    pthread_t th;
    long status;
    int64_t id;
    char slug[64];
};

static void *send_one(void *arg)
{
    struct send *x = arg;
    struct pt_client *c = pt_client_new(x->s, x->proto);
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)x->conv);
    struct pt_resp r;
    if (pt_client_req(c, "POST", path, x->who->token, "application/json", x->body, strlen(x->body),
                      NULL, &r) < 0)
        pltest_fail(__FILE__, __LINE__, "send %s: %s", x->body, pt_req_error());
    x->status = r.status;
    if (r.status == 200 || r.status == 201) {
        x->id = pt_json_int(pt_json(&r), "id", NULL);
    } else {
        const char *type = pt_json_str(pt_json(&r), "type", NULL);
        const char *slash = type ? strrchr(type, '/') : NULL;
        snprintf(x->slug, sizeof(x->slug), "%s", slash ? slash + 1 : "");
    }
    pt_resp_free(&r);
    pt_client_free(c);
    return NULL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits until the writer's queue holds n sends. */
static void wait_queued(struct pt_server *s, enum pt_proto p, long long n)
{
    for (int waited = 0; pt_metric(s, p, "parley_writer_queue_depth") != n; waited += 5) {
        if (waited > WAIT_MS)
            pltest_fail(__FILE__, __LINE__, "the writer's queue never held %lld sends", n);
        sleep_ms(5);
    }
}

/* Waits until a backend waits for a lock that pg's session holds. */
static void wait_blocked(PGconn *pg)
{
    for (int waited = 0;; waited += 5) {
        PGresult *r = PQexec(pg, "SELECT count(*) FROM pg_stat_activity"
                                 " WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))");
        PL_ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK);
        int n = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (n > 0)
            return;
        if (waited > WAIT_MS)
            pltest_fail(__FILE__, __LINE__, "the writer never waited for the lock");
        sleep_ms(5);
    }
}

static void exec_ok(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        pltest_fail(__FILE__, __LINE__, "%s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
}

/* A conversation row's last_seq and last_activity_at (in microseconds). */
struct conv_row {
    long long last_seq, activity_us;
};

static struct conv_row conv_row(PGconn *pg, int64_t id)
{
    char sql[128];
    snprintf(sql, sizeof(sql),
             "SELECT last_seq, (extract(epoch FROM last_activity_at) * 1000000)::bigint"
             " FROM conversations WHERE id = %lld",
             (long long)id);
    PGresult *r = PQexec(pg, sql);
    struct conv_row c = {0};
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        pltest_fail(__FILE__, __LINE__, "%s: %s", sql, PQerrorMessage(pg));
    c.last_seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    c.activity_us = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    return c;
}

/* A text send of key by who to conv, replying to seq reply (0: none). */
static void text_send(struct send *x, struct pt_server *s, enum pt_proto proto,
                      const struct pt_user *who, int64_t conv, const char *key, int reply)
{
    *x = (struct send){.s = s, .proto = proto, .who = who, .conv = conv};
    if (reply)
        snprintf(x->body, sizeof(x->body),
                 "{\"client_msg_id\":\"%s\",\"kind\":\"text\",\"text\":\"%s\",\"reply_to\":%d}",
                 key, key, reply);
    else
        snprintf(x->body, sizeof(x->body),
                 "{\"client_msg_id\":\"%s\",\"kind\":\"text\",\"text\":\"%s\"}", key, key);
}

static void start(struct send *x)
{
    PL_ASSERT_INT_EQ(pthread_create(&x->th, NULL, send_one, x), 0);
}

/* The sends of the batch, in queue order. */
enum {
    STORED_HERE,      /* a: key k0, stored before in ab          -> 200, that message */
    STORED_ELSEWHERE, /* a: key k0 to ac                         -> 409 */
    NEW_K1,           /* a: k1 to ab                             -> 201 */
    REPEAT_K1,        /* a: k1 to ab again                       -> 200, NEW_K1's message */
    NEW_K2,           /* a: k2 to ac                             -> 201 */
    K2_ELSEWHERE,     /* a: k2 to ab                             -> 409 */
    NOT_MEMBER,       /* c: k3 to ab                             -> 404 */
    BAD_REPLY,        /* a: k4 to ab, reply_to 999               -> 422 */
    BLOCKED,          /* e: k5 to eb, b blocked e                -> 403 */
    GOOD_REPLY,       /* a: k6 to ab, reply_to k0's seq          -> 201 */
    NEW_K7,           /* a: k7 to ab                             -> 201 */
    K8_NOT_MEMBER,    /* c: k8 to ab                             -> 404 */
    K8_MEMBER,        /* c: k8 to ac: the key's first acceptable -> 201 */
    N_SENDS
};

PLTEST_PROTO(every_outcome_within_one_batch)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b, c, d, e;
    PT_USER_NEW(s, proto, "sc_a", &a);
    PT_USER_NEW(s, proto, "sc_b", &b);
    PT_USER_NEW(s, proto, "sc_c", &c);
    PT_USER_NEW(s, proto, "sc_d", &d);
    PT_USER_NEW(s, proto, "sc_e", &e);
    int64_t ab = PT_DIRECT(s, proto, &a, b.id, 201), ac = PT_DIRECT(s, proto, &a, c.id, 201);
    int64_t ad = PT_DIRECT(s, proto, &a, d.id, 201), eb = PT_DIRECT(s, proto, &e, b.id, 201);
    struct pt_resp r;
    char path[96];
    /* b accepts e's request and then blocks e (blocking a pending request
     * declines it: b would leave, and e's sends would reach nobody). */
    snprintf(path, sizeof(path), "/v1/requests/%lld/accept", (long long)eb);
    PL_ASSERT_INT_EQ(pt_req(s, proto, "POST", path, b.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 200);
    pt_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/me/blocks/%lld", (long long)e.id);
    PL_ASSERT_INT_EQ(pt_req(s, proto, "PUT", path, b.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    struct send k0;
    text_send(&k0, s, proto, &a, ab, "k0", 0);
    send_one(&k0);
    PL_ASSERT_INT_EQ(k0.status, 201);
    struct pt_sse *bs = PT_SSE_OPEN_READY(s, proto, b.token, NULL);
    struct pt_sse *cs = PT_SSE_OPEN_READY(s, proto, c.token, NULL);

    static const struct {
        char who;  /* a, c or e */
        char conv; /* b: ab, c: ac, e: eb */
        const char *key;
        int reply; /* -1: k0's seq */
        long status;
        const char *slug;
    } plan[N_SENDS] = {
        [STORED_HERE] = {'a', 'b', "k0", 0, 200, NULL},
        [STORED_ELSEWHERE] = {'a', 'c', "k0", 0, 409, "conflict"},
        [NEW_K1] = {'a', 'b', "k1", 0, 201, NULL},
        [REPEAT_K1] = {'a', 'b', "k1", 0, 200, NULL},
        [NEW_K2] = {'a', 'c', "k2", 0, 201, NULL},
        [K2_ELSEWHERE] = {'a', 'b', "k2", 0, 409, "conflict"},
        [NOT_MEMBER] = {'c', 'b', "k3", 0, 404, "not-found"},
        [BAD_REPLY] = {'a', 'b', "k4", 999, 422, "validation-failed"},
        [BLOCKED] = {'e', 'e', "k5", 0, 403, "blocked"},
        [GOOD_REPLY] = {'a', 'b', "k6", -1, 201, NULL},
        [NEW_K7] = {'a', 'b', "k7", 0, 201, NULL},
        [K8_NOT_MEMBER] = {'c', 'b', "k8", 0, 404, "not-found"},
        [K8_MEMBER] = {'c', 'c', "k8", 0, 201, NULL},
    };
    struct send x[N_SENDS];
    for (int i = 0; i < N_SENDS; i++) {
        const struct pt_user *who = plan[i].who == 'a' ? &a : plan[i].who == 'c' ? &c : &e;
        int64_t conv = plan[i].conv == 'b' ? ab : plan[i].conv == 'c' ? ac : eb;
        int reply = plan[i].reply < 0 ? 1 : plan[i].reply; /* k0 is ab's first message */
        text_send(&x[i], s, proto, who, conv, plan[i].key, reply);
    }

    /* Hold ad's row; a's send there takes the writer's lane until the
     * lock goes, and the batch's sends queue behind it in order. */
    PGconn *pg = PQconnectdb(getenv("PARLEY_TEST_PG"));
    PL_ASSERT(PQstatus(pg) == CONNECTION_OK);
    const struct conv_row ab0 = conv_row(pg, ab), ac0 = conv_row(pg, ac), eb0 = conv_row(pg, eb);
    exec_ok(pg, "BEGIN");
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT 1 FROM conversations WHERE id = %lld FOR UPDATE",
             (long long)ad);
    exec_ok(pg, sql);
    long long batches = pt_metric(s, proto, "parley_writer_batches_total");
    struct send held;
    text_send(&held, s, proto, &a, ad, "h", 0);
    start(&held);
    wait_blocked(pg);
    for (int i = 0; i < N_SENDS; i++) {
        start(&x[i]);
        wait_queued(s, proto, i + 1);
    }
    exec_ok(pg, "COMMIT");
    PL_ASSERT_INT_EQ(pthread_join(held.th, NULL), 0);
    PL_ASSERT_INT_EQ(held.status, 201);
    for (int i = 0; i < N_SENDS; i++)
        PL_ASSERT_INT_EQ(pthread_join(x[i].th, NULL), 0);
    /* The held send alone, then all the others together. */
    PL_ASSERT_INT_EQ(pt_metric(s, proto, "parley_writer_batches_total"), batches + 2);

    for (int i = 0; i < N_SENDS; i++) {
        if (x[i].status != plan[i].status)
            pltest_fail(__FILE__, __LINE__, "send %d (%s): %ld, expected %ld", i, x[i].body,
                        x[i].status, plan[i].status);
        if (plan[i].slug)
            PL_ASSERT_STR_EQ(x[i].slug, plan[i].slug);
    }
    PL_ASSERT_INT_EQ(x[STORED_HERE].id, k0.id);
    PL_ASSERT_INT_EQ(x[REPEAT_K1].id, x[NEW_K1].id);

    /* ab's history: k0, k1, k6, k7 with dense seqs, k6 replying to k0. */
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages?limit=50", (long long)ab);
    pt_get(s, proto, path, a.token, &r);
    PT_ASSERT_STATUS(&r, 200);
    yajl_val msgs = pt_json_get(pt_json(&r), "messages", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(msgs) && msgs->u.array.len == 4);
    const int64_t want[4] = {k0.id, x[NEW_K1].id, x[GOOD_REPLY].id, x[NEW_K7].id};
    for (size_t i = 0; i < 4; i++) {
        yajl_val m = msgs->u.array.values[i];
        PL_ASSERT_INT_EQ(pt_json_int(m, "id", NULL), want[i]);
        PL_ASSERT_INT_EQ(pt_json_int(m, "seq", NULL), (int64_t)i + 1);
        PL_ASSERT_INT_EQ(pt_json_int(m, "reply_to", NULL), i == 2 ? 1 : PT_JSON_MISSING);
    }
    pt_resp_free(&r);

    /* The batch counted each conversation's sends into its row at once
     * and set back what was not stored: ab and ac advanced by their new
     * messages only, to a later last activity; eb, whose one send was
     * refused, did not move at all. */
    const struct conv_row ab1 = conv_row(pg, ab), ac1 = conv_row(pg, ac), eb1 = conv_row(pg, eb);
    PQfinish(pg);
    PL_ASSERT_INT_EQ(ab0.last_seq, 1);
    PL_ASSERT_INT_EQ(ab1.last_seq, 4);
    PL_ASSERT_INT_EQ(ac0.last_seq, 0);
    PL_ASSERT_INT_EQ(ac1.last_seq, 2);
    PL_ASSERT(ab1.activity_us > ab0.activity_us && ac1.activity_us > ac0.activity_us);
    PL_ASSERT_INT_EQ(eb1.last_seq, eb0.last_seq);
    PL_ASSERT_INT_EQ(eb1.activity_us, eb0.activity_us);

    /* Each conversation's new messages reached its members' streams (the
     * audience came with the conversation's first send of the batch),
     * each once. */
    PT_SSE_EXPECT_MSG(bs, x[NEW_K1].id, WAIT_MS);
    PT_SSE_EXPECT_MSG(bs, x[GOOD_REPLY].id, WAIT_MS);
    PT_SSE_EXPECT_MSG(bs, x[NEW_K7].id, WAIT_MS);
    PT_SSE_EXPECT_MSG(cs, x[NEW_K2].id, WAIT_MS);
    PT_SSE_EXPECT_MSG(cs, x[K8_MEMBER].id, WAIT_MS);
    struct pt_sse_event ev = {0};
    PL_ASSERT_INT_EQ(pt_sse_next_durable(bs, 200, &ev), PT_SSE_TIMEOUT);
    pt_sse_event_free(&ev);
    PL_ASSERT_INT_EQ(pt_sse_next_durable(cs, 200, &ev), PT_SSE_TIMEOUT);
    pt_sse_event_free(&ev);
    pt_sse_close(bs);
    pt_sse_close(cs);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
