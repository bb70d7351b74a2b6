/* SPDX-License-Identifier: MIT */
/* Parley - editing, deleting and hiding a single message.             */
/* Copyright (c) 2026 Parley developers                                 */
#include "messages.h"
#include "pg_int.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>

enum {
    TARGET_HOT,
    TARGET_ARCHIVED,
    EDIT,
    ERASE,
    ERASE_ARCHIVED,
    HIDE,
    MARK_EDITED,
    STORED,
};

/* The SQL is laid out by hand around the column macro. */
// clang-format off
#define TARGET_HEAD                                                             \
    "SELECT mb.role = 'admin' AND c.kind = 'group',"                            \
    " (EXTRACT(EPOCH FROM now() - m.created_at) * 1000000)::bigint, "
#define TARGET_FROM " FROM members mb JOIN conversations c ON c.id = mb.conversation_id"
/* A CTE of ERASE: the message's stored message.created event (kept for
 * resumes) becomes the deleted message, as history shows it, without the
 * devices' ciphertexts (e2e_for, api/e2e.c). table holds the row. */
// clang-format off
#define ERASE_EVENT(table)                                                        \
    " v AS (UPDATE events SET payload = jsonb_set(payload::jsonb - 'e2e_for',"    \
    "   '{message}', ((payload::jsonb -> 'message') - 'media' - 'e2e' - 'reactions')" \
    "   || jsonb_build_object('kind', 'deleted', 'text', NULL,"                   \
    "   'deleted_at', " STORE_PG_TS("now()") "))::text"                           \
    "   WHERE type = 'message.created' AND pos = (SELECT id FROM " table          \
    "   WHERE conversation_id = $1::bigint AND seq = $2::bigint)),"
// clang-format on

const struct store_pg__stmt store_pg__message_edit_stmts[] = {
    /* The message row is locked until commit, so an edit and a delete of
     * the same message are applied one after the other. */
    [TARGET_HOT] = {"msg_target",
                    TARGET_HEAD STORE_MSG_COLS("m") TARGET_FROM
                    " JOIN messages m ON m.conversation_id = mb.conversation_id"
                    " WHERE mb.conversation_id = $1::bigint AND mb.user_id = $2::bigint"
                    " AND m.seq = $3::bigint AND m.seq > mb.joined_seq FOR UPDATE OF m",
                    3, false},
    [TARGET_ARCHIVED] = {"msg_target_archived",
                         TARGET_HEAD "m.sender_id, m.deleted_at IS NOT NULL, m.id, " STORE_PG_TS(
                             "m.created_at") TARGET_FROM
                         " JOIN archived_messages m"
                         " ON m.conversation_id = mb.conversation_id"
                         " WHERE mb.conversation_id = $1::bigint AND mb.user_id = $2::bigint"
                         " AND m.seq = $3::bigint AND m.seq > mb.joined_seq FOR UPDATE OF m",
                         3, false},
    /* The trigger of migration 0020 upserts the new body's terms into
     * message_search, whether or not the indexer got there first: search
     * sees the new text only. */
    [EDIT] = {"msg_edit",
              "UPDATE messages m SET body = $3, edited_at = now()"
              " WHERE m.conversation_id = $1::bigint AND m.seq = $2::bigint"
              " RETURNING " STORE_MSG_COLS("m"),
              3, false},
    /* Kind 'deleted' has no search text: the trigger of 0020 upserts a
     * tombstone (tsv NULL) into message_search, which the indexer's
     * insert cannot overwrite, whoever comes first; the media references
     * and the per-device ciphertexts go with the body, and so does the
     * copy in its stored event (ERASE_EVENT). */
    [ERASE] =
        {"msg_erase",
         "WITH r AS (DELETE FROM media_refs WHERE conversation_id = $1::bigint"
         "   AND seq = $2::bigint)," ERASE_EVENT(
             "messages") " e AS (DELETE FROM e2e_ciphertexts WHERE conversation_id = $1::bigint"
                         "   AND seq = $2::bigint),"
                         " x AS (DELETE FROM reactions WHERE conversation_id = $1::bigint"
                         "   AND seq = $2::bigint)"
                         " UPDATE messages m SET kind = 'deleted', body = '', deleted_at = now()"
                         " WHERE m.conversation_id = $1::bigint AND m.seq = $2::bigint"
                         " RETURNING " STORE_MSG_COLS("m"),
         2, false},
    /* The segment keeps its copy until it is rewritten; the overlay hides
     * it on every read (pg_messages.c). */
    [ERASE_ARCHIVED] =
        {"msg_erase_archived",
         "WITH r AS (DELETE FROM media_refs WHERE conversation_id = $1::bigint"
         "   AND seq = $2::bigint)," ERASE_EVENT(
             "archived_messages") " e AS (DELETE FROM e2e_ciphertexts WHERE conversation_id = "
                                  "$1::bigint"
                                  "   AND seq = $2::bigint)"
                                  " UPDATE archived_messages SET tsv = NULL, deleted_at = now()"
                                  " WHERE conversation_id = $1::bigint AND seq = $2::bigint"
                                  " RETURNING " STORE_PG_TS("deleted_at"),
         2, false},
    [HIDE] = {"msg_hide",
              "INSERT INTO message_hidden (conversation_id, user_id, seq)"
              " VALUES ($1::bigint, $2::bigint, $3::bigint) ON CONFLICT DO NOTHING",
              3, false},
    /* An e2e edit: the server cannot change the text, only record that
     * seq was edited (the new text travels in an encrypted envelope). */
    [MARK_EDITED] = {"msg_mark_edited",
                     "UPDATE messages SET edited_at = now()"
                     " WHERE conversation_id = $1::bigint AND seq = $2::bigint",
                     2, false},
    [STORED] = {"msg_stored",
                "SELECT 1 FROM messages WHERE sender_device_id = $1::bigint"
                " AND client_msg_id = $2",
                2, false},
    {NULL, NULL, 0, false},
};
// clang-format on

