/* SPDX-License-Identifier: MIT */
/* Parley - integration: receipts a worker takes together (one commit).  */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * With one worker, many members of a group (and of a direct chat) post
 * delivered and read receipts at once, in scrambled order and with
 * repeats, so the worker takes them in batches and commits each batch as
 * one transaction (api/receipts.c). Among them, receipts that must be
 * refused alone: a non-member's (404) and one past the last message (422).
 * Afterwards every watermark must be exactly the highest receipt of its
 * kind (read implies delivered), the sender's stream must have received
 * each member's `receipt` events and its own `message.status` events with
 * up_to_seq strictly rising (never backwards, nothing twice) ending at the
 * final values, in rising positions, and a resume from the start must
 * replay exactly what came live.
 */

#define MEMBERS 6 /* besides the sender */
#define MSGS 12
#define RECEIPTS 16 /* per thread per round */
#define ROUNDS_MAX 6
#define EV_MS 10000

struct shared {
    struct pt_server *s;
    enum pt_proto proto;
    int64_t group, direct;
    struct pt_user owner, m[MEMBERS], outsider;
    pthread_barrier_t go;
    int round;
};

/* Thread 2k posts member k's delivered receipts, 2k+1 its read receipts;
 * thread 2*MEMBERS is the outsider and the one past the end. */
#define THREADS (2 * MEMBERS + 1)

struct poster {
    struct shared *sh;
    int index;
    struct pt_client *cl;
    int bad; /* answers that were not what they must be */
};

