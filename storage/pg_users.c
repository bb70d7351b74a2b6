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

PL_LOG_TOPIC("store");

#define CREATED_AT STORE_PG_TS("created_at")
#define USER_COLS "id, username, display_name, " CREATED_AT ", last_seen_visibility"

enum {
    USER_CREATE,
    USER_GET_BY_NAME,
    USER_GET,
    DEVICE_CREATE,
    DEVICE_AUTH,
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
    [DEVICE_CREATE] = {"device_create",
                       "INSERT INTO devices (user_id, name, token_hash)"
                       " VALUES ($1::bigint, $2, $3::bytea) RETURNING id",
                       3, false},
    [DEVICE_AUTH] = {"device_auth",
                     "SELECT id, user_id FROM devices"
                     " WHERE token_hash = $1::bytea AND revoked_at IS NULL",
                     1, true},
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

/* Copies the USER_COLS columns of row 0 into *out, strings from a. */
static int fill_user(struct pl_arena *a, const PGresult *r, struct store_user *out)
{
    int rc = store_pg__get_i64(r, 0, 0, &out->id);
    if (rc < 0)
        return rc;
    out->username = pl_arena_strdup(a, PQgetvalue(r, 0, 1));
    out->display_name = pl_arena_strdup(a, PQgetvalue(r, 0, 2));
    out->created_at = pl_arena_strdup(a, PQgetvalue(r, 0, 3));
    out->last_seen_visibility = pl_arena_strdup(a, PQgetvalue(r, 0, 4));
    if (!out->username || !out->display_name || !out->created_at || !out->last_seen_visibility)
        return PL_ENOMEM;
    return 0;
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
    PGresult *r;
    int rc = exec(pg, USER_CREATE, vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? fill_user(a, r, out) : PL_EINTERNAL;
    PQclear(r);
    return rc;
}

int store_pg_user_get_by_name(struct store_pg *pg, struct pl_arena *a, const char *username,
                              struct store_user *out, const char **pwhash)
{
    if (!username || !out)
        return PL_EINVAL;
    const char *vals[] = {username};
    PGresult *r;
    int rc = exec(pg, USER_GET_BY_NAME, vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0) {
        rc = PL_ENOTFOUND;
    } else if ((rc = fill_user(a, r, out)) == 0 && pwhash) {
        *pwhash = pl_arena_strdup(a, PQgetvalue(r, 0, 5));
        if (!*pwhash)
            rc = PL_ENOMEM;
    }
    PQclear(r);
    return rc;
}

int store_pg_user_get(struct store_pg *pg, struct pl_arena *a, int64_t id, struct store_user *out)
{
    if (!out)
        return PL_EINVAL;
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
    const char *vals[] = {idbuf};
    PGresult *r;
    int rc = exec(pg, USER_GET, vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 0 ? PL_ENOTFOUND : fill_user(a, r, out);
    PQclear(r);
    return rc;
}

int store_pg_device_create(struct store_pg *pg, int64_t user_id, const char *name,
                           const uint8_t token_hash[32], int64_t *device_id)
{
    if (!name || !token_hash || !device_id)
        return PL_EINVAL;
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, user_id);
    /* The hash goes as a binary parameter: 32 raw bytes, no hex escaping. */
    const char *vals[] = {idbuf, name, (const char *)token_hash};
    const int lens[] = {0, 0, 32};
    const int fmts[] = {0, 0, 1};
    PGresult *r;
    int rc = exec(pg, DEVICE_CREATE, vals, lens, fmts, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? store_pg__get_i64(r, 0, 0, device_id) : PL_EINTERNAL;
    PQclear(r);
    return rc;
}

int store_pg_device_auth(struct store_pg *pg, const uint8_t token_hash[32], int64_t *user_id,
                         int64_t *device_id)
{
    if (!token_hash || !user_id || !device_id)
        return PL_EINVAL;
    const char *vals[] = {(const char *)token_hash};
    const int lens[] = {32};
    const int fmts[] = {1};
    PGresult *r;
    int rc = exec(pg, DEVICE_AUTH, vals, lens, fmts, &r);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0)
        rc = PL_EUNAUTH;
    else if ((rc = store_pg__get_i64(r, 0, 0, device_id)) == 0)
        rc = store_pg__get_i64(r, 0, 1, user_id);
    PQclear(r);
    return rc;
}

int store_pg_device_revoke(struct store_pg *pg, int64_t device_id)
{
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%" PRId64, device_id);
    const char *vals[] = {idbuf};
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
    char ib[24];
    snprintf(ib, sizeof(ib), "%lld", (long long)id);
    const char *vals[] = {ib, display_name, last_seen_visibility};
    PGresult *r;
    int rc = exec(pg, USER_UPDATE, vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? fill_user(a, r, out) : PL_ENOTFOUND;
    PQclear(r);
    return rc;
}
