/* SPDX-License-Identifier: MIT */
/* Parley - the message row shared by every query that returns messages. */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORE_MESSAGES_H
#define PL_STORE_MESSAGES_H

#include "pg.h"

struct store_reaction;

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
    /* RFC 3339 times, or NULL: edited by its sender; deleted for
     * everyone (kind is then "deleted" and body ""). */
    const char *edited_at, *deleted_at;
    bool forwarded; /* a copy sent with forward_of */
    /* History only: the message's reactions (arena array, by count). */
    const struct store_reaction *reactions;
    unsigned n_reactions;
    /* kind "e2e": the viewing device's ciphertext and its type ("prekey"
     * or "message"), or NULL when none was addressed to it. Not read by
     * the queries here (see storage/keys.h). */
    const char *e2e_type, *e2e_ciphertext;
};

/* The per-device part of an e2e send: one ciphertext per recipient device
 * and the clear-text media references. Strings borrowed. */
struct store_e2e_recipient {
    int64_t device_id;
    const char *type;       /* "prekey" or "message" */
    const char *ciphertext; /* base64url, validated by api/ */
};
struct store_e2e_send {
    struct store_e2e_recipient *r;
    unsigned n;
    int64_t *media_ids;
    unsigned n_media;
    size_t bytes; /* the ciphertexts' total length */
};

/* ---- Sending: the steps of one group commit ------------------------------
 *
 * The writer commits a batch of sends in one transaction of two round
 * trips whatever the batch size (each a libpq pipeline of statements):
 *
 *   store_pg_send_open()     BEGIN; lock the batch's conversations in id
 *                            order (their last_seq, the transaction's
 *                            now()); membership, idempotency, reply_to;
 *                            the conversations' members
 *   store_pg_send_assign()   no round trip: seqs for the new sends from
 *                            last_seq, in batch order; the caller builds
 *                            their payloads
 *   store_pg_send_finish()   the e2e rows; last_seq advanced; accepted
 *                            message requests; the stream positions (the
 *                            global position lock is held from here to
 *                            the commit, taken after every member row
 *                            lock); the new messages and their events;
 *                            COMMIT
 *
 * Writer thread (blocking). Each function takes the batch as an array of n
 * pointers (borrowed); strings it returns come from the arena a. Besides
 * the codes named, each may return the common codes listed in pg.h; any
 * failure leaves the transaction unusable (roll it back with
 * store_pg_tx_rollback()).
 */

enum store_send_outcome {
    STORE_SEND_REJECTED = 0, /* rc says why; nothing is written for it */
    STORE_SEND_NEW,          /* gets a seq, a position and an event */
    STORE_SEND_STORED,       /* stored before this batch: msg is that message */
    STORE_SEND_DUPLICATE,    /* repeats send number dup_of of this batch */
};

/* One send. The input is the caller's (borrowed until the batch is done);
 * the rest is filled by the steps above. */
struct store_send {
    int64_t conversation_id;
    int64_t sender_id;
    int64_t sender_device_id;
    const char *client_msg_id;        /* the idempotency key, per device */
    const char *kind;                 /* "text"; later "media", "e2e" */
    const char *body;                 /* the text, or a JSON document for other kinds */
    int64_t reply_to;                 /* a seq, or 0 for none */
    const struct store_e2e_send *e2e; /* kind "e2e" only, else NULL */
    bool forwarded;                   /* a forward_of copy (kind and body the original's) */
    /* Set by store_pg_send_open() when the conversation exists: it is an
     * e2e one; its disappearing-messages timer in ms (0: off; 0013); its
     * last_seq under the lock; the transaction's now() (every message's
     * created_at); its members (audience, n_audience). */
    bool conv_e2e;
    int64_t expire_ms;
    int64_t conv_last_seq;
    const char *tx_now;

    enum store_send_outcome outcome; /* set by store_pg_send_open() */
    /* REJECTED: PL_ENOTFOUND (the sender is not a member, or there is no
     * such conversation), PL_EINVAL (reply_to names no message the sender
     * can see), PL_ECONFLICT (the device used client_msg_id for a message in
     * another conversation), PL_EFORBIDDEN with blocked set (the other
     * member of a direct conversation blocked the sender; 0013). */
    int rc;
    bool blocked;             /* REJECTED with PL_EFORBIDDEN: the peer blocked the sender */
    bool accepts;             /* NEW: the sender answers its pending message request */
    unsigned dup_of;          /* DUPLICATE: index of the send it repeats */
    struct store_message msg; /* STORED: by check; NEW: by assign (id by finish) */
    const int64_t *audience;  /* by open, see conv_e2e */
    unsigned n_audience;
    /* NEW: the message.created JSON, by the caller, written with a single
     * '0' at byte id_at where the message's id (its position, unknown
     * until store_pg_send_finish() takes the positions) goes; the stored
     * event holds the payload with the id in its place. */
    const char *payload;
    size_t id_at;
};

