/* SPDX-License-Identifier: MIT */
/* Parley - receipts: delivered / read watermarks and the ticks they move. */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/messages.h"

#include <inttypes.h>
#include <string.h>

/*
 * A receipt moves the caller's watermarks (never down; read implies
 * delivered), logs the move, and persists in the same transaction:
 *  - one `receipt` event to the conversation's members, when the
 *    watermark of the requested type moved;
 *  - one `message.status` event per (sender, status) whose messages'
 *    aggregate advanced, addressed to that sender alone (conversation 0 +
 *    target: the event row has no conversation, so only the target gets
 *    it, live or on resume). A large group's read receipt thus costs a few
 *    events, not one per message.
 * A receipt that moves nothing writes and emits nothing.
 */

/* ---- POST /v1/conversations/{id}/receipts ---- */

static int read_receipt(struct api_call *c, bool *is_read, int64_t *up_to)
{
    const char *type = NULL;
    *up_to = 0;
    const struct api_field fields[] = {
        {"type", API_FIELD_STRING, true, &type},
        {"up_to_seq", API_FIELD_INT, true, up_to},
    };
    int rc = api__bind_body(c, fields, PL_ARRAY_LEN(fields));
    if (rc < 0)
        return rc;
    if (type && strcmp(type, "delivered") != 0 && strcmp(type, "read") != 0)
        api_errors_add(&c->errs, "/type", "must be \"delivered\" or \"read\"");
    if (!c->errs.n && *up_to < 1)
        api_errors_add(&c->errs, "/up_to_seq", "must be a message seq (an integer >= 1)");
    if (c->errs.n)
        return api__fail_validation(c);
    *is_read = strcmp(type, "read") == 0;
    return 0;
}

/* Queues one event, starting the next api_emit when one is full. */
static int emit(struct api_emit *em, unsigned *k, const char *type, int64_t conversation_id,
                int64_t target, const char *payload)
{
    if (!payload)
        return PL_ENOMEM;
    return api__emit(&em[(*k)++ / API_EMIT_MAX], type, conversation_id, target, payload);
}

/* Queues the receipt event and the senders' message.status events into
 * an arena array of api_emit (*n_em of them). */
static int build_events(struct api_call *c, int64_t conv, bool is_read, int64_t up_to,
                        const struct store_status_move *mv, unsigned n_mv, struct api_emit **out,
                        unsigned *n_em)
{
    unsigned total = 1;
    for (unsigned i = 0; i < n_mv; i++)
        total += (mv[i].delivered_up_to > 0) + (mv[i].read_up_to > 0);
    *n_em = (total + API_EMIT_MAX - 1) / API_EMIT_MAX;
    struct api_emit *em = pl_arena_zalloc(c->a, *n_em * sizeof(*em));
    if (!em)
        return PL_ENOMEM;
    *out = em;
    unsigned k = 0;
    int rc = emit(em, &k, "receipt", conv, 0,
                  pl_arena_sprintf(c->a,
                                   "{\"conversation_id\":%" PRId64 ",\"user_id\":%" PRId64
                                   ",\"type\":\"%s\",\"up_to_seq\":%" PRId64 "}",
                                   conv, c->user_id, is_read ? "read" : "delivered", up_to));
    static const char fmt[] =
        "{\"conversation_id\":%" PRId64 ",\"status\":\"%s\",\"up_to_seq\":%" PRId64 "}";
    for (unsigned i = 0; i < n_mv && rc == 0; i++) {
        if (mv[i].delivered_up_to > 0)
            rc = emit(em, &k, "message.status", 0, mv[i].sender_id,
                      pl_arena_sprintf(c->a, fmt, conv, "delivered", mv[i].delivered_up_to));
        if (rc == 0 && mv[i].read_up_to > 0)
            rc = emit(em, &k, "message.status", 0, mv[i].sender_id,
                      pl_arena_sprintf(c->a, fmt, conv, "read", mv[i].read_up_to));
    }
    return rc;
}

/* Inside the transaction, once the watermarks are known to move: stores
 * them and the events they cause. */
static int apply(struct api_call *c, int64_t conv, bool is_read,
                 const struct store_watermarks *from, const struct store_watermarks *to,
                 struct api_emit **em, unsigned *n_em)
{
    struct store_pg *pg = c->w->pg;
    struct store_status_move *mv;
    unsigned n_mv;
    int rc = store_pg_receipt_update(pg, conv, c->user_id, from, to);
    if (rc == 0)
        rc = store_pg_receipt_moves(pg, c->a, conv, c->user_id, from, to, &mv, &n_mv);
    if (rc == 0)
        rc = build_events(c, conv, is_read, is_read ? to->read_seq : to->delivered_seq, mv, n_mv,
                          em, n_em);
    /* Positions are taken here, last, so the global position lock is held
     * only for the event inserts and the commit. */
    for (unsigned i = 0; i < *n_em && rc == 0; i++)
        rc = api__emit_store(c, &(*em)[i]);
    return rc;
}

