/* SPDX-License-Identifier: MIT */
/* Parley - PostgreSQL access: connection, migrations, accounts.        */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORAGE_PG_H
#define PL_STORAGE_PG_H

#include "common/arena.h"
#include "common/err.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * One PostgreSQL connection used by one worker thread at a time,
 * synchronously (libpq blocks, so never call these on a loop thread).
 * A struct store_pg is not thread-safe; each worker owns its own. The
 * connection is opened lazily by the first call and reopened by itself
 * after the server goes away. After a failed connect, calls fail at once
 * with PL_EUNAVAIL for 250 ms instead of each trying to connect again.
 * An idle connection the server closed (restart, idle kill) is noticed
 * before a statement is sent on it, so even writes go out on a fresh one.
 *
 * Codes every query function below may return, besides its own:
 *   PL_EUNAVAIL   PostgreSQL could not be reached or dropped the connection
 *                 (refused, restarting, shutting down). Read-only calls
 *                 have already been retried once on a fresh connection;
 *                 a write is never retried, since its outcome is unknown.
 *   PL_ETIMEDOUT  the statement ran into statement_timeout (5 s).
 *   PL_EINVAL     PostgreSQL rejected a value (bad encoding, a CHECK).
 *   PL_ENOMEM     out of memory (libpq or the arena).
 *   PL_EINTERNAL  an unexpected PostgreSQL error (logged with its SQLSTATE
 *                 and primary message, never with parameters).
 * Parameters are always sent separately from the SQL (prepared statements);
 * no SQL text is ever built from input.
 */
struct store_pg;

struct store_pg_config {
    const char *conninfo;       /* libpq conninfo or URI; copied by store_pg_new() */
    unsigned connect_timeout_s; /* 0 picks 5 s */
    /* For a connection that only ever finds rows by key (the group-commit
     * writer): the session runs with enable_seqscan off. Its statements
     * are prepared once and their generic plans are cached; planned while
     * a table was empty (a fresh database, stale statistics), a lookup
     * becomes a sequential scan that stays cached as the table grows, until
     * autovacuum's next ANALYZE. Without seq scans the plan is an index
     * probe whatever the statistics say (tables without a usable index are
     * still scanned). */
    bool key_lookups_only;
};

/* Creates a connection object without doing any I/O. *out is the caller's;
 * free it with store_pg_free(). cfg is borrowed for the call only.
 * Returns 0, PL_EINVAL when cfg or cfg->conninfo is NULL, or PL_ENOMEM. */
PL_MUST_CHECK int store_pg_new(const struct store_pg_config *cfg, struct store_pg **out);

/* Closes the connection, if open, and frees pg. NULL is fine. */
void store_pg_free(struct store_pg *pg);

/* Connects now unless connected, so a thread's connection (and its
 * backend) exists from start-up rather than from its first statement: a
 * send path's first request then pays no connect, and a process list taken
 * once the server is up already holds every backend it will use. A failure
 * is not fatal: it is logged, and the first statement connects again. */
void store_pg_open(struct store_pg *pg);

/* Connects if needed and runs "SELECT 1". For /readyz.
 * Returns 0 or PL_EUNAVAIL (any failure counts as down). */
PL_MUST_CHECK int store_pg_ping(struct store_pg *pg);

/* Applies the migrations compiled into the binary (storage/migrations/
 * NNNN_name.sql, in version order) on a connection of its own, which it
 * closes before returning. Holds a PostgreSQL advisory lock meanwhile, so
 * several parleyd starting at once apply each migration exactly once. Each
 * file runs in its own transaction together with its row in
 * schema_migrations; a version already recorded there is skipped, so
 * re-running is a no-op. Blocking; call at startup or from `parleyd migrate`.
 * conninfo is borrowed.
 * Returns 0; PL_EUNAVAIL when PostgreSQL cannot be reached or the
 * connection drops; PL_EINTERNAL when a migration fails (logged with the
 * file name and PostgreSQL's message; that file's changes are rolled back,
 * earlier files stay applied) or a migration file name has no version. */
PL_MUST_CHECK int store_pg_migrate(const char *conninfo);

