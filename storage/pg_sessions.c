/* SPDX-License-Identifier: MIT */
/* Parley - login sessions (devices): create, authenticate, list, end.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "sessions.h"
#include "pg_int.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    SESS_LOCK_USER,
    SESS_EXPIRE,
    SESS_COUNT,
    SESS_INSERT,
    SESS_AUTH,
    SESS_AUTH_MANY,
    SESS_LIST,
    SESS_REVOKE,
    USER_PWHASH,
    PASSWORD_SET,
};

#define AGE(p) "now() - make_interval(secs => " p "::double precision)"

const struct store_pg__stmt store_pg__session_stmts[] = {
    [SESS_LOCK_USER] = {"sess_lock_user", "SELECT 1 FROM users WHERE id = $1::bigint FOR UPDATE", 1,
                        false},
    [SESS_EXPIRE] = {"sess_expire",
                     "UPDATE devices SET revoked_at = now() WHERE user_id = $1::bigint"
                     " AND revoked_at IS NULL AND last_active_at <= " AGE("$2"),
                     2, false},
    [SESS_COUNT] =
        {"sess_count",
         "SELECT count(*) FROM devices WHERE user_id = $1::bigint AND revoked_at IS NULL", 1, true},
    [SESS_INSERT] = {"sess_insert",
                     "INSERT INTO devices (user_id, name, token_hash, user_agent, protocol)"
                     " VALUES ($1::bigint, $2, $3::bytea, $4, $5) RETURNING id",
                     5, false},
    /* The touch is a data-modifying CTE that runs only when the recorded
     * use is older than $3 seconds. Running the statement twice (the
     * retry after a dead connection) writes the same thing, so it counts
     * as safe to repeat. */
    [SESS_AUTH] = {"sess_auth",
                   "WITH d AS (SELECT id, user_id, last_active_at FROM devices"
                   " WHERE token_hash = $1::bytea AND revoked_at IS NULL"
                   " AND last_active_at > " AGE(
                       "$2") "),"
                             " t AS (UPDATE devices SET last_active_at = now() FROM d"
                             " WHERE devices.id = d.id AND d.last_active_at <= " AGE(
                                 "$3") " RETURNING 1)"
                                       " SELECT id, user_id FROM d",
                   3, true},
    /* sess_auth for many tokens at once ($1: a bytea[]); a row per token
     * that names a live session, with its 1-based place in $1. */
    [SESS_AUTH_MANY] = {"sess_auth_many",
                        "WITH h AS (SELECT x.hash, x.i FROM unnest($1::bytea[])"
                        " WITH ORDINALITY AS x(hash, i)),"
                        " d AS (SELECT h.i, v.id, v.user_id, v.last_active_at FROM h"
                        " JOIN devices v ON v.token_hash = h.hash"
                        " WHERE v.revoked_at IS NULL AND v.last_active_at > " AGE(
                            "$2") "),"
                                  " t AS (UPDATE devices SET last_active_at = now() WHERE id IN"
                                  " (SELECT id FROM d WHERE last_active_at <= " AGE(
                                      "$3") ") RETURNING 1)"
                                            " SELECT i, id, user_id FROM d",
                        3, true},
    [SESS_LIST] =
        {"sess_list",
         "SELECT id, name, " STORE_PG_TS("created_at") ", " STORE_PG_TS(
             "last_active_at") ", user_agent, protocol FROM devices"
                               " WHERE user_id = $1::bigint AND revoked_at IS NULL"
                               " AND last_active_at > " AGE(
                                   "$2") " ORDER BY last_active_at DESC, id DESC LIMIT 1000",
         2, true},
    [SESS_REVOKE] = {"sess_revoke",
                     "UPDATE devices SET revoked_at = now()"
                     " WHERE id = $2::bigint AND user_id = $1::bigint AND revoked_at IS NULL",
                     2, false},
    [USER_PWHASH] = {"user_pwhash", "SELECT pwhash FROM users WHERE id = $1::bigint", 1, true},
    [PASSWORD_SET] = {"password_set",
                      "WITH p AS (UPDATE users SET pwhash = $3 WHERE id = $1::bigint RETURNING id)"
                      " UPDATE devices SET revoked_at = now()"
                      " WHERE user_id = (SELECT id FROM p) AND id <> $2::bigint"
                      " AND revoked_at IS NULL RETURNING id",
                      3, false},
    {NULL, NULL, 0, false},
};

