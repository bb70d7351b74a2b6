/* SPDX-License-Identifier: MIT */
/* Parley - disappearing messages: the expiry sweeper's statements.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "archive.h"
#include "expiry.h"
#include "pg_int.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>

#define EXPIRY_LOCK_ID "70617278706972" /* "parxpir" */

enum {
    LOCK,
    UNLOCK,
    CONV_SET,
    HOT,
    MEDIA_UNREF,
    SEGMENTS,
    ARCHIVED,
    SEG_DELETE,
    SEG_UPDATE,
};

/* What hangs on the messages of CTE x (conversation_id, seq, id); r
 * returns the media ids their references named. Data-modifying CTEs run
 * whether or not the query reads them. */
#define ERASE_DEPS                                                                                 \
    " r AS (DELETE FROM media_refs m USING x WHERE m.conversation_id = x.conversation_id"          \
    "   AND m.seq = x.seq RETURNING m.media_id),"                                                  \
    " e AS (DELETE FROM e2e_ciphertexts c USING x WHERE c.conversation_id = x.conversation_id"     \
    "   AND c.seq = x.seq),"                                                                       \
    " rx AS (DELETE FROM reactions c USING x WHERE c.conversation_id = x.conversation_id"          \
    "   AND c.seq = x.seq),"                                                                       \
    " hd AS (DELETE FROM message_hidden c USING x WHERE c.conversation_id = x.conversation_id"     \
    "   AND c.seq = x.seq),"                                                                       \
    " ev AS (DELETE FROM events v USING x WHERE v.conversation_id = x.conversation_id"             \
    "   AND (v.pos = x.id OR (v.type IN ('message.edited', 'message.deleted', 'reaction')"         \
    "   AND (v.payload::json ->> 'seq')::bigint = x.seq))),"
#define ERASE_RESULT " SELECT (SELECT count(*) FROM d), ARRAY(SELECT DISTINCT media_id FROM r)"

const struct store_pg__stmt store_pg__expiry_stmts[] = {
    [LOCK] = {"expiry_lock", "SELECT pg_try_advisory_lock(x'" EXPIRY_LOCK_ID "'::bigint)", 0,
              false},
    [UNLOCK] = {"expiry_unlock", "SELECT pg_advisory_unlock(x'" EXPIRY_LOCK_ID "'::bigint)", 0,
                false},
    [CONV_SET] = {"conv_expire_set",
                  "UPDATE conversations SET expire_after = NULLIF($2::int, 0),"
                  " expire_ms = NULLIF($3::bigint, 0), updated_at = now()"
                  " WHERE id = $1::bigint",
                  3, false},
    /* SKIP LOCKED: a message an edit or delete holds is taken next pass.
     * Its search terms (message_search, 0020) go in the same statement.
     * Only messages the search indexer has passed: the terms of one above
     * its position may still be inserted by a step whose snapshot saw the
     * message, and would then outlive it (no foreign key removes them).
     * That delays an expiry by the indexer's lag, about 0.1 s. */
    [HOT] = {"expire_hot",
             "WITH x AS (SELECT conversation_id, seq, id FROM messages"
             "   WHERE expires_at <= now()"
             "   AND id <= (SELECT pos FROM search_index_state WHERE id = 1)"
             "   ORDER BY expires_at LIMIT $1::int FOR UPDATE SKIP LOCKED)," ERASE_DEPS
             " ts AS (DELETE FROM message_search s USING x"
             "   WHERE s.conversation_id = x.conversation_id AND s.seq = x.seq),"
             " d AS (DELETE FROM messages m USING x WHERE m.conversation_id = x.conversation_id"
             "   AND m.seq = x.seq RETURNING 1)" ERASE_RESULT,
             1, false},
    [MEDIA_UNREF] = {"expire_media_unref",
                     "DELETE FROM media m WHERE m.id = ANY($1::bigint[]) AND NOT EXISTS"
                     " (SELECT 1 FROM media_refs r WHERE r.media_id = m.id) RETURNING m.blob_key",
                     1, false},
    [SEGMENTS] = {"expire_segments",
                  "SELECT s.id, s.conversation_id, s.blob_key, s.message_count,"
                  " ARRAY(SELECT a.seq FROM archived_messages a WHERE a.segment_id = s.id"
                  "   AND a.expires_at <= now() ORDER BY a.seq)"
                  " FROM archive_segments s WHERE s.id IN (SELECT DISTINCT segment_id"
                  "   FROM archived_messages WHERE expires_at <= now() LIMIT $1::int)",
                  1, true},
    [ARCHIVED] =
        {"expire_archived",
         "WITH x AS (SELECT conversation_id, seq, id FROM archived_messages"
         "   WHERE segment_id = $1::bigint AND seq = ANY($2::bigint[]) FOR UPDATE)," ERASE_DEPS
         " d AS (DELETE FROM archived_messages m USING x"
         "   WHERE m.conversation_id = x.conversation_id AND m.seq = x.seq RETURNING "
         "1)" ERASE_RESULT,
         2, false},
    [SEG_DELETE] = {"expire_seg_delete", "DELETE FROM archive_segments WHERE id = $1::bigint", 1,
                    false},
    [SEG_UPDATE] = {"expire_seg_update",
                    "UPDATE archive_segments SET blob_key = $2::text, first_seq = $3::bigint,"
                    " last_seq = $4::bigint, message_count = $5::int, raw_bytes = $6::bigint,"
                    " stored_bytes = $7::bigint, sha256 = decode($8::text, 'hex')"
                    " WHERE id = $1::bigint",
                    8, false},
    {NULL, NULL, 0, false},
};

