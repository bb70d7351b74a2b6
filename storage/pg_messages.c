/* SPDX-License-Identifier: MIT */
/* Parley - messages: the group commit's statements, and history pages. */
/* Copyright (c) 2026 Parley developers                                 */
#include "messages.h"
#include "pg_int.h"

#include "archive.h"

#include "common/ids.h"
#include "common/buf.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A batch's rows travel as a fixed number of parameters per statement, so
 * that the number of round trips and of statements never grows with the
 * batch:
 *
 *  - integer lists as bigint[] literals ("{1,2,3}"), which we print from
 *    int64_t values, so there is nothing to quote;
 *  - rows as one array per column in PostgreSQL's binary format
 *    (store_pg__bin), zipped back into rows by unnest() WITH ORDINALITY:
 *    nothing to escape here and nothing to parse there, texts and payloads
 *    arrive as the bytes we sent. The input is valid UTF-8 without NUL
 *    bytes (api/ checked).
 */

#define TS_UTC(x) STORE_PG_TS(x)

enum {
    SEND_LOCK,
    SEND_CHECK,
    SEND_INSERT,
    SEND_ACCEPT,
    MEMBER_JOINED,
    PAGE_ASC,
    PAGE_DESC,
};

/* A page of history over messages and archived_messages (0004): each
 * branch is limited on its own (an index range scan each), then merged.
 * The SQL below is laid out by hand; clang-format would fold it around the
 * macro arguments. */
// clang-format off
#define ARCHIVED_COLS(m)                                                        \
    m ".id, " m ".conversation_id, " m ".seq, " m ".sender_id,"                 \
    " 0, '', '', '', 0, " STORE_PG_TS(m ".created_at") ", "                     \
    STORE_MSG_STATUS_SQL(m) ", '', "                                            \
    "COALESCE(" STORE_PG_TS(m ".deleted_at") ", ''), false"
/* "Delete for me" (0011): the viewer ($5) does not see what it hid. */
#define NOT_HIDDEN                                                              \
    " AND NOT EXISTS (SELECT 1 FROM message_hidden h"                           \
    " WHERE h.conversation_id = $1::bigint AND h.user_id = $5::bigint"          \
    " AND h.seq = m.seq)"
#define PAGE_SQL(dir, dir2)                                                     \
    "SELECT * FROM ("                                                           \
      "(SELECT " STORE_MSG_COLS("m") ", NULL::text"                             \
      " FROM messages m"                                                        \
      " WHERE m.conversation_id = $1::bigint"                                   \
      " AND m.seq > $2::bigint AND m.seq < $3::bigint" NOT_HIDDEN               \
      " ORDER BY m.seq" dir " LIMIT $4::int)"                                   \
      " UNION ALL "                                                             \
      "(SELECT " ARCHIVED_COLS("m") ", s.blob_key"                              \
      " FROM archived_messages m JOIN archive_segments s ON s.id = m.segment_id" \
      " WHERE m.conversation_id = $1::bigint"                                   \
      " AND m.seq > $2::bigint AND m.seq < $3::bigint" NOT_HIDDEN               \
      " ORDER BY m.seq" dir " LIMIT $4::int)"                                   \
    ") x ORDER BY 3" dir2 " LIMIT $4::int"
// clang-format on

/* SEND_CHECK's parameters: one array per column. */
enum { C_C, C_U, C_D, C_M, C_R, C_F, CHECK_COLS };
/* SEND_INSERT's parameters: one array per column (their length is the count). */
enum { I_C, I_S, I_U, I_D, I_M, I_K, I_B, I_R, I_F, I_X, I_P, I_O, INSERT_COLS };

/* The check's columns before the message columns of the stored message. */
#define CHECK_NCOLS 7

