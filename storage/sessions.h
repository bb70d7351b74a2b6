/* SPDX-License-Identifier: MIT */
/* Parley - login sessions (devices): create, authenticate, list, end.  */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_SESSIONS_H
#define PL_STORE_SESSIONS_H

#include "pg.h"

/*
 * A session is a row of devices (one login, one bearer token). It is live
 * while revoked_at is NULL and it was used within the last ttl_s seconds
 * (session_ttl); an expired session is revoked the next time its user
 * logs in. Worker threads only, on the worker's own connection.
 */

struct store_session_new {
    int64_t user_id;
    const char *name;          /* device name; borrowed */
    const uint8_t *token_hash; /* 32 bytes; borrowed */
    const char *user_agent;    /* may be NULL; borrowed */
    const char *protocol;      /* "HTTP/1.1", "HTTP/2"; may be NULL; borrowed */
    unsigned max_devices;      /* live sessions the user may have */
    unsigned ttl_s;
};

/* In one transaction, under a lock on the user's row (so concurrent logins
 * cannot both take the last place): revokes the user's expired sessions,
 * counts the live ones and inserts the new one when fewer than
 * max_devices. Returns 0 with *device_id; PL_ECONFLICT when the user
 * already has max_devices live sessions; PL_ENOTFOUND when the user is
 * gone; or a store_pg__exec() code. */
PL_MUST_CHECK int store_pg_session_create(struct store_pg *pg, const struct store_session_new *in,
                                          int64_t *device_id);

/* Finds the live session whose token hashes to token_hash (32 bytes,
 * borrowed) and records its use: last_active_at is written at most once
 * per touch_s seconds, so busy clients cost no write per request. Returns
 * 0; PL_EUNAUTH when there is none (unknown, revoked or expired); or a
 * store_pg__exec() code. */
PL_MUST_CHECK int store_pg_session_auth(struct store_pg *pg, const uint8_t token_hash[32],
                                        unsigned ttl_s, unsigned touch_s, int64_t *user_id,
                                        int64_t *device_id);

/* store_pg_session_auth() for n tokens in one statement (hashes borrowed):
 * user_ids[i] and device_ids[i] are set for each live session, 0 for an
 * unknown, revoked or expired token. Returns 0 or a store_pg__exec() code
 * (then no token counts as checked). */
PL_MUST_CHECK int store_pg_session_auth_many(struct store_pg *pg, const uint8_t (*hashes)[32],
                                             unsigned n, unsigned ttl_s, unsigned touch_s,
                                             int64_t *user_ids, int64_t *device_ids);

struct store_session {
    int64_t id;
    const char *name, *created_at, *last_used_at;
    const char *user_agent, *protocol; /* NULL when unknown */
};

/* The user's live sessions, newest use first, at most 1000; strings from
 * a. Returns 0 or a store_pg__exec() code. */
PL_MUST_CHECK int store_pg_sessions_list(struct store_pg *pg, struct pl_arena *a, int64_t user_id,
                                         unsigned ttl_s, struct store_session **out, unsigned *n);

/* Revokes session device_id of user_id. Returns 0; PL_ENOTFOUND when the
 * user has no such live session; or a store_pg__exec() code. */
PL_MUST_CHECK int store_pg_session_revoke(struct store_pg *pg, int64_t user_id, int64_t device_id);

/* The stored password hash of user_id, from a. 0, PL_ENOTFOUND, or a
 * store_pg__exec() code. */
PL_MUST_CHECK int store_pg_user_pwhash(struct store_pg *pg, struct pl_arena *a, int64_t user_id,
                                       const char **pwhash);

/* In one statement: sets user_id's password hash (borrowed) and revokes
 * every other live session (all but keep_device). *revoked (from a) gets
 * the revoked ids. Returns 0 or a store_pg__exec() code. */
PL_MUST_CHECK int store_pg_password_set(struct store_pg *pg, struct pl_arena *a, int64_t user_id,
                                        int64_t keep_device, const char *pwhash, int64_t **revoked,
                                        unsigned *n);

#endif
