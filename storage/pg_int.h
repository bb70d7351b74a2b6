/* SPDX-License-Identifier: MIT */
/* Parley - PostgreSQL internals shared by storage/pg_*.c only.         */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORAGE_PG_INT_H
#define PL_STORAGE_PG_INT_H

/*
 * Private to storage/: only the .c files in storage/ include this header (the include
 * check in scripts/check-includes enforces it). Everything here is named
 * store_pg__* (or STORE_PG_/STORE_MSG_ for SQL fragments); callers outside
 * storage/ see the contracts in storage/pg.h and its siblings.
 */

#include "storage/conversations.h"
#include "storage/messages.h"
#include "storage/pg.h"

#include "common/arena.h"
#include "common/buf.h"

#include <stdbool.h>
#include <stdint.h>

/* libpq's types, named by their struct tags so that this header does not
 * need libpq-fe.h (PGconn and PGresult are typedefs of them). */
struct pg_conn;
struct pg_result;

/* Opens a connection to conninfo (borrowed) with application_name
 * "parleyd" (unless conninfo sets its own), connect_timeout (seconds, as a
 * string) and, when statement_timeout is not NULL, that statement_timeout
 * (milliseconds, as a string; our constant, never input). NOTICEs go to
 * the debug log. On success *out is the caller's: close with PQfinish().
 * Logs an outage once per transition. Blocking; any thread.
 * Returns 0; PL_EUNAVAIL when the server cannot be reached; PL_ENOMEM;
 * PL_EINTERNAL when the session setting is refused. */
PL_MUST_CHECK int store_pg__connect(const char *conninfo, const char *connect_timeout,
                                    const char *statement_timeout, struct pg_conn **out);

/* A statement prepared on every (re)connect. Files define them in
 * NULL-terminated tables registered in pg_conn.c. read_only marks
 * statements that are safe to run twice: they are retried once on a fresh
 * connection when the first one turns out dead mid-call. */
struct store_pg__stmt {
    const char *name;
    const char *sql;
    int nparams;
    bool read_only;
};

extern const struct store_pg__stmt store_pg__user_stmts[];
extern const struct store_pg__stmt store_pg__event_stmts[];
extern const struct store_pg__stmt store_pg__message_edit_stmts[];
extern const struct store_pg__stmt store_pg__reaction_stmts[];
extern const struct store_pg__stmt store_pg__message_stmts[];
extern const struct store_pg__stmt store_pg__receipt_stmts[];
extern const struct store_pg__stmt store_pg__presence_stmts[];
extern const struct store_pg__stmt store_pg__conversation_stmts[];     /* pg_conversations.c */
extern const struct store_pg__stmt store_pg__member_stmts[];           /* pg_members.c */
extern const struct store_pg__stmt store_pg__key_stmts[];              /* pg_keys.c */
extern const struct store_pg__stmt store_pg__media_stmts[];            /* pg_media.c */
extern const struct store_pg__stmt store_pg__search_stmts[];           /* pg_search.c */
extern const struct store_pg__stmt store_pg__archive_stmts[];          /* pg_archive.c */
extern const struct store_pg__stmt store_pg__session_stmts[];          /* pg_sessions.c */
extern const struct store_pg__stmt store_pg__analytics_stmts[];        /* pg_analytics.c */
extern const struct store_pg__stmt store_pg__analytics_metric_stmts[]; /* pg_analytics_metrics.c */
extern const struct store_pg__stmt store_pg__analytics_read_stmts[];   /* pg_analytics_read.c */
extern const struct store_pg__stmt store_pg__block_stmts[];            /* pg_blocks.c */
extern const struct store_pg__stmt store_pg__conv_prefs_stmts[];       /* pg_conv_prefs.c */
extern const struct store_pg__stmt store_pg__replica_stmts[];          /* pg_replica.c */
extern const struct store_pg__stmt store_pg__expiry_stmts[];           /* pg_expiry.c */
extern const struct store_pg__stmt store_pg__account_stmts[];          /* pg_account.c */
extern const struct store_pg__stmt store_pg__push_sub_stmts[];         /* pg_push_subs.c */

