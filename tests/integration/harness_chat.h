/* SPDX-License-Identifier: MIT */
/* Parley - integration harness: users, conversations and messages.     */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PT_HARNESS_CHAT_H
#define PT_HARNESS_CHAT_H

#include "harness.h"
#include "sse.h"

#include <stdint.h>

/*
 * Shorthands for the messaging tests. Each one sends a single request over
 * (s, p) from the case's main thread and fails the case, at the caller's
 * line, unless the server answers as the contract says; the tests that
 * look at an answer in detail send their own requests.
 */

/* One logged-in device of a user. */
struct pt_user {
    int64_t id;
    int64_t device;
    char name[PT_USERNAME_MAX];
    char token[PT_TOKEN_MAX];
};

/* Registers a user (see pt_user_register()) and logs in a first device. */
#define PT_USER_NEW(s, p, prefix, u) pt__user_new(__FILE__, __LINE__, (s), (p), (prefix), (u))
void pt__user_new(const char *file, int line, struct pt_server *s, enum pt_proto p,
                  const char *prefix, struct pt_user *u);
/* Logs u in once more: another device of the same user. */
void pt_user_device(struct pt_server *s, enum pt_proto p, const struct pt_user *u,
                    struct pt_user *dev);
/* DELETE /v1/sessions/{device} with token (a session of the same user);
 * fails the case unless the answer is 204. */
void pt_session_revoke(struct pt_server *s, enum pt_proto p, const char *token, int64_t device);
/* The status of GET /v1/sessions with token (200 or 401; a 401 must be the
 * unauthenticated problem). */
int pt_sessions_status(struct pt_server *s, enum pt_proto p, const char *token);
/* Requests with token (each must answer 200) until one is answered from
 * s's token cache (parley_token_cache_hits_total grows): true, or false
 * after 20 tries. */
bool pt_token_cached(struct pt_server *s, enum pt_proto p, const char *token);

/* POST /v1/conversations {kind: direct, user: peer}; want is 201, 200, or
 * 0 for either. Returns the conversation id. */
#define PT_DIRECT(s, p, me, peer, want)                                                            \
    pt__direct(__FILE__, __LINE__, (s), (p), (me), (peer), (want))
int64_t pt__direct(const char *file, int line, struct pt_server *s, enum pt_proto p,
                   const struct pt_user *me, int64_t peer, long want);
/* POST /v1/conversations {kind: group, title, members}; expects 201.
 * Returns the conversation id. */
#define PT_GROUP(s, p, me, title, members, n)                                                      \
    pt__group(__FILE__, __LINE__, (s), (p), (me), (title), (members), (n))
int64_t pt__group(const char *file, int line, struct pt_server *s, enum pt_proto p,
                  const struct pt_user *me, const char *title, const int64_t *members, size_t n);

/* A message as the server returned it. */
struct pt_msg {
    int64_t id, seq;
};

/* Sends a text message with a fresh client_msg_id; expects 201. */
#define PT_SEND(s, p, me, conv, text) pt__send(__FILE__, __LINE__, (s), (p), (me), (conv), (text))
struct pt_msg pt__send(const char *file, int line, struct pt_server *s, enum pt_proto p,
                       const struct pt_user *me, int64_t conv, const char *text);

/* POST .../receipts {type, up_to_seq}; expects 200. */
#define PT_RECEIPT(s, p, me, conv, type, seq)                                                      \
    pt__receipt(__FILE__, __LINE__, (s), (p), (me), (conv), (type), (seq))
void pt__receipt(const char *file, int line, struct pt_server *s, enum pt_proto p,
                 const struct pt_user *me, int64_t conv, const char *type, int64_t up_to_seq);

/* Sends method path with a JSON body built from fmt (or no body when fmt
 * is NULL) and fills *out; fails the case only when the transfer fails. */
void pt_reqf(struct pt_server *s, enum pt_proto p, const char *method, const char *token,
             struct pt_resp *out, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* True for "2026-11-24T10:41:23.123Z": RFC 3339, UTC, milliseconds. */
int pt_is_timestamp(const char *s);

/* s as a JSON string literal with its quotes; free() it. */
char *pt_json_quote(const char *s);

/* pt_sse_open() without resume, then takes the ready event, failing the
 * case unless it is the first (durable) event and carries a position;
 * stores it in *pos when pos is not NULL. */
#define PT_SSE_OPEN_READY(s, p, token, pos)                                                        \
    pt__sse_open_ready(__FILE__, __LINE__, (s), (p), (token), (pos))
struct pt_sse *pt__sse_open_ready(const char *file, int line, struct pt_server *s, enum pt_proto p,
                                  const char *token, int64_t *pos);

/* pt_sse_next() that skips the ephemeral "presence" and "typing" events,
 * which come whenever contacts come and go: for tests that check the exact
 * sequence of stored events (and ready/reset). */
int pt_sse_next_durable(struct pt_sse *sse, int timeout_ms, struct pt_sse_event *ev);
/* Fails the case unless the next durable event is called name; ev
 * receives it. */
#define PT_SSE_EXPECT_NEXT(sse, name, ms, ev)                                                      \
    pt__sse_expect_next(__FILE__, __LINE__, (sse), (name), (ms), (ev))
void pt__sse_expect_next(const char *file, int line, struct pt_sse *sse, const char *name,
                         int timeout_ms, struct pt_sse_event *ev);
/* Fails the case unless the next durable event is message.created for
 * message id, with id: equal to it, within timeout_ms. */
#define PT_SSE_EXPECT_MSG(sse, id, ms) pt__sse_expect_msg(__FILE__, __LINE__, (sse), (id), (ms))
void pt__sse_expect_msg(const char *file, int line, struct pt_sse *sse, int64_t id, int timeout_ms);

/* The integer at data.key1 (or data.key1.key2 when key2 is not NULL) of
 * an event whose data is JSON, or PT_JSON_MISSING. */
int64_t pt_sse_int(const struct pt_sse_event *ev, const char *key1, const char *key2);

#endif