/* Process-wide number of failed PostgreSQL operations: failed connects,
 * calls refused while reconnecting is held off, lost connections,
 * timeouts and unexpected errors; not conflicts, not-found or rejected
 * values, which are ordinary answers. For parley_pg_errors_total. Any
 * thread (relaxed atomic). */
uint64_t store_pg_errors(void);

/* ---- Accounts ----------------------------------------------------------- */

/* A user as the API shows it. created_at is RFC 3339 UTC with
 * milliseconds ("2026-11-24T10:41:23.123Z"), formatted by PostgreSQL. */
struct store_user {
    int64_t id;
    const char *username;
    const char *display_name;
    const char *created_at;
    const char *last_seen_visibility; /* "everyone", "contacts" or "nobody" */
};

/* Inserts a user. username must match ^[a-z0-9_.]{3,32}$ (the table
 * checks it too); pwhash is a pcrypto_password_hash() string. All strings
 * are borrowed for the call. On success *out is filled, its strings
 * allocated from a (valid until the arena is freed).
 * Returns 0; PL_ECONFLICT when the username exists; PL_EINVAL when the
 * table's CHECK rejects a value; or a common code above. */
PL_MUST_CHECK int store_pg_user_create(struct store_pg *pg, struct pl_arena *a,
                                       const char *username, const char *display_name,
                                       const char *pwhash, struct store_user *out);

/* Looks a user up by exact username (borrowed). On success fills *out and,
 * when pwhash is not NULL, *pwhash (the stored hash string), all allocated
 * from a. Read-only: retried once on a lost connection.
 * Returns 0; PL_ENOTFOUND; or a common code above. */
PL_MUST_CHECK int store_pg_user_get_by_name(struct store_pg *pg, struct pl_arena *a,
                                            const char *username, struct store_user *out,
                                            const char **pwhash);

/* Looks a user up by id; strings in *out are allocated from a. Read-only.
 * Returns 0; PL_ENOTFOUND; or a common code above. */
PL_MUST_CHECK int store_pg_user_get(struct store_pg *pg, struct pl_arena *a, int64_t id,
                                    struct store_user *out);

/* Up to limit users sharing at least one conversation with viewer (viewer
 * left out) whose username starts with prefix (taken literally), by
 * username. *out is an arena array of *n users (id, username and
 * display_name only; strings in a). Returns 0 or a store_pg__exec() code. */
PL_MUST_CHECK int store_pg_users_prefix(struct store_pg *pg, struct pl_arena *a, int64_t viewer,
                                        const char *prefix, unsigned limit, struct store_user **out,
                                        unsigned *n);

/* Sessions (devices): storage/sessions.h. */

/* Marks the device revoked now; store_pg_session_auth() stops finding it
 * as soon as this returns. Not retried (it is a write).
 * Returns 0; PL_ENOTFOUND when no live device has this id (unknown or
 * already revoked); or a common code above. */
PL_MUST_CHECK int store_pg_device_revoke(struct store_pg *pg, int64_t device_id);

/* Changes a user's display name and/or last-seen setting (NULL keeps the
 * value; the setting must be everyone, contacts or nobody: PL_EINVAL
 * otherwise). Returns the updated user, or PL_ENOTFOUND. */
PL_MUST_CHECK int store_pg_user_update(struct store_pg *pg, struct pl_arena *a, int64_t id,
                                       const char *display_name, const char *last_seen_visibility,
                                       struct store_user *out);

/* ---- transactions ---- */

/* Starts a transaction on pg. Until it ends, a lost connection is not
 * replaced behind the caller's back: every call returns PL_EUNAVAIL and the
 * transaction is over. Returns 0 or a common code. */
PL_MUST_CHECK int store_pg_tx_begin(struct store_pg *pg);
/* Commits. PL_EUNAVAIL means the outcome is unknown (the connection broke);
 * any other failure means nothing was committed. */
PL_MUST_CHECK int store_pg_tx_commit(struct store_pg *pg);
/* Rolls back (best effort; safe to call after a failed commit or when no
 * transaction is open). */
void store_pg_tx_rollback(struct store_pg *pg);

#endif
