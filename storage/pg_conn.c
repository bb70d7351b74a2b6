/* SPDX-License-Identifier: MIT */
/* Parley - per-worker PostgreSQL connection: connect, prepare, run.    */
/* Copyright (c) 2026 Parley developers                                 */
#include "pg.h"
#include "pg_int.h"

#include "common/log.h"
#include "common/loop.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PL_LOG_TOPIC("store");

/* A failed connect is not retried for this long. Without the gap, every
 * request on every worker would pay a full connect attempt (up to
 * connect_timeout when the host drops packets) while PostgreSQL is down;
 * with it, those requests fail at once and /readyz still notices recovery
 * within a quarter second. */
#define RECONNECT_GAP_MS 250

#define DEFAULT_CONNECT_TIMEOUT_S 5

struct store_pg {
    char *conninfo;
    char connect_timeout[16]; /* libpq wants the keyword value as a string */
    PGconn *conn;             /* NULL while disconnected */
    bool no_seqscan;          /* store_pg_config.key_lookups_only */
    bool in_tx;               /* between store_pg_tx_begin and its end */
    bool failed;              /* the last connect attempt failed ... */
    uint64_t failed_at_ms;    /* ... at this monotonic time */
};

static atomic_uint_fast64_t error_count;

/* Whether the last thing any worker saw was a reachable PostgreSQL. Kept
 * process-wide so that an outage is logged once, not once per worker and
 * certainly not once per request. */
static atomic_bool reachable = true;

static const struct store_pg__stmt conn_stmts[] = {
    {"ping", "SELECT 1", 0, true},
    {"tx_begin", "BEGIN", 0, false},
    {"tx_commit", "COMMIT", 0, false},
    {"tx_rollback", "ROLLBACK", 0, false},
    {NULL, NULL, 0, false},
};

/* Every statement table in storage/. A new pg_<area>.c adds its table
 * here, and all of them are prepared on each (re)connect, so a statement
 * is always ready on whichever connection runs it. */
static const struct store_pg__stmt *const stmt_tables[] = {
    conn_stmts,
    store_pg__user_stmts,
    store_pg__event_stmts,
    store_pg__message_stmts,
    store_pg__message_edit_stmts,
    store_pg__reaction_stmts,
    store_pg__receipt_stmts,
    store_pg__presence_stmts,
    store_pg__conversation_stmts,
    store_pg__member_stmts,
    store_pg__key_stmts,
    store_pg__media_stmts,
    store_pg__search_stmts,
    store_pg__archive_stmts,
    store_pg__session_stmts,
    store_pg__analytics_stmts,
    store_pg__analytics_metric_stmts,
    store_pg__analytics_read_stmts,
    store_pg__block_stmts,
    store_pg__conv_prefs_stmts,
    store_pg__expiry_stmts,
    store_pg__push_sub_stmts,
    store_pg__replica_stmts,
    store_pg__account_stmts,
};

void store_pg__count_error(void)
{
    atomic_fetch_add_explicit(&error_count, 1, memory_order_relaxed);
}

uint64_t store_pg_errors(void)
{
    return atomic_load_explicit(&error_count, memory_order_relaxed);
}

/* libpq messages end in a newline and sometimes carry a hint on further
 * lines; a log line wants only the first. */
static void first_line(const char *msg, char *buf, size_t size)
{
    size_t n = msg ? strcspn(msg, "\n") : 0;
    snprintf(buf, size, "%.*s", (int)n, msg ? msg : "");
}

static void note_down(const char *what, const char *msg)
{
    if (atomic_exchange(&reachable, false)) {
        char line[256];
        first_line(msg, line, sizeof(line));
        pl_log_error("postgres unavailable: %s: %s", what, line);
    }
}

static void note_up(void)
{
    if (!atomic_exchange(&reachable, true))
        pl_log_info("postgres reachable again");
}

/* NOTICEs (e.g. "relation already exists, skipping") would otherwise go
 * straight to stderr, bypassing the log format and levels. */
