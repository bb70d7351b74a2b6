/* SPDX-License-Identifier: MIT */
/* Parley - receipts: delivered / read watermarks and the ticks they move. */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/messages.h"

#include "common/log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

PL_LOG_TOPIC("receipts");

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

/* Which receipt types a (conversation, user) asked for. */
enum { ASK_DELIVERED = 1, ASK_READ = 2 };

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

/* Queues the receipt events (one per type a receipt asked for whose
 * watermark moved) and the senders' message.status events into an arena
 * array of api_emit (*n_em of them). */
static int build_events(struct api_call *c, int64_t conv, unsigned asked,
                        const struct store_watermarks *from, const struct store_watermarks *to,
                        const struct store_status_move *mv, unsigned n_mv, struct api_emit **out,
                        unsigned *n_em)
{
    bool dl = (asked & ASK_DELIVERED) && to->delivered_seq != from->delivered_seq;
    bool rd = (asked & ASK_READ) && to->read_seq != from->read_seq;
    unsigned total = dl + rd;
    for (unsigned i = 0; i < n_mv; i++)
        total += (mv[i].delivered_up_to > 0) + (mv[i].read_up_to > 0);
    *n_em = (total + API_EMIT_MAX - 1) / API_EMIT_MAX;
    struct api_emit *em = pl_arena_zalloc(c->a, (*n_em ? *n_em : 1) * sizeof(*em));
    if (!em)
        return PL_ENOMEM;
    *out = em;
    unsigned k = 0;
    static const char rfmt[] = "{\"conversation_id\":%" PRId64 ",\"user_id\":%" PRId64
                               ",\"type\":\"%s\",\"up_to_seq\":%" PRId64 "}";
    int rc = 0;
    if (dl)
        rc = emit(em, &k, "receipt", conv, 0,
                  pl_arena_sprintf(c->a, rfmt, conv, c->user_id, "delivered", to->delivered_seq));
    if (rc == 0 && rd)
        rc = emit(em, &k, "receipt", conv, 0,
                  pl_arena_sprintf(c->a, rfmt, conv, c->user_id, "read", to->read_seq));
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

/* ---- many receipts in one transaction (a worker's batch) ---- */

/*
 * Under load (every member of a group acknowledging every message) receipts
 * arrive by the hundred per second, and one transaction each meant one WAL
 * flush each. A worker that takes several queued requests at once
 * (api_handle_batch()) hands its receipts here: one transaction for all of
 * them, grouped by (conversation, user) in that order, which is also the
 * order every batch takes its locks in, so batches never deadlock each
 * other. Each group locks its member row once, checks each receipt against
 * it (404 / 422 for that receipt alone), advances the watermarks through
 * all of them, writes them and computes the senders' status moves once,
 * and its events (a `receipt` per type asked for that moved, the
 * `message.status` moves) are stored together with every other group's at
 * the end, under one run of positions, so they stay dense and
 * commit-ordered. The groups' statements go in pipelines (all the locks
 * in one round trip, all the writes in the next), so a batch holds its
 * conversations' locks for a few round trips, not four per group. Each
 * receipt's answer is the watermarks after it, as if the group's receipts
 * had run one by one in arrival order. If the transaction fails (a dead
 * connection, a deadlock with some other kind of transaction), each
 * receipt not yet answered runs alone.
 */
struct rcpt {
    struct api_call *c;
    int64_t conv, up_to;
    bool is_read;
    unsigned i;                 /* place in the batch (rcs[i]) */
    struct store_watermarks to; /* the answer */
};

static int cmp_rcpt(const void *pa, const void *pb)
{
    const struct rcpt *a = pa, *b = pb;
    if (a->conv != b->conv)
        return a->conv < b->conv ? -1 : 1;
    if (a->c->user_id != b->c->user_id)
        return a->c->user_id < b->c->user_id ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* The batch's events, gathered from every group (c0's arena). */
struct emits {
    struct api_call *c0;
    struct api_emit *em;
    unsigned n, cap;
    bool wrote; /* some group moved a watermark: commit */
};

static int emits_add(struct emits *e, const struct api_emit *em, unsigned n)
{
    if (e->n + n > e->cap) {
        unsigned cap = PL_MAX(e->cap * 2, e->n + n + 8);
        struct api_emit *m = pl_arena_alloc(e->c0->a, cap * sizeof(*m));
        if (!m)
            return PL_ENOMEM;
        if (e->n)
            memcpy(m, e->em, e->n * sizeof(*m));
        e->em = m;
        e->cap = cap;
    }
    memcpy(e->em + e->n, em, n * sizeof(*em));
    e->n += n;
    return 0;
}

static bool same_group(const struct rcpt *a, const struct rcpt *b)
{
    return a->conv == b->conv && a->c->user_id == b->c->user_id;
}

/* The receipts r[0..n) of group g, whose member row is locked: checks
 * each (rcs gets 404 / 422 for those refused) and advances g->to through
 * the others in arrival order. Returns the receipt types asked for. */
static unsigned group_advance(struct rcpt *r, unsigned n, struct store_receipt_group *g, int *rcs)
{
    g->to = g->from;
    unsigned asked = 0;
    for (unsigned j = 0; j < n; j++) {
        int one = check_receipt(r[j].c, g->rc, r[j].up_to, g->from.last_seq);
        if (one < 0) {
            rcs[r[j].i] = one;
            continue;
        }
        struct store_watermarks before = g->to;
        advance(&before, r[j].is_read, r[j].up_to, &g->to);
        asked |= r[j].is_read ? ASK_READ : ASK_DELIVERED;
        r[j].to = g->to;
    }
    return asked;
}

/* The whole batch r[0..n) (sorted) in one transaction and five round
 * trips whatever its size: BEGIN with every group's locks; every moved
 * group's writes and status moves; the audiences; the events with their
 * positions; COMMIT. 0 when committed (or when nothing moved); a storage
 * code when rolled back. */
static int batch_tx(struct api_call *c0, struct rcpt *r, unsigned n, int *rcs)
{
    struct store_pg *pg = c0->w->pg;
    unsigned ng = 0;
    for (unsigned i = 0; i < n; i++)
        ng += i == 0 || !same_group(&r[i - 1], &r[i]);
    struct store_receipt_group *g = pl_arena_zalloc(c0->a, (ng ? ng : 1) * sizeof(*g));
    unsigned *first = pl_arena_alloc(c0->a, (ng + 1) * sizeof(*first));
    unsigned *asked = pl_arena_alloc(c0->a, (ng ? ng : 1) * sizeof(*asked));
    if (!g || !first || !asked)
        return PL_ENOMEM;
    for (unsigned i = 0, k = 0; i < n; i++)
        if (i == 0 || !same_group(&r[i - 1], &r[i])) {
            first[k] = i;
            g[k++] = (struct store_receipt_group){.conversation_id = r[i].conv,
                                                  .user_id = r[i].c->user_id};
        }
    first[ng] = n;
    int rc = store_pg_receipt_lock_many(pg, c0->a, true, g, ng);
    for (unsigned k = 0; k < ng && rc == 0; k++)
        asked[k] = group_advance(&r[first[k]], first[k + 1] - first[k], &g[k], rcs);
    if (rc == 0)
        rc = store_pg_receipt_apply_many(pg, c0->a, g, ng);
    struct emits ev = {.c0 = c0};
    for (unsigned k = 0; k < ng && rc == 0; k++) {
        if (!store_receipt_moved(&g[k]))
            continue; /* nothing moved: nothing written */
        struct api_emit *em;
        unsigned n_em;
        ev.wrote = true;
        rc = build_events(r[first[k]].c, g[k].conversation_id, asked[k], &g[k].from, &g[k].to,
                          g[k].mv, g[k].n_mv, &em, &n_em);
        if (rc == 0)
            rc = emits_add(&ev, em, n_em);
    }
    if (rc == 0 && ev.wrote && (rc = api__emit_store_all(c0, ev.em, ev.n)) == 0)
        rc = store_pg_tx_commit(pg);
    if (rc < 0 || !ev.wrote) {
        store_pg_tx_rollback(pg); /* failed, or nothing was written */
        if (rc < 0)
            return rc;
    }
    for (unsigned i = 0; i < ev.n && c0->env->publish; i++)
        api__emit_publish(c0, &ev.em[i]);
    return 0;
}

/* One receipt in a transaction of its own (a receipt that came alone, or
 * one of a batch whose transaction failed): a batch of one. */
static int receipt_one(struct api_call *c, int64_t conv, bool is_read, int64_t up_to)
{
    struct rcpt r = {.c = c, .conv = conv, .up_to = up_to, .is_read = is_read, .i = 0};
    int refused = 0;
    int rc = batch_tx(c, &r, 1, &refused);
    if (rc < 0)
        return rc;
    return refused < 0 ? refused : reply_watermarks(c, conv, &r.to);
}

int api__receipts_post(struct api_call *c)
{
    int64_t conv, up_to = 0;
    bool is_read = false;
    int rc = api__conversation_id(c, &conv);
    if (rc == 0)
        rc = read_receipt(c, &is_read, &up_to);
    return rc < 0 ? rc : receipt_one(c, conv, is_read, up_to);
}

void api__receipts_post_many(struct api_call **cs, unsigned n, int *rcs)
{
    struct rcpt *r = pl_arena_zalloc(cs[0]->a, (n ? n : 1) * sizeof(*r));
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        int64_t conv, up_to = 0;
        bool is_read = false;
        rcs[i] = r ? api__conversation_id(cs[i], &conv) : PL_ENOMEM;
        if (rcs[i] == 0)
            rcs[i] = read_receipt(cs[i], &is_read, &up_to);
        if (rcs[i] == 0)
            r[k++] =
                (struct rcpt){.c = cs[i], .conv = conv, .up_to = up_to, .is_read = is_read, .i = i};
    }
    if (k == 0)
        return;
    qsort(r, k, sizeof(*r), cmp_rcpt);
    int rc = batch_tx(cs[0], r, k, rcs);
    for (unsigned j = 0; j < k; j++) {
        struct rcpt *x = &r[j];
        if (http_resp_status(x->c->req) != 0)
            continue; /* refused (404, 422) */
        if (rc < 0)
            rcs[x->i] = receipt_one(x->c, x->conv, x->is_read, x->up_to);
        else
            rcs[x->i] = reply_watermarks(x->c, x->conv, &x->to);
    }
    if (rc < 0)
        pl_log_info("a batch of %u receipts failed (%s); they ran one by one", k, pl_strerror(rc));
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
