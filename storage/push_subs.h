/* SPDX-License-Identifier: MIT */
/* Parley - Web Push subscriptions in PostgreSQL (migration 0017).      */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_PUSH_SUBS_H
#define PL_STORE_PUSH_SUBS_H

#include "pg.h"

#include <stdbool.h>

/*
 * A subscription belongs to one device (session) of a user; revoking the
 * session deletes it (a trigger of migration 0017), and so does the push
 * service answering 404 or 410. Keys are base64url text as the client sent
 * them (checked by the API).
 *
 * All functions: worker or dispatcher thread (blocking); arena results
 * live as long as a. Besides the codes named, each may return the common
 * codes of pg.h.
 */

/* Most subscriptions one device may hold. */
#define STORE_PUSH_SUBS_PER_DEVICE 8

struct store_push_sub {
    int64_t id, user_id, device_id;
    const char *endpoint, *p256dh, *auth; /* in the arena */
    const char *created_at;               /* RFC 3339 UTC; NULL from targets() */
    int64_t unread;                       /* targets(): messages after the member's read receipt */
};

/* Registers (or, for the same device and endpoint, updates the keys of) a
 * subscription. *id is its id, *created false when it existed. 0, or
 * PL_ECONFLICT when the device holds STORE_PUSH_SUBS_PER_DEVICE already. */
PL_MUST_CHECK int store_pg_push_sub_put(struct store_pg *pg, int64_t user, int64_t device,
                                        const char *endpoint, const char *p256dh, const char *auth,
                                        int64_t *id, bool *created);
/* The user's subscriptions, all devices, oldest first (*out never NULL). */
PL_MUST_CHECK int store_pg_push_subs_list(struct store_pg *pg, struct pl_arena *a, int64_t user,
                                          struct store_push_sub **out, unsigned *n);
/* Deletes the user's subscription id: 0 or PL_ENOTFOUND. */
PL_MUST_CHECK int store_pg_push_sub_delete(struct store_pg *pg, int64_t user, int64_t id);
/* Deletes subscription id whoever holds it (the push service said 404 or
 * 410); 0 also when it was gone already. */
PL_MUST_CHECK int store_pg_push_sub_drop(struct store_pg *pg, int64_t id);
/* The subscriptions message seq of conversation conv should be pushed
 * to: those of users[0..n) (borrowed) who are members of conv and have not
 * muted it (members.muted_until unset or past), ordered by user, each with
 * its user's unread count up to seq. The sender's display name goes to
 * *sender_name (arena; "" when unknown). */
PL_MUST_CHECK int store_pg_push_targets(struct store_pg *pg, struct pl_arena *a, int64_t conv,
                                        int64_t seq, int64_t sender, const int64_t *users,
                                        unsigned n, struct store_push_sub **out, unsigned *n_out,
                                        const char **sender_name);
/* Those of users[0..n) (borrowed) who hold at least one subscription,
 * ascending, each once (arena array): one statement for a whole batch of
 * messages, so messages to users without any cost nothing more. */
PL_MUST_CHECK int store_pg_push_subscribed(struct store_pg *pg, struct pl_arena *a,
                                           const int64_t *users, unsigned n, int64_t **out,
                                           unsigned *n_out);

#endif
