/* SPDX-License-Identifier: MIT */
/* Parley - PostgreSQL row mapping: parameters in, arena structs out.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "pg_int.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>

/*
 * Most queries are "format the ids, run the statement, turn each row into
 * a struct in the request's arena, clear the result". The statement and the
 * row decoder differ; the rest is here once, so a new query is its SQL and
 * one decoder, and no path forgets PQclear().
 */

const char *const *store_pg__args(struct store_pg__args *p, const int64_t *ids, unsigned n)
{
    for (unsigned i = 0; i < STORE_PG__ARGS_MAX; i++) {
        p->v[i] = NULL;
        if (i < n) {
            snprintf(p->num[i], sizeof(p->num[i]), "%" PRId64, ids[i]);
            p->v[i] = p->num[i];
        }
    }
    return p->v;
}

int store_pg__exec_rows(struct store_pg *pg, struct pl_arena *a, const struct store_pg__stmt *st,
                        const char *const *values, size_t size, store_pg__row_cb *fn, void *ctx,
                        void **out, unsigned *n)
{
    PGresult *r;
    int rc = store_pg__exec(pg, st, values, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    unsigned rows = (unsigned)PQntuples(r);
    /* One item even for no rows, so *out is never NULL on success. */
    char *v = pl_arena_zalloc(a, (rows ? rows : 1) * size);
    rc = v ? 0 : PL_ENOMEM;
    for (unsigned i = 0; rc == 0 && i < rows; i++)
        rc = fn(a, r, (int)i, v + i * size, ctx);
    PQclear(r);
    if (rc < 0)
        return rc;
    *out = v;
    *n = rows;
    return 0;
}

int store_pg__exec_row(struct store_pg *pg, struct pl_arena *a, const struct store_pg__stmt *st,
                       const char *const *values, store_pg__row_cb *fn, void *ctx, void *out)
{
    PGresult *r;
    int rc = store_pg__exec(pg, st, values, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 0 ? PL_ENOTFOUND : fn(a, r, 0, out, ctx);
    PQclear(r);
    return rc;
}

static int id_row(struct pl_arena *a, const PGresult *r, int row, void *item, void *ctx)
{
    return store_pg__get_i64(r, row, 0, item);
}

int store_pg__exec_ids(struct store_pg *pg, struct pl_arena *a, const struct store_pg__stmt *st,
                       const char *const *values, int64_t **out, unsigned *n)
{
    return store_pg__exec_rows(pg, a, st, values, sizeof(**out), id_row, NULL, (void **)out, n);
}