static void on_notice(void *ctx, const char *msg)
{
    char line[256];
    (void)ctx;
    first_line(msg, line, sizeof(line));
    pl_log_debug("postgres notice: %s", line);
}

int store_pg_new(const struct store_pg_config *cfg, struct store_pg **out)
{
    if (!cfg || !cfg->conninfo || !out)
        return PL_EINVAL;
    struct store_pg *pg = calloc(1, sizeof(*pg));
    if (!pg)
        return PL_ENOMEM;
    pg->conninfo = strdup(cfg->conninfo);
    if (!pg->conninfo) {
        free(pg);
        return PL_ENOMEM;
    }
    snprintf(pg->connect_timeout, sizeof(pg->connect_timeout), "%u",
             cfg->connect_timeout_s ? cfg->connect_timeout_s : DEFAULT_CONNECT_TIMEOUT_S);
    pg->no_seqscan = cfg->key_lookups_only;
    *out = pg;
    return 0;
}

void store_pg_free(struct store_pg *pg)
{
    if (!pg)
        return;
    if (pg->conn)
        PQfinish(pg->conn);
    free(pg->conninfo);
    free(pg);
}

/* The defaults come before dbname in the keyword list so that the
 * operator's conninfo, which libpq expands in place of dbname, can
 * override them. */
int store_pg__connect(const char *conninfo, const char *connect_timeout,
                      const char *statement_timeout, struct pg_conn **out)
{
    const char *const keys[] = {"application_name", "connect_timeout", "dbname", NULL};
    const char *const vals[] = {"parleyd", connect_timeout, conninfo, NULL};
    *out = NULL;
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c)
        return PL_ENOMEM;
    if (PQstatus(c) != CONNECTION_OK)
        goto fail_unavail;
    PQsetNoticeProcessor(c, on_notice, NULL);
    if (statement_timeout) {
        /* A SET rather than the "options" keyword: an operator's conninfo
         * with its own options would silently replace ours. The value is
         * a constant of ours, never input. */
        char sql[64];
        snprintf(sql, sizeof(sql), "SET statement_timeout = %s", statement_timeout);
        PGresult *r = PQexec(c, sql);
        bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok && PQstatus(c) == CONNECTION_BAD)
            goto fail_unavail;
        if (!ok) {
            pl_log_error("postgres: setting statement_timeout failed");
            PQfinish(c);
            return PL_EINTERNAL;
        }
    }
    *out = c;
    return 0;

fail_unavail:
    note_down("connect", PQerrorMessage(c));
    PQfinish(c);
    return PL_EUNAVAIL;
}

/* Prepares every registered statement on c. Returns 0, PL_EUNAVAIL when
 * the connection died meanwhile, PL_ETIMEDOUT when statement_timeout hit
 * (preparing waits for locks on the tables named, e.g. behind a running
 * migration), PL_ENOMEM, or PL_EINTERNAL (typically the schema is missing:
 * migrations have not run). */
