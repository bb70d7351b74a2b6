/* SPDX-License-Identifier: MIT */
/* Parley - account deletion and data exports in PostgreSQL (0016).     */
/* Copyright (c) 2026 Parley developers                                 */
#include "account.h"
#include "pg_int.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

enum {
    ACCOUNT_GROUPS,
    ACCOUNT_ERASE,
    EXPORT_STALE,
    EXPORT_DROP_OLD,
    EXPORT_INSERT,
    EXPORT_READY,
    EXPORT_FAIL,
    EXPORT_GET,
};

const struct store_pg__stmt store_pg__account_stmts[] = {
    [ACCOUNT_GROUPS] = {"account_groups",
                        "SELECT m.conversation_id FROM members m JOIN conversations c"
                        " ON c.id = m.conversation_id WHERE m.user_id = $1::bigint"
                        " AND c.kind = 'group' ORDER BY 1",
                        1, true},
    /* Every part is a data-modifying CTE of one statement, so they all see
     * the same snapshot and run whether or not the final SELECT reads
     * them. The tombstone update comes first and gates the rest: a second
     * deletion racing the first finds no row and changes nothing. Uploads
     * that a message references stay (other members may still download
     * what is in their history); the rest go, rows here and blobs by the
     * caller after the commit. Deleting the devices cascades to the E2E
     * identity keys and one-time prekeys (0005) and to the Web Push
     * subscriptions (0017). */
    [ACCOUNT_ERASE] =
        {"account_erase",
         "WITH u AS (UPDATE users SET username = '~' || id, display_name = 'Deleted account',"
         "   pwhash = '!', last_seen_at = NULL, last_seen_visibility = 'nobody',"
         "   deleted_at = now() WHERE id = $1::bigint AND deleted_at IS NULL RETURNING id),"
         " d AS (DELETE FROM devices WHERE user_id IN (SELECT id FROM u) RETURNING id),"
         " b AS (DELETE FROM blocks WHERE (user_id = $1::bigint OR blocked_id = $1::bigint)"
         "   AND EXISTS (SELECT 1 FROM u)),"
         " h AS (DELETE FROM message_hidden WHERE user_id IN (SELECT id FROM u)),"
         " s AS (UPDATE members SET pinned_at = NULL, muted_until = NULL"
         "   WHERE user_id IN (SELECT id FROM u)"
         "   AND (pinned_at IS NOT NULL OR muted_until IS NOT NULL)),"
         " ad AS (DELETE FROM admins WHERE user_id IN (SELECT id FROM u)),"
         " md AS (DELETE FROM media m WHERE m.uploader_id IN (SELECT id FROM u)"
         "   AND NOT EXISTS (SELECT 1 FROM media_refs r WHERE r.media_id = m.id)"
         "   RETURNING blob_key),"
         " x AS (DELETE FROM exports WHERE user_id IN (SELECT id FROM u) RETURNING blob_key)"
         " SELECT 'u', id, NULL FROM u UNION ALL SELECT 'd', id, NULL FROM d"
         " UNION ALL SELECT 'k', NULL, blob_key FROM md"
         " UNION ALL SELECT 'k', NULL, blob_key FROM x WHERE blob_key IS NOT NULL",
         1, false},
    [EXPORT_STALE] = {"export_stale",
                      "UPDATE exports SET state = 'failed', error = 'interrupted'"
                      " WHERE user_id = $1::bigint AND state = 'running'"
                      " AND created_at < now() - make_interval(secs => $2::int)",
                      2, false},
    [EXPORT_DROP_OLD] = {"export_drop_old",
                         "DELETE FROM exports WHERE user_id = $1::bigint AND state <> 'running'"
                         " RETURNING blob_key",
                         1, false},
    [EXPORT_INSERT] = {"export_insert",
                       "INSERT INTO exports (user_id) VALUES ($1::bigint) RETURNING id", 1, false},
    [EXPORT_READY] = {"export_ready",
                      "UPDATE exports SET state = 'ready', blob_key = $2, size = $3::bigint,"
                      " messages = $4::bigint, ready_at = now()"
                      " WHERE id = $1::bigint AND state = 'running' RETURNING 1",
                      4, false},
    [EXPORT_FAIL] = {"export_fail",
                     "UPDATE exports SET state = 'failed', error = $2"
                     " WHERE id = $1::bigint AND state = 'running'",
                     2, false},
    [EXPORT_GET] = {"export_get",
                    "SELECT id, user_id, state, blob_key, coalesce(size, 0), coalesce(messages, 0),"
                    " error, " STORE_PG_TS("created_at") ", " STORE_PG_TS(
                        "ready_at") " FROM exports WHERE id = $1::bigint AND user_id = $2::bigint",
                    2, true},
    {NULL, NULL, 0, false},
};

bool store_account_is_tombstone(const char *username)
{
    return username && username[0] == '~';
}

int store_pg_account_groups(struct store_pg *pg, struct pl_arena *a, int64_t user, int64_t **ids,
                            unsigned *n)
{
    struct store_pg__args p;
    return store_pg__exec_ids(pg, a, &store_pg__account_stmts[ACCOUNT_GROUPS],
                              STORE_PG__ARGS(&p, user), ids, n);
}

/* Sorts the erase statement's rows into out; the arrays are sized for
 * every row, which is at most a few dozen devices and uploads. */
