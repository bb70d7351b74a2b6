/* SPDX-License-Identifier: MIT */
/* Parley - the archive job's statements and the archive summary.      */
/* Copyright (c) 2026 Parley developers                                 */
#include "archive.h"
#include "pg_int.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LOCK, UNLOCK, CONVS, CANDIDATES, SEG_INSERT, MOVE, KNOWN, SUMMARY };

/* An arbitrary constant naming the archive lock among advisory locks. */
#define ARCHIVE_LOCK_ID "7061726c6579" /* "parley" */

/* A conversation's last message stays hot: conversation lists show it
 * (storage/pg_conversations.c reads it from messages). e2e messages stay
 * hot: their per-device ciphertexts are looked up next to the message
 * row, the server could not index them anyway, and they are opaque bytes
 * that compress poorly (README, "Archive"). A message the search indexer
 * (0015) has not reached yet stays too: its terms (message_search, 0020)
 * go with it, and the indexer could otherwise insert the terms of a
 * message already archived. */
#define ARCHIVABLE(m)                                                                              \
    m ".kind IN ('text', 'media')"                                                                 \
      " AND " m ".created_at < now() - make_interval(secs => $2::bigint)"                          \
      " AND " m ".seq < (SELECT v.last_seq FROM conversations v WHERE v.id = " m                   \
      ".conversation_id)"                                                                          \
      " AND " m ".id <= (SELECT x.pos FROM search_index_state x WHERE x.id = 1)"

const struct store_pg__stmt store_pg__archive_stmts[] = {
    [LOCK] = {"archive_lock", "SELECT pg_try_advisory_lock(x'" ARCHIVE_LOCK_ID "'::bigint)", 0,
              false},
    [UNLOCK] = {"archive_unlock", "SELECT pg_advisory_unlock(x'" ARCHIVE_LOCK_ID "'::bigint)", 0,
                false},
    [CONVS] = {"archive_convs",
               "SELECT DISTINCT m.conversation_id FROM messages m WHERE $1::int = 1"
               " AND " ARCHIVABLE("m") " ORDER BY 1",
               2, true},
    [CANDIDATES] = {"archive_candidates",
                    "SELECT " STORE_MSG_COLS("m") " FROM messages m"
                                                  " WHERE m.conversation_id = $1::bigint"
                                                  " AND " ARCHIVABLE("m") " ORDER BY m.seq"
                                                                          " LIMIT $3::int",
                    3, true},
    [SEG_INSERT] = {"archive_seg_insert",
                    "INSERT INTO archive_segments (conversation_id, first_seq, last_seq,"
                    " message_count, blob_key, raw_bytes, stored_bytes, sha256)"
                    " VALUES ($1::bigint, $2::bigint, $3::bigint, $4::int, $5::text, $6::bigint,"
                    " $7::bigint, decode($8::text, 'hex')) RETURNING id",
                    8, false},
    /* Moves exactly the segment's rows: the count returned must equal the
     * segment's, else the caller rolls back. Their search terms move from
     * message_search (0020) into archived_messages.tsv in the same
     * statement; the indexer has passed every one of them (ARCHIVABLE), so
     * it will never insert their terms again. terms reads gone, so a
     * message's terms are deleted only once its row is: an edit or a
     * deletion holding the row (its trigger about to upsert the terms)
     * makes the move wait for it, never the other way round (a deadlock). */
    [MOVE] = {"archive_move",
              "WITH gone AS (DELETE FROM messages WHERE conversation_id = $1::bigint"
              "   AND seq = ANY($2::bigint[]) RETURNING conversation_id, seq, id, sender_id,"
              "   created_at, expires_at),"
              " terms AS (DELETE FROM message_search s USING gone g"
              "   WHERE s.conversation_id = g.conversation_id AND s.seq = g.seq"
              "   RETURNING s.seq, s.tsv),"
              " ins AS (INSERT INTO archived_messages (conversation_id, seq, id, sender_id,"
              "   created_at, segment_id, tsv, expires_at)"
              "   SELECT g.conversation_id, g.seq, g.id, g.sender_id, g.created_at, $3::bigint,"
              "   t.tsv, g.expires_at"
              "   FROM gone g LEFT JOIN terms t ON t.seq = g.seq RETURNING 1)"
              " SELECT count(*) FROM ins",
              3, false},
    [KNOWN] = {"archive_known", "SELECT 1 FROM archive_segments WHERE blob_key = $1::text", 1,
               true},
    [SUMMARY] = {"archive_summary",
                 "SELECT count(*), COALESCE(sum(message_count), 0), COALESCE(sum(raw_bytes), 0),"
                 " COALESCE(sum(stored_bytes), 0) FROM archive_segments"
                 " WHERE conversation_id = $1::bigint",
                 1, true},
    {NULL, NULL, 0, false},
};

static int run(struct store_pg *pg, int id, const char *const *vals, PGresult **r)
{
    return store_pg__exec(pg, &store_pg__archive_stmts[id], vals, NULL, NULL, r);
}

int store_pg_archive_lock(struct store_pg *pg, bool take, bool *got)
{
    PGresult *r;
    int rc = run(pg, take ? LOCK : UNLOCK, NULL, &r);
    if (rc < 0)
        return rc;
    *got = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return 0;
}