static int run(struct store_pg *pg, int id, const char *const *vals, PGresult **r)
{
    return store_pg__exec(pg, &store_pg__message_edit_stmts[id], vals, NULL, NULL, r);
}

int store_pg_message_target(struct store_pg *pg, struct pl_arena *a, int64_t conversation_id,
                            int64_t viewer_id, int64_t seq, struct store_msg_target *out)
{
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, conversation_id, viewer_id, seq);
    PGresult *r;
    *out = (struct store_msg_target){0};
    int rc = run(pg, TARGET_HOT, vals, &r);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        if ((rc = run(pg, TARGET_ARCHIVED, vals, &r)) < 0)
            return rc;
        out->archived = true;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        return PL_ENOTFOUND;
    }
    out->viewer_admin = PQgetvalue(r, 0, 0)[0] == 't';
    rc = store_pg__get_i64(r, 0, 1, &out->age_us);
    if (rc == 0 && out->archived) {
        out->msg.conversation_id = conversation_id;
        out->msg.seq = seq;
        rc = store_pg__get_i64(r, 0, 2, &out->msg.sender_id);
        out->msg.kind = PQgetvalue(r, 0, 3)[0] == 't' ? "deleted" : "archived";
        out->msg.client_msg_id = out->msg.body = "";
        if (rc == 0)
            rc = store_pg__get_i64(r, 0, 4, &out->msg.id);
        out->msg.created_at = store_pg__get_str(a, r, 0, 5);
        if (rc == 0 && !out->msg.created_at)
            rc = PL_ENOMEM;
    } else if (rc == 0) {
        rc = store_pg__message_row(a, r, 0, 2, &out->msg);
    }
    PQclear(r);
    return rc;
}

/* Runs a statement returning one message row into *out. */
static int one_message(struct store_pg *pg, struct pl_arena *a, int id, const char *const *vals,
                       struct store_message *out)
{
    PGresult *r;
    int rc = run(pg, id, vals, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? store_pg__message_row(a, r, 0, 0, out) : PL_ENOTFOUND;
    PQclear(r);
    return rc;
}

int store_pg_message_edit(struct store_pg *pg, struct pl_arena *a, int64_t conversation_id,
                          int64_t seq, const char *text, struct store_message *out)
{
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, conversation_id, seq);
    p.v[2] = text;
    return one_message(pg, a, EDIT, vals, out);
}

int store_pg_message_erase(struct store_pg *pg, struct pl_arena *a, int64_t conversation_id,
                           int64_t seq, bool archived, struct store_message *out)
{
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, conversation_id, seq);
    if (!archived)
        return one_message(pg, a, ERASE, vals, out);
    PGresult *r;
    int rc = run(pg, ERASE_ARCHIVED, vals, &r);
    if (rc < 0)
        return rc;
    rc = PQntuples(r) == 1 ? 0 : PL_ENOTFOUND;
    if (rc == 0) {
        out->kind = "deleted";
        out->body = "";
        out->deleted_at = store_pg__get_str(a, r, 0, 0);
        rc = out->deleted_at ? 0 : PL_ENOMEM;
    }
    PQclear(r);
    return rc;
}

int store_pg_message_hide(struct store_pg *pg, int64_t conversation_id, int64_t user_id,
                          int64_t seq)
{
    struct store_pg__args p;
    PGresult *r;
    int rc = run(pg, HIDE, STORE_PG__ARGS(&p, conversation_id, user_id, seq), &r);
    if (rc == 0)
        PQclear(r);
    return rc;
}

int store_pg_message_mark_edited(struct store_pg *pg, int64_t conversation_id, int64_t seq)
{
    struct store_pg__args p;
    PGresult *r;
    int rc = run(pg, MARK_EDITED, STORE_PG__ARGS(&p, conversation_id, seq), &r);
    if (rc == 0)
        PQclear(r);
    return rc;
}

int store_pg_message_stored(struct store_pg *pg, int64_t device_id, const char *client_msg_id,
                            bool *found)
{
    struct store_pg__args p;
    const char *const *vals = STORE_PG__ARGS(&p, device_id);
    PGresult *r;
    p.v[1] = client_msg_id;
    int rc = run(pg, STORED, vals, &r);
    if (rc == 0) {
        *found = PQntuples(r) > 0;
        PQclear(r);
    }
    return rc;
}