static int erased_rows(struct pl_arena *a, PGresult *r, struct store_account_erased *out)
{
    int rows = PQntuples(r);
    bool found = false;
    *out = (struct store_account_erased){0};
    out->devices = pl_arena_alloc(a, (size_t)(rows + 1) * sizeof(*out->devices));
    out->blob_keys = pl_arena_alloc(a, (size_t)(rows + 1) * sizeof(*out->blob_keys));
    if (!out->devices || !out->blob_keys)
        return PL_ENOMEM;
    for (int i = 0; i < rows; i++) {
        const char *kind = PQgetvalue(r, i, 0);
        int rc = 0;
        if (kind[0] == 'u')
            found = true;
        else if (kind[0] == 'd')
            rc = store_pg__get_i64(r, i, 1, &out->devices[out->n_devices++]);
        else if (!(out->blob_keys[out->n_blob_keys++] = store_pg__get_str(a, r, i, 2)))
            rc = PL_ENOMEM;
        if (rc < 0)
            return rc;
    }
    return found ? 0 : PL_ENOTFOUND;
}

int store_pg_account_erase(struct store_pg *pg, struct pl_arena *a, int64_t user,
                           struct store_account_erased *out)
{
    struct store_pg__args p;
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__account_stmts[ACCOUNT_ERASE], STORE_PG__ARGS(&p, user),
                            NULL, NULL, &r);
    if (rc < 0)
        return rc;
    rc = erased_rows(a, r, out);
    PQclear(r);
    return rc;
}

/* ---- exports ---- */

static int keys_row(struct pl_arena *a, const PGresult *r, int row, void *item, void *ctx)
{
    (void)ctx;
    const char **k = item;
    *k = PQgetisnull(r, row, 0) ? NULL : store_pg__get_str(a, r, row, 0);
    return PQgetisnull(r, row, 0) || *k ? 0 : PL_ENOMEM;
}

int store_pg_export_start(struct store_pg *pg, struct pl_arena *a, int64_t user, unsigned stale_s,
                          int64_t *id, const char ***old_keys, unsigned *n_old)
{
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, user);
    char stale[16];
    snprintf(stale, sizeof(stale), "%u", stale_s);
    p.v[1] = stale;
    int rc = store_pg_tx_begin(pg);
    if (rc < 0)
        return rc;
    PGresult *r;
    if ((rc = store_pg__exec(pg, &store_pg__account_stmts[EXPORT_STALE], vals, NULL, NULL, &r)) ==
        0)
        PQclear(r);
    p.v[1] = NULL;
    if (rc == 0)
        rc = store_pg__exec_rows(pg, a, &store_pg__account_stmts[EXPORT_DROP_OLD], vals,
                                 sizeof(**old_keys), keys_row, NULL, (void **)old_keys, n_old);
    int64_t *ids;
    unsigned n;
    if (rc == 0)
        rc = store_pg__exec_ids(pg, a, &store_pg__account_stmts[EXPORT_INSERT], vals, &ids, &n);
    if (rc == 0 && n != 1)
        rc = PL_EINTERNAL;
    if (rc == 0)
        rc = store_pg_tx_commit(pg);
    if (rc < 0) {
        store_pg_tx_rollback(pg);
        return rc;
    }
    *id = ids[0];
    return 0;
}

int store_pg_export_ready(struct store_pg *pg, int64_t id, const char *blob_key, int64_t size,
                          int64_t messages)
{
    char ids[24], sizes[24], msgs[24];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    snprintf(sizes, sizeof(sizes), "%lld", (long long)size);
    snprintf(msgs, sizeof(msgs), "%lld", (long long)messages);
    const char *vals[] = {ids, blob_key, sizes, msgs};
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__account_stmts[EXPORT_READY], vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? 0 : PL_ENOTFOUND;
    PQclear(r);
    return rc;
}

int store_pg_export_fail(struct store_pg *pg, int64_t id, const char *error)
{
    char ids[24];
    snprintf(ids, sizeof(ids), "%lld", (long long)id);
    const char *vals[] = {ids, error};
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__account_stmts[EXPORT_FAIL], vals, NULL, NULL, &r);
    if (rc == 0)
        PQclear(r);
    return rc;
}

static const char *opt_str(struct pl_arena *a, const PGresult *r, int row, int col, int *rc)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    const char *s = store_pg__get_str(a, r, row, col);
    if (!s)
        *rc = PL_ENOMEM;
    return s;
}

static int export_row(struct pl_arena *a, const PGresult *r, int row, void *item, void *ctx)
{
    (void)ctx;
    struct store_export *e = item;
    int rc = store_pg__get_i64(r, row, 0, &e->id);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 1, &e->user_id);
    const char *st = PQgetvalue(r, row, 2);
    e->state = strcmp(st, "ready") == 0    ? STORE_EXPORT_READY
               : strcmp(st, "failed") == 0 ? STORE_EXPORT_FAILED
                                           : STORE_EXPORT_RUNNING;
    e->blob_key = opt_str(a, r, row, 3, &rc);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 4, &e->size);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 5, &e->messages);
    e->error = opt_str(a, r, row, 6, &rc);
    e->created_at = opt_str(a, r, row, 7, &rc);
    e->ready_at = opt_str(a, r, row, 8, &rc);
    return rc;
}

int store_pg_export_get(struct store_pg *pg, struct pl_arena *a, int64_t user, int64_t id,
                        struct store_export *out)
{
    struct store_pg__args p;
    return store_pg__exec_row(pg, a, &store_pg__account_stmts[EXPORT_GET],
                              STORE_PG__ARGS(&p, id, user), export_row, NULL, out);
}