int store_pg_archive_conversations(struct store_pg *pg, struct pl_arena *a, int64_t older_than_s,
                                   int64_t **ids, unsigned *n)
{
    struct store_pg__args p;
    STORE_PG__ARGS(&p, 1, older_than_s);
    return store_pg__exec_ids(pg, a, &store_pg__archive_stmts[CONVS], p.v, ids, n);
}

int store_pg_archive_candidates(struct store_pg *pg, struct pl_arena *a, int64_t conversation_id,
                                int64_t older_than_s, unsigned max, struct store_message **out,
                                unsigned *n)
{
    char cb[24], ob[24], lim[16];
    snprintf(cb, sizeof(cb), "%" PRId64, conversation_id);
    snprintf(ob, sizeof(ob), "%" PRId64, older_than_s);
    snprintf(lim, sizeof(lim), "%u", max);
    const char *vals[] = {cb, ob, lim};
    PGresult *r;
    int rc = run(pg, CANDIDATES, vals, &r);
    if (rc < 0)
        return rc;
    unsigned rows = (unsigned)PQntuples(r);
    struct store_message *m = pl_arena_zalloc(a, (rows ? rows : 1) * sizeof(*m));
    rc = m ? 0 : PL_ENOMEM;
    for (unsigned i = 0; i < rows && rc == 0; i++)
        rc = store_pg__message_row(a, r, (int)i, 0, &m[i]);
    PQclear(r);
    *out = m;
    *n = rows;
    return rc;
}

/* "{1,2,3}" into a heap buffer the caller frees. */
static char *seq_array(const int64_t *seqs, unsigned n)
{
    size_t cap = 2 + (size_t)n * 21 + 1;
    char *s = malloc(cap), *p = s;
    if (!s)
        return NULL;
    *p++ = '{';
    for (unsigned i = 0; i < n; i++)
        p += snprintf(p, cap - (size_t)(p - s), "%s%" PRId64, i ? "," : "", seqs[i]);
    *p++ = '}';
    *p = '\0';
    return s;
}

static int commit_steps(struct store_pg *pg, const struct store_archive_segment *seg,
                        const char *seqs)
{
    char cb[24], fb[24], lb[24], nb[16], rb[24], sb[24], hex[65], idb[24];
    snprintf(cb, sizeof(cb), "%" PRId64, seg->conversation_id);
    snprintf(fb, sizeof(fb), "%" PRId64, seg->first_seq);
    snprintf(lb, sizeof(lb), "%" PRId64, seg->last_seq);
    snprintf(nb, sizeof(nb), "%u", seg->count);
    snprintf(rb, sizeof(rb), "%" PRIu64, seg->raw_bytes);
    snprintf(sb, sizeof(sb), "%" PRIu64, seg->stored_bytes);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", seg->sha256[i]);
    const char *ins[] = {cb, fb, lb, nb, seg->blob_key, rb, sb, hex};
    PGresult *r;
    int rc = run(pg, SEG_INSERT, ins, &r);
    if (rc < 0)
        return rc;
    snprintf(idb, sizeof(idb), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *mv[] = {cb, seqs, idb};
    if ((rc = run(pg, MOVE, mv, &r)) < 0)
        return rc;
    int64_t moved = 0;
    rc = store_pg__get_i64(r, 0, 0, &moved);
    PQclear(r);
    if (rc == 0 && moved != (int64_t)seg->count)
        rc = PL_ECONFLICT;
    return rc;
}

int store_pg_archive_commit(struct store_pg *pg, const struct store_archive_segment *seg,
                            const int64_t *seqs)
{
    char *arr = seq_array(seqs, seg->count);
    if (!arr)
        return PL_ENOMEM;
    int rc = store_pg_tx_begin(pg);
    if (rc == 0)
        rc = commit_steps(pg, seg, arr);
    if (rc == 0)
        rc = store_pg_tx_commit(pg);
    else
        store_pg_tx_rollback(pg);
    free(arr);
    return rc;
}

int store_pg_archive_known(struct store_pg *pg, const char *key, bool *known)
{
    const char *vals[] = {key};
    PGresult *r;
    int rc = run(pg, KNOWN, vals, &r);
    if (rc < 0)
        return rc;
    *known = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

int store_pg_archive_summary(struct store_pg *pg, int64_t conversation_id,
                             struct store_archive_summary *out)
{
    char cb[24];
    snprintf(cb, sizeof(cb), "%" PRId64, conversation_id);
    const char *vals[] = {cb};
    PGresult *r;
    int rc = run(pg, SUMMARY, vals, &r);
    if (rc < 0)
        return rc;
    rc = store_pg__get_i64(r, 0, 0, &out->segments);
    if (rc == 0)
        rc = store_pg__get_i64(r, 0, 1, &out->messages);
    if (rc == 0)
        rc = store_pg__get_i64(r, 0, 2, &out->raw_bytes);
    if (rc == 0)
        rc = store_pg__get_i64(r, 0, 3, &out->stored_bytes);
    PQclear(r);
    return rc;
}
