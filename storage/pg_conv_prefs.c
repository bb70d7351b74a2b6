/* SPDX-License-Identifier: MIT */
/* Parley - a member's pin and mute of a conversation.                  */
/* Copyright (c) 2026 Parley developers                                 */
#include "conversations.h"
#include "pg_int.h"

#include <libpq-fe.h>

enum { PREFS_SET };

const struct store_pg__stmt store_pg__conv_prefs_stmts[] = {
    /* $3: 't' pin (keeping an earlier pin's time), 'f' unpin, NULL leave;
     * $4: a timestamp, '' to unmute, NULL leave. A bad timestamp fails the
     * cast: PL_EINVAL. */
    [PREFS_SET] = {"conv_prefs_set",
                   "UPDATE members SET"
                   " pinned_at = CASE WHEN $3::boolean IS NULL THEN pinned_at"
                   "   WHEN $3::boolean THEN COALESCE(pinned_at, now()) END,"
                   " muted_until = CASE WHEN $4::text IS NULL THEN muted_until"
                   "   WHEN $4::text = '' THEN NULL ELSE $4::text::timestamptz END"
                   " WHERE conversation_id = $1::bigint AND user_id = $2::bigint RETURNING 1",
                   4, false},
    {NULL, NULL, 0, false},
};

int store_pg_member_prefs_set(struct store_pg *pg, int64_t conversation_id, int64_t user_id,
                              int pinned, const char *muted_until)
{
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, conversation_id, user_id);
    p.v[2] = pinned < 0 ? NULL : pinned ? "true" : "false";
    p.v[3] = muted_until;
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__conv_prefs_stmts[PREFS_SET], vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? 0 : PL_ENOTFOUND;
    PQclear(r);
    return rc;
}