/* Runs the prepared statement st with nparams parameters: values[i] with
 * lengths[i] bytes in format formats[i] (0 text, NUL-terminated; 1 binary).
 * lengths and formats may be NULL when every parameter is text. Results
 * come back in text format. All arrays are borrowed. On success *res is
 * the caller's: free it with PQclear().
 * Returns 0; PL_ECONFLICT (unique violation), PL_ENOTFOUND (foreign key
 * violation), PL_EINVAL (check/not-null violation, bad value), or a common
 * code above. */
PL_MUST_CHECK int store_pg__exec(struct store_pg *pg, const struct store_pg__stmt *st,
                                 const char *const *values, const int *lengths, const int *formats,
                                 struct pg_result **res);
/* One statement of a pipeline: st with its text parameters (borrowed);
 * res is set by store_pg__exec_pipeline() (the caller's: PQclear it). */
struct store_pg__call {
    const struct store_pg__stmt *st;
    const char *const *values;
    /* NULL: every parameter is text. Else as PQexecParams() takes them:
     * each parameter's length and format (1 for binary). */
    const int *lengths, *formats;
    struct pg_result *res;
};

/* Sends q[0..n) in one round trip (libpq pipeline mode) and reads every
 * result. On success each q[i].res is set; on failure none is, and the
 * code is the first failing statement's (as store_pg__exec()); the
 * statements after it did not run. store_pg__stmt_begin and
 * store_pg__stmt_commit may be among them: they open and end the
 * transaction as store_pg_tx_begin() and store_pg_tx_commit() do, and a
 * transaction left open by a failure must be rolled back. PL_EUNAVAIL:
 * the connection broke, the outcome is unknown. */
PL_MUST_CHECK int store_pg__exec_pipeline(struct store_pg *pg, struct store_pg__call *q,
                                          unsigned n);
/* Frees q[0..n)'s results (those set) and unsets them. */
void store_pg__calls_clear(struct store_pg__call *q, unsigned n);
extern const struct store_pg__stmt *const store_pg__stmt_begin;  /* BEGIN */
extern const struct store_pg__stmt *const store_pg__stmt_commit; /* COMMIT */
/* store_pg_e2e_insert()'s statement (pg_keys.c), for the send pipeline. */
extern const struct store_pg__stmt *const store_pg__stmt_e2e_insert;

/* Runs st with the parameters a and b; *out is the boolean in the first
 * column of its one row. 0, PL_ENOTFOUND when there is no row, or a
 * store_pg__exec() code. */
PL_MUST_CHECK int store_pg__exec_bool(struct store_pg *pg, const struct store_pg__stmt *st,
                                      int64_t a, int64_t b, bool *out);
/* The same with the statement's parameters as text (st->nparams of them). */
PL_MUST_CHECK int store_pg__exec_bool_vals(struct store_pg *pg, const struct store_pg__stmt *st,
                                           const char *const *vals, bool *out);

/* The API's timestamp form (RFC 3339, UTC, milliseconds) for a SQL
 * expression. Formatting in SQL keeps the session's TimeZone and
 * DateStyle settings out of the picture. */
#define STORE_PG_TS(expr)                                                                          \
    "to_char(" expr " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Parses a bigint column; PL_EINTERNAL when it is not one. */
PL_MUST_CHECK int store_pg__get_i64(const struct pg_result *r, int row, int col, int64_t *out);
/* Parses a bigint[] column into an arena array. */
PL_MUST_CHECK int store_pg__get_i64_array(struct pl_arena *a, const struct pg_result *r, int row,
                                          int col, int64_t **out, unsigned *n);
/* Copies a text column into the arena; NULL when out of memory. */
const char *store_pg__get_str(struct pl_arena *a, const struct pg_result *r, int row, int col);
/* v[0..n) as a bigint[] literal ("{1,2,3}") in the arena, for a parameter;
 * NULL when out of memory. */
char *store_pg__i64_array(struct pl_arena *a, const int64_t *v, unsigned n);

/* Adds one to the counter store_pg_errors() reads. Any thread. */
void store_pg__count_error(void);

/* The largest parameter we build, far below PostgreSQL's 1 GiB per value. */
#define STORE_PG_PARAM_MAX ((size_t)512 << 20)

/* A batch's rows as one array per column in PostgreSQL's binary format
 * (what array_recv() reads), zipped back into rows by unnest() WITH
 * ORDINALITY: the server copies the elements instead of parsing a
 * literal, and text needs no quoting. Each column's element type and the
 * row count are fixed at init; add exactly that many elements of that
 * type to each column, then take the parameters. Text must not hold NUL
 * bytes. */
