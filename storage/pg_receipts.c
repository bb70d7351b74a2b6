/* SPDX-License-Identifier: MIT */
/* Parley - receipts: per-member watermarks, their log, aggregate moves. */
/* Copyright (c) 2026 Parley developers                                 */
#include "messages.h"
#include "pg_int.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>

#define TS_UTC(x) STORE_PG_TS(x)

enum {
    RECEIPT_SERIALIZE,
    RECEIPT_LOCK,
    RECEIPT_UPDATE,
    RECEIPT_MOVES,
    RECEIPT_MOVES_FEW,
    MESSAGE_RECEIPTS,
};

/*
 * Why receipts of one conversation take turns: whether a message became
 * "delivered" depends on every other member's watermark. Two members
 * acknowledging the same message at once would each see the other's old
 * watermark, conclude "not yet", and nobody would tell the sender. A
 * transaction-scoped advisory lock per conversation orders them without
 * a conflicting lock on the conversation row, so receipts never wait for
 * sends. The two-key form keeps our keys apart from any single-bigint
 * advisory lock (the migrations'); the id is folded into 31 bits, and a
 * collision only makes two conversations take turns needlessly.
 *
 * The same statement takes FOR KEY SHARE on the conversation row, which
 * the receipt_log insert (its foreign key) would take later anyway. Taken
 * first, it orders a receipt like every membership change (conversation
 * row, then member rows): taken after the member row lock, a receipt and
 * an admin changing that member could deadlock. It does not conflict with
 * the writer's FOR NO KEY UPDATE.
 */
/* The longest range of seqs (delivered plus read) whose status moves are
 * found message by message (RECEIPT_MOVES_FEW). */
#define RECEIPT_FEW_SEQS 8

#define RECEIPT_LOCK_CLASS "1347568483" /* 'PRCc' */