const struct store_pg__stmt store_pg__message_stmts[] = {
    /* Locking the row waits for whoever holds it and then returns its
     * newest version, so last_seq is the one this transaction advances:
     * nobody else can until it ends. now() is the transaction's start,
     * every message's created_at. */
    // clang-format off
    [SEND_LOCK] = {"send_lock",
                   "SELECT id, encryption = 'e2e', COALESCE(expire_ms, 0), last_seq,"
                   " " TS_UTC("now()") " FROM conversations"
                   " WHERE id = ANY($1::bigint[])"
                   " ORDER BY id FOR NO KEY UPDATE",
                   1, false},
    // clang-format on
    /* Per send: is the sender a member, is reply_to a message it can see,
     * is (device, client_msg_id) stored already (and if so, that
     * message), is the sender blocked, and on the first send of each
     * conversation in the batch (f) the conversation's members. Rows come
     * in no particular order; column 0 says which send a row is for.
     *
     * Every lookup is a LATERAL subquery or a scalar subquery named once,
     * so it runs once per send as an index probe: unnest() has
     * no statistics (as plain joins the planner hashed the whole members
     * table for every batch), and a subquery column of a CTE that the
     * planner inlines runs again wherever the column is named (the
     * stored-message probe ran three times per send and the blocks probe
     * twice, before). Which send of the batch comes first with a given
     * (device, client_msg_id) is parleyd's to work out (check_row()).
     *
     * This statement runs after SEND_LOCK, so its snapshot is taken under
     * the conversation lock: nobody joins or leaves between it and the
     * commit. (SEND_LOCK's own snapshot predates its wait.) */
    [SEND_CHECK] =
        {"send_check",
         "SELECT j.n - 1, mb.jseq IS NOT NULL,"
         " (j.r = 0 OR EXISTS (SELECT 1 FROM messages p WHERE p.conversation_id = j.c"
         "   AND p.seq = j.r AND p.seq > mb.jseq) OR EXISTS (SELECT 1"
         "   FROM archived_messages p WHERE p.conversation_id = j.c AND p.seq = j.r"
         "   AND p.seq > mb.jseq)),"
         " e.id IS NOT NULL,"
         /* Blocks (0013) apply to direct conversations: one probe of
          * blocks_by_blocked, which finds nothing for almost every sender. */
         " EXISTS (SELECT 1 FROM blocks b JOIN members o ON o.user_id = b.user_id"
         "   AND o.conversation_id = j.c JOIN conversations v ON v.id = j.c"
         "   AND v.kind = 'direct' WHERE b.blocked_id = j.u),"
         " COALESCE(mb.pending, false),"
         " CASE WHEN j.f THEN ARRAY(SELECT a.user_id FROM members a"
         "   WHERE a.conversation_id = j.c) END, e.*"
         " FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[],"
         "   $6::boolean[]) WITH ORDINALITY AS j(c, u, d, m, r, f, n)"
         " LEFT JOIN LATERAL (SELECT mb.joined_seq AS jseq,"
         "   mb.request_from IS NOT NULL AS pending FROM members mb"
         "   WHERE mb.conversation_id = j.c AND mb.user_id = j.u) mb ON true"
         // clang-format off
         " LEFT JOIN LATERAL (SELECT " STORE_MSG_COLS("e") " FROM messages e"
         "   WHERE e.sender_device_id = j.d AND e.client_msg_id = j.m OFFSET 0) e ON true",
         // clang-format on
         CHECK_COLS, true},
    /* created_at defaults to now(), the transaction's start: the value
     * SEND_LOCK returned and the payloads carry. The rows come as one
     * binary array per column (store_pg__bin), zipped by unnest(): the
     * server copies bodies and payloads instead of parsing them, and the
     * event row holds exactly the bytes we publish.
     *
     * The batch's stream positions are taken here, by the same statement
     * that inserts the rows they number, so the position lock (the row of
     * stream_state, held until commit) is held for this statement, the
     * COMMIT and its WAL flush only, with no round trip to parleyd inside:
     * while one writer connection holds it, another can run its batch's
     * earlier steps (server/writer.c). Row n of the batch (n from 1, in
     * batch order) gets position first + n - 1; its payload carries a "0"
     * at character o (1-based) where its id goes, spliced in by
     * overlay(). */
    [SEND_INSERT] = {"send_insert",
                     "WITH p AS (UPDATE stream_state SET pos = pos + cardinality($1::bigint[])"
                     "   WHERE id = 1 RETURNING pos - cardinality($1::bigint[]) + 1 AS first),"
                     " j AS (SELECT x.*, (SELECT first FROM p) + x.n - 1 AS i"
                     "   FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[],"
                     "   $5::text[], $6::text[], $7::text[], $8::bigint[], $9::boolean[],"
                     "   $10::bigint[], $11::text[], $12::int[]) WITH ORDINALITY"
                     "   AS x(c, s, u, d, m, k, b, r, f, x, p, o, n)),"
                     " ins AS (INSERT INTO messages (conversation_id, seq, id, sender_id,"
                     "   sender_device_id, client_msg_id, kind, body, reply_to, forwarded,"
                     "   expires_at)"
                     "   SELECT c, s, i, u, d, m, k, b, NULLIF(r, 0), f,"
                     "   CASE WHEN x > 0 THEN now() + x * interval '1 millisecond' END FROM j),"
                     " ev AS (INSERT INTO events (pos, conversation_id, type, payload)"
                     "   SELECT i, c, 'message.created', overlay(p PLACING i::text"
                     "   FROM o FOR 1) FROM j),"
                     /* last_seq moves to each conversation's highest new
                      * seq. The seqs were numbered from SEND_LOCK's
                      * last_seq, which nobody else can move under the lock
                      * (were it otherwise, the messages' primary key would
                      * refuse a seq given twice); GREATEST never lowers it. */
                     " adv AS (UPDATE conversations v SET last_seq = GREATEST(v.last_seq, x.s),"
                     "   last_activity_at = now()"
                     "   FROM (SELECT c, max(s) AS s FROM j GROUP BY c) x WHERE v.id = x.c)"
                     " SELECT first FROM p",
                     INSERT_COLS, false},
    /* A message request is accepted by answering it (0013). */
    [SEND_ACCEPT] = {"send_accept",
                     "UPDATE members m SET request_from = NULL"
                     " FROM unnest($1::bigint[], $2::bigint[]) AS x(c, u)"
                     " WHERE m.conversation_id = x.c AND m.user_id = x.u"
                     " AND m.request_from IS NOT NULL",
                     2, false},
    [MEMBER_JOINED] = {"member_joined_seq",
                       "SELECT joined_seq FROM members"
                       " WHERE conversation_id = $1::bigint AND user_id = $2::bigint",
                       2, true},
    /* Hot and archived messages in one page: an archived row carries the
     * key of its segment (last column), from which the caller fills in
     * what PostgreSQL no longer keeps (store_archive_fill). */
    [PAGE_ASC] = {"messages_page_asc", PAGE_SQL("", ""), 5, true},
    [PAGE_DESC] = {"messages_page_desc", PAGE_SQL(" DESC", " DESC"), 5, true},
    {NULL, NULL, 0, false},
};