struct store_pg__bin {
    struct pl_buf b;
    unsigned want, n;
    int rc;
};
#define STORE_PG_OID_BOOL 16u
#define STORE_PG_OID_INT8 20u
#define STORE_PG_OID_INT4 23u
#define STORE_PG_OID_TEXT 25u
void store_pg__bins_init(struct store_pg__bin *cols, const uint32_t *oids, unsigned n_cols,
                         unsigned n_rows);
void store_pg__bin_i64(struct store_pg__bin *x, int64_t v);
void store_pg__bin_i32(struct store_pg__bin *x, int32_t v);
void store_pg__bin_bool(struct store_pg__bin *x, bool v);
void store_pg__bin_text(struct store_pg__bin *x, const char *s);
/* Points values, lengths and formats[0..n_cols) at the columns (binary,
 * valid until store_pg__bins_deinit()). 0, or PL_ENOMEM, PL_ETOOBIG or
 * PL_EINTERNAL (a column without exactly n_rows elements). */
PL_MUST_CHECK int store_pg__bins_params(struct store_pg__bin *cols, unsigned n_cols,
                                        const char **values, int *lengths, int *formats);
void store_pg__bins_deinit(struct store_pg__bin *cols, unsigned n_cols);

/* ---- row mapping (pg_rows.c) ---- */

#define STORE_PG__ARGS_MAX 4

/* Text parameters for bigint ids: one buffer per id, on the caller's stack. */
struct store_pg__args {
    char num[STORE_PG__ARGS_MAX][24];
    const char *v[STORE_PG__ARGS_MAX];
};

/* Formats ids[0..n) (n <= STORE_PG__ARGS_MAX) into p and returns p->v,
 * ready for store_pg__exec(); entries past n are NULL, so a caller may set
 * p->v[n] to a text parameter of its own. STORE_PG__ARGS(p, a, b) is the
 * same for a list of ids. */