const struct store_pg__stmt store_pg__receipt_stmts[] = {
    /* Its own statement: a statement's snapshot is taken when it starts,
     * and what comes after must see what the previous holder committed. */
    [RECEIPT_SERIALIZE] = {"receipt_serialize",
                           "SELECT pg_advisory_xact_lock(" RECEIPT_LOCK_CLASS
                           ", ($1::bigint & 2147483647)::int)"
                           " FROM conversations WHERE id = $1::bigint FOR KEY SHARE",
                           1, false},
    [RECEIPT_LOCK] = {"receipt_lock",
                      "SELECT me.joined_seq, me.delivered_seq, me.read_seq, c.last_seq"
                      " FROM members me JOIN conversations c ON c.id = me.conversation_id"
                      " WHERE me.conversation_id = $1::bigint AND me.user_id = $2::bigint"
                      " FOR NO KEY UPDATE OF me",
                      2, false},
    [RECEIPT_UPDATE] = {"receipt_update",
                        "WITH u AS (UPDATE members SET delivered_seq = $3::bigint,"
                        "   read_seq = $4::bigint"
                        "   WHERE conversation_id = $1::bigint AND user_id = $2::bigint)"
                        " INSERT INTO receipt_log (conversation_id, user_id, type, up_to_seq)"
                        " SELECT $1::bigint, $2::bigint, v.t, v.s FROM (VALUES"
                        "  ('delivered', $3::bigint, $5::bool), ('read', $4::bigint, $6::bool))"
                        "  AS v(t, s, moved) WHERE v.moved",
                        6, false},
    /*
     * Message q of sender S is delivered when every other member o who
     * joined before it (o.joined_seq < q) has o.delivered_seq >= q; that
     * is, when q <= GREATEST(o.joined_seq, o.delivered_seq) for every
     * o <> S. So S's messages are delivered up to the minimum of that
     * value over the members other than S; the smallest two values of the
     * conversation (lo, one row, O(members)) give that minimum for every S:
     * the second when S holds the first, else the first. Only messages in
     * the ranges the caller's watermarks moved over ($3 d0 .. $4 d1,
     * $5 r0 .. $6 r1, above its joined_seq $7) can have changed, and the
     * caller held all of them back before, so for each S the highest one
     * now at or below the threshold is the new up_to_seq. One pass over
     * those messages against one row: never O(messages x members).
     */
    [RECEIPT_MOVES] =
        {"receipt_moves",
         "WITH w AS (SELECT user_id, GREATEST(joined_seq, delivered_seq) AS dv,"
         "   GREATEST(joined_seq, read_seq) AS rv FROM members"
         "   WHERE conversation_id = $1::bigint),"
         /* Two top-2 sorts: a third cheaper than sorting every member
          * for each of the four values. */
         " d2 AS (SELECT user_id, dv FROM w ORDER BY dv, user_id LIMIT 2),"
         " r2 AS (SELECT user_id, rv FROM w ORDER BY rv, user_id LIMIT 2),"
         " lo AS MATERIALIZED (SELECT (SELECT user_id FROM d2 ORDER BY dv, user_id LIMIT 1) AS du,"
         "   ARRAY(SELECT dv FROM d2 ORDER BY dv, user_id) AS dv,"
         "   (SELECT user_id FROM r2 ORDER BY rv, user_id LIMIT 1) AS ru,"
         "   ARRAY(SELECT rv FROM r2 ORDER BY rv, user_id) AS rv)"
         " SELECT m.sender_id,"
         "  COALESCE(max(m.seq) FILTER (WHERE m.seq > GREATEST($3::bigint, $7::bigint)"
         "    AND m.seq <= LEAST($4::bigint,"
         "      CASE WHEN m.sender_id = lo.du THEN lo.dv[2] ELSE lo.dv[1] END)), 0),"
         "  COALESCE(max(m.seq) FILTER (WHERE m.seq > GREATEST($5::bigint, $7::bigint)"
         "    AND m.seq <= LEAST($6::bigint,"
         "      CASE WHEN m.sender_id = lo.ru THEN lo.rv[2] ELSE lo.rv[1] END)), 0)"
         " FROM messages m CROSS JOIN lo WHERE m.conversation_id = $1::bigint"
         "  AND m.sender_id <> $2::bigint AND m.sender_id IN (SELECT user_id FROM w)"
         "  AND ((m.seq > GREATEST($3::bigint, $7::bigint) AND m.seq <= $4::bigint)"
         "    OR (m.seq > GREATEST($5::bigint, $7::bigint) AND m.seq <= $6::bigint))"
         " GROUP BY m.sender_id ORDER BY m.sender_id",
         7, false},
    /*
     * The same moves for a short range (RECEIPT_FEW_SEQS seqs at most, as a
     * receipt for each new message gives): message q of S is delivered
     * when no member o <> S with o.joined_seq < q has o.delivered_seq < q,
     * which is the condition above, asked per message. Each probe stops at
     * the first member still behind, so in a group where everyone
     * acknowledges every message only the last receipt reads every member
     * (RECEIPT_MOVES reads them all for each); for a long range the probes
     * would cost O(messages x members), so RECEIPT_MOVES runs instead. Both
     * gave the same rows in 176,206 random cases (bench/README.md).
     */
    [RECEIPT_MOVES_FEW] =
        {"receipt_moves_few",
         "WITH c AS (SELECT m.sender_id, m.seq,"
         "   m.seq > GREATEST($3::bigint, $7::bigint) AND m.seq <= $4::bigint AS in_d,"
         "   m.seq > GREATEST($5::bigint, $7::bigint) AND m.seq <= $6::bigint AS in_r"
         "   FROM messages m WHERE m.conversation_id = $1::bigint AND m.sender_id <> $2::bigint"
         "   AND ((m.seq > GREATEST($3::bigint, $7::bigint) AND m.seq <= $4::bigint)"
         "     OR (m.seq > GREATEST($5::bigint, $7::bigint) AND m.seq <= $6::bigint))"
         "   AND EXISTS (SELECT 1 FROM members s WHERE s.conversation_id = $1::bigint"
         "     AND s.user_id = m.sender_id)),"
         " v AS (SELECT c.sender_id, c.seq, c.in_d AND NOT EXISTS (SELECT 1 FROM members o"
         "   WHERE o.conversation_id = $1::bigint AND o.user_id <> c.sender_id"
         "   AND o.joined_seq < c.seq AND o.delivered_seq < c.seq) AS d,"
         "   c.in_r AND NOT EXISTS (SELECT 1 FROM members o"
         "   WHERE o.conversation_id = $1::bigint AND o.user_id <> c.sender_id"
         "   AND o.joined_seq < c.seq AND o.read_seq < c.seq) AS r FROM c)"
         " SELECT sender_id, COALESCE(max(seq) FILTER (WHERE d), 0),"
         "  COALESCE(max(seq) FILTER (WHERE r), 0) FROM v GROUP BY sender_id ORDER BY sender_id",
         7, false},
    /* Watermarks only move up, so a member's first log row at or above
     * seq is when it passed seq. A read that moved delivered_seq logged a
     * delivered row too; LEAST with read_at keeps "read implies delivered"
     * true regardless. Rows from an earlier membership (removed, added
     * again) are older than joined_at and ignored. A single row with a
     * NULL user means: the message is visible, nobody else could see it. */
    [MESSAGE_RECEIPTS] =
        {"message_receipts",
         "SELECT x.user_id, " TS_UTC("LEAST(x.d, x.r)") ", " TS_UTC(
             "x.r") " FROM ("
                    " SELECT o.user_id,"
                    "  (SELECT l.at FROM receipt_log l WHERE l.conversation_id = o.conversation_id"
                    "    AND l.user_id = o.user_id AND l.type = 'delivered' AND l.up_to_seq >= "
                    "m.seq"
                    "    AND l.at >= o.joined_at ORDER BY l.up_to_seq, l.at LIMIT 1) AS d,"
                    "  (SELECT l.at FROM receipt_log l WHERE l.conversation_id = o.conversation_id"
                    "    AND l.user_id = o.user_id AND l.type = 'read' AND l.up_to_seq >= m.seq"
                    "    AND l.at >= o.joined_at ORDER BY l.up_to_seq, l.at LIMIT 1) AS r"
                    /* Archived messages have their ticks too (see archive.c). */
                    " FROM members me JOIN (SELECT conversation_id, seq, sender_id FROM messages"
                    "  UNION ALL SELECT conversation_id, seq, sender_id FROM archived_messages) m"
                    "  ON m.conversation_id = me.conversation_id"
                    "  AND m.seq = $3::bigint AND m.seq > me.joined_seq"
                    " LEFT JOIN members o ON o.conversation_id = m.conversation_id"
                    "  AND o.user_id <> m.sender_id AND o.joined_seq < m.seq"
                    " WHERE me.conversation_id = $1::bigint AND me.user_id = $2::bigint) x"
                    " ORDER BY x.user_id",
         3, true},
    {NULL, NULL, 0, false},
};