static int prepare_all(PGconn *c)
{
    for (size_t t = 0; t < PL_ARRAY_LEN(stmt_tables); t++) {
        for (const struct store_pg__stmt *st = stmt_tables[t]; st->name; st++) {
            PGresult *r = PQprepare(c, st->name, st->sql, st->nparams, NULL);
            if (r && PQresultStatus(r) == PGRES_COMMAND_OK) {
                PQclear(r);
                continue;
            }
            const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
            int rc = PL_EINTERNAL;
            if (!r)
                rc = PL_ENOMEM;
            else if (PQstatus(c) == CONNECTION_BAD)
                rc = PL_EUNAVAIL;
            else if (state && strcmp(state, "57014") == 0)
                rc = PL_ETIMEDOUT; /* waited too long for a table lock */
            note_down(st->name, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
            PQclear(r);
            return rc;
        }
    }
    return 0;
}

static int pg_connect(struct store_pg *pg)
{
    if (pg->failed && pl_now_ms() - pg->failed_at_ms < RECONNECT_GAP_MS) {
        store_pg__count_error(); /* still a failed operation for the caller */
        return PL_EUNAVAIL;
    }
    PGconn *c;
    int rc = store_pg__connect(pg->conninfo, pg->connect_timeout, "5000", &c);
    if (rc == 0 && pg->no_seqscan) {
        /* Generic plans too: the writer's statements take their rows as
         * one JSON or array parameter, for which a custom plan is no
         * better, and replanning them was ~8% of its backend's time. */
        PGresult *r =
            PQexec(c, "SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan");
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = PQstatus(c) == CONNECTION_BAD ? PL_EUNAVAIL : PL_EINTERNAL;
        PQclear(r);
    }
    if (rc == 0)
        rc = prepare_all(c);
    if (rc < 0) {
        PQfinish(c); /* NULL is fine */
        store_pg__count_error();
        pg->failed = true;
        pg->failed_at_ms = pl_now_ms();
        return rc;
    }
    pg->conn = c;
    pg->failed = false;
    note_up();
    return 0;
}

/* Forgets a broken connection so the next call reconnects. Not throttled
 * by RECONNECT_GAP_MS: losing an established connection (a restart, an
 * idle kill) is usually cured by connecting again right away. */
static void pg_drop(struct store_pg *pg, const char *what)
{
    note_down(what, PQerrorMessage(pg->conn));
    PQfinish(pg->conn);
    pg->conn = NULL;
    store_pg__count_error();
}

/* True unless the server has closed an idle connection. An idle
 * connection has nothing to read, so one poll(2) with no timeout answers
 * the common case. When the server went away (restart, admin shutdown,
 * idle kill) it usually sent a FATAL message and then closed: the first
 * read takes the message (libpq hands it to the notice processor), the
 * next sees the EOF and marks the connection bad. */
static bool pg_alive(PGconn *c)
{
    for (int i = 0; i < 4; i++) {
        struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
        if (poll(&p, 1, 0) == 0)
            return true;
        if (!PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK)
            return false;
    }
    return PQstatus(c) == CONNECTION_OK;
}

/* Makes sure pg has a live connection. Checking before a statement is
 * sent means a write can still go out on a fresh connection after a
 * restart, rather than failing with an unknown outcome. */
static int pg_ensure(struct store_pg *pg)
{
    if (pg->conn && !pg_alive(pg->conn))
        pg_drop(pg, "connection lost");
    return pg->conn ? 0 : pg_connect(pg);
}

/* Maps a failed statement's SQLSTATE to a project code. Constraint
 * violations and bad values are answers for the caller, not faults, so
 * they are neither counted nor logged (their messages may quote values).
 * Everything else is counted and logged by statement name and SQLSTATE. */
static int map_error(const struct store_pg__stmt *st, const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (!state)
        state = "";
    if (strcmp(state, "23505") == 0)
        return PL_ECONFLICT;
    if (strcmp(state, "23503") == 0)
        return PL_ENOTFOUND;
    if (strcmp(state, "23514") == 0 || strcmp(state, "23502") == 0 || strncmp(state, "22", 2) == 0)
        return PL_EINVAL;
    store_pg__count_error();
    if (strcmp(state, "57014") == 0) {
        pl_log_warn("postgres: %s: statement timeout", st->name);
        return PL_ETIMEDOUT;
    }
    /* Class 08 is connection trouble; 57P0x is a server shutting down or
     * starting up; 53300 is too many connections. */
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0 ||
        strcmp(state, "53300") == 0)
        return PL_EUNAVAIL;
    char line[256];
    first_line(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY), line, sizeof(line));
    pl_log_error("postgres: %s failed: %s %s", st->name, state, line);
    return PL_EINTERNAL;
}

