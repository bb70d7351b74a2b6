/* SPDX-License-Identifier: MIT */
/* Parley - account deletion and data exports in PostgreSQL (0016).     */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_ACCOUNT_H
#define PL_STORE_ACCOUNT_H

#include "pg.h"

#include <stdbool.h>

/*
 * A deleted account keeps its users row as a tombstone (username "~<id>",
 * display name "Deleted account", no password): the messages it sent stay
 * in other members' history. See migrations/0016_account.sql.
 *
 * All functions: worker thread (blocking); arena results live as long as
 * a. Besides the codes named, each may return the common codes of pg.h.
 */

/* The display name every tombstone carries. */
#define STORE_ACCOUNT_DELETED_NAME "Deleted account"

/* True for a tombstone's username ("~<id>"); borrowed, may be NULL. */
bool store_account_is_tombstone(const char *username);

/* The group conversations user belongs to (pending invitations included),
 * in id order, as an arena array. */
PL_MUST_CHECK int store_pg_account_groups(struct store_pg *pg, struct pl_arena *a, int64_t user,
                                          int64_t **ids, unsigned *n);

/* What store_pg_account_erase() removed that lives outside PostgreSQL:
 * the sessions whose streams must end, and the blob keys (uploads no
 * message references, exports) to delete from the blob store. Arena
 * arrays. */
struct store_account_erased {
    int64_t *devices;
    unsigned n_devices;
    const char **blob_keys;
    unsigned n_blob_keys;
};

/* In the caller's transaction, one statement: turns user into a tombstone
 * and deletes its sessions (and with them its E2E keys, prekeys and Web
 * Push subscriptions), blocks either way, "delete for me" marks, per-conversation settings
 * (pin, mute), admin grant, exports and every upload no message
 * references. Memberships are left to the caller (groups are left with a
 * member.removed event each; direct chats stay). Returns 0, or
 * PL_ENOTFOUND when user does not exist or is deleted already. */
PL_MUST_CHECK int store_pg_account_erase(struct store_pg *pg, struct pl_arena *a, int64_t user,
                                         struct store_account_erased *out);

/* ---- exports ---- */

enum store_export_state { STORE_EXPORT_RUNNING, STORE_EXPORT_READY, STORE_EXPORT_FAILED };

struct store_export {
    int64_t id, user_id;
    enum store_export_state state;
    const char *blob_key;              /* ready: the archive's key; else NULL */
    int64_t size;                      /* ready: compressed bytes */
    int64_t messages;                  /* ready: messages in the archive */
    const char *error;                 /* failed: why, or NULL */
    const char *created_at, *ready_at; /* RFC 3339; ready_at NULL until ready */
};

/* Starts an export of user: marks a running one older than stale_s failed
 * (a node that died mid-job), deletes the user's finished exports (their
 * blob keys go to *old_keys, an arena array of *n_old, for the caller to
 * delete) and inserts a running one (*id). Returns 0, or PL_ECONFLICT
 * when one is running already. Runs its own transaction. */
PL_MUST_CHECK int store_pg_export_start(struct store_pg *pg, struct pl_arena *a, int64_t user,
                                        unsigned stale_s, int64_t *id, const char ***old_keys,
                                        unsigned *n_old);
/* Marks export id ready with its blob (borrowed), inside the caller's
 * transaction. Returns 0, or PL_ENOTFOUND when it is no longer running
 * (the account was deleted meanwhile). */
PL_MUST_CHECK int store_pg_export_ready(struct store_pg *pg, int64_t id, const char *blob_key,
                                        int64_t size, int64_t messages);
/* Marks export id failed with error (borrowed). */
PL_MUST_CHECK int store_pg_export_fail(struct store_pg *pg, int64_t id, const char *error);
/* user's export id. Returns 0 or PL_ENOTFOUND (none, or someone else's). */
PL_MUST_CHECK int store_pg_export_get(struct store_pg *pg, struct pl_arena *a, int64_t user,
                                      int64_t id, struct store_export *out);

#endif