static int run(struct store_pg *pg, int id, const char *const *vals, PGresult **r)
{
    return store_pg__exec(pg, &store_pg__message_stmts[id], vals, NULL, NULL, r);
}

static bool get_bool(const PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col)[0] == 't';
}

/* The distinct conversation ids of the sends (all, or only the NEW ones),
 * ascending, with how many NEW sends each has. Arena arrays. */
static int conv_ids(struct pl_arena *a, struct store_send *const *s, unsigned n, bool only_new,
                    int64_t **ids, int64_t **counts, unsigned *n_ids)
{
    int64_t *v = pl_arena_alloc(a, (n ? n : 1) * sizeof(*v));
    int64_t *k = pl_arena_zalloc(a, (n ? n : 1) * sizeof(*k));
    if (!v || !k)
        return PL_ENOMEM;
    unsigned m = 0;
    for (unsigned i = 0; i < n; i++)
        if (!only_new || s[i]->outcome == STORE_SEND_NEW)
            v[m++] = s[i]->conversation_id;
    qsort(v, m, sizeof(*v), pl_ids_cmp);
    unsigned d = 0;
    for (unsigned i = 0; i < m; i++)
        if (d == 0 || v[d - 1] != v[i])
            v[d++] = v[i];
    for (unsigned i = 0; i < n; i++) {
        if (s[i]->outcome != STORE_SEND_NEW)
            continue;
        int64_t *hit = bsearch(&s[i]->conversation_id, v, d, sizeof(*v), pl_ids_cmp);
        if (hit)
            k[hit - v]++;
    }
    *ids = v;
    *counts = k;
    *n_ids = d;
    return 0;
}