int store_pg__exec(struct store_pg *pg, const struct store_pg__stmt *st, const char *const *values,
                   const int *lengths, const int *formats, struct pg_result **res)
{
    *res = NULL;
    for (int attempt = 0;; attempt++) {
        /* Inside a transaction a silent reconnect would run the rest of
         * it outside the transaction: a lost connection ends it instead. */
        int rc = pg->in_tx ? (pg->conn ? 0 : PL_EUNAVAIL) : pg_ensure(pg);
        if (rc < 0)
            return rc;
        PGresult *r = PQexecPrepared(pg->conn, st->name, st->nparams, values, lengths, formats, 0);
        ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) {
            *res = r;
            return 0;
        }
        if (PQstatus(pg->conn) == CONNECTION_BAD) {
            PQclear(r);
            pg_drop(pg, st->name);
            /* A read can safely run again. A write may have committed
             * before the connection broke, so the caller must learn that
             * its outcome is unknown. */
            if (st->read_only && attempt == 0 && !pg->in_tx)
                continue;
            pg->in_tx = false;
            return PL_EUNAVAIL;
        }
        if (!r) {
            store_pg__count_error();
            return PL_ENOMEM;
        }
        rc = map_error(st, r);
        PQclear(r);
        return rc;
    }
}

/* The connection broke in the middle of a pipeline: whatever was sent may
 * or may not have run, so the caller learns that the outcome is unknown. */
static int pipeline_lost(struct store_pg *pg, struct store_pg__call *q, unsigned n)
{
    store_pg__calls_clear(q, n);
    pg_drop(pg, "pipeline");
    pg->in_tx = false;
    return PL_EUNAVAIL;
}

/* Reads the result of one statement of the pipeline (and the NULL that
 * ends it) into q->res; the first failure's code goes to *rc. false when
 * the connection broke. */
static bool pipeline_read(struct store_pg *pg, struct store_pg__call *q, int *rc)
{
    PGresult *r = PQgetResult(pg->conn);
    if (!r || PQstatus(pg->conn) == CONNECTION_BAD) {
        PQclear(r);
        return false;
    }
    ExecStatusType s = PQresultStatus(r);
    bool ok = s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK;
    if (ok && *rc == 0) {
        q->res = r;
        if (q->st == &conn_stmts[1])
            pg->in_tx = true;
        else if (q->st == &conn_stmts[2])
            pg->in_tx = false;
    } else {
        /* A statement after the failed one is skipped by the server
         * (PGRES_PIPELINE_ABORTED): the first failure tells why. */
        if (*rc == 0)
            *rc = s == PGRES_PIPELINE_ABORTED ? PL_EINTERNAL : map_error(q->st, r);
        PQclear(r);
    }
    while ((r = PQgetResult(pg->conn)) != NULL) /* only the NULL is expected */
        PQclear(r);
    return PQstatus(pg->conn) != CONNECTION_BAD;
}

int store_pg__exec_pipeline(struct store_pg *pg, struct store_pg__call *q, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        q[i].res = NULL;
    int rc = pg->in_tx ? (pg->conn ? 0 : PL_EUNAVAIL) : pg_ensure(pg);
    if (rc < 0)
        return rc;
    PGconn *c = pg->conn;
    if (!PQenterPipelineMode(c))
        return pipeline_lost(pg, q, n);
    bool sent = true;
    for (unsigned i = 0; i < n && sent; i++)
        sent = PQsendQueryPrepared(c, q[i].st->name, q[i].st->nparams, q[i].values, q[i].lengths,
                                   q[i].formats, 0);
    if (!sent || !PQpipelineSync(c))
        return pipeline_lost(pg, q, n);
    for (unsigned i = 0; i < n; i++)
        if (!pipeline_read(pg, &q[i], &rc))
            return pipeline_lost(pg, q, n);
    PGresult *sync = PQgetResult(c);
    bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (!synced || !PQexitPipelineMode(c))
        return pipeline_lost(pg, q, n);
    if (rc < 0)
        store_pg__calls_clear(q, n);
    return rc;
}

void store_pg__calls_clear(struct store_pg__call *q, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        PQclear(q[i].res);
        q[i].res = NULL;
    }
}

const struct store_pg__stmt *const store_pg__stmt_begin = &conn_stmts[1];
const struct store_pg__stmt *const store_pg__stmt_commit = &conn_stmts[2];

