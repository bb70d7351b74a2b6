/* SPDX-License-Identifier: MIT */
/* Parley - users and devices (login sessions) in PostgreSQL.           */
/* Copyright (c) 2026 Parley developers                                 */
#include "pg.h"
#include "pg_int.h"

#include "common/log.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

PL_LOG_TOPIC("store");

#define CREATED_AT STORE_PG_TS("created_at")
#define USER_COLS "id, username, display_name, " CREATED_AT ", last_seen_visibility"

enum {
    USER_CREATE,
    USER_GET_BY_NAME,
    USER_GET,
    DEVICE_REVOKE,
    USER_UPDATE,
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