static int run(struct store_pg *pg, int id, const char *const *vals, PGresult **r)
{
    return store_pg__exec(pg, &store_pg__receipt_stmts[id], vals, NULL, NULL, r);
}

static const char *num(struct pl_arena *a, int64_t v)
{
    return pl_arena_sprintf(a, "%" PRId64, v);
}

int store_pg_receipt_lock_many(struct store_pg *pg, struct pl_arena *a, bool begin,
                               struct store_receipt_group *g, unsigned n)
{
    unsigned lead = begin ? 1 : 0, nq = 2 * n + lead, k = 0;
    struct store_pg__call *q = pl_arena_zalloc(a, (nq ? nq : 1) * sizeof(*q));
    const char **vals = pl_arena_alloc(a, (n ? n : 1) * 2 * sizeof(*vals));
    if (!q || !vals)
        return PL_ENOMEM;
    if (lead)
        q[k++].st = store_pg__stmt_begin;
    for (unsigned i = 0; i < n; i++) {
        const char **v = &vals[2 * i];
        if (!(v[0] = num(a, g[i].conversation_id)) || !(v[1] = num(a, g[i].user_id)))
            return PL_ENOMEM;
        q[k++] =
            (struct store_pg__call){.st = &store_pg__receipt_stmts[RECEIPT_SERIALIZE], .values = v};
        q[k++] = (struct store_pg__call){.st = &store_pg__receipt_stmts[RECEIPT_LOCK], .values = v};
    }
    int rc = store_pg__exec_pipeline(pg, q, nq);
    for (unsigned i = 0; i < n && rc == 0; i++) {
        const PGresult *r = q[lead + 2 * i + 1].res; /* RECEIPT_LOCK's */
        struct store_watermarks *w = &g[i].from;
        *w = (struct store_watermarks){0};
        g[i].rc = PQntuples(r) == 1 ? 0 : PL_ENOTFOUND;
        int64_t *col[] = {&w->joined_seq, &w->delivered_seq, &w->read_seq, &w->last_seq};
        for (int j = 0; j < 4 && g[i].rc == 0 && rc == 0; j++)
            rc = store_pg__get_i64(r, 0, j, col[j]);
    }
    store_pg__calls_clear(q, nq);
    return rc;
}

/* The moves of one group from RECEIPT_MOVES's rows. */
static int read_moves(struct pl_arena *a, const PGresult *r, struct store_receipt_group *g)
{
    int rows = PQntuples(r), rc = 0;
    struct store_status_move *m = pl_arena_alloc(a, (size_t)(rows ? rows : 1) * sizeof(*m));
    unsigned k = 0;
    if (!m)
        return PL_ENOMEM;
    for (int i = 0; i < rows && rc == 0; i++) {
        struct store_status_move *x = &m[k];
        rc = store_pg__get_i64(r, i, 0, &x->sender_id);
        if (rc == 0)
            rc = store_pg__get_i64(r, i, 1, &x->delivered_up_to);
        if (rc == 0)
            rc = store_pg__get_i64(r, i, 2, &x->read_up_to);
        if (rc == 0 && (x->delivered_up_to || x->read_up_to))
            k++;
    }
    g->mv = m;
    g->n_mv = k;
    return rc;
}

