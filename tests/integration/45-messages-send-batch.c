/* SPDX-License-Identifier: MIT */
/* Parley - integration: sends a worker takes together (one token lookup). */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A worker that finds several message sends queued takes them together and
 * checks all their tokens with one statement (server/pool.c,
 * api_handle_batch()). Each send must still be answered for its own token:
 * with one worker, SENDERS threads released together send in every way at
 * once — a's and b's valid sends, a revoked device's (401), a malformed
 * token (401), a non-member's (404), and a's repeat of the client_msg_id
 * its other thread uses in the same round (one 201 and one 200 with the
 * same message). Rounds repeat until /metrics shows sends that were taken
 * in batches. Then the history must hold exactly the stored messages, each
 * with the sender whose token sent it, and b's stream must have received
 * each of them once, in order.
 */

#define SENDERS 12
#define ROUNDS_MAX 10
#define EV_MS 5000

enum kind { A, B, REVOKED, MALFORMED, OUTSIDER, A_REPEAT };
#define KINDS 6

struct shared {
    struct pt_server *s;
    enum pt_proto proto;
    int64_t conv;
    struct pt_user a, b, gone, c;
    pthread_barrier_t go;
    int round;
};

struct sender {
    struct shared *sh;
    int index;
    struct pt_client *cl;
    long status;
    int64_t msg_id;
};

static enum kind kind_of(int index)
{
    return (enum kind)(index % KINDS);
}

static void *send_one(void *arg)
{
    struct sender *t = arg;
    struct shared *sh = t->sh;
    enum kind k = kind_of(t->index);
    const char *token = k == A || k == A_REPEAT ? sh->a.token
                        : k == B                ? sh->b.token
                        : k == REVOKED          ? sh->gone.token
                        : k == OUTSIDER         ? sh->c.token
                                                : "not-a-token";
    /* A_REPEAT uses the client_msg_id of the A sender of its group. */
    int id_of = k == A_REPEAT ? t->index - (A_REPEAT - A) : t->index;
    char path[96], body[160];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", (long long)sh->conv);
    snprintf(body, sizeof(body),
             "{\"client_msg_id\":\"b%d-%d\",\"kind\":\"text\",\"text\":\"from %d\"}", sh->round,
             id_of, t->index);
    struct pt_resp r;
    pthread_barrier_wait(&sh->go);
    if (pt_client_req(t->cl, "POST", path, token, "application/json", body, strlen(body), NULL,
                      &r) < 0)
        pltest_fail(__FILE__, __LINE__, "sender %d: %s", t->index, pt_req_error());
    t->status = r.status;
    t->msg_id = r.status == 200 || r.status == 201 ? pt_json_int(pt_json(&r), "id", NULL) : 0;
    pt_resp_free(&r);
    return NULL;
}

static unsigned long long batched(struct pt_server *s, enum pt_proto p)
{
    return (unsigned long long)pt_metric(s, p, "parley_worker_batched_total");
}

/* One round: every sender at once; checks each answer. Adds the stored
 * messages' ids to ids (n_ids of them) with their senders' user ids. */
static void one_round(struct shared *sh, struct sender *snd, int64_t *ids, int64_t *senders,
                      unsigned *n_ids)
{
    pthread_t th[SENDERS];
    for (int i = 0; i < SENDERS; i++)
        PL_ASSERT_INT_EQ(pthread_create(&th[i], NULL, send_one, &snd[i]), 0);
    for (int i = 0; i < SENDERS; i++)
        PL_ASSERT_INT_EQ(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < SENDERS; i++) {
        struct sender *t = &snd[i];
        switch (kind_of(i)) {
        case A:
        case B: PL_ASSERT(t->status == 201 || t->status == 200); break;
        case A_REPEAT: {
            struct sender *first = &snd[i - (A_REPEAT - A)];
            PL_ASSERT(t->status == 201 || t->status == 200);
            /* One of the two stored it, the other got the same message. */
            PL_ASSERT_INT_EQ(t->status + first->status, 401);
            PL_ASSERT_INT_EQ(t->msg_id, first->msg_id);
            break;
        }
        case REVOKED:
        case MALFORMED: PL_ASSERT_INT_EQ(t->status, 401); break;
        case OUTSIDER: PL_ASSERT_INT_EQ(t->status, 404); break;
        }
        if (t->status == 201) {
            ids[*n_ids] = t->msg_id;
            senders[(*n_ids)++] = kind_of(i) == B ? sh->b.id : sh->a.id;
        }
    }
}

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

