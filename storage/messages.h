/* SPDX-License-Identifier: MIT */
/* Parley - the message row shared by every query that returns messages. */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_MESSAGES_H
#define PL_STORE_MESSAGES_H

#include "pg.h"

enum store_msg_status { STORE_MSG_SENT = 0, STORE_MSG_DELIVERED, STORE_MSG_READ };

/* A message as the API shows it. Strings come from the caller's arena. */
struct store_message {
    int64_t id; /* the stream position of its message.created event */
    int64_t conversation_id;
    int64_t seq;
    int64_t sender_id;
    int64_t sender_device_id;
    const char *client_msg_id;
    const char *kind; /* "text" (later "media", "e2e") */
    const char *body; /* the text, or a JSON document for other kinds */
    int64_t reply_to; /* a seq, or 0 for none */
    const char *created_at;
    enum store_msg_status status;
};

/* ---- Internal to storage/: one definition of the columns and of the
 * aggregate tick, used by every query that returns messages. ---- */

/* The aggregate status of message alias m: over the members other than
 * the sender who could see it (joined before it), "read" when all have read
 * it, "delivered" when all have it, else "sent" (also with nobody else). */
#define STORE_MSG_STATUS_SQL(m)                                                                    \
    "CASE WHEN NOT EXISTS (SELECT 1 FROM members o WHERE o.conversation_id = " m                   \
    ".conversation_id AND o.user_id <> " m ".sender_id AND o.joined_seq < " m ".seq) THEN 0"       \
    " WHEN NOT EXISTS (SELECT 1 FROM members o WHERE o.conversation_id = " m                       \
    ".conversation_id AND o.user_id <> " m ".sender_id AND o.joined_seq < " m                      \
    ".seq AND o.read_seq < " m ".seq) THEN 2"                                                      \
    " WHEN NOT EXISTS (SELECT 1 FROM members o WHERE o.conversation_id = " m                       \
    ".conversation_id AND o.user_id <> " m ".sender_id AND o.joined_seq < " m                      \
    ".seq AND o.delivered_seq < " m ".seq) THEN 1 ELSE 0 END"

/* The 11 columns store_pg__message_row() reads, for message alias m. */
#define STORE_MSG_COLS(m)                                                                          \
    m ".id, " m ".conversation_id, " m ".seq, " m ".sender_id, " m ".sender_device_id, " m         \
      ".client_msg_id, " m ".kind, " m ".body, COALESCE(" m ".reply_to, 0), to_char(" m            \
      ".created_at AT TIME ZONE 'UTC', "                                                           \
      "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), " STORE_MSG_STATUS_SQL(m)

#define STORE_MSG_NCOLS 11

/* Reads STORE_MSG_COLS starting at column col of row. */
PL_MUST_CHECK int store_pg__message_row(struct pl_arena *a, const struct pg_result *r, int row,
                                        int col, struct store_message *out);

#endif
