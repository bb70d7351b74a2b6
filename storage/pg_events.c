/* SPDX-License-Identifier: MIT */
/* Parley - persisted events and stream positions in PostgreSQL.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "events.h"
#include "pg_int.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

enum {
    POS_CURRENT,
    POS_OLDEST,
    POS_BOTH,
    EVENTS_FOR_USER,
    EVENTS_FOR_USERS,
    EVENTS_RANGE,
    MEMBER_IDS,
    MEMBER_IDS_MANY,
    EVENTS_PRUNE,
    EVENTS_APPEND,
};

/* EVENTS_APPEND's parameters: conversation, target, type, payload, one
 * array each (their length is the number of events). */
#define APPEND_COLS 4

const struct store_pg__stmt store_pg__event_stmts[] = {
    [POS_CURRENT] = {"pos_current", "SELECT pos FROM stream_state WHERE id = 1", 0, true},
    [POS_OLDEST] = {"pos_oldest",
                    "SELECT COALESCE((SELECT min(pos) FROM events),"
                    " (SELECT pos + 1 FROM stream_state WHERE id = 1))",
                    0, true},
    [POS_BOTH] = {"pos_both",
                  "SELECT s.pos, COALESCE((SELECT min(pos) FROM events), s.pos + 1)"
                  " FROM stream_state s WHERE s.id = 1",
                  0, true},
    /* Driven from the user's memberships so a long-offline user in a busy
     * deployment reads only their conversations' events (index on
     * events (conversation_id, pos)), plus events addressed to them. */
    [EVENTS_FOR_USER] = {"events_for_user",
                         "SELECT pos, type, payload FROM ("
                         " SELECT e.pos, e.type, e.payload FROM members m JOIN events e"
                         "   ON e.conversation_id = m.conversation_id"
                         "  AND e.pos > GREATEST($2::bigint, m.joined_pos)"
                         "  WHERE m.user_id = $1::bigint"
                         "    AND e.target_user_id IS DISTINCT FROM $1::bigint"
                         " UNION ALL"
                         " SELECT pos, type, payload FROM events"
                         "  WHERE target_user_id = $1::bigint AND pos > $2::bigint"
                         ") x ORDER BY pos LIMIT $3::int",
                         3, true},
    /* events_for_user for many (user, after) pairs ($1, $2: arrays of the
     * same length), each limited to $3 rows; the pair's 1-based place
     * first. */
    [EVENTS_FOR_USERS] = {"events_for_users",
                          "SELECT q.i, y.pos, y.type, y.payload"
                          " FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS q(u, a, i)"
                          " CROSS JOIN LATERAL (SELECT pos, type, payload FROM ("
                          "  SELECT e.pos, e.type, e.payload FROM members m JOIN events e"
                          "    ON e.conversation_id = m.conversation_id"
                          "   AND e.pos > GREATEST(q.a, m.joined_pos)"
                          "   WHERE m.user_id = q.u AND e.target_user_id IS DISTINCT FROM q.u"
                          "  UNION ALL"
                          "  SELECT pos, type, payload FROM events"
                          "   WHERE target_user_id = q.u AND pos > q.a"
                          " ) x ORDER BY pos LIMIT $3::int) y"
                          " ORDER BY q.i, y.pos",
                          3, true},
    [EVENTS_RANGE] = {"events_range",
                      "SELECT e.pos, e.type, e.payload,"
                      " ARRAY(SELECT m.user_id FROM members m"
                      "  WHERE m.conversation_id = e.conversation_id AND m.joined_pos < e.pos"
                      "    AND m.user_id IS DISTINCT FROM e.target_user_id)"
                      " || CASE WHEN e.target_user_id IS NULL THEN '{}'::bigint[]"
                      "    ELSE ARRAY[e.target_user_id] END"
                      " FROM events e WHERE e.pos BETWEEN $1::bigint AND $2::bigint"
                      " ORDER BY e.pos",
                      2, true},
    [MEMBER_IDS_MANY] = {"member_ids_many",
                         "SELECT conversation_id, array_agg(user_id) FROM members"
                         " WHERE conversation_id = ANY($1::bigint[]) GROUP BY conversation_id",
                         1, true},
    [MEMBER_IDS] = {"member_ids", "SELECT user_id FROM members WHERE conversation_id = $1::bigint",
                    1, true},
    [EVENTS_PRUNE] =
        {"events_prune",
         "DELETE FROM events WHERE created_at < now() - make_interval(secs => $1::int)", 1, false},
    /* Rows come as one binary array per column (store_pg__bin), so the
     * payload is stored byte for byte as it is published. The positions
     * are taken by the statement that stores the rows they number, so the
     * position lock (stream_state's row, held to the end of the
     * transaction) is taken with no round trip left before the commit. */
    [EVENTS_APPEND] = {"events_append",
                       "WITH p AS (UPDATE stream_state SET pos = pos + cardinality($1::bigint[])"
                       "   WHERE id = 1 RETURNING pos - cardinality($1::bigint[]) + 1 AS first),"
                       " ins AS (INSERT INTO events (pos, conversation_id, target_user_id, type,"
                       "   payload) SELECT (SELECT first FROM p) + x.n - 1, NULLIF(x.c, 0),"
                       "   NULLIF(x.t, 0), x.y, x.p FROM unnest($1::bigint[], $2::bigint[],"
                       "   $3::text[], $4::text[]) WITH ORDINALITY AS x(c, t, y, p, n))"
                       " SELECT first FROM p",
                       APPEND_COLS, false},
    {NULL, NULL, 0, false},
};

