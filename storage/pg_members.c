/* SPDX-License-Identifier: MIT */
/* Parley - conversation members in PostgreSQL.                         */
/* Copyright (c) 2026 Parley developers                                 */
#include "conversations.h"
#include "pg_int.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#define MEMBER_SELECT                                                                              \
    "SELECT m.user_id, u.username, u.display_name, m.role,"                                        \
    " " STORE_PG_TS("m.joined_at") " FROM members m JOIN users u ON u.id = m.user_id WHERE "       \
                                   "m.conversation_id = $1::bigint"

enum {
    MEMBER_ROLE,
    MEMBERS_LIST,
    MEMBER_GET,
    MEMBERS_ADD,
    MEMBER_SET_ROLE,
    MEMBER_REMOVE,
    MEMBER_PROMOTE,
};

const struct store_pg__stmt store_pg__member_stmts[] = {
    [MEMBER_ROLE] = {"member_role",
                     "SELECT role FROM members"
                     " WHERE conversation_id = $1::bigint AND user_id = $2::bigint",
                     2, true},
    [MEMBERS_LIST] = {"members_list", MEMBER_SELECT " ORDER BY m.joined_at, m.user_id", 1, true},
    [MEMBER_GET] = {"member_get", MEMBER_SELECT " AND m.user_id = $2::bigint", 2, true},
    /* The join points are read here, under the conversation's row lock
     * (or in the transaction that created it): no message can be added
     * meanwhile, and every position this transaction takes later is above
     * the committed stream position read now. */
    [MEMBERS_ADD] = {"members_add",
                     "INSERT INTO members (conversation_id, user_id, role, joined_seq, joined_pos)"
                     " SELECT $1::bigint, u, $3,"
                     "  (SELECT last_seq FROM conversations WHERE id = $1::bigint),"
                     "  (SELECT pos FROM stream_state WHERE id = 1)"
                     " FROM unnest($2::bigint[]) AS u",
                     3, false},
    [MEMBER_SET_ROLE] = {"member_set_role",
                         "UPDATE members SET role = $3"
                         " WHERE conversation_id = $1::bigint AND user_id = $2::bigint",
                         3, false},
    [MEMBER_REMOVE] = {"member_remove",
                       "DELETE FROM members"
                       " WHERE conversation_id = $1::bigint AND user_id = $2::bigint"
                       " RETURNING role",
                       2, false},
    [MEMBER_PROMOTE] = {"member_promote",
                        "UPDATE members SET role = 'admin'"
                        " WHERE conversation_id = $1::bigint AND user_id = ("
                        "  SELECT user_id FROM members WHERE conversation_id = $1::bigint"
                        "  ORDER BY joined_at, user_id LIMIT 1)"
                        " AND NOT EXISTS (SELECT 1 FROM members WHERE conversation_id = $1::bigint"
                        "  AND role = 'admin')"
                        " RETURNING user_id",
                        1, false},
    {NULL, NULL, 0, false},
};

/* Runs stmt with (conversation id, user id[, arg]). */
static int run2(struct store_pg *pg, int stmt, int64_t conversation_id, int64_t user_id,
                const char *arg, PGresult **r)
{
    struct store_pg__args p;
    STORE_PG__ARGS(&p, conversation_id, user_id);
    p.v[2] = arg;
    const char *const *vals = p.v;
    return store_pg__exec(pg, &store_pg__member_stmts[stmt], vals, NULL, NULL, r);
}

int store_pg_member_role(struct store_pg *pg, int64_t conversation_id, int64_t user_id,
                         enum store_role *role)
{
    PGresult *r;
    int rc = run2(pg, MEMBER_ROLE, conversation_id, user_id, NULL, &r);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0)
        rc = PL_ENOTFOUND;
    else if (role)
        *role = store_pg__role_parse(PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

static int read_member(struct pl_arena *a, const PGresult *r, int row, void *item, void *ctx)
{
    struct store_member *m = item;
    int rc = store_pg__get_i64(r, row, 0, &m->user_id);
    if (rc < 0)
        return rc;
    m->username = store_pg__get_str(a, r, row, 1);
    m->display_name = store_pg__get_str(a, r, row, 2);
    m->role = store_pg__role_parse(PQgetvalue(r, row, 3));
    m->joined_at = store_pg__get_str(a, r, row, 4);
    return m->username && m->display_name && m->joined_at ? 0 : PL_ENOMEM;
}

int store_pg_members_list(struct store_pg *pg, struct pl_arena *a, int64_t conversation_id,
                          struct store_member **out, unsigned *n)
{
    struct store_pg__args p;
    return store_pg__exec_rows(pg, a, &store_pg__member_stmts[MEMBERS_LIST],
                               STORE_PG__ARGS(&p, conversation_id), sizeof(**out), read_member,
                               NULL, (void **)out, n);
}

int store_pg_member_get(struct store_pg *pg, struct pl_arena *a, int64_t conversation_id,
                        int64_t user_id, struct store_member *out)
{
    struct store_pg__args p;
    return store_pg__exec_row(pg, a, &store_pg__member_stmts[MEMBER_GET],
                              STORE_PG__ARGS(&p, conversation_id, user_id), read_member, NULL, out);
}

int store_pg_members_add(struct store_pg *pg, int64_t conversation_id, const int64_t *user_ids,
                         unsigned n, enum store_role role)
{
    if (n == 0)
        return 0;
    if (role == STORE_ROLE_NONE)
        return PL_EINVAL;
    /* The literal can be large (a group created with a thousand members);
     * it lives only for this call, so it gets an arena of its own. */
    struct pl_arena *a = pl_arena_new();
    char *ids = a ? store_pg__i64_array(a, user_ids, n) : NULL;
    if (!ids) {
        pl_arena_free(a);
        return PL_ENOMEM;
    }
    struct store_pg__args p;
    STORE_PG__ARGS(&p, conversation_id);
    p.v[1] = ids;
    p.v[2] = store_pg_role_name(role);
    const char *const *vals = p.v;
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__member_stmts[MEMBERS_ADD], vals, NULL, NULL, &r);
    pl_arena_free(a);
    if (rc == 0)
        PQclear(r);
    return rc;
}

int store_pg_member_set_role(struct store_pg *pg, int64_t conversation_id, int64_t user_id,
                             enum store_role role)
{
    if (role == STORE_ROLE_NONE)
        return PL_EINVAL;
    PGresult *r;
    int rc = run2(pg, MEMBER_SET_ROLE, conversation_id, user_id, store_pg_role_name(role), &r);
    if (rc < 0)
        return rc;
    rc = strcmp(PQcmdTuples(r), "0") == 0 ? PL_ENOTFOUND : 0;
    PQclear(r);
    return rc;
}

int store_pg_member_remove(struct store_pg *pg, int64_t conversation_id, int64_t user_id,
                           enum store_role *was)
{
    PGresult *r;
    int rc = run2(pg, MEMBER_REMOVE, conversation_id, user_id, NULL, &r);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0)
        rc = PL_ENOTFOUND;
    else
        *was = store_pg__role_parse(PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

int store_pg_member_promote_oldest(struct store_pg *pg, int64_t conversation_id, int64_t *promoted)
{
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, conversation_id);
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__member_stmts[MEMBER_PROMOTE], vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    *promoted = 0;
    if (PQntuples(r) > 0)
        rc = store_pg__get_i64(r, 0, 0, promoted);
    PQclear(r);
    return rc;
}
