/* SPDX-License-Identifier: MIT */
/* Parley - history archive: segments, the job's steps, read-through.   */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_ARCHIVE_H
#define PL_STORE_ARCHIVE_H

#include "blob.h"
#include "messages.h"

#include "common/buf.h"

/*
 * A segment is a brotli-compressed run of JSON lines, one message per
 * line in seq order, stored in blob storage under an "a/" key:
 *
 *   {"id":..,"conversation_id":..,"seq":..,"sender_id":..,"sender_device_id":..,
 *    "client_msg_id":"..","kind":"..","body":"..","reply_to":..,"created_at":".."}
 *
 * PostgreSQL keeps, per archived message, what permissions, ticks,
 * ordering and search need (archived_messages: ids, seq, sender,
 * created_at, tsv) and, per segment, its key, seq range, sizes and
 * SHA-256 (archive_segments). History and search read the rest through
 * the segment (store_archive_fill), so a client cannot tell an archived
 * message from a hot one.
 */

/* Messages per segment at most, and raw (uncompressed) bytes at most: a
 * segment is read whole to serve one message, so it stays small. */
#define STORE_ARCHIVE_SEG_MESSAGES 2000
#define STORE_ARCHIVE_SEG_RAW_MAX ((size_t)1 << 20)

/* ---- the segment format (any thread, no I/O) ---- */

/* Appends m as one JSON line to raw. Returns 0, PL_ENOMEM or PL_ETOOBIG
 * (raw's cap). */
PL_MUST_CHECK int store_archive_line(struct pl_buf *raw, const struct store_message *m);
/* Compresses raw (borrowed) with brotli into a heap buffer (free() it).
 * Returns 0 or PL_ENOMEM. */
PL_MUST_CHECK int store_archive_compress(const void *raw, size_t len, void **out, size_t *out_len);
/* Decompresses a segment into a heap buffer (free() it) of at most
 * STORE_ARCHIVE_SEG_RAW_MAX bytes. Returns 0, PL_EMALFORMED (not a
 * segment, or too large) or PL_ENOMEM. */
PL_MUST_CHECK int store_archive_decompress(const void *seg, size_t len, char **out,
                                           size_t *out_len);
/* Counts the lines of a decompressed segment that parse as messages;
 * *bad is set when any does not. For verifying a segment before the
 * rows it holds are deleted. */
PL_MUST_CHECK int store_archive_check(const char *raw, size_t len, unsigned *count);

/* ---- read-through (worker threads) ---- */

/* The blob store segments live in. Set once at startup before any read
 * (borrowed for the process' lifetime); without it archived messages
 * cannot be read (PL_EUNAVAIL). */
void store_archive_set_blobs(struct store_blob *blobs);

/* Fills the fields of *m that PostgreSQL does not keep (sender_device_id,
 * client_msg_id, kind, body, reply_to; strings from a) from message seq of
 * segment key, through a small bounded cache of decompressed segments.
 * Returns 0; PL_ENOTFOUND when the segment has no such message (or the
 * blob is gone); PL_EMALFORMED for a corrupt segment; PL_EUNAVAIL; -errno. */
PL_MUST_CHECK int store_archive_fill(struct pl_arena *a, const char *key, int64_t seq,
                                     struct store_message *m);

/* The searchable text of m (kind "text": the text; "media": the caption,
 * or ""; otherwise NULL), like message_search_text() in SQL. Strings from
 * a. Returns 0 or PL_ENOMEM. */
PL_MUST_CHECK int store_archive_search_text(struct pl_arena *a, const struct store_message *m,
                                            const char **text);

/* ---- the job's steps (pg_archive.c; the archiver's own connection) ---- */

/* Takes (or, with take=false, releases) the deployment-wide archive lock
 * (a session advisory lock): one archiver at a time, so a blob under "a/"
 * that no segment row names while the lock is held is an orphan of a
 * crashed run. *got tells whether it was taken. */
PL_MUST_CHECK int store_pg_archive_lock(struct store_pg *pg, bool take, bool *got);

/* Conversations with messages to archive: kind text or media, created
 * more than older_than_s seconds ago. *ids is an arena array. */
PL_MUST_CHECK int store_pg_archive_conversations(struct store_pg *pg, struct pl_arena *a,
                                                 int64_t older_than_s, int64_t **ids, unsigned *n);

/* The oldest at most max such messages of conversation_id, in seq order
 * (*out an arena array; status is not set). */
PL_MUST_CHECK int store_pg_archive_candidates(struct store_pg *pg, struct pl_arena *a,
                                              int64_t conversation_id, int64_t older_than_s,
                                              unsigned max, struct store_message **out,
                                              unsigned *n);

/* A segment written and verified in blob storage. */
struct store_archive_segment {
    int64_t conversation_id;
    int64_t first_seq, last_seq;
    unsigned count;
    const char *blob_key;
    uint64_t raw_bytes, stored_bytes;
    uint8_t sha256[32];
};

/* In ONE transaction: records seg, copies the slim rows of its messages
 * (seqs: the count seqs it holds) into archived_messages and deletes them
 * from messages. Rolls back unless exactly seg->count rows moved (another
 * archiver, or rows that changed meanwhile). Returns 0; PL_ECONFLICT when
 * it rolled back for that reason; or a common code (rolled back; when
 * PL_EUNAVAIL comes from the commit, the outcome is unknown and the next
 * run's orphan sweep or candidate scan settles it). */
PL_MUST_CHECK int store_pg_archive_commit(struct store_pg *pg,
                                          const struct store_archive_segment *seg,
                                          const int64_t *seqs);

/* Whether some segment row names blob key. */
PL_MUST_CHECK int store_pg_archive_known(struct store_pg *pg, const char *key, bool *known);

/* A conversation's archive as GET /v1/conversations/{id} shows it. */
struct store_archive_summary {
    int64_t segments, messages, raw_bytes, stored_bytes;
};
PL_MUST_CHECK int store_pg_archive_summary(struct store_pg *pg, int64_t conversation_id,
                                           struct store_archive_summary *out);

#endif