static int run(struct store_pg *pg, int id, const char *const *vals, PGresult **r)
{
    return store_pg__exec(pg, &store_pg__event_stmts[id], vals, NULL, NULL, r);
}

/* Runs a statement that returns one bigint (lengths and formats as
 * store_pg__exec() takes them). */
static int single_u64_params(struct store_pg *pg, int id, const char *const *vals,
                             const int *lengths, const int *formats, uint64_t *out)
{
    PGresult *r;
    int rc = store_pg__exec(pg, &store_pg__event_stmts[id], vals, lengths, formats, &r);
    if (rc < 0)
        return rc;
    int64_t v = 0;
    rc = PQntuples(r) == 1 ? store_pg__get_i64(r, 0, 0, &v) : PL_EINTERNAL;
    PQclear(r);
    *out = (uint64_t)v;
    return rc;
}

static int single_u64(struct store_pg *pg, int id, const char *const *vals, uint64_t *out)
{
    return single_u64_params(pg, id, vals, NULL, NULL, out);
}

int store_pg_position_current(struct store_pg *pg, uint64_t *pos)
{
    return single_u64(pg, POS_CURRENT, NULL, pos);
}

int store_pg_position_oldest(struct store_pg *pg, uint64_t *pos)
{
    return single_u64(pg, POS_OLDEST, NULL, pos);
}

int store_pg_positions(struct store_pg *pg, uint64_t *current, uint64_t *oldest)
{
    PGresult *r;
    int rc = run(pg, POS_BOTH, NULL, &r);
    if (rc < 0)
        return rc;
    int64_t c = 0, o = 0;
    rc = PQntuples(r) == 1 ? store_pg__get_i64(r, 0, 0, &c) : PL_EINTERNAL;
    if (rc == 0)
        rc = store_pg__get_i64(r, 0, 1, &o);
    PQclear(r);
    *current = (uint64_t)c;
    *oldest = (uint64_t)o;
    return rc;
}

