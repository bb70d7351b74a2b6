/* SPDX-License-Identifier: MIT */
/* Parley - users and devices (login sessions) in PostgreSQL.           */
/* Copyright (c) 2026 Parley developers                                 */
#include "pg.h"
#include "pg_int.h"

#include "common/log.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PL_LOG_TOPIC("store");

#define CREATED_AT STORE_PG_TS("created_at")
#define USER_COLS "id, username, display_name, " CREATED_AT ", last_seen_visibility"

enum {
    USER_CREATE,
    USER_GET_BY_NAME,
    USER_GET,
    DEVICE_REVOKE,
    USER_UPDATE,
    USER_PREFIX,
};

/* Prepared on every connection by pg_conn.c. Only SELECTs are read_only:
 * they alone may be retried after a connection dies mid-call. */
const struct store_pg__stmt store_pg__user_stmts[] = {
    [USER_CREATE] = {"user_create",
                     "INSERT INTO users (username, display_name, pwhash) VALUES ($1, $2, $3)"
                     " RETURNING " USER_COLS,
                     3, false},
    [USER_GET_BY_NAME] = {"user_get_by_name",
                          "SELECT " USER_COLS ", pwhash FROM users WHERE username = $1", 1, true},
    [USER_GET] = {"user_get", "SELECT " USER_COLS " FROM users WHERE id = $1::bigint", 1, true},
    [DEVICE_REVOKE] = {"device_revoke",
                       "UPDATE devices SET revoked_at = now()"
                       " WHERE id = $1::bigint AND revoked_at IS NULL",
                       1, false},
    /* NULL parameters keep the current value. */
    [USER_UPDATE] = {"user_update",
                     "UPDATE users SET display_name = COALESCE($2, display_name),"
                     " last_seen_visibility = COALESCE($3, last_seen_visibility)"
                     " WHERE id = $1::bigint RETURNING " USER_COLS,
                     3, false},
    /* The users sharing a conversation with $1 whose name starts with $2
     * (LIKE-escaped by the caller): a range scan of users_username_prefix,
     * each candidate checked through members_by_user. */
    [USER_PREFIX] = {"user_prefix",
                     "SELECT u.id, u.username, u.display_name FROM users u"
                     " WHERE u.username LIKE $2 || '%' AND u.id <> $1::bigint AND EXISTS"
                     " (SELECT 1 FROM members a JOIN members b ON b.conversation_id ="
                     " a.conversation_id WHERE a.user_id = u.id AND b.user_id = $1::bigint)"
                     " ORDER BY u.username LIMIT $3::int",
                     3, true},
    {NULL, NULL, 0, false},
};

/* Copies the USER_COLS columns of row into the struct store_user item,
 * strings from a. When ctx is not NULL it is a const char ** that receives
 * the password hash (column 5). */
static int fill_user(struct pl_arena *a, const PGresult *r, int row, void *item, void *ctx)
{
    struct store_user *out = item;
    int rc = store_pg__get_i64(r, row, 0, &out->id);
    if (rc < 0)
        return rc;
    out->username = store_pg__get_str(a, r, row, 1);
    out->display_name = store_pg__get_str(a, r, row, 2);
    out->created_at = store_pg__get_str(a, r, row, 3);
    out->last_seen_visibility = store_pg__get_str(a, r, row, 4);
    if (!out->username || !out->display_name || !out->created_at || !out->last_seen_visibility)
        return PL_ENOMEM;
    const char **pwhash = ctx;
    if (pwhash && !(*pwhash = store_pg__get_str(a, r, row, 5)))
        return PL_ENOMEM;
    return 0;
}

/* Runs a statement that returns USER_COLS and maps its row into out. */
static int user_row(struct store_pg *pg, struct pl_arena *a, int id, const char *const *vals,
                    struct store_user *out, const char **pwhash)
{
    return store_pg__exec_row(pg, a, &store_pg__user_stmts[id], vals, fill_user, pwhash, out);
}

