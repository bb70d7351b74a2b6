/* SPDX-License-Identifier: MIT */
/* Parley - conversations in PostgreSQL: create, lock, read, list.      */
/* Copyright (c) 2026 Parley developers                                 */
#include "conversations.h"
#include "pg_int.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

/* RFC 3339 with milliseconds, formatted in SQL so that the session's
 * TimeZone and DateStyle settings play no part. */
#define TS(col) STORE_PG_TS(col)

/* The list's sort key in exact integer microseconds: extract() returns a
 * numeric since PostgreSQL 14, so the cursor round-trips without the
 * rounding a double would bring. */
#define ACTIVITY_US "(extract(epoch FROM c.last_activity_at) * 1000000)::bigint"

/*
 * One conversation as the member `me` sees it. Column order is what
 * read_conv() expects. The peer is the other member of a direct
 * conversation. The last message is the one at last_seq, when the member
 * may see it (joined before it). unread_count counts the others' messages
 * after the member's read watermark (or join): the span after the
 * watermark less the member's own sends in it, hot or archived. Both
 * counts walk only the unread span through the (conversation_id, seq)
 * primary keys, so a read chat costs nothing.
 */
#define CREATED_AT TS("c.created_at")
#define UPDATED_AT TS("c.updated_at")
#define MSG_COLS STORE_MSG_COLS("x")
#define OWN_UNREAD_IN(t)                                                                           \
    "(SELECT count(*) FROM " t " o WHERE o.conversation_id = c.id"                                 \
    " AND o.seq > GREATEST(me.read_seq, me.joined_seq) AND o.sender_id = me.user_id)"
#define OWN_UNREAD "(" OWN_UNREAD_IN("messages") " + " OWN_UNREAD_IN("archived_messages") ")"
// clang-format off
#define CONV_COLS                                                               \
    "c.id, c.kind, c.title, c.encryption, " CREATED_AT ", " UPDATED_AT          \
    ", c.last_seq, c.member_count, me.role,"                                    \
    " GREATEST(0, c.last_seq - GREATEST(me.read_seq, me.joined_seq) - "         \
    OWN_UNREAD "), " ACTIVITY_US ", me.request_from,"                           \
    " COALESCE(" TS("me.pinned_at") ", ''),"                                    \
    " COALESCE(" TS("me.muted_until") ", ''), COALESCE(c.expire_after, 0),"     \
    " p.id, p.username, p.display_name, lm.*"
// clang-format on
#define CONV_PEER                                                                                  \
    " LEFT JOIN LATERAL (SELECT u.id, u.username, u.display_name"                                  \
    "  FROM members o JOIN users u ON u.id = o.user_id"                                            \
    "  WHERE c.kind = 'direct' AND o.conversation_id = c.id AND o.user_id <> me.user_id"           \
    "  LIMIT 1) p ON true"
#define CONV_LAST_MESSAGE                                                                          \
    " LEFT JOIN LATERAL (SELECT " MSG_COLS " FROM messages x"                                      \
    "  WHERE x.conversation_id = c.id AND x.seq = c.last_seq AND x.seq > me.joined_seq)"           \
    " lm ON true"
#define CONV_SELECT                                                                                \
    "SELECT " CONV_COLS                                                                            \
    " FROM members me JOIN conversations c ON c.id = me.conversation_id" CONV_PEER                 \
        CONV_LAST_MESSAGE
#define CONV_COL_PEER 15
#define CONV_COL_LAST_MESSAGE 18

enum {
    USERS_RESOLVE,
    CONV_GET,
    CONV_LIST_FIRST,
    CONV_LIST_AFTER,
    CONV_REQUESTS,
    CONV_CREATE_GROUP,
    CONV_CREATE_DIRECT,
    CONV_BY_DIRECT_KEY,
    CONV_LOCK,
    CONV_LOCKED_STATE,
    CONV_TOUCH,
    CONV_SET_TITLE,
};

