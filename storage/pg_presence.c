/* SPDX-License-Identifier: MIT */
/* Parley - presence audiences and last-seen privacy in PostgreSQL.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "presence.h"
#include "pg_int.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

enum { CONTACTS, VISIBLE, SETTING };

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