const char *const *store_pg__args(struct store_pg__args *p, const int64_t *ids, unsigned n);
#define STORE_PG__ARGS(p, ...)                                                                     \
    store_pg__args((p), (const int64_t[]){__VA_ARGS__},                                            \
                   sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

/* Fills item (zeroed, of the size given to the caller below) from row row
 * of r; strings go into a. ctx is the caller's. Returns 0 or a code. */
typedef int store_pg__row_cb(struct pl_arena *a, const struct pg_result *r, int row, void *item,
                             void *ctx);

/* Runs st with values (borrowed), maps every row with fn into an arena
 * array of size-byte items and clears the result. On success *out (never
 * NULL, even for no rows) and *n; on failure neither is touched.
 * Returns 0, fn's code, PL_ENOMEM or a store_pg__exec() code. */
PL_MUST_CHECK int store_pg__exec_rows(struct store_pg *pg, struct pl_arena *a,
                                      const struct store_pg__stmt *st, const char *const *values,
                                      size_t size, store_pg__row_cb *fn, void *ctx, void **out,
                                      unsigned *n);

/* The same for a statement that returns at most one row of interest: maps
 * its first row into out. Returns 0; PL_ENOTFOUND when there is none; fn's
 * code; or a store_pg__exec() code. */
PL_MUST_CHECK int store_pg__exec_row(struct store_pg *pg, struct pl_arena *a,
                                     const struct store_pg__stmt *st, const char *const *values,
                                     store_pg__row_cb *fn, void *ctx, void *out);

/* store_pg__exec_rows() for a statement whose first column is a bigint:
 * *out is an arena array of *n ids. */
PL_MUST_CHECK int store_pg__exec_ids(struct store_pg *pg, struct pl_arena *a,
                                     const struct store_pg__stmt *st, const char *const *values,
                                     int64_t **out, unsigned *n);

/* ---- rows ---- */

/* Parses a role column ("admin", "member"; anything else is NONE). */
enum store_role store_pg__role_parse(const char *s);

/* One definition of the message columns and of the aggregate tick, used
 * by every query that returns messages. */

/* The aggregate status of message alias m: over the members other than
 * the sender who could see it (joined before it), "read" when all have read
 * it, "delivered" when all have it, else "sent" (also with nobody else). */
// clang-format off
#define STORE_MSG_STATUS_SQL(m)                                                 \
    "CASE WHEN NOT EXISTS (SELECT 1 FROM members o"                             \
    " WHERE o.conversation_id = " m ".conversation_id"                          \
    " AND o.user_id <> " m ".sender_id AND o.joined_seq < " m ".seq) THEN 0"    \
    " WHEN NOT EXISTS (SELECT 1 FROM members o"                                 \
    " WHERE o.conversation_id = " m ".conversation_id"                          \
    " AND o.user_id <> " m ".sender_id AND o.joined_seq < " m ".seq"            \
    " AND o.read_seq < " m ".seq) THEN 2"                                       \
    " WHEN NOT EXISTS (SELECT 1 FROM members o"                                 \
    " WHERE o.conversation_id = " m ".conversation_id"                          \
    " AND o.user_id <> " m ".sender_id AND o.joined_seq < " m ".seq"            \
    " AND o.delivered_seq < " m ".seq) THEN 1 ELSE 0 END"

/* The 14 columns store_pg__message_row() reads, for message alias m. */
#define STORE_MSG_COLS(m)                                                       \
    m ".id, " m ".conversation_id, " m ".seq, " m ".sender_id, "                \
    m ".sender_device_id, " m ".client_msg_id, " m ".kind, " m ".body, "        \
    "COALESCE(" m ".reply_to, 0), " STORE_PG_TS(m ".created_at") ", "           \
    STORE_MSG_STATUS_SQL(m) ", "                                                \
    "COALESCE(" STORE_PG_TS(m ".edited_at") ", ''), "                           \
    "COALESCE(" STORE_PG_TS(m ".deleted_at") ", ''), " m ".forwarded"
// clang-format on

#define STORE_MSG_NCOLS 14

/* Reads STORE_MSG_COLS starting at column col of row. */
PL_MUST_CHECK int store_pg__message_row(struct pl_arena *a, const struct pg_result *r, int row,
                                        int col, struct store_message *out);

/* Analytics internals (pg_analytics_metrics.c), inside a step's or a
 * rebuild's transaction: the latency histograms of positions (lo, hi];
 * media of the hours since `since` (NULL: the registrations' hours); a
 * rebuild's latency and media from `from` up to checkpoint pos; the
 * quantile series of a delivery_/read_ metric; one row of a series. */
PL_MUST_CHECK int store_pg__analytics_latency(struct store_pg *pg, int64_t lo, int64_t hi);
PL_MUST_CHECK int store_pg__analytics_media(struct store_pg *pg, const char *since);
/* The derived rollups (days, quantiles) from `from` on and DAU/WAU/MAU
 * from the day of active_from on (timestamptz text, not NULL). */
PL_MUST_CHECK int store_pg__analytics_daily(struct store_pg *pg, const char *from,
                                            const char *active_from);
PL_MUST_CHECK int store_pg__analytics_rebuild_more(struct store_pg *pg, int64_t pos,
                                                   const char *from);
struct store_analytics_point;
PL_MUST_CHECK int store_pg__analytics_quantiles(struct store_pg *pg, struct pl_arena *a,
                                                const char *metric, const char *from,
                                                const char *to, const char *granularity,
                                                unsigned max_points,
                                                struct store_analytics_point **out, unsigned *n);
/* The first row of every series statement: the first bucket LO and the
 * end of the range HI (SQL timestamptz expressions) as epoch seconds
 * (bigint, float8); date_part() is float8 arithmetic where extract() is
 * numeric. */
#define STORE_PG__BOUNDS(LO, HI) "date_part('epoch', " LO ")::bigint, date_part('epoch', " HI ")"
/* Runs a series statement (st with vals) and lays its sparse rows out as
 * one point per step_s seconds from the first bucket to the end (missing
 * buckets 0; t strings and the array in arena a). PL_ETOOBIG past
 * max_points; else 0 or a store_pg__exec() code. */
PL_MUST_CHECK int store_pg__analytics_series_fill(struct store_pg *pg, struct pl_arena *a,
                                                  const struct store_pg__stmt *st,
                                                  const char *const *vals, unsigned step_s,
                                                  unsigned max_points,
                                                  struct store_analytics_point **out, unsigned *n);

#endif