static const uint32_t check_oids[CHECK_COLS] = {
    STORE_PG_OID_INT8, STORE_PG_OID_INT8, STORE_PG_OID_INT8,
    STORE_PG_OID_TEXT, STORE_PG_OID_INT8, STORE_PG_OID_BOOL,
};

/* SEND_CHECK's columns for s[0..n); ids (n_ids, ascending) are the
 * batch's conversations, seen scratch for as many flags. f marks the
 * first send of each conversation. */
static int check_param(struct store_pg__bin *col, struct store_send *const *s, unsigned n,
                       const int64_t *ids, unsigned n_ids, bool *seen)
{
    memset(seen, 0, n_ids * sizeof(*seen));
    for (unsigned i = 0; i < n; i++) {
        const int64_t *k = bsearch(&s[i]->conversation_id, ids, n_ids, sizeof(*ids), pl_ids_cmp);
        if (!k)
            return PL_EINTERNAL;
        store_pg__bin_i64(&col[C_C], s[i]->conversation_id);
        store_pg__bin_i64(&col[C_U], s[i]->sender_id);
        store_pg__bin_i64(&col[C_D], s[i]->sender_device_id);
        store_pg__bin_text(&col[C_M], s[i]->client_msg_id);
        store_pg__bin_i64(&col[C_R], s[i]->reply_to);
        store_pg__bin_bool(&col[C_F], !seen[k - ids]);
        seen[k - ids] = true;
    }
    return 0;
}

/* The first send before send i that is NEW with the same (device,
 * client_msg_id), or i. The earliest acceptable send with a key is NEW,
 * and every later acceptable one repeats it (or names another
 * conversation), so this is the earliest acceptable send with the key. */
static unsigned first_with_key(struct store_send *const *s, unsigned i)
{
    const struct store_send *x = s[i];
    for (unsigned j = 0; j < i; j++)
        if (s[j]->outcome == STORE_SEND_NEW && s[j]->sender_device_id == x->sender_device_id &&
            strcmp(s[j]->client_msg_id, x->client_msg_id) == 0)
            return j;
    return i;
}

/* Decides send i from its check row. Earlier sends are decided first,
 * so a send can look at the one it repeats. */
static int check_row(struct pl_arena *a, const PGresult *r, int row, struct store_send *const *s,
                     unsigned i)
{
    struct store_send *x = s[i];
    x->outcome = STORE_SEND_REJECTED;
    if (!get_bool(r, row, 1)) {
        x->rc = PL_ENOTFOUND;
    } else if (get_bool(r, row, 4) && !get_bool(r, row, 3)) {
        x->rc = PL_EFORBIDDEN;
        x->blocked = true;
    } else if (get_bool(r, row, 3)) {
        int rc = store_pg__message_row(a, r, row, CHECK_NCOLS, &x->msg);
        if (rc < 0)
            return rc;
        x->outcome = STORE_SEND_STORED;
        if (x->msg.conversation_id != x->conversation_id) {
            x->outcome = STORE_SEND_REJECTED;
            x->rc = PL_ECONFLICT;
        }
    } else if (!get_bool(r, row, 2)) {
        x->rc = PL_EINVAL;
    } else {
        unsigned first = first_with_key(s, i);
        if (first == i) {
            x->outcome = STORE_SEND_NEW;
            x->accepts = get_bool(r, row, 5);
        } else if (s[first]->conversation_id == x->conversation_id) {
            x->outcome = STORE_SEND_DUPLICATE;
            x->dup_of = first;
        } else {
            x->rc = PL_ECONFLICT;
        }
    }
    return 0;
}