const struct store_pg__stmt store_pg__conversation_stmts[] = {
    /* The CASE keeps the cast away from strings that are not numbers. */
    [USERS_RESOLVE] = {"users_resolve",
                       "SELECT x.n, COALESCE(CASE WHEN x.v ~ '^[0-9]{1,18}$'"
                       " THEN (SELECT u.id FROM users u WHERE u.id = x.v::bigint)"
                       " ELSE (SELECT u.id FROM users u WHERE u.username = x.v) END, 0)"
                       " FROM unnest($1::text[]) WITH ORDINALITY AS x(v, n)",
                       1, true},
    [CONV_GET] = {"conv_get",
                  CONV_SELECT " WHERE me.user_id = $1::bigint AND me.conversation_id = $2::bigint",
                  2, true},
    [CONV_LIST_FIRST] = {"conv_list_first",
                         CONV_SELECT " WHERE me.user_id = $1::bigint"
                                     " ORDER BY c.last_activity_at DESC, c.id DESC LIMIT $2::int",
                         2, true},
    /* Compared in the same integer domain the cursor was written in. */
    [CONV_LIST_AFTER] = {"conv_list_after",
                         CONV_SELECT " WHERE me.user_id = $1::bigint"
                                     " AND (" ACTIVITY_US ", c.id) < ($3::bigint, $4::bigint)"
                                     " ORDER BY c.last_activity_at DESC, c.id DESC LIMIT $2::int",
                         4, true},
    /* Message requests (0013): the partial index members_requests. */
    [CONV_REQUESTS] = {"conv_requests",
                       CONV_SELECT " WHERE me.user_id = $1::bigint AND me.request_from IS NOT NULL"
                                   " ORDER BY c.last_activity_at DESC, c.id DESC LIMIT $2::int",
                       2, true},
    [CONV_CREATE_GROUP] =
        {"conv_create_group",
         "INSERT INTO conversations (kind, title, created_by, member_count, encryption)"
         " VALUES ('group', $1, $2::bigint, $3::int, $4) RETURNING id",
         4, false},
    /* A concurrent insert of the same key makes this wait for that
     * transaction: after its commit this does nothing and the next
     * statement (a fresh snapshot) finds the row. */
    [CONV_CREATE_DIRECT] = {"conv_create_direct",
                            "INSERT INTO conversations (kind, direct_key, created_by, member_count,"
                            " encryption) VALUES ('direct', $1, $2::bigint, 2, $3)"
                            " ON CONFLICT (direct_key) DO NOTHING RETURNING id",
                            3, false},
    [CONV_BY_DIRECT_KEY] = {"conv_by_direct_key",
                            "SELECT id FROM conversations WHERE direct_key = $1", 1, false},
    [CONV_LOCK] = {"conv_lock",
                   "SELECT kind, member_count FROM conversations WHERE id = $1::bigint FOR UPDATE",
                   1, false},
    /* A separate statement from CONV_LOCK on purpose: under READ
     * COMMITTED a statement that waited for the lock still reads other
     * tables with the snapshot it started with, so the members would be
     * read as they were before the previous lock holder's commit. */
    [CONV_LOCKED_STATE] = {"conv_locked_state",
                           "SELECT COALESCE((SELECT role FROM members WHERE conversation_id ="
                           " $1::bigint AND user_id = $2::bigint), ''),"
                           " (SELECT count(*) FROM members WHERE conversation_id = $1::bigint"
                           "  AND role = 'admin')",
                           2, false},
    [CONV_TOUCH] = {"conv_touch",
                    "UPDATE conversations SET member_count = member_count + $2::int,"
                    " updated_at = now() WHERE id = $1::bigint",
                    2, false},
    [CONV_SET_TITLE] = {"conv_set_title",
                        "UPDATE conversations SET title = $2, updated_at = now()"
                        " WHERE id = $1::bigint",
                        2, false},
    {NULL, NULL, 0, false},
};

static int run(struct store_pg *pg, int id, const char *const *vals, PGresult **r)
{
    return store_pg__exec(pg, &store_pg__conversation_stmts[id], vals, NULL, NULL, r);
}