PLTEST_PROTO(sends_taken_together_each_get_their_own_answer)
{
    /* No token cache: every token is the worker's to look up (a cached
     * one would send its text message on the loop, api/routes.c). */
    static const char *const args[] = {"--workers", "1", "--token-cache-size", "0", NULL};
    struct shared sh = {.proto = proto};
    sh.s = PT_SERVER_START(args);
    PT_USER_NEW(sh.s, proto, "sb_a", &sh.a);
    PT_USER_NEW(sh.s, proto, "sb_b", &sh.b);
    PT_USER_NEW(sh.s, proto, "sb_c", &sh.c);
    pt_user_device(sh.s, proto, &sh.a, &sh.gone);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(
        pt_req(sh.s, proto, "DELETE", "/v1/sessions/current", sh.gone.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    sh.conv = PT_DIRECT(sh.s, proto, &sh.a, sh.b.id, 201);
    struct pt_sse *sse = PT_SSE_OPEN_READY(sh.s, proto, sh.b.token, NULL);

    struct sender snd[SENDERS];
    for (int i = 0; i < SENDERS; i++)
        snd[i] = (struct sender){.sh = &sh, .index = i, .cl = pt_client_new(sh.s, proto)};
    int64_t ids[ROUNDS_MAX * SENDERS], senders[ROUNDS_MAX * SENDERS];
    unsigned n_ids = 0;
    unsigned long long before = batched(sh.s, proto);
    for (sh.round = 0; sh.round < ROUNDS_MAX; sh.round++) {
        PL_ASSERT_INT_EQ(pthread_barrier_init(&sh.go, NULL, SENDERS), 0);
        one_round(&sh, snd, ids, senders, &n_ids);
        pthread_barrier_destroy(&sh.go);
        if (batched(sh.s, proto) > before)
            break;
    }
    PL_ASSERT(batched(sh.s, proto) > before);
    for (int i = 0; i < SENDERS; i++)
        pt_client_free(snd[i].cl);

    /* The history: exactly the stored messages, each by its own sender. */
    char path[128];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages?limit=200", (long long)sh.conv);
    pt_get(sh.s, proto, path, sh.a.token, &r);
    PL_ASSERT_INT_EQ(r.status, 200);
    yajl_val msgs = pt_json_get(pt_json(&r), "messages", NULL);
    PL_ASSERT(YAJL_IS_ARRAY(msgs));
    PL_ASSERT_INT_EQ(msgs->u.array.len, n_ids);
    for (size_t i = 0; i < msgs->u.array.len; i++) {
        int64_t id = pt_json_int(msgs->u.array.values[i], "id", NULL);
        int64_t from = pt_json_int(msgs->u.array.values[i], "sender", NULL);
        unsigned k = 0;
        while (k < n_ids && ids[k] != id)
            k++;
        PL_ASSERT(k < n_ids);
        PL_ASSERT_INT_EQ(from, senders[k]);
    }
    pt_resp_free(&r);

    /* b's stream: each stored message once, in position order. */
    qsort(ids, n_ids, sizeof(ids[0]), cmp_i64);
    for (unsigned i = 0; i < n_ids; i++)
        PT_SSE_EXPECT_MSG(sse, ids[i], EV_MS);
    struct pt_sse_event ev = {0};
    PL_ASSERT_INT_EQ(pt_sse_next_durable(sse, 200, &ev), PT_SSE_TIMEOUT);
    pt_sse_event_free(&ev);
    pt_sse_close(sse);
    PL_ASSERT_INT_EQ(pt_server_stop(sh.s), 0);
}
