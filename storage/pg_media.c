/* SPDX-License-Identifier: MIT */
/* Parley - media uploads in PostgreSQL.                                */
/* Copyright (c) 2026 Parley developers                                 */
#include "media.h"
#include "pg_int.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CREATE, GET, GET_BY_KEY, READY, CAN_READ, SENDABLE, REFS_ADD, EXPIRED, DELETE };

#define MEDIA_COLS                                                                                 \
    "id, uploader_id, uploader_device_id, blob_key, content_type, filename, size,"                 \
    " encode(sha256, 'hex'), state = 'ready', " STORE_PG_TS("created_at") ", " STORE_PG_TS(        \
        "expires_at")

const struct store_pg__stmt store_pg__media_stmts[] = {
    [CREATE] = {"media_create",
                "INSERT INTO media (uploader_id, uploader_device_id, blob_key, content_type, size,"
                " sha256, filename, expires_at) VALUES ($1::bigint, $2::bigint, $3, $4, $5::bigint,"
                " decode($6, 'hex'), $7, now() + make_interval(secs => $8::int))"
                " RETURNING " MEDIA_COLS,
                8, false},
    [GET] = {"media_get", "SELECT " MEDIA_COLS " FROM media WHERE id = $1::bigint", 1, true},
    [GET_BY_KEY] = {"media_get_by_key", "SELECT " MEDIA_COLS " FROM media WHERE blob_key = $1", 1,
                    true},
    [READY] = {"media_ready",
               "UPDATE media SET state = 'ready', ready_at = now()"
               " WHERE id = $1::bigint AND state = 'pending' RETURNING id",
               1, false},
    [CAN_READ] = {"media_can_read",
                  "SELECT EXISTS (SELECT 1 FROM media WHERE id = $1::bigint"
                  "   AND uploader_id = $2::bigint)"
                  " OR EXISTS (SELECT 1 FROM media_refs r JOIN members m"
                  "   ON m.conversation_id = r.conversation_id AND m.user_id = $2::bigint"
                  "   WHERE r.media_id = $1::bigint AND m.joined_seq < r.seq)",
                  2, true},
    [SENDABLE] = {"media_sendable",
                  "SELECT count(*) FROM media WHERE id = ANY($1::bigint[])"
                  " AND uploader_id = $2::bigint AND state = 'ready'",
                  2, true},
    [REFS_ADD] = {"media_refs_add",
                  "WITH ins AS (INSERT INTO media_refs (media_id, conversation_id, message_id, seq)"
                  " SELECT DISTINCT i, $2::bigint, $3::bigint, $4::bigint"
                  " FROM unnest($1::bigint[]) AS i ON CONFLICT DO NOTHING)"
                  " UPDATE media SET expires_at = NULL WHERE id = ANY($1::bigint[])"
                  " AND expires_at IS NOT NULL",
                  4, false},
    [EXPIRED] = {"media_expired",
                 "SELECT id, blob_key FROM media WHERE expires_at < now()"
                 " ORDER BY expires_at LIMIT $1::int",
                 1, true},
    [DELETE] = {"media_delete_expired",
                "DELETE FROM media WHERE id = $1::bigint AND expires_at < now() RETURNING id", 1,
                false},
    {NULL, NULL, 0, false},
};

static int read_row(struct pl_arena *a, const PGresult *r, struct store_media *out)
{
    int64_t size = 0;
    int rc = store_pg__get_i64(r, 0, 0, &out->id);
    if (rc == 0)
        rc = store_pg__get_i64(r, 0, 1, &out->uploader_id);
    if (rc == 0)
        rc = store_pg__get_i64(r, 0, 2, &out->uploader_device_id);
    if (rc == 0)
        rc = store_pg__get_i64(r, 0, 6, &size);
    if (rc < 0)
        return rc;
    out->size = (uint64_t)size;
    out->blob_key = store_pg__get_str(a, r, 0, 3);
    out->content_type = store_pg__get_str(a, r, 0, 4);
    out->filename = PQgetisnull(r, 0, 5) ? NULL : store_pg__get_str(a, r, 0, 5);
    const char *hex = PQgetvalue(r, 0, 7);
    for (size_t i = 0; i < STORE_MEDIA_SHA256_BYTES && strlen(hex) == 64; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out->sha256[i] = (uint8_t)v;
    }
    out->ready = PQgetvalue(r, 0, 8)[0] == 't';
    out->created_at = store_pg__get_str(a, r, 0, 9);
    out->expires_at = PQgetisnull(r, 0, 10) ? NULL : store_pg__get_str(a, r, 0, 10);
    if (!out->blob_key || !out->content_type || !out->created_at)
        return PL_ENOMEM;
    return 0;
}

static int exec_row(struct store_pg *pg, struct pl_arena *a, int which, const char *const *vals,
                    struct store_media *out)
{
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__media_stmts[which], vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? read_row(a, r, out) : PL_ENOTFOUND;
    PQclear(r);
    return rc;
}

