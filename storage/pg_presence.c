/* SPDX-License-Identifier: MIT */
/* Parley - presence audiences and last-seen privacy in PostgreSQL.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "presence.h"
#include "pg_int.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

enum { CONTACTS, VISIBLE, SETTING, SEEN_SAVE, SEEN_GET };

const struct store_pg__stmt store_pg__presence_stmts[] = {
    [CONTACTS] = {"presence_contacts",
                  "SELECT DISTINCT o.user_id FROM members m JOIN members o"
                  " ON o.conversation_id = m.conversation_id"
                  " WHERE m.user_id = $1::bigint AND o.user_id <> $1::bigint",
                  1, true},
    [VISIBLE] = {"presence_visible",
                 "SELECT CASE WHEN $1::bigint = u.id THEN true"
                 " WHEN u.last_seen_visibility = 'everyone' THEN true"
                 " WHEN u.last_seen_visibility = 'nobody' THEN false"
                 " ELSE EXISTS (SELECT 1 FROM members a JOIN members b"
                 "   ON a.conversation_id = b.conversation_id"
                 "   WHERE a.user_id = u.id AND b.user_id = $1::bigint) END"
                 " FROM users u WHERE u.id = $2::bigint",
                 2, true},
    [SETTING] = {"presence_setting", "SELECT last_seen_visibility FROM users WHERE id = $1::bigint",
                 1, true},
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
