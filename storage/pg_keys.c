/* SPDX-License-Identifier: MIT */
/* Parley - the E2E key directory and e2e ciphertexts in PostgreSQL.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "keys.h"
#include "pg_int.h"

#include "common/buf.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    KEYS_LOCK,
    KEYS_PUT,
    KEYS_DROP_PREKEYS,
    PREKEYS_ADD,
    PREKEYS_COUNT,
    DEVICES_KEYED,
    BUNDLES_TAKE,
    KEYS_PEERS,
    E2E_AUDIENCE,
    E2E_INSERT,
    E2E_FOR_DEVICE,
};

/* Active keyed devices: keys uploaded, device not logged out. */
#define ACTIVE_KEYS "device_keys k JOIN devices v ON v.id = k.device_id AND v.revoked_at IS NULL"

const struct store_pg__stmt store_pg__key_stmts[] = {
    [KEYS_LOCK] = {"keys_lock",
                   "SELECT identity_key FROM device_keys WHERE device_id = $1::bigint FOR UPDATE",
                   1, false},
    [KEYS_PUT] = {"keys_put",
                  "INSERT INTO device_keys (device_id, user_id, identity_key, signed_prekey_id,"
                  " signed_prekey, signed_prekey_sig) VALUES ($1::bigint, $2::bigint, $3,"
                  " $4::bigint, $5, $6) ON CONFLICT (device_id) DO UPDATE SET"
                  " identity_key = EXCLUDED.identity_key,"
                  " signed_prekey_id = EXCLUDED.signed_prekey_id,"
                  " signed_prekey = EXCLUDED.signed_prekey,"
                  " signed_prekey_sig = EXCLUDED.signed_prekey_sig, updated_at = now()",
                  6, false},
    [KEYS_DROP_PREKEYS] = {"keys_drop_prekeys",
                           "DELETE FROM one_time_prekeys WHERE device_id = $1::bigint", 1, false},
    [PREKEYS_ADD] = {"prekeys_add",
                     "INSERT INTO one_time_prekeys (device_id, key_id, public_key)"
                     " SELECT $1::bigint, x.id, x.k FROM json_to_recordset($2::json)"
                     " AS x(id bigint, k text)",
                     2, false},
    [PREKEYS_COUNT] =
        {"prekeys_count",
         "SELECT (SELECT count(*) FROM one_time_prekeys WHERE device_id = $1::bigint),"
         " k.signed_prekey_id FROM device_keys k WHERE k.device_id = $1::bigint",
         1, true},
    [DEVICES_KEYED] = {"devices_keyed",
                       "SELECT k.device_id, k.identity_key FROM " ACTIVE_KEYS
                       " WHERE k.user_id = $1::bigint ORDER BY k.device_id",
                       1, true},
    /* One prekey per device, each locked with SKIP LOCKED: a concurrent
     * fetch that finds a device's first prekey taken moves on to its next
     * one instead of waiting, and never returns the same one. */
    [BUNDLES_TAKE] = {"bundles_take",
                      "WITH d AS (SELECT k.* FROM " ACTIVE_KEYS " WHERE k.user_id = $1::bigint"
                      "   AND k.device_id <> $2::bigint"
                      "   AND (cardinality($3::bigint[]) = 0 OR k.device_id = ANY($3::bigint[]))),"
                      " pick AS (SELECT d.device_id, (SELECT p.key_id FROM one_time_prekeys p"
                      "   WHERE p.device_id = d.device_id ORDER BY p.key_id LIMIT 1"
                      "   FOR UPDATE SKIP LOCKED) AS key_id FROM d),"
                      " t AS (DELETE FROM one_time_prekeys o USING pick"
                      "   WHERE o.device_id = pick.device_id AND o.key_id = pick.key_id"
                      "   RETURNING o.device_id, o.key_id, o.public_key)"
                      " SELECT d.device_id, d.identity_key, d.signed_prekey_id, d.signed_prekey,"
                      "  d.signed_prekey_sig, t.key_id, t.public_key"
                      " FROM d LEFT JOIN t ON t.device_id = d.device_id ORDER BY d.device_id",
                      3, false},
    [KEYS_PEERS] = {"keys_peers",
                    "SELECT DISTINCT o.user_id FROM members me JOIN members o"
                    " ON o.conversation_id = me.conversation_id AND o.user_id <> me.user_id"
                    " WHERE me.user_id = $1::bigint ORDER BY 1",
                    1, true},
    /* First row: the encryption and whether the caller is a member (even
     * with no keyed device anywhere); then one row per keyed device. */
    [E2E_AUDIENCE] = {"e2e_audience",
                      "SELECT x.enc, x.u, x.d FROM ("
                      " SELECT 0 AS k, c.encryption AS enc, 0::bigint AS u, 0::bigint AS d"
                      " FROM conversations c JOIN members me ON me.conversation_id = c.id"
                      " AND me.user_id = $2::bigint WHERE c.id = $1::bigint"
                      " UNION ALL SELECT 1, '', k.user_id, k.device_id FROM members m"
                      " JOIN " ACTIVE_KEYS " ON k.user_id = m.user_id"
                      " WHERE m.conversation_id = $1::bigint"
                      " AND EXISTS (SELECT 1 FROM members me WHERE me.conversation_id ="
                      " $1::bigint AND me.user_id = $2::bigint)"
                      ") x ORDER BY x.k, x.u, x.d",
                      2, true},
    [E2E_INSERT] = {"e2e_insert",
                    "INSERT INTO e2e_ciphertexts (conversation_id, seq, device_id, type,"
                    " ciphertext) SELECT c, s, d, t, x FROM json_to_recordset($1::json)"
                    " AS j(c bigint, s bigint, d bigint, t text, x text)",
                    1, false},
    [E2E_FOR_DEVICE] = {"e2e_for_device",
                        "SELECT seq, type, ciphertext FROM e2e_ciphertexts"
                        " WHERE conversation_id = $1::bigint AND device_id = $2::bigint"
                        " AND seq = ANY($3::bigint[]) ORDER BY seq",
                        3, true},
    {NULL, NULL, 0, false},
};