int store_pg_media_create(struct store_pg *pg, struct pl_arena *a, const struct store_media *in,
                          unsigned ttl_s, struct store_media *out)
{
    char up[24], dev[24], size[24], ttl[16], hex[STORE_MEDIA_SHA256_BYTES * 2 + 1];
    snprintf(up, sizeof(up), "%" PRId64, in->uploader_id);
    snprintf(dev, sizeof(dev), "%" PRId64, in->uploader_device_id);
    snprintf(size, sizeof(size), "%" PRIu64, in->size);
    snprintf(ttl, sizeof(ttl), "%u", ttl_s);
    for (size_t i = 0; i < STORE_MEDIA_SHA256_BYTES; i++)
        snprintf(hex + 2 * i, 3, "%02x", in->sha256[i]);
    const char *vals[] = {up, dev, in->blob_key, in->content_type, size, hex, in->filename, ttl};
    return exec_row(pg, a, CREATE, vals, out);
}

int store_pg_media_get(struct store_pg *pg, struct pl_arena *a, int64_t id, struct store_media *out)
{
    char ib[24];
    snprintf(ib, sizeof(ib), "%" PRId64, id);
    const char *vals[] = {ib};
    return exec_row(pg, a, GET, vals, out);
}

int store_pg_media_get_by_key(struct store_pg *pg, struct pl_arena *a, const char *blob_key,
                              struct store_media *out)
{
    const char *vals[] = {blob_key};
    return exec_row(pg, a, GET_BY_KEY, vals, out);
}

/* Runs a statement and reports PL_ENOTFOUND when it returned no row. */
static int exec_some(struct store_pg *pg, int which, const char *const *vals)
{
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__media_stmts[which], vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) > 0 ? 0 : PL_ENOTFOUND;
    PQclear(r);
    return rc;
}

int store_pg_media_mark_ready(struct store_pg *pg, int64_t id)
{
    char ib[24];
    snprintf(ib, sizeof(ib), "%" PRId64, id);
    const char *vals[] = {ib};
    return exec_some(pg, READY, vals);
}

int store_pg_media_delete_expired(struct store_pg *pg, int64_t id)
{
    char ib[24];
    snprintf(ib, sizeof(ib), "%" PRId64, id);
    const char *vals[] = {ib};
    return exec_some(pg, DELETE, vals);
}

int store_pg_media_can_read(struct store_pg *pg, int64_t id, int64_t user_id, bool *ok)
{
    int rc = store_pg__exec_bool(pg, &store_pg__media_stmts[CAN_READ], id, user_id, ok);
    if (rc == PL_ENOTFOUND) {
        *ok = false; /* no row: no such media */
        rc = 0;
    }
    return rc;
}

int store_pg_media_count_sendable(struct store_pg *pg, const int64_t *ids, unsigned n,
                                  int64_t user_id, unsigned *count)
{
    struct pl_arena *a = pl_arena_new();
    char ub[24], *arr = a ? store_pg__i64_array(a, ids, n) : NULL;
    *count = 0;
    if (!arr) {
        pl_arena_free(a);
        return PL_ENOMEM;
    }
    snprintf(ub, sizeof(ub), "%" PRId64, user_id);
    const char *vals[] = {arr, ub};
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__media_stmts[SENDABLE], vals, NULL, NULL, &r);
    pl_arena_free(a);
    if (rc < 0)
        return rc;
    int64_t c = 0;
    rc = store_pg__get_i64(r, 0, 0, &c);
    PQclear(r);
    *count = (unsigned)c;
    return rc;
}

int store_pg_media_refs_add(struct store_pg *pg, const int64_t *ids, unsigned n,
                            int64_t conversation_id, int64_t message_id, int64_t seq)
{
    if (n == 0)
        return 0;
    struct pl_arena *a = pl_arena_new();
    char cb[24], mb[24], sb[24], *arr = a ? store_pg__i64_array(a, ids, n) : NULL;
    if (!arr) {
        pl_arena_free(a);
        return PL_ENOMEM;
    }
    snprintf(cb, sizeof(cb), "%" PRId64, conversation_id);
    snprintf(mb, sizeof(mb), "%" PRId64, message_id);
    snprintf(sb, sizeof(sb), "%" PRId64, seq);
    const char *vals[] = {arr, cb, mb, sb};
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__media_stmts[REFS_ADD], vals, NULL, NULL, &r);
    pl_arena_free(a);
    if (rc == 0)
        PQclear(r);
    return rc;
}

int store_pg_media_expired(struct store_pg *pg, struct pl_arena *a, unsigned limit, int64_t **ids,
                           const char ***keys, unsigned *n)
{
    char lb[16];
    snprintf(lb, sizeof(lb), "%u", limit);
    const char *vals[] = {lb};
    PGresult *r;
    *n = 0;
    int rc = store_pg__exec(pg, &store_pg__media_stmts[EXPIRED], vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    unsigned rows = (unsigned)PQntuples(r);
    *ids = pl_arena_alloc(a, (rows + 1) * sizeof(**ids));
    *keys = pl_arena_alloc(a, (rows + 1) * sizeof(**keys));
    rc = *ids && *keys ? 0 : PL_ENOMEM;
    for (unsigned i = 0; i < rows && rc == 0; i++) {
        rc = store_pg__get_i64(r, (int)i, 0, &(*ids)[i]);
        (*keys)[i] = store_pg__get_str(a, r, (int)i, 1);
        if (rc == 0 && !(*keys)[i])
            rc = PL_ENOMEM;
    }
    PQclear(r);
    if (rc == 0)
        *n = rows;
    return rc;
}
