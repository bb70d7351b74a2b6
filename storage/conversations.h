/* SPDX-License-Identifier: MIT */
/* Parley - conversations and their members in PostgreSQL.             */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_CONVERSATIONS_H
#define PL_STORE_CONVERSATIONS_H

#include "messages.h"
#include "pg.h"

/*
 * Conversations (direct or group) and their members. Reads run on their
 * own; every write below must run inside a transaction the caller opened
 * with store_pg_tx_begin(), after store_pg_conv_lock() took the
 * conversation's row lock (creation excepted): that lock is what makes
 * "count, then add" and "last admin leaves, promote" safe against
 * concurrent membership changes.
 *
 * All functions: worker thread (blocking); strings returned come from the
 * arena a and live as long as it. Besides the codes named, each may return
 * the common codes listed in pg.h.
 */

enum store_role { STORE_ROLE_NONE = 0, STORE_ROLE_MEMBER, STORE_ROLE_ADMIN };

/* "member" / "admin" ("" for none). Static. */
const char *store_pg_role_name(enum store_role role);

/* The other member of a direct conversation. */
struct store_peer {
    int64_t id;
    const char *username;
    const char *display_name;
};

/* A conversation as one member (the viewer) sees it. */
struct store_conv {
    int64_t id;
    bool is_group;
    const char *title; /* NULL for direct conversations */
    const char *encryption;
    const char *created_at, *updated_at; /* RFC 3339 UTC, milliseconds */
    int64_t last_seq;
    int64_t member_count;
    /* The viewer's side. */
    enum store_role my_role;
    int64_t unread_count;
    bool has_last_message;
    struct store_message last_message;
    /* Migration 0013: the user whose request this membership still is (0
     * once accepted), and the member's pin and mute ("" when unset). */
    int64_t request_from;
    const char *pinned_at, *muted_until;
    int64_t expire_after; /* the disappearing-messages timer in seconds, 0: off */
    bool has_peer;        /* direct conversations whose other member is still there */
    struct store_peer peer;
    /* The list's sort key (last activity, microseconds since the epoch,
     * exact) with id: what a cursor resumes from. */
    int64_t activity_us;
};

struct store_member {
    int64_t user_id;
    const char *username;
    const char *display_name;
    enum store_role role;
    const char *joined_at;
};

/* Where a page of GET /v1/conversations resumes: strictly after this key
 * in (last activity DESC, id DESC) order. */
struct store_conv_cursor {
    int64_t activity_us;
    int64_t id;
};

/* ---- reads ---- */

/* Resolves n user references (borrowed): a string of 1 to 18 decimal
 * digits is a user id, any other string a username. ids[i] is set to the
 * user's id, or 0 when nobody matches.
 * One round trip for all n. Returns 0 or a common code. */
PL_MUST_CHECK int store_pg_users_resolve(struct store_pg *pg, struct pl_arena *a,
                                         const char *const *refs, unsigned n, int64_t *ids);

/* The role of user_id in conversation_id. Returns 0, or PL_ENOTFOUND when
 * the user is not a member (or there is no such conversation). */
PL_MUST_CHECK int store_pg_member_role(struct store_pg *pg, int64_t conversation_id,
                                       int64_t user_id, enum store_role *role);

/* The conversation as viewer_id sees it. Returns 0, or PL_ENOTFOUND when
 * the viewer is not a member (or there is no such conversation). */
PL_MUST_CHECK int store_pg_conv_get(struct store_pg *pg, struct pl_arena *a, int64_t viewer_id,
                                    int64_t conversation_id, struct store_conv *out);

/* viewer_id's conversations, most recent activity first, after `after`
 * (NULL: from the start), at most limit. *out is an arena array. */
PL_MUST_CHECK int store_pg_conv_list(struct store_pg *pg, struct pl_arena *a, int64_t viewer_id,
                                     const struct store_conv_cursor *after, unsigned limit,
                                     struct store_conv **out, unsigned *n);

/* viewer_id's pending message requests, most recent activity first, at
 * most limit (0013). *out is an arena array. */
PL_MUST_CHECK int store_pg_conv_requests(struct store_pg *pg, struct pl_arena *a, int64_t viewer_id,
                                         unsigned limit, struct store_conv **out, unsigned *n);