/* rowof[i]: the check row of send i (column 0), every send exactly once. */
static int check_rows(struct pl_arena *a, const PGresult *r, unsigned n, int **rowof)
{
    int *v = pl_arena_alloc(a, (n ? n : 1) * sizeof(*v));
    if (!v)
        return PL_ENOMEM;
    for (unsigned i = 0; i < n; i++)
        v[i] = -1;
    if (PQntuples(r) != (int)n)
        return PL_EINTERNAL;
    for (int row = 0; row < (int)n; row++) {
        int64_t i;
        int rc = store_pg__get_i64(r, row, 0, &i);
        if (rc < 0)
            return rc;
        if (i < 0 || i >= (int64_t)n || v[i] >= 0)
            return PL_EINTERNAL;
        v[i] = row;
    }
    *rowof = v;
    return 0;
}

/* Sets each send's conversation fields from SEND_LOCK's rows. */
static int lock_rows(struct pl_arena *a, const PGresult *r, struct store_send *const *s, unsigned n)
{
    int rc = 0;
    for (int row = 0; row < PQntuples(r) && rc == 0; row++) {
        int64_t id, last_seq, expire_ms;
        const char *now = NULL;
        if ((rc = store_pg__get_i64(r, row, 0, &id)) == 0 &&
            (rc = store_pg__get_i64(r, row, 2, &expire_ms)) == 0 &&
            (rc = store_pg__get_i64(r, row, 3, &last_seq)) == 0 &&
            !(now = store_pg__get_str(a, r, row, 4)))
            rc = PL_ENOMEM;
        for (unsigned i = 0; i < n && rc == 0; i++)
            if (s[i]->conversation_id == id) {
                s[i]->conv_e2e = get_bool(r, row, 1);
                s[i]->expire_ms = expire_ms;
                s[i]->conv_last_seq = last_seq;
                s[i]->tx_now = now;
            }
    }
    return rc;
}

/* Sets the audience of every send to the conversation of send i when its
 * check row (row) carries it (the first send to each conversation). */
static int audience_row(struct pl_arena *a, const PGresult *r, int row, struct store_send *const *s,
                        unsigned i, unsigned n)
{
    if (PQgetisnull(r, row, CHECK_NCOLS - 1))
        return 0;
    int64_t *members;
    unsigned n_members;
    int rc = store_pg__get_i64_array(a, r, row, CHECK_NCOLS - 1, &members, &n_members);
    for (unsigned k = 0; k < n && rc == 0; k++)
        if (s[k]->conversation_id == s[i]->conversation_id) {
            s[k]->audience = members;
            s[k]->n_audience = n_members;
        }
    return rc;
}