static int exec(struct store_pg *pg, int id, const char *const *vals, const int *lens,
                const int *fmts, PGresult **r)
{
    return store_pg__exec(pg, &store_pg__session_stmts[id], vals, lens, fmts, r);
}

/* Runs a statement whose result is not needed. */
static int run(struct store_pg *pg, int id, const char *const *vals)
{
    PGresult *r;
    int rc = exec(pg, id, vals, NULL, NULL, &r);
    if (rc == 0)
        PQclear(r);
    return rc;
}

/* Inside the transaction: the lock, the sweep, the count, the insert. */
static int create_locked(struct store_pg *pg, const struct store_session_new *in, const char *uid,
                         int64_t *device_id)
{
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%u", in->ttl_s);
    const char *lock_vals[] = {uid}, *expire_vals[] = {uid, ttl};
    PGresult *r;
    int rc = exec(pg, SESS_LOCK_USER, lock_vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? 0 : PL_ENOTFOUND;
    PQclear(r);
    if (rc == 0)
        rc = run(pg, SESS_EXPIRE, expire_vals);
    if (rc == 0 && (rc = exec(pg, SESS_COUNT, lock_vals, NULL, NULL, &r)) == 0) {
        int64_t n = 0;
        rc = store_pg__get_i64(r, 0, 0, &n);
        PQclear(r);
        if (rc == 0 && n >= (int64_t)in->max_devices)
            rc = PL_ECONFLICT;
    }
    if (rc < 0)
        return rc;
    const char *vals[] = {uid, in->name, (const char *)in->token_hash, in->user_agent,
                          in->protocol};
    const int lens[] = {0, 0, 32, 0, 0};
    const int fmts[] = {0, 0, 1, 0, 0};
    if ((rc = exec(pg, SESS_INSERT, vals, lens, fmts, &r)) < 0)
        return rc;
    rc = PQntuples(r) == 1 ? store_pg__get_i64(r, 0, 0, device_id) : PL_EINTERNAL;
    PQclear(r);
    return rc;
}

int store_pg_session_create(struct store_pg *pg, const struct store_session_new *in,
                            int64_t *device_id)
{
    if (!in || !in->name || !in->token_hash || !device_id)
        return PL_EINVAL;
    char uid[24];
    snprintf(uid, sizeof(uid), "%" PRId64, in->user_id);
    int rc = store_pg_tx_begin(pg);
    if (rc < 0)
        return rc;
    if ((rc = create_locked(pg, in, uid, device_id)) < 0) {
        store_pg_tx_rollback(pg);
        return rc;
    }
    return store_pg_tx_commit(pg);
}

int store_pg_session_auth(struct store_pg *pg, const uint8_t token_hash[32], unsigned ttl_s,
                          unsigned touch_s, int64_t *user_id, int64_t *device_id)
{
    if (!token_hash || !user_id || !device_id)
        return PL_EINVAL;
    char ttl[16], touch[16];
    snprintf(ttl, sizeof(ttl), "%u", ttl_s);
    snprintf(touch, sizeof(touch), "%u", touch_s);
    const char *vals[] = {(const char *)token_hash, ttl, touch};
    const int lens[] = {32, 0, 0};
    const int fmts[] = {1, 0, 0};
    PGresult *r;
    int rc = exec(pg, SESS_AUTH, vals, lens, fmts, &r);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0)
        rc = PL_EUNAUTH;
    else if ((rc = store_pg__get_i64(r, 0, 0, device_id)) == 0)
        rc = store_pg__get_i64(r, 0, 1, user_id);
    PQclear(r);
    return rc;
}