static int exec(struct store_pg *pg, int id, const char *const *vals, const int *lens,
                const int *fmts, PGresult **r)
{
    return store_pg__exec(pg, &store_pg__user_stmts[id], vals, lens, fmts, r);
}

int store_pg_user_create(struct store_pg *pg, struct pl_arena *a, const char *username,
                         const char *display_name, const char *pwhash, struct store_user *out)
{
    if (!username || !display_name || !pwhash || !out)
        return PL_EINVAL;
    const char *vals[] = {username, display_name, pwhash};
    /* INSERT ... RETURNING always has its row. */
    int rc = user_row(pg, a, USER_CREATE, vals, out, NULL);
    return rc == PL_ENOTFOUND ? PL_EINTERNAL : rc;
}

int store_pg_user_get_by_name(struct store_pg *pg, struct pl_arena *a, const char *username,
                              struct store_user *out, const char **pwhash)
{
    if (!username || !out)
        return PL_EINVAL;
    const char *vals[] = {username};
    return user_row(pg, a, USER_GET_BY_NAME, vals, out, pwhash);
}

int store_pg_user_get(struct store_pg *pg, struct pl_arena *a, int64_t id, struct store_user *out)
{
    if (!out)
        return PL_EINVAL;
    struct store_pg__args p;
    return user_row(pg, a, USER_GET, STORE_PG__ARGS(&p, id), out, NULL);
}

int store_pg_device_revoke(struct store_pg *pg, int64_t device_id)
{
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, device_id);
    PGresult *r;
    int rc = exec(pg, DEVICE_REVOKE, vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    /* PQcmdTuples is "1" when a live device was revoked, "0" otherwise. */
    const char *n = PQcmdTuples(r);
    rc = n[0] == '0' ? PL_ENOTFOUND : 0;
    PQclear(r);
    return rc;
}

int store_pg_user_update(struct store_pg *pg, struct pl_arena *a, int64_t id,
                         const char *display_name, const char *last_seen_visibility,
                         struct store_user *out)
{
    struct store_pg__args p;
    STORE_PG__ARGS(&p, id);
    p.v[1] = display_name;
    p.v[2] = last_seen_visibility;
    return user_row(pg, a, USER_UPDATE, p.v, out, NULL);
}

int store_pg_users_prefix(struct store_pg *pg, struct pl_arena *a, int64_t viewer,
                          const char *prefix, unsigned limit, struct store_user **out, unsigned *n)
{
    char vb[24], lb[16];
    size_t len = strlen(prefix);
    char *like = pl_arena_alloc(a, 2 * len + 1), *o = like;
    if (!like)
        return PL_ENOMEM;
    for (size_t i = 0; i < len; i++) {
        if (prefix[i] == '_' || prefix[i] == '%' || prefix[i] == '\\')
            *o++ = '\\';
        *o++ = prefix[i];
    }
    *o = '\0';
    snprintf(vb, sizeof(vb), "%" PRId64, viewer);
    snprintf(lb, sizeof(lb), "%u", limit);
    const char *vals[] = {vb, like, lb};
    PGresult *r;
    int rc = exec(pg, USER_PREFIX, vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    int rows = PQntuples(r);
    *n = 0;
    *out = pl_arena_alloc(a, (size_t)(rows ? rows : 1) * sizeof(**out));
    if (!*out)
        rc = PL_ENOMEM;
    for (int i = 0; rc == 0 && i < rows; i++) {
        struct store_user *u = &(*out)[i];
        *u = (struct store_user){0};
        if ((rc = store_pg__get_i64(r, i, 0, &u->id)) < 0)
            break;
        u->username = pl_arena_strdup(a, PQgetvalue(r, i, 1));
        u->display_name = pl_arena_strdup(a, PQgetvalue(r, i, 2));
        if (!u->username || !u->display_name)
            rc = PL_ENOMEM;
        else
            (*n)++;
    }
    PQclear(r);
    return rc;
}
