/* SPDX-License-Identifier: MIT */
/* Parley - blocks and message requests in PostgreSQL.                  */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_BLOCKS_H
#define PL_STORE_BLOCKS_H

#include "pg.h"

#include <stdbool.h>

/*
 * A block is one user's (user) refusal of another (blocked): blocked may
 * not send in a direct conversation with user, open one, add user to a
 * group, or see user's presence, last seen and typing (migration 0013).
 *
 * A message request is a membership user has not accepted yet: it came
 * from request_from, with whom user had no accepted conversation. "Contact"
 * (the last_seen_visibility setting, presence) means a user shares a
 * conversation with whose membership is accepted on the user's side.
 *
 * All functions: worker thread (blocking); arena results live as long as
 * a. Besides the codes named, each may return the common codes of pg.h.
 */

/* One entry of a user's block list; strings in the arena. */
struct store_block {
    int64_t user_id;
    const char *username;
    const char *created_at; /* RFC 3339 UTC, milliseconds */
};

/* Blocks blocked for user; *created is false when it was blocked already.
 * Also declines (removes user from) every conversation user has a pending
 * request in from blocked; their ids go to *declined (arena, *n_declined). */
PL_MUST_CHECK int store_pg_block_put(struct store_pg *pg, struct pl_arena *a, int64_t user,
                                     int64_t blocked, bool *created, int64_t **declined,
                                     unsigned *n_declined);
/* Lifts a block; *existed tells whether there was one. */
PL_MUST_CHECK int store_pg_block_delete(struct store_pg *pg, int64_t user, int64_t blocked,
                                        bool *existed);
/* user's blocks, newest first (*out an arena array, never NULL). */
PL_MUST_CHECK int store_pg_blocks_list(struct store_pg *pg, struct pl_arena *a, int64_t user,
                                       struct store_block **out, unsigned *n);
/* *blocked is true when user blocked other. */
PL_MUST_CHECK int store_pg_block_exists(struct store_pg *pg, int64_t user, int64_t other,
                                        bool *blocked);
/* Those of ids[0..n) (borrowed) that inviter may not add to a group:
 * they blocked inviter, or (with pending_holds) they have a pending request
 * from inviter. *out is an arena array (never NULL). */
PL_MUST_CHECK int store_pg_invite_refusals(struct store_pg *pg, struct pl_arena *a, int64_t inviter,
                                           const int64_t *ids, unsigned n, bool pending_holds,
                                           int64_t **out, unsigned *n_out);
/* Inside the transaction that added ids[0..n) to conversation_id on
 * inviter's behalf: turns the memberships of those who have no accepted
 * conversation with inviter (other than this one) into requests. */
PL_MUST_CHECK int store_pg_requests_mark(struct store_pg *pg, int64_t conversation_id,
                                         int64_t inviter, const int64_t *ids, unsigned n);
/* Accepts user's pending request in conversation_id: 0, or PL_ENOTFOUND
 * when there is none. */
PL_MUST_CHECK int store_pg_request_accept(struct store_pg *pg, int64_t conversation_id,
                                          int64_t user);
/* Declines user's pending request in conversation_id: the membership is
 * removed (a group's member_count drops; a direct conversation keeps its
 * count, so its opener learns nothing). The caller holds the
 * conversation's lock. 0, or PL_ENOTFOUND when there is no request. */
PL_MUST_CHECK int store_pg_request_decline(struct store_pg *pg, int64_t conversation_id,
                                           int64_t user);
/* Those of ids[0..n) whom user did not block (for typing): *out is an
 * arena array (never NULL). */
PL_MUST_CHECK int store_pg_blocks_exclude(struct store_pg *pg, struct pl_arena *a, int64_t user,
                                          const int64_t *ids, unsigned n, int64_t **out,
                                          unsigned *n_out);

#endif
