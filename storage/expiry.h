/* SPDX-License-Identifier: MIT */
/* Parley - disappearing messages: what the expiry sweeper erases.      */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_EXPIRY_H
#define PL_STORE_EXPIRY_H

#include "pg.h"

#include <stdbool.h>

/*
 * A conversation's timer (conversations.expire_after, 0013) gives each
 * message sent while it is set an expires_at; the sweeper (server/expiry.c)
 * erases expired messages everywhere: the row (hot or archived), its events
 * (message.created at its position; message.edited, message.deleted and
 * reaction events naming its seq), reactions, per-device ciphertexts,
 * "delete for me" marks, media references (media no message references
 * any more go too, blob included) and its line in archive segments.
 *
 * All functions: the sweeper's own connection (blocking). Arena results
 * live as long as a.
 */

/* Takes (or, take=false, releases) the deployment-wide expiry lock (a
 * session advisory lock): one sweeper at a time across nodes. */
PL_MUST_CHECK int store_pg_expiry_lock(struct store_pg *pg, bool take, bool *got);

/* Sets conversation_id's timer: expire_after seconds (0: off) and what a
 * send adds to its time, expire_ms. Inside the caller's transaction. */
PL_MUST_CHECK int store_pg_conv_expire_set(struct store_pg *pg, int64_t conversation_id,
                                           unsigned expire_after, int64_t expire_ms);

/* Inside a transaction: erases at most max expired hot messages with all
 * that hangs on them (see above); *n how many, *media (arena, *n_media)
 * the ids of media they referenced. */
PL_MUST_CHECK int store_pg_expire_hot(struct store_pg *pg, struct pl_arena *a, unsigned max,
                                      unsigned *n, int64_t **media, unsigned *n_media);

/* Inside a transaction: deletes those of media[0..n) that no message
 * references any more and returns their blob keys (arena, *n_keys). */
PL_MUST_CHECK int store_pg_media_unreferenced(struct store_pg *pg, struct pl_arena *a,
                                              const int64_t *media, unsigned n, char ***keys,
                                              unsigned *n_keys);

/* A segment holding expired messages. */
struct store_expiring_segment {
    int64_t id, conversation_id;
    const char *blob_key;
    int64_t *seqs; /* its expired messages, ascending */
    unsigned n_seqs;
    unsigned count; /* messages it holds in all */
};

/* At most max segments with expired messages (*out arena, *n). */
PL_MUST_CHECK int store_pg_expiring_segments(struct store_pg *pg, struct pl_arena *a, unsigned max,
                                             struct store_expiring_segment **out, unsigned *n);

/* Inside a transaction: erases seg's expired archived messages (seqs) with
 * what hangs on them and then deletes the segment row (rewritten NULL) or
 * points it at its rewritten blob. *media as for store_pg_expire_hot. */
struct store_archive_segment;
PL_MUST_CHECK int store_pg_expire_archived(struct store_pg *pg, struct pl_arena *a,
                                           const struct store_expiring_segment *seg,
                                           const struct store_archive_segment *rewritten,
                                           int64_t **media, unsigned *n_media);

#endif
