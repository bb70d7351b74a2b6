/* SPDX-License-Identifier: MIT */
/* Parley - reactions: one emoji per user per message.                 */
/* Copyright (c) 2026 Parley developers                                 */
#include "messages.h"
#include "pg_int.h"

#include "common/buf.h"

#include <libpq-fe.h>
#include <stdio.h>

enum { REACT_SET, REACT_DEL, REACT_PAGE };

const struct store_pg__stmt store_pg__reaction_stmts[] = {
    /* A row only when something changed (new, or another emoji). */
    [REACT_SET] = {"react_set",
                   "INSERT INTO reactions (conversation_id, seq, user_id, emoji)"
                   " VALUES ($1::bigint, $2::bigint, $3::bigint, $4)"
                   " ON CONFLICT (conversation_id, seq, user_id) DO UPDATE"
                   " SET emoji = EXCLUDED.emoji, created_at = now()"
                   " WHERE reactions.emoji <> EXCLUDED.emoji RETURNING 1",
                   4, false},
    [REACT_DEL] = {"react_del",
                   "DELETE FROM reactions WHERE conversation_id = $1::bigint"
                   " AND seq = $2::bigint AND user_id = $3::bigint AND emoji = $4 RETURNING 1",
                   4, false},
    [REACT_PAGE] = {"react_page",
                    "SELECT seq, emoji, count(*), bool_or(user_id = $3::bigint) FROM reactions"
                    " WHERE conversation_id = $1::bigint AND seq = ANY($2::bigint[])"
                    " GROUP BY seq, emoji ORDER BY seq, count(*) DESC, emoji",
                    3, true},
    {NULL, NULL, 0, false},
};

/* Runs REACT_SET or REACT_DEL; *changed tells whether a row was touched. */
static int change(struct store_pg *pg, int id, int64_t conversation_id, int64_t seq,
                  int64_t user_id, const char *emoji, bool *changed)
{
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, conversation_id, seq, user_id);
    p.v[3] = emoji;
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__reaction_stmts[id], vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    *changed = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

int store_pg_reaction_set(struct store_pg *pg, int64_t conversation_id, int64_t seq,
                          int64_t user_id, const char *emoji, bool *changed)
{
    return change(pg, REACT_SET, conversation_id, seq, user_id, emoji, changed);
}

int store_pg_reaction_delete(struct store_pg *pg, int64_t conversation_id, int64_t seq,
                             int64_t user_id, const char *emoji, bool *changed)
{
    return change(pg, REACT_DEL, conversation_id, seq, user_id, emoji, changed);
}

static int reaction_row(struct pl_arena *a, const struct pg_result *r, int row, void *item,
                        void *ctx)
{
    (void)ctx;
    struct store_reaction *x = item;
    int rc = store_pg__get_i64(r, row, 0, &x->seq);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 2, &x->count);
    x->emoji = store_pg__get_str(a, r, row, 1);
    x->mine = PQgetvalue(r, row, 3)[0] == 't';
    return rc < 0 ? rc : x->emoji ? 0 : PL_ENOMEM;
}

int store_pg_reactions_page(struct store_pg *pg, struct pl_arena *a, int64_t conversation_id,
                            int64_t viewer_id, const int64_t *seqs, unsigned n_seqs,
                            struct store_reaction **out, unsigned *n)
{
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, conversation_id);
    struct pl_buf b;
    pl_buf_init(&b, 16 + (size_t)n_seqs * 21);
    int rc = pl_buf_append(&b, "{", 1);
    for (unsigned i = 0; i < n_seqs && rc == 0; i++)
        rc = pl_buf_printf(&b, "%s%lld", i ? "," : "", (long long)seqs[i]);
    if (rc == 0)
        rc = pl_buf_append(&b, "}", 2);
    char viewer[24];
    snprintf(viewer, sizeof(viewer), "%lld", (long long)viewer_id);
    p.v[1] = pl_buf_head(&b);
    p.v[2] = viewer;
    if (rc == 0)
        rc = store_pg__exec_rows(pg, a, &store_pg__reaction_stmts[REACT_PAGE], vals, sizeof(**out),
                                 reaction_row, NULL, (void **)out, n);
    pl_buf_deinit(&b);
    return rc;
}