const struct store_pg__stmt *const store_pg__stmt_e2e_insert = &store_pg__key_stmts[E2E_INSERT];

static int run(struct store_pg *pg, int id, const char *const *vals, PGresult **r)
{
    return store_pg__exec(pg, &store_pg__key_stmts[id], vals, NULL, NULL, r);
}

static int run_void(struct store_pg *pg, int id, const char *const *vals)
{
    PGresult *r;
    int rc = run(pg, id, vals, &r);
    if (rc == 0)
        PQclear(r);
    return rc;
}

int store_pg_keys_lock(struct store_pg *pg, struct pl_arena *a, int64_t device_id,
                       const char **identity)
{
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, device_id);
    PGresult *r;
    int rc = run(pg, KEYS_LOCK, vals, &r);
    if (rc < 0)
        return rc;
    *identity = NULL;
    if (PQntuples(r) == 1 && !(*identity = store_pg__get_str(a, r, 0, 0)))
        rc = PL_ENOMEM;
    PQclear(r);
    return rc;
}

int store_pg_keys_put(struct store_pg *pg, int64_t device_id, int64_t user_id, const char *identity,
                      const struct store_spk *spk, bool replace_prekeys)
{
    char db[24], ub[24], sb[16];
    snprintf(db, sizeof(db), "%" PRId64, device_id);
    snprintf(ub, sizeof(ub), "%" PRId64, user_id);
    snprintf(sb, sizeof(sb), "%" PRIu32, spk->id);
    const char *vals[] = {db, ub, identity, sb, spk->public_key, spk->signature};
    int rc = run_void(pg, KEYS_PUT, vals);
    if (rc == 0 && replace_prekeys)
        rc = run_void(pg, KEYS_DROP_PREKEYS, vals);
    return rc;
}

int store_pg_prekeys_add(struct store_pg *pg, int64_t device_id, const char *rows_json)
{
    struct store_pg__args p;
    STORE_PG__ARGS(&p, device_id);
    p.v[1] = rows_json;
    const char *const *vals = p.v;
    return run_void(pg, PREKEYS_ADD, vals);
}

int store_pg_prekeys_count(struct store_pg *pg, int64_t device_id, int64_t *count, int64_t *spk_id,
                           bool *has_keys)
{
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, device_id);
    PGresult *r;
    int rc = run(pg, PREKEYS_COUNT, vals, &r);
    if (rc < 0)
        return rc;
    *has_keys = PQntuples(r) == 1;
    *count = *spk_id = 0;
    if (*has_keys && (rc = store_pg__get_i64(r, 0, 0, count)) == 0)
        rc = store_pg__get_i64(r, 0, 1, spk_id);
    PQclear(r);
    return rc;
}

/* ctx: the user id the rows belong to. */
static int keyed_row(struct pl_arena *a, const PGresult *r, int row, void *item, void *ctx)
{
    struct store_device_key *d = item;
    d->user_id = *(const int64_t *)ctx;
    int rc = store_pg__get_i64(r, row, 0, &d->device_id);
    if (rc == 0 && !(d->identity_key = store_pg__get_str(a, r, row, 1)))
        rc = PL_ENOMEM;
    return rc;
}

int store_pg_devices_keyed(struct store_pg *pg, struct pl_arena *a, int64_t user_id,
                           struct store_device_key **out, unsigned *n)
{
    struct store_pg__args p;
    return store_pg__exec_rows(pg, a, &store_pg__key_stmts[DEVICES_KEYED],
                               STORE_PG__ARGS(&p, user_id), sizeof(**out), keyed_row, &user_id,
                               (void **)out, n);
}