/* Copies rows (pos, type, payload[, users]) into an arena array. */
static int fill_events(struct pl_arena *a, PGresult *r, bool with_users, struct store_event **out,
                       unsigned *n)
{
    int rows = PQntuples(r);
    struct store_event *ev = pl_arena_zalloc(a, (size_t)(rows ? rows : 1) * sizeof(*ev));
    if (!ev)
        return PL_ENOMEM;
    for (int i = 0; i < rows; i++) {
        int64_t pos;
        int rc = store_pg__get_i64(r, i, 0, &pos);
        if (rc < 0)
            return rc;
        ev[i].pos = (uint64_t)pos;
        ev[i].type = store_pg__get_str(a, r, i, 1);
        ev[i].payload = store_pg__get_str(a, r, i, 2);
        if (!ev[i].type || !ev[i].payload)
            return PL_ENOMEM;
        if (with_users &&
            (rc = store_pg__get_i64_array(a, r, i, 3, &ev[i].users, &ev[i].n_users)) < 0)
            return rc;
    }
    *out = ev;
    *n = (unsigned)rows;
    return 0;
}

int store_pg_events_for_user(struct store_pg *pg, struct pl_arena *a, int64_t user_id,
                             uint64_t after, unsigned limit, struct store_event **out, unsigned *n)
{
    char ub[24], ab[24], lb[16];
    snprintf(ub, sizeof(ub), "%" PRId64, user_id);
    snprintf(ab, sizeof(ab), "%" PRIu64, after);
    snprintf(lb, sizeof(lb), "%u", limit);
    const char *vals[] = {ub, ab, lb};
    PGresult *r;
    int rc = run(pg, EVENTS_FOR_USER, vals, &r);
    if (rc < 0)
        return rc;
    rc = fill_events(a, r, false, out, n);
    PQclear(r);
    return rc;
}

int store_pg_events_range(struct store_pg *pg, struct pl_arena *a, uint64_t from, uint64_t to,
                          struct store_event **out, unsigned *n)
{
    char fb[24], tb[24];
    snprintf(fb, sizeof(fb), "%" PRIu64, from);
    snprintf(tb, sizeof(tb), "%" PRIu64, to);
    const char *vals[] = {fb, tb};
    PGresult *r;
    int rc = run(pg, EVENTS_RANGE, vals, &r);
    if (rc < 0)
        return rc;
    rc = fill_events(a, r, true, out, n);
    PQclear(r);
    return rc;
}

int store_pg_member_ids(struct store_pg *pg, struct pl_arena *a, int64_t conversation_id,
                        int64_t **ids, unsigned *n)
{
    struct store_pg__args p;
    return store_pg__exec_ids(pg, a, &store_pg__event_stmts[MEMBER_IDS],
                              STORE_PG__ARGS(&p, conversation_id), ids, n);
}

int store_pg_member_ids_many(struct store_pg *pg, struct pl_arena *a, const int64_t *convs,
                             unsigned n, int64_t **ids, unsigned *n_ids)
{
    for (unsigned i = 0; i < n; i++) {
        ids[i] = NULL;
        n_ids[i] = 0;
    }
    const char *arr = store_pg__i64_array(a, convs, n);
    if (!arr)
        return PL_ENOMEM;
    const char *vals[] = {arr};
    PGresult *r;
    int rc = run(pg, MEMBER_IDS_MANY, vals, &r);
    if (rc < 0)
        return rc;
    for (int row = 0; row < PQntuples(r) && rc == 0; row++) {
        int64_t conv;
        if ((rc = store_pg__get_i64(r, row, 0, &conv)) < 0)
            break;
        for (unsigned i = 0; i < n && rc == 0; i++)
            if (convs[i] == conv)
                rc = store_pg__get_i64_array(a, r, row, 1, &ids[i], &n_ids[i]);
    }
    PQclear(r);
    return rc;
}