const char *store_pg_role_name(enum store_role role)
{
    switch (role) {
    case STORE_ROLE_MEMBER: return "member";
    case STORE_ROLE_ADMIN: return "admin";
    case STORE_ROLE_NONE: break;
    }
    return "";
}

enum store_role store_pg__role_parse(const char *s)
{
    if (strcmp(s, "admin") == 0)
        return STORE_ROLE_ADMIN;
    return strcmp(s, "member") == 0 ? STORE_ROLE_MEMBER : STORE_ROLE_NONE;
}

/* A text[] literal of refs, each element quoted (so "null" stays a
 * string) with backslashes and quotes escaped. NULL when out of memory. */
static char *text_array(struct pl_arena *a, const char *const *refs, unsigned n)
{
    size_t len = 3;
    for (unsigned i = 0; i < n; i++)
        len += 2 * strlen(refs[i]) + 3;
    char *out = pl_arena_alloc(a, len), *o = out;
    if (!out)
        return NULL;
    *o++ = '{';
    for (unsigned i = 0; i < n; i++) {
        if (i)
            *o++ = ',';
        *o++ = '"';
        for (const char *p = refs[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                *o++ = '\\';
            *o++ = *p;
        }
        *o++ = '"';
    }
    *o++ = '}';
    *o = '\0';
    return out;
}

int store_pg_users_resolve(struct store_pg *pg, struct pl_arena *a, const char *const *refs,
                           unsigned n, int64_t *ids)
{
    if (n == 0)
        return 0;
    const char *vals[] = {text_array(a, refs, n)};
    if (!vals[0])
        return PL_ENOMEM;
    PGresult *r;
    int rc = run(pg, USERS_RESOLVE, vals, &r);
    if (rc < 0)
        return rc;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        int64_t ord, id;
        if ((rc = store_pg__get_i64(r, i, 0, &ord)) == 0 &&
            (rc = store_pg__get_i64(r, i, 1, &id)) == 0) {
            if (ord < 1 || ord > n)
                rc = PL_EINTERNAL;
            else
                ids[ord - 1] = id;
        }
    }
    PQclear(r);
    return rc;
}

/* The member's request and settings (columns 11-13, 0013), the timer
 * (14), the peer (15-17) and the last message (from 18), both absent when
 * their first column is NULL. */
static int read_conv_extras(struct pl_arena *a, const PGresult *r, int row, struct store_conv *c)
{
    int rc = 0;
    if (!PQgetisnull(r, row, 11))
        rc = store_pg__get_i64(r, row, 11, &c->request_from);
    c->pinned_at = store_pg__get_str(a, r, row, 12);
    c->muted_until = store_pg__get_str(a, r, row, 13);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 14, &c->expire_after);
    if (rc == 0 && (!c->pinned_at || !c->muted_until))
        rc = PL_ENOMEM;
    c->has_peer = !PQgetisnull(r, row, CONV_COL_PEER);
    if (rc == 0 && c->has_peer) {
        rc = store_pg__get_i64(r, row, CONV_COL_PEER, &c->peer.id);
        c->peer.username = store_pg__get_str(a, r, row, CONV_COL_PEER + 1);
        c->peer.display_name = store_pg__get_str(a, r, row, CONV_COL_PEER + 2);
        if (rc == 0 && (!c->peer.username || !c->peer.display_name))
            rc = PL_ENOMEM;
    }
    c->has_last_message = !PQgetisnull(r, row, CONV_COL_LAST_MESSAGE);
    if (rc == 0 && c->has_last_message)
        rc = store_pg__message_row(a, r, row, CONV_COL_LAST_MESSAGE, &c->last_message);
    return rc;
}

