/* SPDX-License-Identifier: MIT */
/* Parley - media uploads: rows, download permission, expiry.           */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_MEDIA_H
#define PL_STORE_MEDIA_H

#include "pg.h"

/*
 * A media row describes one upload: what the bytes in the blob store must
 * be (size, SHA-256, content type) and whether they arrived (ready). An
 * upload no message references expires and is swept; the first message
 * that references it (a trigger on messages, migration 0003) records the
 * reference and clears the expiry. Worker threads; the common codes of
 * pg.h apply to every function.
 */

#define STORE_MEDIA_SHA256_BYTES 32

struct store_media {
    int64_t id;
    int64_t uploader_id;
    int64_t uploader_device_id;
    const char *blob_key;
    const char *content_type;
    const char *filename; /* NULL when none */
    uint64_t size;
    uint8_t sha256[STORE_MEDIA_SHA256_BYTES];
    bool ready;
    const char *created_at;
    const char *expires_at; /* NULL once referenced */
};

/* Inserts a pending upload described by in (id, ready, created_at and
 * expires_at are ignored; strings borrowed) expiring ttl_s seconds from
 * now, and fills *out (strings from a). Returns 0, PL_ECONFLICT (blob key
 * taken), PL_ENOTFOUND (no such uploader) or a common code. */
PL_MUST_CHECK int store_pg_media_create(struct store_pg *pg, struct pl_arena *a,
                                        const struct store_media *in, unsigned ttl_s,
                                        struct store_media *out);
/* Reads media id, or the one stored under blob_key. Returns 0 or
 * PL_ENOTFOUND. */
PL_MUST_CHECK int store_pg_media_get(struct store_pg *pg, struct pl_arena *a, int64_t id,
                                     struct store_media *out);
PL_MUST_CHECK int store_pg_media_get_by_key(struct store_pg *pg, struct pl_arena *a,
                                            const char *blob_key, struct store_media *out);
/* Marks a pending upload ready once its blob is stored. Returns 0, or
 * PL_ENOTFOUND when it is gone or was ready already. */
PL_MUST_CHECK int store_pg_media_mark_ready(struct store_pg *pg, int64_t id);
/* Whether user_id may download media id: its uploader, or a member of a
 * conversation where it was sent after the member joined. */
PL_MUST_CHECK int store_pg_media_can_read(struct store_pg *pg, int64_t id, int64_t user_id,
                                          bool *ok);
/* How many of ids[0..n) (borrowed) are ready uploads of user_id; a send may
 * reference only those. */
PL_MUST_CHECK int store_pg_media_count_sendable(struct store_pg *pg, const int64_t *ids, unsigned n,
                                                int64_t user_id, unsigned *count);
/* Records that message message_id (seq) in conversation_id references
 * ids[0..n) and clears their expiry, like the trigger does for media
 * messages. For message kinds whose body the database cannot read (e2e
 * "media_ids"). Repeats are ignored. */
PL_MUST_CHECK int store_pg_media_refs_add(struct store_pg *pg, const int64_t *ids, unsigned n,
                                          int64_t conversation_id, int64_t message_id, int64_t seq);
/* Up to limit expired uploads: *ids and *keys are arena arrays of *n. */
PL_MUST_CHECK int store_pg_media_expired(struct store_pg *pg, struct pl_arena *a, unsigned limit,
                                         int64_t **ids, const char ***keys, unsigned *n);
/* Deletes media id if it is still expired (no reference arrived since).
 * Returns 0 when deleted (its blob may go now) or PL_ENOTFOUND. */
PL_MUST_CHECK int store_pg_media_delete_expired(struct store_pg *pg, int64_t id);

#endif
