/* SPDX-License-Identifier: MIT */
/* Parley - Web Push subscriptions in PostgreSQL (migration 0017).      */
/* Copyright (c) 2026 Parley developers                                 */
#include "push_subs.h"
#include "pg_int.h"

#include <libpq-fe.h>

#include <stdio.h>
#include <string.h>

enum {
    SUB_PUT,
    SUB_LIST,
    SUB_DELETE,
    SUB_DROP,
    SUB_TARGETS,
    SENDER_NAME,
    SUBSCRIBED,
};

const struct store_pg__stmt store_pg__push_sub_stmts[] = {
    /* The per-device cap is checked in the statement, so two concurrent
     * registrations cannot both squeeze past it unnoticed by much (at
     * most one over: acceptable for a cap that only bounds abuse). An
     * update of an existing (device, endpoint) is always allowed. */
    [SUB_PUT] =
        {"push_sub_put",
         "INSERT INTO push_subscriptions (user_id, device_id, endpoint, p256dh, auth)"
         " SELECT $1::bigint, $2::bigint, $3, $4, $5"
         " WHERE EXISTS (SELECT 1 FROM push_subscriptions WHERE device_id = $2::bigint"
         "   AND endpoint = $3)"
         " OR (SELECT count(*) FROM push_subscriptions WHERE device_id = $2::bigint) < $6::int"
         " ON CONFLICT (device_id, endpoint) DO UPDATE SET p256dh = EXCLUDED.p256dh,"
         "   auth = EXCLUDED.auth"
         " RETURNING id, xmax = 0",
         6, false},
    [SUB_LIST] = {"push_subs_list",
                  "SELECT id, user_id, device_id, endpoint, p256dh, auth, " STORE_PG_TS(
                      "created_at") " FROM push_subscriptions WHERE user_id = $1::bigint"
                                    " ORDER BY id",
                  1, true},
    [SUB_DELETE] = {"push_sub_delete",
                    "DELETE FROM push_subscriptions WHERE id = $2::bigint AND user_id = $1::bigint"
                    " RETURNING 1",
                    2, false},
    [SUB_DROP] = {"push_sub_drop", "DELETE FROM push_subscriptions WHERE id = $1::bigint", 1,
                  false},
    [SUB_TARGETS] = {"push_targets",
                     "SELECT s.id, s.user_id, s.device_id, s.endpoint, s.p256dh, s.auth, NULL,"
                     " $3::bigint - m.read_seq"
                     " FROM push_subscriptions s JOIN members m ON m.conversation_id = $1::bigint"
                     "   AND m.user_id = s.user_id"
                     " WHERE s.user_id = ANY($2::bigint[])"
                     "   AND (m.muted_until IS NULL OR m.muted_until <= now())"
                     " ORDER BY s.user_id, s.id",
                     3, true},
    [SENDER_NAME] = {"push_sender_name", "SELECT display_name FROM users WHERE id = $1::bigint", 1,
                     true},
    [SUBSCRIBED] = {"push_subscribed",
                    "SELECT DISTINCT user_id FROM push_subscriptions"
                    " WHERE user_id = ANY($1::bigint[]) ORDER BY user_id",
                    1, true},
    {NULL, NULL, 0, false},
};

int store_pg_push_sub_put(struct store_pg *pg, int64_t user, int64_t device, const char *endpoint,
                          const char *p256dh, const char *auth, int64_t *id, bool *created)
{
    struct store_pg__args p;
    const char *const *ids = STORE_PG__ARGS(&p, user, device);
    char cap[16];
    snprintf(cap, sizeof(cap), "%d", STORE_PUSH_SUBS_PER_DEVICE);
    const char *vals[] = {ids[0], ids[1], endpoint, p256dh, auth, cap};
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__push_sub_stmts[SUB_PUT], vals, NULL, NULL, &r);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0)
        rc = PL_ECONFLICT;
    else if ((rc = store_pg__get_i64(r, 0, 0, id)) == 0)
        *created = PQgetvalue(r, 0, 1)[0] == 't';
    PQclear(r);
    return rc;
}