/* Reads one CONV_SELECT row. */
static int read_conv(struct pl_arena *a, const PGresult *r, int row, struct store_conv *c)
{
    memset(c, 0, sizeof(*c));
    int rc = store_pg__get_i64(r, row, 0, &c->id);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 6, &c->last_seq);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 7, &c->member_count);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 9, &c->unread_count);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, 10, &c->activity_us);
    if (rc < 0)
        return rc;
    c->is_group = strcmp(PQgetvalue(r, row, 1), "group") == 0;
    c->title = PQgetisnull(r, row, 2) ? NULL : store_pg__get_str(a, r, row, 2);
    c->encryption = store_pg__get_str(a, r, row, 3);
    c->created_at = store_pg__get_str(a, r, row, 4);
    c->updated_at = store_pg__get_str(a, r, row, 5);
    c->my_role = store_pg__role_parse(PQgetvalue(r, row, 8));
    if ((!c->title && !PQgetisnull(r, row, 2)) || !c->encryption || !c->created_at ||
        !c->updated_at)
        return PL_ENOMEM;
    return read_conv_extras(a, r, row, c);
}

int store_pg_conv_get(struct store_pg *pg, struct pl_arena *a, int64_t viewer_id,
                      int64_t conversation_id, struct store_conv *out)
{
    char vb[24], cb[24];
    snprintf(vb, sizeof(vb), "%" PRId64, viewer_id);
    snprintf(cb, sizeof(cb), "%" PRId64, conversation_id);
    const char *vals[] = {vb, cb};
    PGresult *r;
    int rc = run(pg, CONV_GET, vals, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 0 ? PL_ENOTFOUND : read_conv(a, r, 0, out);
    PQclear(r);
    return rc;
}

static int conv_rows(struct store_pg *pg, struct pl_arena *a, int stmt, const char *const *vals,
                     struct store_conv **out, unsigned *n);

int store_pg_conv_list(struct store_pg *pg, struct pl_arena *a, int64_t viewer_id,
                       const struct store_conv_cursor *after, unsigned limit,
                       struct store_conv **out, unsigned *n)
{
    char vb[24], lb[16], ab[24], ib[24];
    snprintf(vb, sizeof(vb), "%" PRId64, viewer_id);
    snprintf(lb, sizeof(lb), "%u", limit);
    snprintf(ab, sizeof(ab), "%" PRId64, after ? after->activity_us : 0);
    snprintf(ib, sizeof(ib), "%" PRId64, after ? after->id : 0);
    const char *vals[] = {vb, lb, ab, ib};
    return conv_rows(pg, a, after ? CONV_LIST_AFTER : CONV_LIST_FIRST, vals, out, n);
}

int store_pg_conv_requests(struct store_pg *pg, struct pl_arena *a, int64_t viewer_id,
                           unsigned limit, struct store_conv **out, unsigned *n)
{
    char vb[24], lb[16];
    snprintf(vb, sizeof(vb), "%" PRId64, viewer_id);
    snprintf(lb, sizeof(lb), "%u", limit);
    const char *vals[] = {vb, lb};
    return conv_rows(pg, a, CONV_REQUESTS, vals, out, n);
}

static int conv_rows(struct store_pg *pg, struct pl_arena *a, int stmt, const char *const *vals,
                     struct store_conv **out, unsigned *n)
{
    PGresult *r;
    int rc = run(pg, stmt, vals, &r);
    if (rc < 0)
        return rc;
    int rows = PQntuples(r);
    struct store_conv *v = pl_arena_alloc(a, (size_t)(rows ? rows : 1) * sizeof(*v));
    for (int i = 0; v && rc == 0 && i < rows; i++)
        rc = read_conv(a, r, i, &v[i]);
    PQclear(r);
    if (!v)
        return PL_ENOMEM;
    *out = v;
    *n = (unsigned)rows;
    return rc;
}

/* Runs a statement that returns one id column in at most one row; *id is
 * 0 when it returned none. */
static int single_id(struct store_pg *pg, int stmt, const char *const *vals, int64_t *id)
{
    PGresult *r;
    int rc = run(pg, stmt, vals, &r);
    if (rc < 0)
        return rc;
    *id = 0;
    if (PQntuples(r) > 0)
        rc = store_pg__get_i64(r, 0, 0, id);
    PQclear(r);
    return rc;
}

int store_pg_conv_create_group(struct store_pg *pg, const char *title, const char *encryption,
                               int64_t created_by, unsigned member_count, int64_t *id)
{
    char cb[24], nb[16];
    snprintf(cb, sizeof(cb), "%" PRId64, created_by);
    snprintf(nb, sizeof(nb), "%u", member_count);
    const char *vals[] = {title, cb, nb, encryption};
    int rc = single_id(pg, CONV_CREATE_GROUP, vals, id);
    return rc == 0 && *id == 0 ? PL_EINTERNAL : rc;
}

int store_pg_conv_open_direct(struct store_pg *pg, int64_t created_by, int64_t other,
                              const char *encryption, int64_t *id, bool *created)
{
    if (created_by == other)
        return PL_EINVAL;
    char key[48], cb[24];
    /* A pair has one conversation per encryption: "a:b" (plain; the key
     * predates E2E) and "a:b:e2e". */
    bool e2e = strcmp(encryption, "e2e") == 0;
    snprintf(key, sizeof(key), "%" PRId64 ":%" PRId64 "%s", PL_MIN(created_by, other),
             PL_MAX(created_by, other), e2e ? ":e2e" : "");
    snprintf(cb, sizeof(cb), "%" PRId64, created_by);
    const char *vals[] = {key, cb, encryption};
    /* Looking first is the common case and keeps a failed INSERT from
     * burning an identity value on every repeated call. */
    *created = false;
    int rc = single_id(pg, CONV_BY_DIRECT_KEY, vals, id);
    if (rc < 0 || *id)
        return rc;
    if ((rc = single_id(pg, CONV_CREATE_DIRECT, vals, id)) < 0)
        return rc;
    *created = *id != 0;
    if (*created) {
        const int64_t both[] = {created_by, other};
        return store_pg_members_add(pg, *id, both, 2, STORE_ROLE_MEMBER);
    }
    if ((rc = single_id(pg, CONV_BY_DIRECT_KEY, vals, id)) < 0)
        return rc;
    return *id ? 0 : PL_EINTERNAL;
}

int store_pg_conv_lock(struct store_pg *pg, int64_t conversation_id, int64_t caller_id,
                       struct store_conv_lock *out)
{
    char cb[24], ub[24];
    snprintf(cb, sizeof(cb), "%" PRId64, conversation_id);
    snprintf(ub, sizeof(ub), "%" PRId64, caller_id);
    const char *vals[] = {cb, ub};
    PGresult *r;
    int rc = run(pg, CONV_LOCK, vals, &r);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0) {
        rc = PL_ENOTFOUND;
    } else {
        out->is_group = strcmp(PQgetvalue(r, 0, 0), "group") == 0;
        rc = store_pg__get_i64(r, 0, 1, &out->member_count);
    }
    PQclear(r);
    if (rc < 0 || (rc = run(pg, CONV_LOCKED_STATE, vals, &r)) < 0)
        return rc;
    out->caller_role = store_pg__role_parse(PQgetvalue(r, 0, 0));
    rc = store_pg__get_i64(r, 0, 1, &out->admin_count);
    PQclear(r);
    return rc;
}

/* Runs an UPDATE by conversation id; PL_ENOTFOUND when no row matched. */
static int update_conv(struct store_pg *pg, int stmt, int64_t conversation_id, const char *arg)
{
    char cb[24];
    snprintf(cb, sizeof(cb), "%" PRId64, conversation_id);
    const char *vals[] = {cb, arg};
    PGresult *r;
    int rc = run(pg, stmt, vals, &r);
    if (rc < 0)
        return rc;
    rc = strcmp(PQcmdTuples(r), "0") == 0 ? PL_ENOTFOUND : 0;
    PQclear(r);
    return rc;
}

int store_pg_conv_touch(struct store_pg *pg, int64_t conversation_id, int delta)
{
    char db[16];
    snprintf(db, sizeof(db), "%d", delta);
    return update_conv(pg, CONV_TOUCH, conversation_id, db);
}

int store_pg_conv_set_title(struct store_pg *pg, int64_t conversation_id, const char *title)
{
    return update_conv(pg, CONV_SET_TITLE, conversation_id, title);
}
