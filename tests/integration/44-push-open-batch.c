/* SPDX-License-Identifier: MIT */
/* Parley - integration: stream opens that arrive together (batched).   */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Stream opens that arrive together go to a worker as one batch
 * (server/waitq.c, api/events.c): one statement authenticates every token,
 * one reads the positions, one reads the replay of every stream that
 * resumes behind. Each open must still get its own answer. Here OPENS
 * threads, released together, open b's streams in every way at once: a
 * resume from before three messages (eleven times: streams of one user
 * resuming from one place share a read), a resume at the head (no read:
 * the hub delivers what follows), a fresh open, a malformed Last-Event-ID,
 * and a revoked token; a's fresh open too. Then a fourth message must reach
 * every open stream exactly once.
 */

#define EV_MS 5000
#define OPENS 16

/* Index OTHER_USER + 1 on: more streams resuming from where BEHIND does, so
 * that some land in one batch whatever order the threads' requests come
 * in (the first opens go to idle workers alone). */
enum kind { BEHIND, AT_HEAD, FRESH, MALFORMED, REVOKED, OTHER_USER, BEHIND2 };

struct opener {
    struct pt_server *s;
    enum pt_proto proto;
    pthread_barrier_t *go;
    const char *token;
    char last[32]; /* "" for none */
    struct pt_sse *sse;
    int rc;
};

static void *open_one(void *arg)
{
    struct opener *o = arg;
    struct pt_sse_opts opts = {.token = o->token, .last_event_id = o->last[0] ? o->last : NULL};
    pthread_barrier_wait(o->go);
    o->rc = pt_sse_open_opts(o->s, o->proto, &opts, &o->sse);
    return NULL;
}

/* The next durable event must be message.created for message id. */
static void expect_msg(struct pt_sse *sse, int64_t id)
{
    PT_SSE_EXPECT_MSG(sse, id, EV_MS);
}

/* Nothing durable may be queued or arrive within a short look. */
static void expect_quiet(struct pt_sse *sse)
{
    struct pt_sse_event ev = {0};
    int rc = pt_sse_next_durable(sse, 200, &ev);
    if (rc == 0)
        fprintf(stderr, "unexpected %s %s\n", ev.name, ev.id);
    pt_sse_event_free(&ev);
    PL_ASSERT_INT_EQ(rc, PT_SSE_TIMEOUT);
}

PLTEST_PROTO(opens_arriving_together_each_get_their_own_answer)
{
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user a, b, gone;
    PT_USER_NEW(s, proto, "batch_a", &a);
    PT_USER_NEW(s, proto, "batch_b", &b);
    pt_user_device(s, proto, &b, &gone);
    struct pt_resp r;
    PL_ASSERT_INT_EQ(
        pt_req(s, proto, "DELETE", "/v1/sessions/current", gone.token, NULL, NULL, 0, &r), 0);
    PT_ASSERT_STATUS(&r, 204);
    pt_resp_free(&r);
    int64_t conv = PT_DIRECT(s, proto, &a, b.id, 201);
    /* Where b stands before the messages: a's ready position. */
    int64_t before;
    struct pt_sse *probe = PT_SSE_OPEN_READY(s, proto, a.token, &before);
    pt_sse_close(probe);
    struct pt_msg m[4];
    for (int i = 0; i < 3; i++)
        m[i] = PT_SEND(s, proto, &a, conv, "while away");
    pthread_barrier_t go;
    PL_ASSERT_INT_EQ(pthread_barrier_init(&go, NULL, OPENS), 0);
    struct opener o[OPENS];
    pthread_t th[OPENS];
    for (int i = 0; i < OPENS; i++) {
        o[i] = (struct opener){.s = s, .proto = proto, .go = &go, .token = b.token};
        if (i == BEHIND || i >= BEHIND2)
            snprintf(o[i].last, sizeof(o[i].last), "%lld", (long long)before);
        else if (i == AT_HEAD)
            snprintf(o[i].last, sizeof(o[i].last), "%lld", (long long)m[2].id);
        else if (i == MALFORMED)
            snprintf(o[i].last, sizeof(o[i].last), "12x");
    }
    o[REVOKED].token = gone.token;
    o[OTHER_USER].token = a.token;
    for (int i = 0; i < OPENS; i++)
        PL_ASSERT_INT_EQ(pthread_create(&th[i], NULL, open_one, &o[i]), 0);
    for (int i = 0; i < OPENS; i++)
        PL_ASSERT_INT_EQ(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&go);
    for (int i = 0; i < OPENS; i++)
        PL_ASSERT_INT_EQ(o[i].rc, 0);
    PL_ASSERT_INT_EQ(pt_sse_status(o[REVOKED].sse), 401);
    for (int i = 0; i < OPENS; i++)
        if (i != REVOKED)
            PL_ASSERT_INT_EQ(pt_sse_status(o[i].sse), 200);
    struct pt_sse_event ev;
    /* Behind: the three messages, in order, on every such stream. */
    for (int k = 0; k < OPENS; k++)
        for (int i = 0; (k == BEHIND || k >= BEHIND2) && i < 3; i++)
            expect_msg(o[k].sse, m[i].id);
    PT_SSE_EXPECT_NEXT(o[FRESH].sse, "ready", EV_MS, &ev);
    PL_ASSERT(pt_sse_int(&ev, "position", NULL) >= m[2].id);
    pt_sse_event_free(&ev);
    PT_SSE_EXPECT_NEXT(o[OTHER_USER].sse, "ready", EV_MS, &ev);
    pt_sse_event_free(&ev);
    PT_SSE_EXPECT_NEXT(o[MALFORMED].sse, "reset", EV_MS, &ev);
    pt_sse_event_free(&ev);
    /* At the head: nothing from before. */
    expect_quiet(o[AT_HEAD].sse);
    m[3] = PT_SEND(s, proto, &a, conv, "after the opens");
    for (int i = 0; i < OPENS; i++)
        if (i != REVOKED) {
            expect_msg(o[i].sse, m[3].id);
            expect_quiet(o[i].sse);
        }
    for (int i = 0; i < OPENS; i++)
        pt_sse_close(o[i].sse);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