int store_pg_send_open(struct store_pg *pg, struct pl_arena *a, struct store_send *const *s,
                       unsigned n)
{
    int64_t *ids, *counts;
    unsigned n_ids;
    int rc = conv_ids(a, s, n, false, &ids, &counts, &n_ids);
    if (rc < 0)
        return rc;
    struct store_pg__bin col[CHECK_COLS];
    store_pg__bins_init(col, check_oids, CHECK_COLS, n);
    const char *cv[CHECK_COLS];
    int cl[CHECK_COLS], cf[CHECK_COLS];
    struct store_pg__call q[3] = {{.st = store_pg__stmt_begin}};
    bool *seen = pl_arena_alloc(a, (n_ids ? n_ids : 1) * sizeof(*seen));
    const char *lv[] = {store_pg__i64_array(a, ids, n_ids)};
    if (!seen || !lv[0])
        rc = PL_ENOMEM;
    else if ((rc = check_param(col, s, n, ids, n_ids, seen)) == 0 &&
             (rc = store_pg__bins_params(col, CHECK_COLS, cv, cl, cf)) == 0) {
        q[1] = (struct store_pg__call){.st = &store_pg__message_stmts[SEND_LOCK], .values = lv};
        q[2] = (struct store_pg__call){
            .st = &store_pg__message_stmts[SEND_CHECK], .values = cv, .lengths = cl, .formats = cf};
        rc = store_pg__exec_pipeline(pg, q, 3);
    }
    store_pg__bins_deinit(col, CHECK_COLS);
    if (rc < 0)
        return rc;
    int *rowof = NULL;
    rc = lock_rows(a, q[1].res, s, n);
    if (rc == 0)
        rc = check_rows(a, q[2].res, n, &rowof);
    for (unsigned i = 0; i < n && rc == 0; i++)
        if ((rc = check_row(a, q[2].res, rowof[i], s, i)) == 0)
            rc = audience_row(a, q[2].res, rowof[i], s, i, n);
    store_pg__calls_clear(q, 3);
    return rc;
}

int store_pg_send_assign(struct pl_arena *a, struct store_send *const *s, unsigned n,
                         unsigned *n_new)
{
    int64_t *ids, *counts;
    unsigned n_ids;
    int rc = conv_ids(a, s, n, true, &ids, &counts, &n_ids);
    if (rc < 0)
        return rc;
    /* counts[k] becomes the number of seqs handed out so far */
    memset(counts, 0, (n_ids ? n_ids : 1) * sizeof(*counts));
    *n_new = 0;
    for (unsigned i = 0; i < n; i++) {
        struct store_send *x = s[i];
        if (x->outcome != STORE_SEND_NEW)
            continue;
        /* A NEW send passed the membership check under the lock, so its
         * conversation exists and SEND_LOCK returned its row. */
        int64_t *k = bsearch(&x->conversation_id, ids, n_ids, sizeof(*ids), pl_ids_cmp);
        if (!k || !x->tx_now)
            return PL_EINTERNAL;
        x->msg = (struct store_message){
            .conversation_id = x->conversation_id,
            .seq = x->conv_last_seq + ++counts[k - ids],
            .sender_id = x->sender_id,
            .sender_device_id = x->sender_device_id,
            .client_msg_id = x->client_msg_id,
            .kind = x->kind,
            .body = x->body,
            .reply_to = x->reply_to,
            .forwarded = x->forwarded,
            .created_at = x->tx_now,
            .status = STORE_MSG_SENT, /* nobody else can have it yet */
        };
        ++*n_new;
    }
    return 0;
}

/* The parameters of SEND_ACCEPT for the NEW sends that answer their
 * pending message request (0013), in the arena; vals[0] stays NULL when
 * there are none. */
static int accept_params(struct pl_arena *a, struct store_send *const *s, unsigned n,
                         const char *vals[2])
{
    unsigned k = 0;
    vals[0] = vals[1] = NULL;
    for (unsigned i = 0; i < n; i++)
        k += s[i]->outcome == STORE_SEND_NEW && s[i]->accepts;
    if (k == 0)
        return 0;
    int64_t *cv = pl_arena_alloc(a, k * sizeof(*cv)), *us = pl_arena_alloc(a, k * sizeof(*us));
    if (!cv || !us)
        return PL_ENOMEM;
    k = 0;
    for (unsigned i = 0; i < n; i++)
        if (s[i]->outcome == STORE_SEND_NEW && s[i]->accepts) {
            cv[k] = s[i]->conversation_id;
            us[k++] = s[i]->sender_id;
        }
    if (!(vals[0] = store_pg__i64_array(a, cv, k)) || !(vals[1] = store_pg__i64_array(a, us, k)))
        return PL_ENOMEM;
    return 0;
}

