/* SPDX-License-Identifier: MIT */
/* Parley - presence audiences and last-seen privacy in PostgreSQL.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "presence.h"
#include "pg_int.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

enum { CONTACTS, VISIBLE, SETTING, VIEWERS, SHOWN, SEEN_SAVE, SEEN_GET };

/* Whether user u's presence may go to viewer v (not u itself) under u's
 * last_seen_visibility and blocks (0013). Under "contacts" a pending
 * requester is no contact: only conversations u accepted count. (Under
 * "everyone" a requester sees what every stranger sees.) */
#define PRESENCE_ALLOWED(v)                                                                        \
    "u.last_seen_visibility <> 'nobody'"                                                           \
    " AND NOT EXISTS (SELECT 1 FROM blocks k WHERE k.user_id = u.id AND k.blocked_id = " v ")"     \
    " AND (u.last_seen_visibility = 'everyone' OR EXISTS (SELECT 1 FROM members a"                 \
    "  JOIN members b ON a.conversation_id = b.conversation_id"                                    \
    "  WHERE a.user_id = u.id AND a.request_from IS NULL AND b.user_id = " v "))"

const struct store_pg__stmt store_pg__presence_stmts[] = {
    [CONTACTS] = {"presence_contacts",
                  "SELECT DISTINCT o.user_id FROM members m JOIN members o"
                  " ON o.conversation_id = m.conversation_id"
                  " WHERE m.user_id = $1::bigint AND o.user_id <> $1::bigint",
                  1, true},
    /* Issue 12 (0013): "contacts" are the users the owner u shares a
     * conversation with that u accepted; a viewer u blocked sees nothing
     * whatever the setting. The three statements below apply one rule, for one pair,
     * one user and many viewers, and many users and one viewer. */
    [VISIBLE] = {"presence_visible",
                 "SELECT $1::bigint = u.id OR (" PRESENCE_ALLOWED(
                     "$1::bigint") ")"
                                   " FROM users u WHERE u.id = $2::bigint",
                 2, true},
    [SETTING] = {"presence_setting", "SELECT last_seen_visibility FROM users WHERE id = $1::bigint",
                 1, true},
    [VIEWERS] = {"presence_viewers",
                 "SELECT v FROM users u, unnest($2::bigint[]) AS v"
                 " WHERE u.id = $1::bigint AND (v = u.id OR (" PRESENCE_ALLOWED("v") "))",
                 2, true},
    [SHOWN] = {"presence_shown",
               "SELECT u.id FROM users u WHERE u.id = ANY($2::bigint[]) AND (u.id = $1::bigint"
               " OR (" PRESENCE_ALLOWED("$1::bigint") "))",
               2, true},
    /* Never backwards; $3 is the least age (ms) a stored value must have
     * before it is replaced, so the periodic write costs one row write per
     * user and minute while a transition (0) always lands. */
    [SEEN_SAVE] = {"presence_seen_save",
                   "UPDATE users SET last_seen_at = to_timestamp($2::bigint / 1000.0)"
                   " WHERE id = ANY($1::bigint[]) AND (last_seen_at IS NULL OR last_seen_at"
                   " <= to_timestamp(($2::bigint - $3::bigint) / 1000.0))",
                   3, false},
    [SEEN_GET] = {"presence_seen_get",
                  "SELECT (extract(epoch FROM last_seen_at) * 1000)::bigint FROM users"
                  " WHERE id = $1::bigint AND last_seen_at IS NOT NULL",
                  1, true},
    {NULL, NULL, 0, false},
};

int store_pg_contacts(struct store_pg *pg, struct pl_arena *a, int64_t user, int64_t **ids,
                      unsigned *n)
{
    struct store_pg__args p;
    return store_pg__exec_ids(pg, a, &store_pg__presence_stmts[CONTACTS], STORE_PG__ARGS(&p, user),
                              ids, n);
}

int store_pg_last_seen_visible(struct store_pg *pg, int64_t viewer, int64_t user, bool *visible)
{
    return store_pg__exec_bool(pg, &store_pg__presence_stmts[VISIBLE], viewer, user, visible);
}

/* item: a const char * set to one of the static setting names. */
static int setting_row(struct pl_arena *a, const PGresult *r, int row, void *item, void *ctx)
{
    static const char *const names[] = {"everyone", "contacts", "nobody"};
    const char **setting = item;
    for (size_t i = 0; i < PL_ARRAY_LEN(names); i++)
        if (strcmp(PQgetvalue(r, row, 0), names[i]) == 0)
            *setting = names[i];
    return 0;
}

int store_pg_last_seen_setting(struct store_pg *pg, int64_t user, const char **setting)
{
    struct store_pg__args p;
    *setting = "everyone";
    return store_pg__exec_row(pg, NULL, &store_pg__presence_stmts[SETTING],
                              STORE_PG__ARGS(&p, user), setting_row, NULL, setting);
}

static int one_to_many(struct store_pg *pg, int stmt, struct pl_arena *a, int64_t user,
                       const int64_t *viewers, unsigned n, int64_t **allowed, unsigned *n_allowed)
{
    *allowed = NULL;
    *n_allowed = 0;
    if (n == 0)
        return 0;
    struct store_pg__args p;
    const char *arr = store_pg__i64_array(a, viewers, n);
    if (!arr)
        return PL_ENOMEM;
    const char *const *vals = STORE_PG__ARGS(&p, user);
    p.v[1] = arr;
    return store_pg__exec_ids(pg, a, &store_pg__presence_stmts[stmt], vals, allowed, n_allowed);
}

int store_pg_presence_viewers(struct store_pg *pg, struct pl_arena *a, int64_t user,
                              const int64_t *viewers, unsigned n, int64_t **allowed,
                              unsigned *n_allowed)
{
    return one_to_many(pg, VIEWERS, a, user, viewers, n, allowed, n_allowed);
}

int store_pg_presence_shown(struct store_pg *pg, struct pl_arena *a, int64_t viewer,
                            const int64_t *users, unsigned n, int64_t **shown, unsigned *n_shown)
{
    return one_to_many(pg, SHOWN, a, viewer, users, n, shown, n_shown);
}

int store_pg_last_seen_save(struct store_pg *pg, const int64_t *users, unsigned n, uint64_t ms,
                            uint64_t min_age_ms)
{
    struct pl_arena *a = pl_arena_new();
    char *ids = a ? store_pg__i64_array(a, users, n) : NULL;
    char mb[24], ab[24];
    if (!ids) {
        pl_arena_free(a);
        return PL_ENOMEM;
    }
    snprintf(mb, sizeof(mb), "%" PRIu64, ms);
    snprintf(ab, sizeof(ab), "%" PRIu64, min_age_ms);
    const char *vals[] = {ids, mb, ab};
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__presence_stmts[SEEN_SAVE], vals, NULL, NULL, &r);
    if (rc == 0)
        PQclear(r);
    pl_arena_free(a);
    return rc;
}

int store_pg_last_seen_get(struct store_pg *pg, int64_t user, uint64_t *ms)
{
    char ub[24];
    snprintf(ub, sizeof(ub), "%" PRId64, user);
    const char *vals[] = {ub};
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__presence_stmts[SEEN_GET], vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    int64_t v = 0;
    rc = PQntuples(r) == 1 ? store_pg__get_i64(r, 0, 0, &v) : PL_ENOTFOUND;
    *ms = v > 0 ? (uint64_t)v : 0;
    PQclear(r);
    return rc;
}