/* Every member, oldest first (joined_at, then user id). *out is an arena
 * array. */
PL_MUST_CHECK int store_pg_members_list(struct store_pg *pg, struct pl_arena *a,
                                        int64_t conversation_id, struct store_member **out,
                                        unsigned *n);

/* One member. Returns 0 or PL_ENOTFOUND. */
PL_MUST_CHECK int store_pg_member_get(struct store_pg *pg, struct pl_arena *a,
                                      int64_t conversation_id, int64_t user_id,
                                      struct store_member *out);

/* ---- writes (inside a transaction) ---- */

/* Creates a group with member_count preset; add its members with
 * store_pg_members_add(). title and encryption ("none" or "e2e") are
 * borrowed. Sets *id. */
PL_MUST_CHECK int store_pg_conv_create_group(struct store_pg *pg, const char *title,
                                             const char *encryption, int64_t created_by,
                                             unsigned member_count, int64_t *id);

/* Returns the direct conversation of users a and b (a != b), creating it
 * with both as members when there is none. *created tells which. When
 * two callers race, one creates and the other waits for its commit and
 * then finds it (the unique direct_key decides). A pair has one
 * conversation per encryption ("none" or "e2e", borrowed). */
PL_MUST_CHECK int store_pg_conv_open_direct(struct store_pg *pg, int64_t created_by, int64_t other,
                                            const char *encryption, int64_t *id, bool *created);

/* What store_pg_conv_lock() reads under the lock. */
struct store_conv_lock {
    bool is_group;
    int64_t member_count;
    int64_t admin_count;
    enum store_role caller_role; /* STORE_ROLE_NONE when not a member */
};

/* Locks the conversation row (SELECT ... FOR UPDATE) until the
 * transaction ends. Returns 0 or PL_ENOTFOUND (no such conversation). */
PL_MUST_CHECK int store_pg_conv_lock(struct store_pg *pg, int64_t conversation_id,
                                     int64_t caller_id, struct store_conv_lock *out);

/* Adds n users (borrowed array; none may be a member yet) with role. A new
 * member sees messages after the conversation's current last_seq and
 * events after the stream position committed when this statement runs,
 * which is below any position this transaction takes later: the events
 * the caller emits next reach them. Does not touch member_count.
 * Returns 0, PL_ECONFLICT (already a member) or PL_ENOTFOUND (no such
 * user or conversation). */
PL_MUST_CHECK int store_pg_members_add(struct store_pg *pg, int64_t conversation_id,
                                       const int64_t *user_ids, unsigned n, enum store_role role);

/* Changes a member's role. Returns 0 or PL_ENOTFOUND. */
PL_MUST_CHECK int store_pg_member_set_role(struct store_pg *pg, int64_t conversation_id,
                                           int64_t user_id, enum store_role role);

/* Removes a member; *was is the role it had. Returns 0 or PL_ENOTFOUND. */
PL_MUST_CHECK int store_pg_member_remove(struct store_pg *pg, int64_t conversation_id,
                                         int64_t user_id, enum store_role *was);

/* When no admin is left, makes the oldest member (joined_at, then user
 * id) admin; sets *promoted to its id, or 0 when nothing changed. */
PL_MUST_CHECK int store_pg_member_promote_oldest(struct store_pg *pg, int64_t conversation_id,
                                                 int64_t *promoted);

/* The member's own settings (0013; no lock needed): pinned 1 pins (an
 * earlier pin keeps its time), 0 unpins, -1 leaves it; muted_until (borrowed)
 * is a timestamp, "" to unmute, or NULL to leave it. 0, PL_ENOTFOUND (not
 * a member) or PL_EINVAL (not a timestamp). */
PL_MUST_CHECK int store_pg_member_prefs_set(struct store_pg *pg, int64_t conversation_id,
                                            int64_t user_id, int pinned, const char *muted_until);

/* Adds delta to member_count and sets updated_at = now(). */
PL_MUST_CHECK int store_pg_conv_touch(struct store_pg *pg, int64_t conversation_id, int delta);

/* Renames; sets updated_at = now(). title is borrowed. */
PL_MUST_CHECK int store_pg_conv_set_title(struct store_pg *pg, int64_t conversation_id,
                                          const char *title);

#endif