static void post(struct poster *t, const char *token, int64_t conv, const char *type, int64_t seq,
                 long want)
{
    char path[96], body[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/receipts", (long long)conv);
    snprintf(body, sizeof(body), "{\"type\":\"%s\",\"up_to_seq\":%lld}", type, (long long)seq);
    struct pt_resp r;
    if (pt_client_req(t->cl, "POST", path, token, "application/json", body, strlen(body), NULL,
                      &r) < 0)
        pltest_fail(__FILE__, __LINE__, "poster %d: %s", t->index, pt_req_error());
    if (r.status != want) {
        fprintf(stderr, "poster %d: %s %lld: %ld, not %ld: %s\n", t->index, type, (long long)seq,
                r.status, want, r.body);
        t->bad++;
    } else if (want == 200) {
        /* The answer's watermarks include this receipt. */
        int64_t d = pt_json_int(pt_json(&r), "delivered_seq", NULL);
        int64_t rd = pt_json_int(pt_json(&r), "read_seq", NULL);
        if (d < seq || (type[0] == 'r' && rd < seq))
            t->bad++;
    }
    pt_resp_free(&r);
}

static void *post_many(void *arg)
{
    struct poster *t = arg;
    struct shared *sh = t->sh;
    pthread_barrier_wait(&sh->go);
    for (int i = 0; i < RECEIPTS; i++) {
        if (t->index == 2 * MEMBERS) {
            post(t, sh->outsider.token, sh->group, "read", 1, 404);
            post(t, sh->m[0].token, sh->group, "read", MSGS + 1, 422);
            continue;
        }
        const struct pt_user *u = &sh->m[t->index / 2];
        bool rd = t->index % 2;
        /* Scrambled, with repeats, the highest (MSGS) in the last round
         * only for the read thread: the watermark must end there and never
         * come back. */
        int64_t seq = (int64_t)((i * 7 + t->index * 3 + sh->round) % (MSGS - 1)) + 1;
        if (rd && sh->round == ROUNDS_MAX - 1 && i == RECEIPTS - 1)
            seq = MSGS;
        post(t, u->token, sh->group, rd ? "read" : "delivered", seq, 200);
        if (t->index / 2 == 0)
            post(t, u->token, sh->direct, rd ? "read" : "delivered", seq % 3 + 1, 200);
    }
    return NULL;
}

static unsigned long long batched(struct pt_server *s, enum pt_proto p)
{
    return (unsigned long long)pt_metric(s, p, "parley_worker_batched_total");
}

/* The caller's watermarks, through a receipt that moves nothing. */
static void watermarks(struct shared *sh, const struct pt_user *u, int64_t conv, int64_t *d,
                       int64_t *rd)
{
    struct pt_resp r;
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/receipts", (long long)conv);
    pt_reqf(sh->s, sh->proto, "POST", u->token, &r, path,
            "{\"type\":\"delivered\",\"up_to_seq\":1}");
    PT_ASSERT_STATUS(&r, 200);
    *d = pt_json_int(pt_json(&r), "delivered_seq", NULL);
    *rd = pt_json_int(pt_json(&r), "read_seq", NULL);
    pt_resp_free(&r);
}

/* What the owner's stream carried: positions and (event, key, up_to). */
struct seen {
    int64_t pos[4096];
    char key[4096][48];
    int64_t up_to[4096];
    unsigned n;
};

/* Takes the owner's durable events until none came for a while. */
static void collect(struct pt_sse *st, struct seen *out)
{
    out->n = 0;
    struct pt_sse_event ev;
    while (pt_sse_next_durable(st, 1500, &ev) == 0) {
        if (strcmp(ev.name, "receipt") == 0 || strcmp(ev.name, "message.status") == 0) {
            PL_ASSERT(out->n < 4096);
            out->pos[out->n] = ev.pos;
            if (ev.name[0] == 'r')
                snprintf(out->key[out->n], 48, "r%lld/%lld/%s",
                         (long long)pt_json_int(ev.json, "conversation_id", NULL),
                         (long long)pt_json_int(ev.json, "user_id", NULL),
                         pt_json_str(ev.json, "type", NULL));
            else
                snprintf(out->key[out->n], 48, "s%lld/%s",
                         (long long)pt_json_int(ev.json, "conversation_id", NULL),
                         pt_json_str(ev.json, "status", NULL));
            out->up_to[out->n++] = pt_json_int(ev.json, "up_to_seq", NULL);
        }
        pt_sse_event_free(&ev);
    }
}

/* The last up_to of key, checking that the sequence only rises. */
static int64_t last_of(const struct seen *s, const char *key)
{
    int64_t last = 0;
    for (unsigned i = 0; i < s->n; i++)
        if (strcmp(s->key[i], key) == 0) {
            if (s->up_to[i] <= last)
                pltest_fail(__FILE__, __LINE__, "%s went from %lld to %lld", key, (long long)last,
                            (long long)s->up_to[i]);
            last = s->up_to[i];
        }
    return last;
}

static void setup(struct shared *sh)
{
    PT_USER_NEW(sh->s, sh->proto, "rb_owner", &sh->owner);
    PT_USER_NEW(sh->s, sh->proto, "rb_out", &sh->outsider);
    int64_t ids[MEMBERS];
    for (int i = 0; i < MEMBERS; i++) {
        PT_USER_NEW(sh->s, sh->proto, "rb_m", &sh->m[i]);
        ids[i] = sh->m[i].id;
    }
    sh->group = PT_GROUP(sh->s, sh->proto, &sh->owner, "batch", ids, MEMBERS);
    sh->direct = PT_DIRECT(sh->s, sh->proto, &sh->owner, sh->m[0].id, 201);
    for (int i = 0; i < MSGS; i++)
        PT_SEND(sh->s, sh->proto, &sh->owner, sh->group, "tick me");
    for (int i = 0; i < 4; i++)
        PT_SEND(sh->s, sh->proto, &sh->owner, sh->direct, "tick me too");
}

PLTEST_PROTO(receipts_taken_together_stay_exact)
{
    static const char *const args[] = {"--workers", "1", NULL};
    struct shared sh = {.proto = proto};
    sh.s = PT_SERVER_START(args);
    setup(&sh);
    int64_t start;
    struct pt_sse *st = PT_SSE_OPEN_READY(sh.s, proto, sh.owner.token, &start);
    struct poster ps[THREADS];
    for (int i = 0; i < THREADS; i++)
        ps[i] = (struct poster){.sh = &sh, .index = i, .cl = pt_client_new(sh.s, proto)};
    unsigned long long before = batched(sh.s, proto);
    for (sh.round = 0; sh.round < ROUNDS_MAX; sh.round++) {
        pthread_t th[THREADS];
        PL_ASSERT_INT_EQ(pthread_barrier_init(&sh.go, NULL, THREADS), 0);
        for (int i = 0; i < THREADS; i++)
            PL_ASSERT_INT_EQ(pthread_create(&th[i], NULL, post_many, &ps[i]), 0);
        for (int i = 0; i < THREADS; i++)
            PL_ASSERT_INT_EQ(pthread_join(th[i], NULL), 0);
        pthread_barrier_destroy(&sh.go);
    }
    PL_ASSERT(batched(sh.s, proto) > before);
    for (int i = 0; i < THREADS; i++) {
        PL_ASSERT_INT_EQ(ps[i].bad, 0);
        pt_client_free(ps[i].cl);
    }

    /* Every watermark is the highest receipt of its kind. */
    for (int k = 0; k < MEMBERS; k++) {
        int64_t d, rd;
        watermarks(&sh, &sh.m[k], sh.group, &d, &rd);
        PL_ASSERT_INT_EQ(rd, MSGS);
        PL_ASSERT_INT_EQ(d, MSGS);
    }
    int64_t dd, dr;
    watermarks(&sh, &sh.m[0], sh.direct, &dd, &dr);
    PL_ASSERT_INT_EQ(dr, 3);
    PL_ASSERT_INT_EQ(dd, 3);

    /* The owner's stream: rising positions, each key's up_to rising to
     * its final value; the group's messages are all read now. */
    struct seen *live = calloc(1, sizeof(*live)), *again = calloc(1, sizeof(*again));
    PL_ASSERT(live && again);
    collect(st, live);
    for (unsigned i = 1; i < live->n; i++)
        PL_ASSERT(live->pos[i] > live->pos[i - 1]);
    char key[48];
    for (int k = 0; k < MEMBERS; k++) {
        snprintf(key, sizeof(key), "r%lld/%lld/read", (long long)sh.group, (long long)sh.m[k].id);
        PL_ASSERT_INT_EQ(last_of(live, key), MSGS);
        snprintf(key, sizeof(key), "r%lld/%lld/delivered", (long long)sh.group,
                 (long long)sh.m[k].id);
        /* Only rising; there may be none (reads may have moved it first). */
        PL_ASSERT(last_of(live, key) <= MSGS);
    }
    snprintf(key, sizeof(key), "s%lld/read", (long long)sh.group);
    PL_ASSERT_INT_EQ(last_of(live, key), MSGS);
    snprintf(key, sizeof(key), "s%lld/delivered", (long long)sh.group);
    PL_ASSERT_INT_EQ(last_of(live, key), MSGS);
    snprintf(key, sizeof(key), "s%lld/read", (long long)sh.direct);
    PL_ASSERT_INT_EQ(last_of(live, key), 3);

    /* A resume from before the receipts replays exactly the same. */
    char from[24];
    snprintf(from, sizeof(from), "%lld", (long long)start);
    struct pt_sse *re = pt_sse_open(sh.s, proto, sh.owner.token, from);
    collect(re, again);
    PL_ASSERT_INT_EQ(again->n, live->n);
    for (unsigned i = 0; i < live->n; i++) {
        PL_ASSERT_INT_EQ(again->pos[i], live->pos[i]);
        PL_ASSERT_STR_EQ(again->key[i], live->key[i]);
        PL_ASSERT_INT_EQ(again->up_to[i], live->up_to[i]);
    }
    free(live);
    free(again);
    pt_sse_close(re);
    pt_sse_close(st);
    PL_ASSERT_INT_EQ(pt_server_stop(sh.s), 0);
}