int store_pg_receipt_apply_many(struct store_pg *pg, struct pl_arena *a,
                                struct store_receipt_group *g, unsigned n)
{
    unsigned nq = 0;
    for (unsigned i = 0; i < n; i++) {
        g[i].mv = NULL;
        g[i].n_mv = 0;
        nq += store_receipt_moved(&g[i]) ? 2 : 0;
    }
    if (nq == 0)
        return 0;
    struct store_pg__call *q = pl_arena_zalloc(a, nq * sizeof(*q));
    if (!q)
        return PL_ENOMEM;
    for (unsigned i = 0, k = 0; i < n; i++) {
        const struct store_watermarks *f = &g[i].from, *t = &g[i].to;
        if (!store_receipt_moved(&g[i]))
            continue;
        /* RECEIPT_UPDATE: conversation, user, d, r, moved d, moved r;
         * RECEIPT_MOVES: conversation, user, d0, d1, r0, r1, joined. */
        const int64_t v[] = {g[i].conversation_id, g[i].user_id, f->delivered_seq, t->delivered_seq,
                             f->read_seq,          t->read_seq,  f->joined_seq};
        const char **mv = pl_arena_alloc(a, 7 * sizeof(*mv));
        const char **up = pl_arena_alloc(a, 6 * sizeof(*up));
        if (!mv || !up)
            return PL_ENOMEM;
        for (unsigned j = 0; j < 7; j++)
            if (!(mv[j] = num(a, v[j])))
                return PL_ENOMEM;
        up[0] = mv[0];
        up[1] = mv[1];
        up[2] = mv[3];
        up[3] = mv[5];
        up[4] = t->delivered_seq != f->delivered_seq ? "t" : "f";
        up[5] = t->read_seq != f->read_seq ? "t" : "f";
        q[k++] =
            (struct store_pg__call){.st = &store_pg__receipt_stmts[RECEIPT_UPDATE], .values = up};
        int64_t span = t->delivered_seq - PL_MAX(f->delivered_seq, f->joined_seq) + t->read_seq -
                       PL_MAX(f->read_seq, f->joined_seq);
        int moves = span <= RECEIPT_FEW_SEQS ? RECEIPT_MOVES_FEW : RECEIPT_MOVES;
        q[k++] = (struct store_pg__call){.st = &store_pg__receipt_stmts[moves], .values = mv};
    }
    int rc = store_pg__exec_pipeline(pg, q, nq);
    for (unsigned i = 0, k = 0; i < n && rc == 0; i++)
        if (store_receipt_moved(&g[i])) {
            rc = read_moves(a, q[k + 1].res, &g[i]);
            k += 2;
        }
    store_pg__calls_clear(q, nq);
    return rc;
}

static const char *nullable_str(struct pl_arena *a, const PGresult *r, int row, int col, bool *oom)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    const char *s = store_pg__get_str(a, r, row, col);
    *oom |= !s;
    return s;
}

int store_pg_message_receipts(struct store_pg *pg, struct pl_arena *a, int64_t conversation_id,
                              int64_t viewer_id, int64_t seq, struct store_receipt **out,
                              unsigned *n)
{
    char cb[24], ub[24], sb[24];
    snprintf(cb, sizeof(cb), "%" PRId64, conversation_id);
    snprintf(ub, sizeof(ub), "%" PRId64, viewer_id);
    snprintf(sb, sizeof(sb), "%" PRId64, seq);
    const char *vals[] = {cb, ub, sb};
    PGresult *r;
    int rc = run(pg, MESSAGE_RECEIPTS, vals, &r);
    if (rc < 0)
        return rc;
    int rows = PQntuples(r);
    struct store_receipt *v = pl_arena_alloc(a, (size_t)(rows ? rows : 1) * sizeof(*v));
    unsigned k = 0;
    bool oom = !v;
    rc = rows == 0 ? PL_ENOTFOUND : 0;
    for (int i = 0; i < rows && rc == 0 && !oom; i++) {
        if (PQgetisnull(r, i, 0))
            continue; /* visible, but nobody else could see it */
        rc = store_pg__get_i64(r, i, 0, &v[k].user_id);
        v[k].delivered_at = nullable_str(a, r, i, 1, &oom);
        v[k].read_at = nullable_str(a, r, i, 2, &oom);
        k++;
    }
    PQclear(r);
    *out = v;
    *n = k;
    return rc < 0 ? rc : oom ? PL_ENOMEM : 0;
}