/* Opens the transaction, locks the rows of every conversation the batch
 * sends to (FOR NO KEY UPDATE, in id order, so that concurrent writers on
 * other nodes never deadlock) until it ends, and sets each send's conv_e2e
 * and outcome (and rc, dup_of, msg). Membership changes take the same
 * lock, so what the check reads stays true until commit. Sends repeating
 * an earlier send of the same batch (same device and client_msg_id) become
 * DUPLICATE, or REJECTED with PL_ECONFLICT when they name another
 * conversation. */
PL_MUST_CHECK int store_pg_send_open(struct store_pg *pg, struct pl_arena *a,
                                     struct store_send *const *s, unsigned n);

/* Fills the msg of every NEW send (all but id, which is its position):
 * seqs follow their conversation's last_seq, gap-free, in batch order;
 * sets *n_new. No round trip: store_pg_send_finish() advances last_seq. */
PL_MUST_CHECK int store_pg_send_assign(struct pl_arena *a, struct store_send *const *s, unsigned n,
                                       unsigned *n_new);

/* One round trip: inserts e2e_rows (NULL for none: store_pg_e2e_insert()'s
 * JSON, borrowed); advances last_seq (and last_activity_at) of each
 * conversation by its number of NEW sends; accepts the message requests
 * that NEW sends answer (0013; member rows, so before the position lock,
 * in the order receipts take them); takes the NEW sends' stream positions
 * (the global position lock, held from here through the commit's WAL
 * flush, so positions are dense and commit in order); inserts every NEW
 * send's message (id = its position) and its message.created event
 * (payload with the position at id_at); and commits. On success sets each
 * NEW send's msg.id, in batch order from *first (0 when nothing was new).
 * Returns 0, PL_EINVAL when a NEW send has no placeholder at id_at, or the
 * store_pg codes; PL_EUNAVAIL means the outcome is unknown, as for
 * store_pg_tx_commit(). */
PL_MUST_CHECK int store_pg_send_finish(struct store_pg *pg, struct pl_arena *a,
                                       struct store_send *const *s, unsigned n,
                                       const char *e2e_rows, uint64_t *first);

/* ---- Reading -------------------------------------------------------------- */

/* A page of history: at most limit messages with after < seq < before
 * (before = 0: no upper bound). forward reads the oldest of them (paging
 * up from after); otherwise the newest (paging down from before). */
struct store_msg_page {
    int64_t before, after;
    unsigned limit;
    bool forward;
};

/* The messages of conversation_id that viewer_id may see (seq above its
 * joined_seq), with their aggregate status. *out is an arena array in
 * ascending seq order; *has_more tells whether more exist beyond the page
 * in the direction it was read. Returns 0, or PL_ENOTFOUND when the
 * viewer is not a member (or there is no such conversation). Worker
 * thread. */
PL_MUST_CHECK int store_pg_messages_list(struct store_pg *pg, struct pl_arena *a,
                                         int64_t conversation_id, int64_t viewer_id,
                                         const struct store_msg_page *page,
                                         struct store_message **out, unsigned *n, bool *has_more);

/* ---- Editing and deleting one message (pg_message_edit.c) ----------------
 * Worker thread, inside a transaction. */

/* A message some member acts on: msg (for an archived one only its
 * conversation_id, seq, sender_id and kind "archived", or "deleted" when
 * already erased), how old it is and whether the viewer is an admin. */
struct store_msg_target {
    struct store_message msg;
    int64_t age_us; /* microseconds since it was sent */
    bool archived;
    bool viewer_admin;
};

/* Locks message seq of conversation_id when viewer_id is a member that can
 * see it and fills *out. Returns 0 or PL_ENOTFOUND. */
PL_MUST_CHECK int store_pg_message_target(struct store_pg *pg, struct pl_arena *a,
                                          int64_t conversation_id, int64_t viewer_id, int64_t seq,
                                          struct store_msg_target *out);

/* Replaces the text of a (locked, hot) message and sets its edited_at;
 * *out is the message afterwards. */
PL_MUST_CHECK int store_pg_message_edit(struct store_pg *pg, struct pl_arena *a,
                                        int64_t conversation_id, int64_t seq, const char *text,
                                        struct store_message *out);

/* Deletes a (locked) message for everyone: body, media references,
 * ciphertexts and search entry; the row stays as kind "deleted" (an
 * archived one gets a tombstone over its segment copy). For a hot message
 * *out is the whole row afterwards; for an archived one only kind, body
 * and deleted_at are set. */
PL_MUST_CHECK int store_pg_message_erase(struct store_pg *pg, struct pl_arena *a,
                                         int64_t conversation_id, int64_t seq, bool archived,
                                         struct store_message *out);

/* Hides message seq from user_id's history ("delete for me"). */
PL_MUST_CHECK int store_pg_message_hide(struct store_pg *pg, int64_t conversation_id,
                                        int64_t user_id, int64_t seq);

/* Inside a transaction, after store_pg_message_target(): sets edited_at of
 * an e2e message whose sender sent an encrypted edit of it (the body, the
 * parts every member shares, stays as it is). */
PL_MUST_CHECK int store_pg_message_mark_edited(struct store_pg *pg, int64_t conversation_id,
                                               int64_t seq);