int store_pg_events_prune(struct store_pg *pg, unsigned keep_s, uint64_t *n)
{
    char kb[16];
    snprintf(kb, sizeof(kb), "%u", keep_s);
    const char *vals[] = {kb};
    PGresult *r;
    int rc = run(pg, EVENTS_PRUNE, vals, &r);
    if (rc < 0)
        return rc;
    *n = strtoull(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

static const uint32_t append_oids[APPEND_COLS] = {STORE_PG_OID_INT8, STORE_PG_OID_INT8,
                                                  STORE_PG_OID_TEXT, STORE_PG_OID_TEXT};

int store_pg_events_append(struct store_pg *pg, const struct store_event_row *rows, unsigned n,
                           uint64_t *first)
{
    struct store_pg__bin col[APPEND_COLS];
    store_pg__bins_init(col, append_oids, APPEND_COLS, n);
    for (unsigned i = 0; i < n; i++) {
        store_pg__bin_i64(&col[0], rows[i].conversation_id);
        store_pg__bin_i64(&col[1], rows[i].target_user_id);
        store_pg__bin_text(&col[2], rows[i].type);
        store_pg__bin_text(&col[3], rows[i].payload);
    }
    const char *vals[APPEND_COLS];
    int lens[APPEND_COLS], fmts[APPEND_COLS];
    int rc = store_pg__bins_params(col, APPEND_COLS, vals, lens, fmts);
    if (rc == 0)
        rc = single_u64_params(pg, EVENTS_APPEND, vals, lens, fmts, first);
    store_pg__bins_deinit(col, APPEND_COLS);
    return rc;
}

/* "{1,2,3}" from n numbers, malloc'd. */
static char *array_literal(const uint64_t *v, const int64_t *sv, unsigned n)
{
    char *s = malloc(3 + (size_t)n * 21), *p = s;
    if (!s)
        return NULL;
    *p++ = '{';
    for (unsigned i = 0; i < n; i++)
        p += sv ? sprintf(p, i ? ",%" PRId64 : "%" PRId64, sv[i])
                : sprintf(p, i ? ",%" PRIu64 : "%" PRIu64, v[i]);
    *p++ = '}';
    *p = '\0';
    return s;
}

int store_pg_events_for_users(struct store_pg *pg, struct pl_arena *a, const int64_t *users,
                              const uint64_t *afters, unsigned n, unsigned limit,
                              struct store_event **out, unsigned **which, unsigned *n_out)
{
    *n_out = 0;
    char *ua = array_literal(NULL, users, n), *aa = array_literal(afters, NULL, n);
    char lb[16];
    snprintf(lb, sizeof(lb), "%u", limit);
    const char *vals[] = {ua, aa, lb};
    PGresult *r = NULL;
    int rc = ua && aa ? run(pg, EVENTS_FOR_USERS, vals, &r) : PL_ENOMEM;
    free(ua);
    free(aa);
    if (rc < 0)
        return rc;
    int rows = PQntuples(r);
    struct store_event *ev = pl_arena_zalloc(a, (size_t)(rows ? rows : 1) * sizeof(*ev));
    unsigned *w = pl_arena_alloc(a, (size_t)(rows ? rows : 1) * sizeof(*w));
    rc = ev && w ? 0 : PL_ENOMEM;
    for (int i = 0; rc == 0 && i < rows; i++) {
        int64_t idx, pos;
        if ((rc = store_pg__get_i64(r, i, 0, &idx)) < 0 ||
            (rc = store_pg__get_i64(r, i, 1, &pos)) < 0)
            break;
        if (idx < 1 || (uint64_t)idx > n) {
            rc = PL_EINTERNAL;
            break;
        }
        w[i] = (unsigned)(idx - 1);
        ev[i].pos = (uint64_t)pos;
        ev[i].type = store_pg__get_str(a, r, i, 2);
        ev[i].payload = store_pg__get_str(a, r, i, 3);
        if (!ev[i].type || !ev[i].payload)
            rc = PL_ENOMEM;
    }
    PQclear(r);
    if (rc < 0)
        return rc;
    *out = ev;
    *which = w;
    *n_out = (unsigned)rows;
    return 0;
}