/* ctx: the user id the rows belong to. */
static int bundle_row(struct pl_arena *a, const PGresult *r, int row, void *item, void *ctx)
{
    struct store_device_key *d = item;
    d->user_id = *(const int64_t *)ctx;
    int64_t spk_id = 0, otpk_id = 0;
    int rc = store_pg__get_i64(r, row, 0, &d->device_id);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 2, &spk_id);
    d->has_otpk = !PQgetisnull(r, row, 5);
    if (rc == 0 && d->has_otpk)
        rc = store_pg__get_i64(r, row, 5, &otpk_id);
    if (rc < 0)
        return rc;
    d->spk.id = (uint32_t)spk_id;
    d->otpk.id = (uint32_t)otpk_id;
    d->identity_key = store_pg__get_str(a, r, row, 1);
    d->spk.public_key = store_pg__get_str(a, r, row, 3);
    d->spk.signature = store_pg__get_str(a, r, row, 4);
    d->otpk.public_key = d->has_otpk ? store_pg__get_str(a, r, row, 6) : "";
    if (!d->identity_key || !d->spk.public_key || !d->spk.signature || !d->otpk.public_key)
        return PL_ENOMEM;
    return 0;
}

/* The parameters ($1 x, $2 y, $3 v as a bigint[]) in p, the array in a;
 * NULL when out of memory. */
static const char *const *ids_args(struct store_pg__args *p, struct pl_arena *a, int64_t x,
                                   int64_t y, const int64_t *v, unsigned n)
{
    STORE_PG__ARGS(p, x, y);
    return (p->v[2] = store_pg__i64_array(a, v, n)) ? p->v : NULL;
}

int store_pg_bundles_take(struct store_pg *pg, struct pl_arena *a, int64_t user_id,
                          int64_t skip_device, const int64_t *only, unsigned n_only,
                          struct store_device_key **out, unsigned *n)
{
    struct store_pg__args p;
    const char *const *vals = ids_args(&p, a, user_id, skip_device, only, n_only);
    if (!vals)
        return PL_ENOMEM;
    return store_pg__exec_rows(pg, a, &store_pg__key_stmts[BUNDLES_TAKE], vals, sizeof(**out),
                               bundle_row, &user_id, (void **)out, n);
}

int store_pg_keys_peers(struct store_pg *pg, struct pl_arena *a, int64_t user_id, int64_t **out,
                        unsigned *n)
{
    struct store_pg__args p;
    return store_pg__exec_ids(pg, a, &store_pg__key_stmts[KEYS_PEERS], STORE_PG__ARGS(&p, user_id),
                              out, n);
}

int store_pg_e2e_audience(struct store_pg *pg, struct pl_arena *a, int64_t conversation_id,
                          int64_t user_id, const char **encryption, struct store_device_key **out,
                          unsigned *n)
{
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, conversation_id, user_id);
    PGresult *r;
    int rc = run(pg, E2E_AUDIENCE, vals, &r);
    if (rc < 0)
        return rc;
    int rows = PQntuples(r);
    /* The header row sorts first: its encryption is never empty, the
     * device rows' always are. */
    if (rows == 0 || !*PQgetvalue(r, 0, 0)) {
        PQclear(r);
        return PL_ENOTFOUND;
    }
    *encryption = store_pg__get_str(a, r, 0, 0);
    unsigned m = (unsigned)rows - 1;
    struct store_device_key *d = pl_arena_zalloc(a, (m ? m : 1) * sizeof(*d));
    rc = d && *encryption ? 0 : PL_ENOMEM;
    for (unsigned i = 0; i < m && rc == 0; i++) {
        rc = store_pg__get_i64(r, (int)i + 1, 1, &d[i].user_id);
        if (rc == 0)
            rc = store_pg__get_i64(r, (int)i + 1, 2, &d[i].device_id);
    }
    PQclear(r);
    *out = d;
    *n = m;
    return rc;
}

int store_pg_e2e_insert(struct store_pg *pg, const char *rows_json)
{
    const char *vals[] = {rows_json};
    return run_void(pg, E2E_INSERT, vals);
}

static int ct_row(struct pl_arena *a, const PGresult *r, int row, void *item, void *ctx)
{
    struct store_e2e_ct *x = item;
    int rc = store_pg__get_i64(r, row, 0, &x->seq);
    x->type = store_pg__get_str(a, r, row, 1);
    x->ciphertext = store_pg__get_str(a, r, row, 2);
    return rc == 0 && (!x->type || !x->ciphertext) ? PL_ENOMEM : rc;
}

int store_pg_e2e_for_device(struct store_pg *pg, struct pl_arena *a, int64_t conversation_id,
                            int64_t device_id, const int64_t *seqs, unsigned n,
                            struct store_e2e_ct **out, unsigned *n_out)
{
    struct store_pg__args p;
    const char *const *vals = ids_args(&p, a, conversation_id, device_id, seqs, n);
    if (!vals)
        return PL_ENOMEM;
    return store_pg__exec_rows(pg, a, &store_pg__key_stmts[E2E_FOR_DEVICE], vals, sizeof(**out),
                               ct_row, NULL, (void **)out, n_out);
}
