/* SPDX-License-Identifier: MIT */
/* Parley - PostgreSQL row mapping: parameters in, arena structs out.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "pg_int.h"

#include <endian.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

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

/* ---- binary array parameters ---- */

static void bin_put(struct store_pg__bin *x, const void *p, size_t n)
{
    if (x->rc == 0)
        x->rc = pl_buf_append(&x->b, p, n);
}

static void bin_u32(struct store_pg__bin *x, uint32_t v)
{
    v = htobe32(v);
    bin_put(x, &v, sizeof(v));
}

void store_pg__bins_init(struct store_pg__bin *cols, const uint32_t *oids, unsigned n_cols,
                         unsigned n_rows)
{
    for (unsigned c = 0; c < n_cols; c++) {
        struct store_pg__bin *x = &cols[c];
        *x = (struct store_pg__bin){.want = n_rows};
        pl_buf_init(&x->b, STORE_PG_PARAM_MAX);
        /* dimensions, "has NULLs", element type, then size and lower bound */
        bin_u32(x, 1);
        bin_u32(x, 0);
        bin_u32(x, oids[c]);
        bin_u32(x, n_rows);
        bin_u32(x, 1);
    }
}

/* One element: its length, then its bytes. */
static void bin_elem(struct store_pg__bin *x, const void *p, uint32_t len)
{
    bin_u32(x, len);
    bin_put(x, p, len);
    x->n++;
}

void store_pg__bin_i64(struct store_pg__bin *x, int64_t v)
{
    uint64_t be = htobe64((uint64_t)v);
    bin_elem(x, &be, sizeof(be));
}

void store_pg__bin_i32(struct store_pg__bin *x, int32_t v)
{
    uint32_t be = htobe32((uint32_t)v);
    bin_elem(x, &be, sizeof(be));
}

void store_pg__bin_bool(struct store_pg__bin *x, bool v)
{
    uint8_t b = v;
    bin_elem(x, &b, 1);
}

void store_pg__bin_text(struct store_pg__bin *x, const char *s)
{
    size_t len = strlen(s);
    if (len > INT32_MAX && x->rc == 0)
        x->rc = PL_ETOOBIG;
    bin_elem(x, s, (uint32_t)len);
}

int store_pg__bins_params(struct store_pg__bin *cols, unsigned n_cols, const char **values,
                          int *lengths, int *formats)
{
    for (unsigned c = 0; c < n_cols; c++) {
        struct store_pg__bin *x = &cols[c];
        if (x->rc == 0 && x->n != x->want)
            x->rc = PL_EINTERNAL;
        if (x->rc < 0)
            return x->rc;
        values[c] = pl_buf_head(&x->b);
        lengths[c] = (int)x->b.len;
        formats[c] = 1;
    }
    return 0;
}

void store_pg__bins_deinit(struct store_pg__bin *cols, unsigned n_cols)
{
    for (unsigned c = 0; c < n_cols; c++)
        pl_buf_deinit(&cols[c].b);
}
