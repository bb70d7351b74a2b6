/* SPDX-License-Identifier: MIT */
/* Parley - blocks and message requests in PostgreSQL.                  */
/* Copyright (c) 2026 Parley developers                                 */
#include "blocks.h"
#include "pg_int.h"

#include <libpq-fe.h>

enum {
    BLOCK_PUT,
    BLOCK_DECLINE_FROM,
    BLOCK_DELETE,
    BLOCK_LIST,
    BLOCK_EXISTS,
    INVITE_REFUSALS,
    REQUESTS_MARK,
    REQUEST_ACCEPT,
    REQUEST_PENDING,
    REQUEST_DECLINE,
    BLOCKS_EXCLUDE,
};

/* "u has an accepted conversation with v": a conversation other than $c
 * where both are members and u's side is accepted. */
#define ACCEPTED_WITH(u, v, c)                                                                     \
    "EXISTS (SELECT 1 FROM members a JOIN members b ON b.conversation_id = a.conversation_id"      \
    " WHERE a.user_id = " u " AND b.user_id = " v " AND a.request_from IS NULL"                    \
    " AND a.conversation_id <> " c ")"

const struct store_pg__stmt store_pg__block_stmts[] = {
    [BLOCK_PUT] = {"block_put",
                   "INSERT INTO blocks (user_id, blocked_id) VALUES ($1::bigint, $2::bigint)"
                   " ON CONFLICT DO NOTHING RETURNING 1",
                   2, false},
    /* Blocking someone also turns down what they asked for: the rows are
     * removed under the conversations' locks, taken in id order like the
     * writer's, so concurrent sends see the membership before or after. */
    [BLOCK_DECLINE_FROM] =
        {"block_decline_from",
         "WITH l AS (SELECT c.id, c.kind FROM conversations c WHERE c.id IN"
         "   (SELECT conversation_id FROM members WHERE user_id = $1::bigint"
         "    AND request_from = $2::bigint) ORDER BY c.id FOR UPDATE),"
         " d AS (DELETE FROM members m USING l WHERE m.conversation_id = l.id"
         "   AND m.user_id = $1::bigint AND m.request_from = $2::bigint"
         "   RETURNING m.conversation_id, l.kind),"
         " t AS (UPDATE conversations c SET member_count = member_count - 1,"
         "   updated_at = now() FROM d WHERE c.id = d.conversation_id AND d.kind = 'group')"
         " SELECT conversation_id FROM d",
         2, false},
    [BLOCK_DELETE] = {"block_delete",
                      "DELETE FROM blocks WHERE user_id = $1::bigint AND blocked_id = $2::bigint"
                      " RETURNING 1",
                      2, false},
    [BLOCK_LIST] = {"blocks_list",
                    "SELECT b.blocked_id, u.username, " STORE_PG_TS(
                        "b.created_at") " FROM blocks b JOIN users u ON u.id = b.blocked_id"
                                        " WHERE b.user_id = $1::bigint ORDER BY b.created_at DESC, "
                                        "b.blocked_id",
                    1, true},
    [BLOCK_EXISTS] = {"block_exists",
                      "SELECT EXISTS (SELECT 1 FROM blocks WHERE user_id = $1::bigint"
                      " AND blocked_id = $2::bigint)",
                      2, true},
    [INVITE_REFUSALS] = {"invite_refusals",
                         "SELECT v FROM unnest($2::bigint[]) AS v WHERE EXISTS (SELECT 1"
                         " FROM blocks b WHERE b.user_id = v AND b.blocked_id = $1::bigint)"
                         " OR ($3::boolean AND EXISTS (SELECT 1 FROM members m"
                         " WHERE m.user_id = v AND m.request_from = $1::bigint))",
                         3, true},
    [REQUESTS_MARK] = {"requests_mark",
                       "UPDATE members m SET request_from = $2::bigint"
                       " WHERE m.conversation_id = $1::bigint AND m.user_id = ANY($3::bigint[])"
                       " AND m.user_id <> $2::bigint AND NOT " ACCEPTED_WITH(
                           "m.user_id", "$2::bigint", "$1::bigint"),
                       3, false},
    [REQUEST_ACCEPT] = {"request_accept",
                        "UPDATE members SET request_from = NULL WHERE conversation_id = $1::bigint"
                        " AND user_id = $2::bigint AND request_from IS NOT NULL RETURNING 1",
                        2, false},
    [REQUEST_PENDING] = {"request_pending",
                         "SELECT EXISTS (SELECT 1 FROM members WHERE conversation_id = $1::bigint"
                         " AND user_id = $2::bigint AND request_from IS NOT NULL)",
                         2, false},
    [REQUEST_DECLINE] =
        {"request_decline",
         "WITH d AS (DELETE FROM members WHERE conversation_id = $1::bigint"
         "   AND user_id = $2::bigint AND request_from IS NOT NULL RETURNING conversation_id)"
         " UPDATE conversations c SET member_count = member_count - 1, updated_at = now()"
         " FROM d WHERE c.id = d.conversation_id AND c.kind = 'group'"
         " RETURNING 1",
         2, false},
    [BLOCKS_EXCLUDE] = {"blocks_exclude",
                        "SELECT v FROM unnest($2::bigint[]) AS v WHERE NOT EXISTS (SELECT 1"
                        " FROM blocks b WHERE b.user_id = $1::bigint AND b.blocked_id = v)",
                        2, true},
    {NULL, NULL, 0, false},
};