/* PostgreSQL's text output for bigint is always a plain decimal, so a
 * failure here means an unexpected reply, not bad input. */
int store_pg__get_i64(const struct pg_result *r, int row, int col, int64_t *out)
{
    const char *s = PQgetvalue(r, row, col);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) {
        pl_log_error("postgres: column %d is not an integer", col);
        return PL_EINTERNAL;
    }
    *out = v;
    return 0;
}

int store_pg__get_i64_array(struct pl_arena *a, const struct pg_result *r, int row, int col,
                            int64_t **out, unsigned *n)
{
    /* bigint[] in text form: "{1,2,3}" or "{}". */
    const char *s = PQgetvalue(r, row, col);
    unsigned count = 0;
    for (const char *p = s; *p; p++)
        count += *p == ',';
    count += s[0] == '{' && s[1] != '}' ? 1 : 0;
    int64_t *v = pl_arena_alloc(a, (count ? count : 1) * sizeof(*v));
    if (!v)
        return PL_ENOMEM;
    unsigned i = 0;
    for (const char *p = s + 1; *p && *p != '}' && i < count; i++) {
        char *end;
        v[i] = strtoll(p, &end, 10);
        if (end == p)
            return PL_EINTERNAL;
        p = *end == ',' ? end + 1 : end;
    }
    *out = v;
    *n = i;
    return 0;
}

const char *store_pg__get_str(struct pl_arena *a, const struct pg_result *r, int row, int col)
{
    return pl_arena_strndup(a, PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

static int simple(struct store_pg *pg, int idx)
{
    PGresult *r;
    int rc = store_pg__exec(pg, &conn_stmts[idx], NULL, NULL, NULL, &r);
    if (rc == 0)
        PQclear(r);
    return rc;
}

int store_pg_tx_begin(struct store_pg *pg)
{
    int rc = simple(pg, 1);
    pg->in_tx = rc == 0;
    return rc;
}

int store_pg_tx_commit(struct store_pg *pg)
{
    int rc = simple(pg, 2);
    pg->in_tx = false;
    return rc;
}

void store_pg_tx_rollback(struct store_pg *pg)
{
    if (pg->in_tx && pg->conn && simple(pg, 3) < 0)
        pg_drop(pg, "rollback failed");
    pg->in_tx = false;
}

void store_pg_open(struct store_pg *pg)
{
    int rc = pg_ensure(pg);
    if (rc < 0)
        pl_log_warn("postgres: cannot connect yet (%s); the first statement tries again",
                    pl_strerror(rc));
}

int store_pg_ping(struct store_pg *pg)
{
    PGresult *r;
    if (store_pg__exec(pg, &conn_stmts[0], NULL, NULL, NULL, &r) < 0)
        return PL_EUNAVAIL;
    PQclear(r);
    return 0;
}

char *store_pg__i64_array(struct pl_arena *a, const int64_t *v, unsigned n)
{
    char *out = pl_arena_alloc(a, (size_t)n * 21 + 3), *o = out;
    if (!out)
        return NULL;
    *o++ = '{';
    for (unsigned i = 0; i < n; i++)
        o += sprintf(o, i ? ",%" PRId64 : "%" PRId64, v[i]);
    *o++ = '}';
    *o = '\0';
    return out;
}

int store_pg__exec_bool(struct store_pg *pg, const struct store_pg__stmt *st, int64_t a, int64_t b,
                        bool *out)
{
    char ab[24], bb[24];
    snprintf(ab, sizeof(ab), "%" PRId64, a);
    snprintf(bb, sizeof(bb), "%" PRId64, b);
    const char *vals[] = {ab, bb};
    return store_pg__exec_bool_vals(pg, st, vals, out);
}

int store_pg__exec_bool_vals(struct store_pg *pg, const struct store_pg__stmt *st,
                             const char *const *vals, bool *out)
{
    PGresult *r;
    int rc = store_pg__exec(pg, st, vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? 0 : PL_ENOTFOUND;
    if (rc == 0)
        *out = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return rc;
}
