/* SPDX-License-Identifier: MIT */
/* Parley - integration: many event streams on one HTTP/2 connection.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "harness_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USERS 50
#define EV_MS 10000

/* 50 users' streams share one h2 connection; each user gets a message of
 * its own and must see exactly that one, and closing some streams leaves
 * the others working. HTTP/1.1 cannot multiplex, so h1 is skipped. */
PLTEST_PROTO(fifty_streams_on_one_connection)
{
    if (proto == PT_H1)
        PL_SKIP("HTTP/1.1 has no multiplexing");
    struct pt_server *s = PT_SERVER_START(NULL);
    struct pt_user sender;
    PT_USER_NEW(s, proto, "mux_sender", &sender);
    struct pt_user *u = calloc(USERS, sizeof(*u));
    PL_ASSERT(u);
    const char *tokens[USERS];
    int64_t conv[USERS];
    for (int i = 0; i < USERS; i++) {
        PT_USER_NEW(s, proto, "mux", &u[i]);
        tokens[i] = u[i].token;
    }
    struct pt_sse *st[USERS];
    pt_sse_open_many(s, proto, USERS, tokens, st);
    for (int i = 0; i < USERS; i++) {
        struct pt_sse_event ev;
        PT_SSE_EXPECT_NEXT(st[i], "ready", EV_MS, &ev);
        pt_sse_event_free(&ev);
    }
    /* Each stream hears of its own conversation only... */
    for (int i = 0; i < USERS; i++)
        conv[i] = PT_DIRECT(s, proto, &sender, u[i].id, 201);
    for (int i = 0; i < USERS; i++) {
        struct pt_sse_event ev;
        PT_SSE_EXPECT_NEXT(st[i], "conversation.created", EV_MS, &ev);
        PL_ASSERT_INT_EQ(pt_sse_int(&ev, "conversation", "id"), conv[i]);
        pt_sse_event_free(&ev);
    }
    /* ... and of its own messages. */
    struct pt_msg m[USERS];
    for (int i = 0; i < USERS; i++) {
        char text[32];
        snprintf(text, sizeof(text), "for user %d", i);
        m[i] = PT_SEND(s, proto, &sender, conv[i], text);
    }
    for (int i = 0; i < USERS; i++) {
        PT_SSE_EXPECT_MSG(st[i], m[i].id, EV_MS);
    }
    /* Close every other stream; the rest still get their events. */
    for (int i = 0; i < USERS; i += 2)
        pt_sse_close(st[i]);
    for (int i = 1; i < USERS; i += 2)
        m[i] = PT_SEND(s, proto, &sender, conv[i], "second round");
    for (int i = 1; i < USERS; i += 2) {
        PT_SSE_EXPECT_MSG(st[i], m[i].id, EV_MS);
        PL_ASSERT(!pt_sse_ended(st[i]));
    }
    for (int i = 1; i < USERS; i += 2)
        pt_sse_close(st[i]);
    free(u);
    PL_ASSERT_INT_EQ(pt_server_stop(s), 0);
}