/* SEND_INSERT's "o": the 1-based character (not byte) offset of the id's
 * placeholder, since overlay() counts characters and a payload may hold
 * multibyte UTF-8 before it. */
static unsigned char_offset(const char *s, size_t bytes)
{
    unsigned chars = 0;
    for (size_t i = 0; i < bytes; i++)
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    return chars + 1;
}

static const uint32_t insert_oids[INSERT_COLS] = {
    STORE_PG_OID_INT8, STORE_PG_OID_INT8, STORE_PG_OID_INT8, STORE_PG_OID_INT8,
    STORE_PG_OID_TEXT, STORE_PG_OID_TEXT, STORE_PG_OID_TEXT, STORE_PG_OID_INT8,
    STORE_PG_OID_BOOL, STORE_PG_OID_INT8, STORE_PG_OID_TEXT, STORE_PG_OID_INT4,
};

static void insert_row(struct store_pg__bin *col, const struct store_send *x)
{
    const struct store_message *m = &x->msg;
    store_pg__bin_i64(&col[I_C], m->conversation_id);
    store_pg__bin_i64(&col[I_S], m->seq);
    store_pg__bin_i64(&col[I_U], m->sender_id);
    store_pg__bin_i64(&col[I_D], m->sender_device_id);
    store_pg__bin_text(&col[I_M], m->client_msg_id);
    store_pg__bin_text(&col[I_K], m->kind);
    store_pg__bin_text(&col[I_B], m->body);
    store_pg__bin_i64(&col[I_R], m->reply_to);
    store_pg__bin_bool(&col[I_F], m->forwarded);
    store_pg__bin_i64(&col[I_X], x->expire_ms);
    store_pg__bin_text(&col[I_P], x->payload);
    store_pg__bin_i32(&col[I_O], (int32_t)char_offset(x->payload, x->id_at));
}

/* A NEW send's payload must hold the id's placeholder where it says. */
static bool has_placeholder(const struct store_send *x)
{
    return x->payload && x->id_at < strlen(x->payload) && x->payload[x->id_at] == '0';
}

int store_pg_send_finish(struct store_pg *pg, struct pl_arena *a, struct store_send *const *s,
                         unsigned n, const char *e2e_rows, uint64_t *first)
{
    const char *av[2] = {NULL, NULL};
    unsigned n_new = 0;
    int rc = 0;
    *first = 0;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        if (s[i]->outcome != STORE_SEND_NEW)
            continue;
        n_new++;
        if (!has_placeholder(s[i]))
            rc = PL_EINVAL;
    }
    struct store_pg__bin col[INSERT_COLS];
    store_pg__bins_init(col, insert_oids, INSERT_COLS, n_new);
    for (unsigned i = 0; i < n && rc == 0; i++)
        if (s[i]->outcome == STORE_SEND_NEW)
            insert_row(col, s[i]);
    const char *iv[INSERT_COLS];
    int il[INSERT_COLS], ifmt[INSERT_COLS];
    if (rc == 0)
        rc = store_pg__bins_params(col, INSERT_COLS, iv, il, ifmt);
    if (rc == 0 && n_new)
        rc = accept_params(a, s, n, av);
    unsigned k = 0, ins = 0;
    struct store_pg__call q[4];
    if (rc == 0) {
        const char *ev[] = {e2e_rows};
        if (e2e_rows)
            q[k++] = (struct store_pg__call){.st = store_pg__stmt_e2e_insert, .values = ev};
        /* Accepting answered requests updates member rows, so it comes
         * before the position lock (taken by SEND_INSERT): a receipt locks
         * its member row and then takes positions, and the other order
         * deadlocked with it (40P01). */
        if (av[0])
            q[k++] =
                (struct store_pg__call){.st = &store_pg__message_stmts[SEND_ACCEPT], .values = av};
        ins = k;
        if (n_new)
            q[k++] = (struct store_pg__call){.st = &store_pg__message_stmts[SEND_INSERT],
                                             .values = iv,
                                             .lengths = il,
                                             .formats = ifmt};
        q[k++] = (struct store_pg__call){.st = store_pg__stmt_commit};
        rc = store_pg__exec_pipeline(pg, q, k);
    }
    store_pg__bins_deinit(col, INSERT_COLS);
    if (rc < 0)
        return rc;
    /* Committed: number the NEW sends as SEND_INSERT did. */
    int64_t pos = 0;
    if (n_new && (PQntuples(q[ins].res) != 1 || store_pg__get_i64(q[ins].res, 0, 0, &pos) < 0))
        rc = PL_EINTERNAL;
    *first = (uint64_t)pos;
    for (unsigned i = 0, ord = 0; i < n && rc == 0 && n_new; i++)
        if (s[i]->outcome == STORE_SEND_NEW)
            s[i]->msg.id = pos + ord++;
    store_pg__calls_clear(q, k);
    return rc;
}