static int reply_watermarks(struct api_call *c, int64_t conv, const struct store_watermarks *w)
{
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_int(g, "conversation_id", conv);
    api__gen_int(g, "delivered_seq", w->delivered_seq);
    api__gen_int(g, "read_seq", w->read_seq);
    yajl_gen_map_close(g);
    return api__reply_json(c, 200, g);
}

/* Sets the problem for a receipt that cannot be applied (rc < 0), or 0. */
static int check_receipt(struct api_call *c, int rc, int64_t up_to, int64_t last_seq)
{
    if (rc == PL_ENOTFOUND) {
        rc = api__conversation_not_found(c);
    } else if (rc == 0 && up_to > last_seq) {
        api_errors_add(
            &c->errs, "/up_to_seq",
            pl_arena_sprintf(c->a, "is past the last message (seq %" PRId64 ")", last_seq));
        rc = api__fail_validation(c);
    }
    return rc;
}

/* The caller's watermarks after a receipt: never lower; read implies
 * delivered. */
static void advance(const struct store_watermarks *from, bool is_read, int64_t up_to,
                    struct store_watermarks *to)
{
    *to = *from;
    if (is_read)
        to->read_seq = PL_MAX(from->read_seq, up_to);
    to->delivered_seq = PL_MAX(from->delivered_seq, PL_MAX(to->read_seq, up_to));
}

int api__receipts_post(struct api_call *c)
{
    int64_t conv, up_to = 0;
    bool is_read = false;
    struct store_watermarks from = {0}, to;
    struct api_emit *em = NULL;
    unsigned n_em = 0;
    int rc = api__conversation_id(c, &conv);
    if (rc == 0)
        rc = read_receipt(c, &is_read, &up_to);
    if (rc < 0 || (rc = store_pg_tx_begin(c->w->pg)) < 0)
        return rc;
    rc = store_pg_receipt_lock(c->w->pg, conv, c->user_id, &from);
    if ((rc = check_receipt(c, rc, up_to, from.last_seq)) < 0)
        goto fail;
    advance(&from, is_read, up_to, &to);
    if (is_read ? to.read_seq == from.read_seq : to.delivered_seq == from.delivered_seq) {
        store_pg_tx_rollback(c->w->pg); /* nothing moved, nothing was written */
        return reply_watermarks(c, conv, &to);
    }
    if ((rc = apply(c, conv, is_read, &from, &to, &em, &n_em)) < 0 ||
        (rc = store_pg_tx_commit(c->w->pg)) < 0)
        goto fail;
    for (unsigned i = 0; i < n_em && c->env->publish; i++)
        api__emit_publish(c, &em[i]);
    return reply_watermarks(c, conv, &to);

fail:
    store_pg_tx_rollback(c->w->pg);
    return rc;
}

/* ---- GET /v1/conversations/{id}/messages/{seq}/receipts ---- */

static void gen_time(yajl_gen g, const char *key, const char *ts)
{
    api__gen_key(g, key);
    if (ts)
        yajl_gen_string(g, (const unsigned char *)ts, strlen(ts));
    else
        yajl_gen_null(g);
}

int api__receipts_get(struct api_call *c)
{
    int64_t conv, seq;
    int rc = api__conversation_id(c, &conv);
    if (rc < 0)
        return rc;
    struct store_receipt *r = NULL;
    unsigned n = 0;
    rc = api__parse_id(http_req_param(c->req, 1), &seq)
             ? store_pg_message_receipts(c->w->pg, c->a, conv, c->user_id, seq, &r, &n)
             : PL_ENOTFOUND;
    if (rc == PL_ENOTFOUND)
        api_problem_send(c->req, rc, "no such message");
    if (rc < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_int(g, "conversation_id", conv);
    api__gen_int(g, "seq", seq);
    api__gen_key(g, "receipts");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < n; i++) {
        yajl_gen_map_open(g);
        api__gen_int(g, "user_id", r[i].user_id);
        gen_time(g, "delivered_at", r[i].delivered_at);
        gen_time(g, "read_at", r[i].read_at);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return api__reply_json(c, 200, g);
}