static int sub_row(struct pl_arena *a, const PGresult *r, int row, void *item, void *ctx)
{
    (void)ctx;
    struct store_push_sub *s = item;
    int rc = store_pg__get_i64(r, row, 0, &s->id);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 1, &s->user_id);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 2, &s->device_id);
    s->endpoint = store_pg__get_str(a, r, row, 3);
    s->p256dh = store_pg__get_str(a, r, row, 4);
    s->auth = store_pg__get_str(a, r, row, 5);
    s->created_at = PQgetisnull(r, row, 6) ? NULL : store_pg__get_str(a, r, row, 6);
    if (rc == 0 && PQnfields(r) > 7)
        rc = store_pg__get_i64(r, row, 7, &s->unread);
    if (rc == 0 && (!s->endpoint || !s->p256dh || !s->auth))
        rc = PL_ENOMEM;
    return rc;
}

int store_pg_push_subs_list(struct store_pg *pg, struct pl_arena *a, int64_t user,
                            struct store_push_sub **out, unsigned *n)
{
    struct store_pg__args p;
    return store_pg__exec_rows(pg, a, &store_pg__push_sub_stmts[SUB_LIST], STORE_PG__ARGS(&p, user),
                               sizeof(**out), sub_row, NULL, (void **)out, n);
}

int store_pg_push_sub_delete(struct store_pg *pg, int64_t user, int64_t id)
{
    struct store_pg__args p;
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__push_sub_stmts[SUB_DELETE], STORE_PG__ARGS(&p, user, id),
                            NULL, NULL, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) ? 0 : PL_ENOTFOUND;
    PQclear(r);
    return rc;
}

int store_pg_push_sub_drop(struct store_pg *pg, int64_t id)
{
    struct store_pg__args p;
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__push_sub_stmts[SUB_DROP], STORE_PG__ARGS(&p, id), NULL,
                            NULL, &r);
    if (rc == 0)
        PQclear(r);
    return rc;
}

int store_pg_push_targets(struct store_pg *pg, struct pl_arena *a, int64_t conv, int64_t seq,
                          int64_t sender, const int64_t *users, unsigned n,
                          struct store_push_sub **out, unsigned *n_out, const char **sender_name)
{
    struct store_pg__args p;
    const char *const *ids = STORE_PG__ARGS(&p, conv, seq);
    char *arr = store_pg__i64_array(a, users, n);
    if (!arr)
        return PL_ENOMEM;
    const char *vals[] = {ids[0], arr, ids[1]};
    int rc = store_pg__exec_rows(pg, a, &store_pg__push_sub_stmts[SUB_TARGETS], vals, sizeof(**out),
                                 sub_row, NULL, (void **)out, n_out);
    if (rc < 0 || *n_out == 0)
        return rc;
    PGresult *r;
    struct store_pg__args q;
    if ((rc = store_pg__exec(pg, &store_pg__push_sub_stmts[SENDER_NAME], STORE_PG__ARGS(&q, sender),
                             NULL, NULL, &r)) < 0)
        return rc;
    *sender_name = PQntuples(r) ? store_pg__get_str(a, r, 0, 0) : "";
    PQclear(r);
    return *sender_name ? 0 : PL_ENOMEM;
}

int store_pg_push_subscribed(struct store_pg *pg, struct pl_arena *a, const int64_t *users,
                             unsigned n, int64_t **out, unsigned *n_out)
{
    char *arr = store_pg__i64_array(a, users, n);
    if (!arr)
        return PL_ENOMEM;
    const char *vals[] = {arr};
    return store_pg__exec_ids(pg, a, &store_pg__push_sub_stmts[SUBSCRIBED], vals, out, n_out);
}