static int run(struct store_pg *pg, int id, const char *const *vals, PGresult **r)
{
    return store_pg__exec(pg, &store_pg__expiry_stmts[id], vals, NULL, NULL, r);
}

static int run_clear(struct store_pg *pg, int id, const char *const *vals)
{
    PGresult *r;
    int rc = run(pg, id, vals, &r);
    if (rc == 0)
        PQclear(r);
    return rc;
}

int store_pg_expiry_lock(struct store_pg *pg, bool take, bool *got)
{
    PGresult *r;
    int rc = run(pg, take ? LOCK : UNLOCK, NULL, &r);
    if (rc < 0)
        return rc;
    *got = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return 0;
}

int store_pg_conv_expire_set(struct store_pg *pg, int64_t conversation_id, unsigned expire_after,
                             int64_t expire_ms)
{
    struct store_pg__args p;
    return run_clear(pg, CONV_SET,
                     STORE_PG__ARGS(&p, conversation_id, (int64_t)expire_after, expire_ms));
}

/* Reads an ERASE_RESULT row. */
static int erase_result(struct pl_arena *a, PGresult *r, unsigned *n, int64_t **media,
                        unsigned *n_media)
{
    int64_t count = 0;
    int rc = PQntuples(r) == 1 ? store_pg__get_i64(r, 0, 0, &count) : PL_EINTERNAL;
    if (rc == 0)
        rc = store_pg__get_i64_array(a, r, 0, 1, media, n_media);
    if (n)
        *n = (unsigned)count;
    PQclear(r);
    return rc;
}

int store_pg_expire_hot(struct store_pg *pg, struct pl_arena *a, unsigned max, unsigned *n,
                        int64_t **media, unsigned *n_media)
{
    struct store_pg__args p;
    PGresult *r;
    int rc = run(pg, HOT, STORE_PG__ARGS(&p, (int64_t)max), &r);
    return rc < 0 ? rc : erase_result(a, r, n, media, n_media);
}

int store_pg_media_unreferenced(struct store_pg *pg, struct pl_arena *a, const int64_t *media,
                                unsigned n, char ***keys, unsigned *n_keys)
{
    *keys = NULL;
    *n_keys = 0;
    if (n == 0)
        return 0;
    const char *vals[] = {store_pg__i64_array(a, media, n)};
    if (!vals[0])
        return PL_ENOMEM;
    PGresult *r;
    int rc = run(pg, MEDIA_UNREF, vals, &r);
    if (rc < 0)
        return rc;
    int rows = PQntuples(r);
    char **k = pl_arena_alloc(a, (size_t)(rows ? rows : 1) * sizeof(*k));
    for (int i = 0; k && i < rows; i++)
        if (!(k[i] = (char *)store_pg__get_str(a, r, i, 0)))
            k = NULL;
    PQclear(r);
    if (!k)
        return PL_ENOMEM;
    *keys = k;
    *n_keys = (unsigned)rows;
    return 0;
}

static int segment_row(struct pl_arena *a, const PGresult *r, int row, void *item, void *ctx)
{
    (void)ctx;
    struct store_expiring_segment *s = item;
    int64_t count = 0;
    int rc = store_pg__get_i64(r, row, 0, &s->id);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 1, &s->conversation_id);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 3, &count);
    if (rc == 0)
        rc = store_pg__get_i64_array(a, r, row, 4, &s->seqs, &s->n_seqs);
    s->count = (unsigned)count;
    s->blob_key = store_pg__get_str(a, r, row, 2);
    return rc == 0 && !s->blob_key ? PL_ENOMEM : rc;
}

int store_pg_expiring_segments(struct store_pg *pg, struct pl_arena *a, unsigned max,
                               struct store_expiring_segment **out, unsigned *n)
{
    struct store_pg__args p;
    return store_pg__exec_rows(pg, a, &store_pg__expiry_stmts[SEGMENTS],
                               STORE_PG__ARGS(&p, (int64_t)max), sizeof(**out), segment_row, NULL,
                               (void **)out, n);
}

static int segment_update(struct store_pg *pg, int64_t id, const struct store_archive_segment *s)
{
    char nums[6][24], hex[65];
    snprintf(nums[0], sizeof(nums[0]), "%" PRId64, id);
    snprintf(nums[1], sizeof(nums[1]), "%" PRId64, s->first_seq);
    snprintf(nums[2], sizeof(nums[2]), "%" PRId64, s->last_seq);
    snprintf(nums[3], sizeof(nums[3]), "%u", s->count);
    snprintf(nums[4], sizeof(nums[4]), "%" PRIu64, s->raw_bytes);
    snprintf(nums[5], sizeof(nums[5]), "%" PRIu64, s->stored_bytes);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", s->sha256[i]);
    const char *vals[] = {nums[0], s->blob_key, nums[1], nums[2], nums[3], nums[4], nums[5], hex};
    return run_clear(pg, SEG_UPDATE, vals);
}

int store_pg_expire_archived(struct store_pg *pg, struct pl_arena *a,
                             const struct store_expiring_segment *seg,
                             const struct store_archive_segment *rewritten, int64_t **media,
                             unsigned *n_media)
{
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, seg->id);
    if (!(p.v[1] = store_pg__i64_array(a, seg->seqs, seg->n_seqs)))
        return PL_ENOMEM;
    PGresult *r;
    int rc = run(pg, ARCHIVED, vals, &r);
    if (rc == 0)
        rc = erase_result(a, r, NULL, media, n_media);
    if (rc < 0)
        return rc;
    return rewritten ? segment_update(pg, seg->id, rewritten) : run_clear(pg, SEG_DELETE, vals);
}