/* *found: device_id already stored a message under client_msg_id
 * (borrowed), i.e. a send is a retry the writer will answer with it. */
PL_MUST_CHECK int store_pg_message_stored(struct store_pg *pg, int64_t device_id,
                                          const char *client_msg_id, bool *found);

/* ---- Reactions (pg_reactions.c) -------------------------------------------
 * One emoji per user per message. Worker thread. */

/* One emoji on a message: how many reacted with it, and whether the viewer
 * did. */
struct store_reaction {
    int64_t seq;
    const char *emoji;
    int64_t count;
    bool mine;
};

/* Inside a transaction, after store_pg_message_target(): sets user_id's
 * reaction to seq (replacing another emoji); *changed is false when it was
 * that emoji already. */
PL_MUST_CHECK int store_pg_reaction_set(struct store_pg *pg, int64_t conversation_id, int64_t seq,
                                        int64_t user_id, const char *emoji, bool *changed);
/* Removes user_id's reaction emoji from seq; *changed is false when there
 * was none. */
PL_MUST_CHECK int store_pg_reaction_delete(struct store_pg *pg, int64_t conversation_id,
                                           int64_t seq, int64_t user_id, const char *emoji,
                                           bool *changed);
/* The reactions of seqs[0..n_seqs) as viewer_id sees them, ascending by
 * seq (*out an arena array). */
PL_MUST_CHECK int store_pg_reactions_page(struct store_pg *pg, struct pl_arena *a,
                                          int64_t conversation_id, int64_t viewer_id,
                                          const int64_t *seqs, unsigned n_seqs,
                                          struct store_reaction **out, unsigned *n);

/* ---- Receipts (pg_receipts.c) ---------------------------------------------
 * Receipts are per-member watermarks: delivered_seq and read_seq only move
 * up, and read_seq <= delivered_seq. Each move is logged (receipt_log) so
 * that "when did each member get message N" needs no row per message. */

struct store_watermarks {
    int64_t joined_seq;    /* the member sees messages above this */
    int64_t delivered_seq; /* delivered up to */
    int64_t read_seq;      /* read up to */
    int64_t last_seq;      /* the conversation's last message */
};

/* A sender whose messages' aggregate status advanced: all its messages up
 * to delivered_up_to are now delivered, up to read_up_to read (0: that
 * status did not move). */
struct store_status_move {
    int64_t sender_id;
    int64_t delivered_up_to;
    int64_t read_up_to;
};

/* The receipts of one member of one conversation in a batch. */
struct store_receipt_group {
    int64_t conversation_id, user_id;
    /* store_pg_receipt_lock_many(): 0, or PL_ENOTFOUND (not a member) */
    int rc;
    /* store_pg_receipt_lock_many(): the member row as locked */
    struct store_watermarks from;
    /* the caller's: the watermarks to store (equal to from: none) */
    struct store_watermarks to;
    /* store_pg_receipt_apply_many(): the senders (current members other
     * than user_id) whose messages changed aggregate status because this
     * member's watermarks moved from `from` to `to`, in sender order */
    struct store_status_move *mv;
    unsigned n_mv;
};

/* Whether the group's watermarks move (`to` differs from `from`). */
static inline bool store_receipt_moved(const struct store_receipt_group *g)
{
    return g->to.delivered_seq != g->from.delivered_seq || g->to.read_seq != g->from.read_seq;
}

/* Opens a transaction (when begin) and, for each group in order (sorted
 * by conversation, then user, so that batches never deadlock): serializes
 * the receipts of its conversation (each sees the watermarks the previous
 * one left), locks the member row and reads it into from. One round trip.
 * Returns 0 (each group's rc says whether it is a member) or a storage
 * code; the caller rolls back. */
PL_MUST_CHECK int store_pg_receipt_lock_many(struct store_pg *pg, struct pl_arena *a, bool begin,
                                             struct store_receipt_group *g, unsigned n);

/* Inside that transaction: for each group whose `to` differs from `from`,
 * in order, stores `to`, logs a receipt_log row for each watermark that
 * moved, and computes its status moves (mv, arena arrays), each after the
 * previous group's writes. One round trip; per group O(members + messages
 * in the moved ranges), never O(messages x members). */
PL_MUST_CHECK int store_pg_receipt_apply_many(struct store_pg *pg, struct pl_arena *a,
                                              struct store_receipt_group *g, unsigned n);

/* When one member got and read a message. */
struct store_receipt {
    int64_t user_id;
    const char *delivered_at; /* RFC 3339 UTC with ms, or NULL when not yet */
    const char *read_at;      /* likewise */
};

/* The receipts of message seq: one per current member other than its
 * sender who joined before it, in user id order (*out is an arena array).
 * Returns 0, or PL_ENOTFOUND when viewer_id is not a member or cannot see
 * such a message. Worker thread. */
PL_MUST_CHECK int store_pg_message_receipts(struct store_pg *pg, struct pl_arena *a,
                                            int64_t conversation_id, int64_t viewer_id, int64_t seq,
                                            struct store_receipt **out, unsigned *n);

#endif
