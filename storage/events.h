/* SPDX-License-Identifier: MIT */
/* Parley - persisted events and stream positions in PostgreSQL.        */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_EVENTS_H
#define PL_STORE_EVENTS_H

#include "pg.h"

/*
 * Every persisted event (message, receipt, membership change) gets a stream
 * position from one counter row. A writer takes its positions inside its
 * transaction, as late as possible, and inserts exactly one event row per
 * position taken: positions are then dense and commit-ordered, which is what
 * lets a resuming client trust "everything after my Last-Event-ID".
 *
 * The audience of an event is target_user_id when set, plus the members of
 * conversation_id who joined before it (members.joined_pos < pos).
 */

/* An event to store; the strings are borrowed. */
struct store_event_row {
    int64_t conversation_id; /* 0: none */
    int64_t target_user_id;  /* 0: none */
    const char *type;
    const char *payload; /* JSON, stored byte for byte as it is published */
};

/* Inside a transaction: takes n stream positions and stores the n events
 * of rows in one statement; *first is the first position and rows[i] gets
 * first + i. The counter's row lock is held until the transaction ends.
 * Returns 0 or a storage code. */
PL_MUST_CHECK int store_pg_events_append(struct store_pg *pg, const struct store_event_row *rows,
                                         unsigned n, uint64_t *first);

/* The last position committed. */
PL_MUST_CHECK int store_pg_position_current(struct store_pg *pg, uint64_t *pos);
/* The smallest position still stored (current + 1 when none are). A
 * client can resume from P when oldest - 1 <= P <= current. */
PL_MUST_CHECK int store_pg_position_oldest(struct store_pg *pg, uint64_t *pos);

/* Both of the above in one statement (one snapshot). */
PL_MUST_CHECK int store_pg_positions(struct store_pg *pg, uint64_t *current, uint64_t *oldest);

struct store_event {
    uint64_t pos;
    const char *type;
    const char *payload;
    int64_t *users; /* the audience; only filled by store_pg_events_range */
    unsigned n_users;
};

/* The events after position `after` that user_id may see, oldest first, at
 * most limit. Strings come from arena. */
PL_MUST_CHECK int store_pg_events_for_user(struct store_pg *pg, struct pl_arena *a, int64_t user_id,
                                           uint64_t after, unsigned limit, struct store_event **out,
                                           unsigned *n);

/* store_pg_events_for_user() for n (users[i], afters[i]) pairs in one
 * statement, at most limit events each: *out holds *n_out events grouped by
 * pair in pair order (oldest first within one), (*which)[k] the pair event
 * k belongs to. Arrays and strings come from a. */
PL_MUST_CHECK int store_pg_events_for_users(struct store_pg *pg, struct pl_arena *a,
                                            const int64_t *users, const uint64_t *afters,
                                            unsigned n, unsigned limit, struct store_event **out,
                                            unsigned **which, unsigned *n_out);

/* Every stored event with from <= pos <= to, with its audience: to fill a
 * gap in a hub's delivery. */
PL_MUST_CHECK int store_pg_events_range(struct store_pg *pg, struct pl_arena *a, uint64_t from,
                                        uint64_t to, struct store_event **out, unsigned *n);

/* The user ids of a conversation's current members. */
PL_MUST_CHECK int store_pg_member_ids(struct store_pg *pg, struct pl_arena *a,
                                      int64_t conversation_id, int64_t **ids, unsigned *n);

/* The same for convs[0..n) at once: ids[i] and n_ids[i] are convs[i]'s
 * (arena arrays; none for a conversation without members). */
PL_MUST_CHECK int store_pg_member_ids_many(struct store_pg *pg, struct pl_arena *a,
                                           const int64_t *convs, unsigned n, int64_t **ids,
                                           unsigned *n_ids);

/* Deletes events older than keep_s seconds (retention). Returns 0 and the
 * number removed in *n. */
PL_MUST_CHECK int store_pg_events_prune(struct store_pg *pg, unsigned keep_s, uint64_t *n);

#endif
