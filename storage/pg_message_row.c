/* SPDX-License-Identifier: MIT */
/* Parley - reading the shared message columns.                         */
/* Copyright (c) 2026 Parley developers                                 */
#include "messages.h"
#include "pg_int.h"

#include <libpq-fe.h>

int store_pg__message_row(struct pl_arena *a, const struct pg_result *r, int row, int col,
                          struct store_message *out)
{
    int64_t status = 0;
    int rc = store_pg__get_i64(r, row, col + 0, &out->id);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, col + 1, &out->conversation_id);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, col + 2, &out->seq);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, col + 3, &out->sender_id);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, col + 4, &out->sender_device_id);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, col + 8, &out->reply_to);
    if (rc == 0)
        rc = store_pg__get_i64(r, row, col + 10, &status);
    if (rc < 0)
        return rc;
    out->client_msg_id = store_pg__get_str(a, r, row, col + 5);
    out->kind = store_pg__get_str(a, r, row, col + 6);
    out->body = store_pg__get_str(a, r, row, col + 7);
    out->created_at = store_pg__get_str(a, r, row, col + 9);
    out->status = (enum store_msg_status)status;
    const char *edited = store_pg__get_str(a, r, row, col + 11);
    const char *deleted = store_pg__get_str(a, r, row, col + 12);
    if (!edited || !deleted)
        return PL_ENOMEM;
    out->edited_at = *edited ? edited : NULL;
    out->deleted_at = *deleted ? deleted : NULL;
    out->e2e_type = out->e2e_ciphertext = NULL;
    out->reactions = NULL; /* history fills them in (api/reactions.c) */
    out->n_reactions = 0;
    out->forwarded = PQgetvalue(r, row, col + 13)[0] == 't'; /* per device: storage/keys.h */
    if (!out->client_msg_id || !out->kind || !out->body || !out->created_at)
        return PL_ENOMEM;
    return 0;
}
