/* SPDX-License-Identifier: MIT */
/* Parley - schema migrations compiled into the binary.                 */
/* Copyright (c) 2026 Parley developers                                 */
#include "pg.h"
#include "pg_int.h"

#include "common/embedded.h"
#include "common/log.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

PL_LOG_TOPIC("store");

/*
 * Migrations are storage/migrations/NNNN_name.sql, embedded by tools/embed
 * in version order. Each file runs inside a transaction that parleyd opens,
 * together with the schema_migrations row recording it, so a file is
 * either applied and recorded or neither. A file therefore must not contain
 * BEGIN/COMMIT itself, nor statements that refuse to run in a transaction
 * (CREATE INDEX CONCURRENTLY, ALTER TYPE ... ADD VALUE before PG 12).
 * Applied files are never edited; a change is a new file.
 */
extern const struct pl_embedded store_pg_migrations[];

/* Session advisory lock key serializing migrators across processes and
 * hosts: any fixed number no other application on the database uses. It
 * spells "PARLEYMG" in ASCII. */
#define MIGRATE_LOCK_KEY "5782993884054900039"

#define MIGRATE_CONNECT_TIMEOUT "10"

/* Logs a failure with PostgreSQL's message, cut at its first newline. */
static void log_failure(const char *what, const char *msg)
{
    pl_log_error("migration %s failed: %.*s", what, (int)strcspn(msg, "\n"), msg);
}

/* Runs one constant statement. Returns 0, PL_EUNAVAIL when the connection
 * broke, or PL_EINTERNAL (logged with what, usually a file name). */
static int run(PGconn *c, const char *sql, const char *what)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = 0;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && s != PGRES_EMPTY_QUERY) {
        if (PQstatus(c) == CONNECTION_BAD) {
            pl_log_error("migration %s: connection lost", what);
            rc = PL_EUNAVAIL;
        } else {
            log_failure(what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
            rc = PL_EINTERNAL;
        }
    }
    PQclear(r);
    return rc;
}

/* Same as run() for a parameterized statement (text parameters). *r
 * receives the result on success; the caller clears it. */
static int run_params(PGconn *c, const char *sql, int n, const char *const *vals, const char *what,
                      PGresult **out)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
        *out = r;
        return 0;
    }
    int rc = PQstatus(c) == CONNECTION_BAD ? PL_EUNAVAIL : PL_EINTERNAL;
    log_failure(what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    *out = NULL;
    return rc;
}

/* The version is the file name's leading number ("0001_accounts.sql" is
 * 1). Returns it, or -1 when the name has none. */
static long parse_version(const char *name)
{
    long v = 0;
    const char *p = name;
    for (; *p >= '0' && *p <= '9' && v < 100000000; p++)
        v = v * 10 + (*p - '0');
    return p == name || *p != '_' ? -1 : v;
}

/* Sets *applied when schema_migrations already records version. */
static int is_applied(PGconn *c, const char *version, const char *name, bool *applied)
{
    const char *vals[] = {version};
    PGresult *r;
    int rc =
        run_params(c, "SELECT 1 FROM schema_migrations WHERE version = $1::int", 1, vals, name, &r);
    if (rc < 0)
        return rc;
    *applied = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

/* Applies one file and records it, in one transaction. */
static int apply_one(PGconn *c, const struct pl_embedded *m, const char *version)
{
    int rc;
    if ((rc = run(c, "BEGIN", m->name)) < 0)
        return rc;
    if ((rc = run(c, m->data, m->name)) < 0)
        goto rollback;
    const char *vals[] = {version, m->name};
    PGresult *r;
    rc = run_params(c,
                    "INSERT INTO schema_migrations (version, name, applied_at)"
                    " VALUES ($1::int, $2, now())",
                    2, vals, m->name, &r);
    if (rc < 0)
        goto rollback;
    PQclear(r);
    if ((rc = run(c, "COMMIT", m->name)) < 0)
        return rc; /* a failed COMMIT has already rolled back */
    pl_log_info("applied migration %s", m->name);
    return 0;

rollback:
    if (PQstatus(c) == CONNECTION_OK) {
        int rrc = run(c, "ROLLBACK", m->name);
        (void)rrc; /* the first failure is the one to report */
    }
    return rc;
}

/* Applies every embedded file not yet recorded. Called with the lock. */
static int apply_all(PGconn *c)
{
    int rc = run(c,
                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " version int PRIMARY KEY, name text NOT NULL,"
                 " applied_at timestamptz NOT NULL DEFAULT now())",
                 "schema_migrations");
    long prev = -1;
    for (const struct pl_embedded *m = store_pg_migrations; rc == 0 && m->name; m++) {
        long v = parse_version(m->name);
        if (v <= prev) {
            /* A build mistake (no number, duplicate, out of order); better
             * to stop than to apply files in an unintended order. */
            pl_log_error("migration %s: bad or out-of-order version", m->name);
            return PL_EINTERNAL;
        }
        prev = v;
        char version[24];
        snprintf(version, sizeof(version), "%ld", v);
        bool applied = false;
        rc = is_applied(c, version, m->name, &applied);
        if (rc == 0 && !applied)
            rc = apply_one(c, m, version);
    }
    return rc;
}

int store_pg_migrate(const char *conninfo)
{
    if (!conninfo)
        return PL_EINVAL;
    PGconn *c;
    /* No statement_timeout: a migration may legitimately run long, and
     * waiting for another migrator's lock is expected. */
    int rc = store_pg__connect(conninfo, MIGRATE_CONNECT_TIMEOUT, NULL, &c);
    if (rc < 0)
        goto fail;
    /* Several parleyd may start at once; the lock makes the check of
     * schema_migrations and the apply one step, so each file runs once.
     * It is a session lock, so PQfinish releases it whatever happens. */
    if ((rc = run(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "lock")) < 0)
        goto fail_conn;
    rc = apply_all(c);
    if (PQstatus(c) == CONNECTION_OK) {
        int urc = run(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", "unlock");
        if (rc == 0)
            rc = urc;
    }
fail_conn:
    PQfinish(c);
fail:
    if (rc < 0)
        store_pg__count_error();
    return rc;
}