static int run(struct store_pg *pg, int id, const char *const *vals, PGresult **r)
{
    return store_pg__exec(pg, &store_pg__block_stmts[id], vals, NULL, NULL, r);
}

/* Runs a statement and tells whether it returned a row. */
static int any_row(struct store_pg *pg, int id, const char *const *vals, bool *found)
{
    PGresult *r;
    int rc = run(pg, id, vals, &r);
    if (rc < 0)
        return rc;
    *found = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

int store_pg_block_put(struct store_pg *pg, struct pl_arena *a, int64_t user, int64_t blocked,
                       bool *created, int64_t **declined, unsigned *n_declined)
{
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, user, blocked);
    int rc = any_row(pg, BLOCK_PUT, vals, created);
    if (rc < 0)
        return rc;
    return store_pg__exec_ids(pg, a, &store_pg__block_stmts[BLOCK_DECLINE_FROM], vals, declined,
                              n_declined);
}

int store_pg_block_delete(struct store_pg *pg, int64_t user, int64_t blocked, bool *existed)
{
    struct store_pg__args p;
    return any_row(pg, BLOCK_DELETE, STORE_PG__ARGS(&p, user, blocked), existed);
}

static int block_row(struct pl_arena *a, const PGresult *r, int row, void *item, void *ctx)
{
    (void)ctx;
    struct store_block *b = item;
    int rc = store_pg__get_i64(r, row, 0, &b->user_id);
    b->username = store_pg__get_str(a, r, row, 1);
    b->created_at = store_pg__get_str(a, r, row, 2);
    if (rc == 0 && (!b->username || !b->created_at))
        rc = PL_ENOMEM;
    return rc;
}

int store_pg_blocks_list(struct store_pg *pg, struct pl_arena *a, int64_t user,
                         struct store_block **out, unsigned *n)
{
    struct store_pg__args p;
    return store_pg__exec_rows(pg, a, &store_pg__block_stmts[BLOCK_LIST], STORE_PG__ARGS(&p, user),
                               sizeof(**out), block_row, NULL, (void **)out, n);
}

int store_pg_block_exists(struct store_pg *pg, int64_t user, int64_t other, bool *blocked)
{
    return store_pg__exec_bool(pg, &store_pg__block_stmts[BLOCK_EXISTS], user, other, blocked);
}

/* Runs a statement of ($1 user, $2 ids[]) returning ids. */
static int ids_query(struct store_pg *pg, struct pl_arena *a, int id, int64_t user,
                     const int64_t *ids, unsigned n, int64_t **out, unsigned *n_out)
{
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, user);
    if (!(p.v[1] = store_pg__i64_array(a, ids, n)))
        return PL_ENOMEM;
    return store_pg__exec_ids(pg, a, &store_pg__block_stmts[id], vals, out, n_out);
}

int store_pg_invite_refusals(struct store_pg *pg, struct pl_arena *a, int64_t inviter,
                             const int64_t *ids, unsigned n, bool pending_holds, int64_t **out,
                             unsigned *n_out)
{
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, inviter);
    if (!(p.v[1] = store_pg__i64_array(a, ids, n)))
        return PL_ENOMEM;
    p.v[2] = pending_holds ? "true" : "false";
    return store_pg__exec_ids(pg, a, &store_pg__block_stmts[INVITE_REFUSALS], vals, out, n_out);
}

int store_pg_blocks_exclude(struct store_pg *pg, struct pl_arena *a, int64_t user,
                            const int64_t *ids, unsigned n, int64_t **out, unsigned *n_out)
{
    return ids_query(pg, a, BLOCKS_EXCLUDE, user, ids, n, out, n_out);
}

int store_pg_requests_mark(struct store_pg *pg, int64_t conversation_id, int64_t inviter,
                           const int64_t *ids, unsigned n)
{
    if (n == 0)
        return 0;
    struct pl_arena *a = pl_arena_new();
    if (!a)
        return PL_ENOMEM;
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, conversation_id, inviter);
    p.v[2] = store_pg__i64_array(a, ids, n);
    int rc = PL_ENOMEM;
    PGresult *r;
    if (p.v[2] && (rc = run(pg, REQUESTS_MARK, vals, &r)) == 0)
        PQclear(r);
    pl_arena_free(a);
    return rc;
}

int store_pg_request_accept(struct store_pg *pg, int64_t conversation_id, int64_t user)
{
    struct store_pg__args p;
    bool found;
    int rc = any_row(pg, REQUEST_ACCEPT, STORE_PG__ARGS(&p, conversation_id, user), &found);
    return rc < 0 ? rc : found ? 0 : PL_ENOTFOUND;
}

int store_pg_request_decline(struct store_pg *pg, int64_t conversation_id, int64_t user)
{
    struct store_pg__args p;
    PGresult *r;
    /* The UPDATE returns a row for groups only; whether a membership went
     * is what counts, so look for it first. */
    bool pending;
    int rc = store_pg__exec_bool(pg, &store_pg__block_stmts[REQUEST_PENDING], conversation_id, user,
                                 &pending);
    if (rc < 0)
        return rc;
    if (!pending)
        return PL_ENOTFOUND;
    if ((rc = run(pg, REQUEST_DECLINE, STORE_PG__ARGS(&p, conversation_id, user), &r)) == 0)
        PQclear(r);
    return rc;
}