int store_pg_session_auth_many(struct store_pg *pg, const uint8_t (*hashes)[32], unsigned n,
                               unsigned ttl_s, unsigned touch_s, int64_t *user_ids,
                               int64_t *device_ids)
{
    if (n == 0)
        return 0;
    /* An array literal of hex bytea values: {"\\x..","\\x.."}. */
    size_t size = 3 + (size_t)n * (2 * 32 + 7);
    char *arr = malloc(size), *p = arr;
    if (!arr)
        return PL_ENOMEM;
    *p++ = '{';
    for (unsigned i = 0; i < n; i++) {
        memcpy(p, i ? ",\"\\\\x" : "\"\\\\x", i ? 5 : 4);
        p += i ? 5 : 4;
        for (unsigned k = 0; k < 32; k++, p += 2)
            snprintf(p, 3, "%02x", hashes[i][k]);
        *p++ = '"';
        user_ids[i] = device_ids[i] = 0;
    }
    *p++ = '}';
    *p = '\0';
    char ttl[16], touch[16];
    snprintf(ttl, sizeof(ttl), "%u", ttl_s);
    snprintf(touch, sizeof(touch), "%u", touch_s);
    const char *vals[] = {arr, ttl, touch};
    PGresult *r;
    int rc = exec(pg, SESS_AUTH_MANY, vals, NULL, NULL, &r);
    free(arr);
    if (rc < 0)
        return rc;
    for (int row = 0; rc == 0 && row < PQntuples(r); row++) {
        int64_t i;
        if ((rc = store_pg__get_i64(r, row, 0, &i)) < 0)
            break;
        if (i < 1 || (uint64_t)i > n) {
            rc = PL_EINTERNAL;
            break;
        }
        if ((rc = store_pg__get_i64(r, row, 1, &device_ids[i - 1])) == 0)
            rc = store_pg__get_i64(r, row, 2, &user_ids[i - 1]);
    }
    PQclear(r);
    return rc;
}

static const char *opt_str(struct pl_arena *a, const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : store_pg__get_str(a, r, row, col);
}

int store_pg_sessions_list(struct store_pg *pg, struct pl_arena *a, int64_t user_id, unsigned ttl_s,
                           struct store_session **out, unsigned *n)
{
    char uid[24], ttl[16];
    snprintf(uid, sizeof(uid), "%" PRId64, user_id);
    snprintf(ttl, sizeof(ttl), "%u", ttl_s);
    const char *vals[] = {uid, ttl};
    PGresult *r;
    int rc = exec(pg, SESS_LIST, vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    int rows = PQntuples(r);
    struct store_session *s = pl_arena_zalloc(a, (size_t)(rows ? rows : 1) * sizeof(*s));
    rc = s ? 0 : PL_ENOMEM;
    for (int i = 0; i < rows && rc == 0; i++) {
        rc = store_pg__get_i64(r, i, 0, &s[i].id);
        s[i].name = store_pg__get_str(a, r, i, 1);
        s[i].created_at = store_pg__get_str(a, r, i, 2);
        s[i].last_used_at = store_pg__get_str(a, r, i, 3);
        s[i].user_agent = opt_str(a, r, i, 4);
        s[i].protocol = opt_str(a, r, i, 5);
        if (rc == 0 && (!s[i].name || !s[i].created_at || !s[i].last_used_at))
            rc = PL_ENOMEM;
    }
    PQclear(r);
    *out = s;
    *n = rc == 0 ? (unsigned)rows : 0;
    return rc;
}

int store_pg_session_revoke(struct store_pg *pg, int64_t user_id, int64_t device_id)
{
    char uid[24], did[24];
    snprintf(uid, sizeof(uid), "%" PRId64, user_id);
    snprintf(did, sizeof(did), "%" PRId64, device_id);
    const char *vals[] = {uid, did};
    PGresult *r;
    int rc = exec(pg, SESS_REVOKE, vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    rc = PQcmdTuples(r)[0] == '0' ? PL_ENOTFOUND : 0;
    PQclear(r);
    return rc;
}

int store_pg_user_pwhash(struct store_pg *pg, struct pl_arena *a, int64_t user_id,
                         const char **pwhash)
{
    char uid[24];
    snprintf(uid, sizeof(uid), "%" PRId64, user_id);
    const char *vals[] = {uid};
    PGresult *r;
    int rc = exec(pg, USER_PWHASH, vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0)
        rc = PL_ENOTFOUND;
    else if (!(*pwhash = store_pg__get_str(a, r, 0, 0)))
        rc = PL_ENOMEM;
    PQclear(r);
    return rc;
}

int store_pg_password_set(struct store_pg *pg, struct pl_arena *a, int64_t user_id,
                          int64_t keep_device, const char *pwhash, int64_t **revoked, unsigned *n)
{
    struct store_pg__args p;
    STORE_PG__ARGS(&p, user_id, keep_device);
    p.v[2] = pwhash;
    return store_pg__exec_ids(pg, a, &store_pg__session_stmts[PASSWORD_SET], p.v, revoked, n);
}