/* ---- history ---- */

static int member_joined_seq(struct store_pg *pg, int64_t conversation_id, int64_t user_id,
                             int64_t *joined_seq)
{
    char cb[24], ub[24];
    snprintf(cb, sizeof(cb), "%" PRId64, conversation_id);
    snprintf(ub, sizeof(ub), "%" PRId64, user_id);
    const char *vals[] = {cb, ub};
    PGresult *r;
    int rc = run(pg, MEMBER_JOINED, vals, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? store_pg__get_i64(r, 0, 0, joined_seq) : PL_ENOTFOUND;
    PQclear(r);
    return rc;
}

int store_pg_messages_list(struct store_pg *pg, struct pl_arena *a, int64_t conversation_id,
                           int64_t viewer_id, const struct store_msg_page *page,
                           struct store_message **out, unsigned *n, bool *has_more)
{
    int64_t joined;
    int rc = member_joined_seq(pg, conversation_id, viewer_id, &joined);
    if (rc < 0)
        return rc;
    /* One row more than asked tells whether there is more. A backward
     * page is read newest first and reversed below. */
    bool desc = !page->forward;
    char cb[24], lo[24], hi[24], lim[16], vw[24];
    snprintf(vw, sizeof(vw), "%" PRId64, viewer_id);
    snprintf(cb, sizeof(cb), "%" PRId64, conversation_id);
    snprintf(lo, sizeof(lo), "%" PRId64, PL_MAX(joined, page->after));
    snprintf(hi, sizeof(hi), "%" PRId64, page->before > 0 ? page->before : INT64_MAX);
    snprintf(lim, sizeof(lim), "%u", page->limit + 1);
    const char *vals[] = {cb, lo, hi, lim, vw};
    PGresult *r;
    if ((rc = run(pg, desc ? PAGE_DESC : PAGE_ASC, vals, &r)) < 0)
        return rc;
    unsigned rows = (unsigned)PQntuples(r), keep = PL_MIN(rows, page->limit);
    struct store_message *m = pl_arena_alloc(a, (keep ? keep : 1) * sizeof(*m));
    rc = m ? 0 : PL_ENOMEM;
    for (unsigned i = 0; i < keep && rc == 0; i++) {
        struct store_message *x = &m[desc ? keep - 1 - i : i];
        rc = store_pg__message_row(a, r, (int)i, 0, x);
        if (rc == 0 && !PQgetisnull(r, (int)i, STORE_MSG_NCOLS))
            rc = store_archive_fill(a, PQgetvalue(r, (int)i, STORE_MSG_NCOLS), x->seq, x);
        if (rc == 0 && x->deleted_at) { /* the tombstone overlays the segment's copy */
            x->kind = "deleted";
            x->body = "";
        }
    }
    PQclear(r);
    *out = m;
    *n = keep;
    *has_more = rows > page->limit;
    return rc;
}
