/* SPDX-License-Identifier: MIT */
/* Parley - committing a batch of message sends (group commit).         */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/events.h"
#include "storage/keys.h"

#include "common/buf.h"

#include "common/log.h"
#include "common/loop.h"

#include <inttypes.h>
#include <string.h>

PL_LOG_TOPIC("send");

/*
 * The writer thread (server/writer.c) hands us up to writer_batch sends at
 * once, and they share one transaction: one WAL flush, one turn at the
 * global position lock, and a constant number of statements whatever the
 * batch size (storage/pg_messages.c passes the rows as array and JSON
 * parameters). A send is answered only after that transaction committed.
 *
 * A bad send (not a member, bad reply_to) never fails its batch: the check
 * step sorts it out before anything is written and it gets its own answer.
 * A failed transaction fails every send of the batch, because none of them
 * was stored.
 */

/* A second attempt when the transaction hit a unique violation: another
 * node committed the same (device, client_msg_id) between our check and
 * our insert. The retry's check sees that row and answers it as a repeat. */
#define TX_ATTEMPTS 2

/* Text one transaction carries at most; a larger batch is committed in
 * several. It bounds the statements' parameters, which hold each text
 * once as a message body and once inside its payload: a full batch of
 * 64 KiB texts full of escaped control characters would otherwise need
 * hundreds of MiB. */
#define TX_TEXT_BYTES ((size_t)4 << 20)

/* The message JSON of each NEW send, kept for its response body. */
struct out_json {
    const char *msg;
    size_t len;
};

/* The leading "e2e_for" member of an e2e message's payload: every
 * recipient device's ciphertext, which the stream, the replay and sync
 * project per device (api/e2e.c). Base64url and digits need no JSON
 * escaping. Arena string "{"e2e_for":{...},", or NULL on OOM. */
static const char *e2e_for(struct pl_arena *a, const struct store_e2e_send *e)
{
    struct pl_buf b;
    pl_buf_init(&b, e->bytes + (size_t)e->n * 48 + 64);
    int rc = pl_buf_append(&b, "{\"e2e_for\":{", 12);
    for (unsigned i = 0; i < e->n && rc == 0; i++)
        rc = pl_buf_printf(&b, "%s\"%" PRId64 "\":[\"%s\",\"%s\"]", i ? "," : "", e->r[i].device_id,
                           e->r[i].type, e->r[i].ciphertext);
    if (rc == 0)
        rc = pl_buf_append(&b, "},", 2);
    const char *out = rc == 0 ? pl_arena_strndup(a, pl_buf_head(&b), b.len) : NULL;
    pl_buf_deinit(&b);
    return out;
}

/* The message JSON begins with its id (api__gen_message()), written as
 * the placeholder 0 until the positions are taken. */
#define ID_HEAD "{\"id\":0"
#define ID_AT (sizeof(ID_HEAD) - 2)

/* Builds the message JSON (status "sent") and the message.created payload
 * of every NEW send, with the placeholder id 0 (x->id_at in the payload,
 * ID_AT in the message JSON): the positions are taken by the statement
 * that stores them (store_pg_send_finish()), and splice_ids() puts them
 * in afterwards. */
static int build_payloads(struct pl_arena *a, struct store_send *const *s, unsigned n,
                          struct out_json *out)
{
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        struct store_send *x = s[i];
        if (x->outcome != STORE_SEND_NEW)
            continue;
        x->msg.id = 0;
        yajl_gen_reset(g, NULL);
        yajl_gen_clear(g);
        api__gen_message(g, &x->msg);
        const unsigned char *buf;
        size_t len;
        yajl_gen_get_buf(g, &buf, &len);
        if (len < sizeof(ID_HEAD) || memcmp(buf, ID_HEAD, sizeof(ID_HEAD) - 1) != 0) {
            rc = PL_EINTERNAL; /* api__gen_message() no longer starts with the id */
            break;
        }
        out[i].msg = pl_arena_memdup(a, buf, len);
        out[i].len = len;
        const char *head = x->e2e ? e2e_for(a, x->e2e) : "{";
        char *p = head ? pl_arena_sprintf(a, "%s\"conversation_id\":%" PRId64 ",\"message\":", head,
                                          x->conversation_id)
                       : NULL;
        x->id_at = p ? strlen(p) + ID_AT : 0;
        x->payload = p ? pl_arena_sprintf(a, "%s%.*s}", p, (int)len, (const char *)buf) : NULL;
        if (!out[i].msg || !x->payload)
            rc = PL_ENOMEM;
    }
    yajl_gen_free(g);
    return rc;
}

/* s replaced by its copy with the decimal id in place of the placeholder
 * 0 at byte at; NULL on OOM. */
static char *splice_id(struct pl_arena *a, const char *s, size_t len, size_t at, int64_t id,
                       size_t *out_len)
{
    char *r =
        pl_arena_sprintf(a, "%.*s%" PRId64 "%.*s", (int)at, s, id, (int)(len - at - 1), s + at + 1);
    if (r && out_len)
        *out_len = strlen(r);
    return r;
}

/* After the commit: every NEW send's position into its response body and
 * its payload, exactly as the stored event row has it. */
static int splice_ids(struct pl_arena *a, struct store_send *const *s, unsigned n,
                      struct out_json *out)
{
    for (unsigned i = 0; i < n; i++) {
        struct store_send *x = s[i];
        if (x->outcome != STORE_SEND_NEW)
            continue;
        out[i].msg = splice_id(a, out[i].msg, out[i].len, ID_AT, x->msg.id, &out[i].len);
        x->payload = splice_id(a, x->payload, strlen(x->payload), x->id_at, x->msg.id, NULL);
        if (!out[i].msg || !x->payload)
            return PL_ENOMEM;
    }
    return 0;
}

/* An e2e conversation takes only kind "e2e" (the handler already refused
 * "e2e" elsewhere, but only the writer's lock reads every conversation's
 * encryption without an extra round trip). */
static void reject_kinds(struct store_send *const *s, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        struct store_send *x = s[i];
        if (x->outcome == STORE_SEND_DUPLICATE && s[x->dup_of]->outcome == STORE_SEND_REJECTED) {
            x->outcome = STORE_SEND_REJECTED;
            x->rc = s[x->dup_of]->rc;
        }
        bool new = x->outcome == STORE_SEND_NEW || x->outcome == STORE_SEND_DUPLICATE;
        if (new && (x->e2e != NULL) != x->conv_e2e) {
            x->outcome = STORE_SEND_REJECTED;
            x->rc = PL_EFORBIDDEN;
        }
    }
}

/* The e2e rows of the batch's NEW sends (their foreign keys to the
 * messages are deferred) as store_pg_e2e_insert()'s JSON, in the arena;
 * *out stays NULL when there are none. */
static int e2e_rows(struct pl_arena *a, struct store_send *const *s, unsigned n, const char **out)
{
    size_t cap = 0;
    *out = NULL;
    for (unsigned i = 0; i < n; i++)
        if (s[i]->outcome == STORE_SEND_NEW && s[i]->e2e)
            cap += s[i]->e2e->bytes + (size_t)s[i]->e2e->n * 128;
    if (cap == 0)
        return 0;
    struct pl_buf ct;
    pl_buf_init(&ct, cap + 16);
    int rc = pl_buf_append(&ct, "[", 1);
    bool first = true;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        const struct store_send *x = s[i];
        if (x->outcome != STORE_SEND_NEW || !x->e2e)
            continue;
        for (unsigned k = 0; k < x->e2e->n && rc == 0; k++, first = false)
            rc = pl_buf_printf(&ct,
                               "%s{\"c\":%" PRId64 ",\"s\":%" PRId64 ",\"d\":%" PRId64
                               ",\"t\":\"%s\",\"x\":\"%s\"}",
                               first ? "" : ",", x->conversation_id, x->msg.seq,
                               x->e2e->r[k].device_id, x->e2e->r[k].type, x->e2e->r[k].ciphertext);
    }
    if (rc == 0)
        rc = pl_buf_append(&ct, "]", 1);
    if (rc == 0 && !(*out = pl_arena_strndup(a, pl_buf_head(&ct), ct.len)))
        rc = PL_ENOMEM;
    pl_buf_deinit(&ct);
    return rc;
}

/* One attempt at the batch's transaction: two round trips (see
 * storage/messages.h). The position lock is taken by the last one, which
 * also inserts and commits, so it is held for no round trip to us. */
static int run_tx(struct store_pg *pg, struct pl_arena *a, struct store_send *const *s, unsigned n,
                  struct out_json *out, unsigned *n_new)
{
    uint64_t first = 0;
    const char *e2e = NULL;
    *n_new = 0;
    int rc = store_pg_send_open(pg, a, s, n);
    if (rc == 0) {
        reject_kinds(s, n);
        rc = store_pg_send_assign(a, s, n, n_new);
    }
    if (rc == 0 && *n_new == 0) {
        rc = store_pg_tx_commit(pg); /* nothing new: nothing was written */
    } else if (rc == 0 && (rc = build_payloads(a, s, n, out)) == 0 &&
               (rc = e2e_rows(a, s, n, &e2e)) == 0) {
        /* PL_EUNAVAIL here means the outcome is unknown: the commit may
         * have happened. The senders get 503 and retry with the same
         * client_msg_id, and the idempotency check turns a retry of a
         * stored send into a 200 with the stored message, so nothing is
         * lost or doubled either way. Events that did commit reach live
         * streams through the hub's gap filling (or on resume), since we
         * do not publish them. */
        rc = store_pg_send_finish(pg, a, s, n, e2e, &first);
        if (rc == 0)
            return splice_ids(a, s, n, out); /* committed: no rollback */
    }
    if (rc < 0)
        store_pg_tx_rollback(pg);
    return rc;
}

static void publish(const struct api_env *env, struct store_send *const *s, unsigned n)
{
    if (!env->publish)
        return;
    for (unsigned i = 0; i < n; i++) {
        const struct store_send *x = s[i];
        if (x->outcome == STORE_SEND_NEW)
            env->publish(env->publish_ctx, (uint64_t)x->msg.id, "message.created", x->payload,
                         strlen(x->payload), x->audience, x->n_audience);
    }
}

/* Sets a rejected send's problem. */
static int reject(struct api_call *c, int rc)
{
    switch (rc) {
    case PL_ENOTFOUND: return api__conversation_not_found(c);
    case PL_EINVAL:
        api_errors_add(&c->errs, "/reply_to", "is not the seq of a message in this conversation");
        return api__fail_validation(c);
    case PL_EFORBIDDEN:
        return api__fail_field(c, "/kind", "an e2e conversation takes only kind \"e2e\"");
    case PL_ECONFLICT:
        api_problem_send(c->req, rc,
                         "this device already used client_msg_id for a message in another "
                         "conversation");
        return rc;
    default: return rc;
    }
}

/* Answers one send of a committed batch and completes its request. */
static void answer(struct api_worker *w, struct api_send *const *jobs, unsigned i,
                   const struct out_json *out)
{
    struct api_send *job = jobs[i];
    const struct store_send *x = &job->s;
    struct api_call c = {.req = job->req,
                         .w = w,
                         .env = w->env,
                         .a = http_req_arena(job->req),
                         .user_id = x->sender_id,
                         .device_id = x->sender_device_id};
    int rc = 0;
    if (x->outcome == STORE_SEND_NEW || x->outcome == STORE_SEND_DUPLICATE) {
        const struct out_json *o = &out[x->outcome == STORE_SEND_NEW ? i : x->dup_of];
        char *body = pl_arena_memdup(c.a, o->msg, o->len);
        if (body)
            http_resp_set(c.req, x->outcome == STORE_SEND_NEW ? 201 : 200, "application/json", body,
                          o->len);
        rc = body ? 0 : PL_ENOMEM;
    } else if (x->outcome == STORE_SEND_STORED) {
        yajl_gen g = api__gen_new();
        if (g)
            api__gen_message(g, &x->msg);
        rc = g ? api__reply_json(&c, 200, g) : PL_ENOMEM;
    } else if (x->blocked) {
        rc = api__blocked(&c);
    } else {
        rc = reject(&c, x->rc);
    }
    api__finish(&c, rc);
}

static void fail_all(struct api_worker *w, struct api_send *const *jobs, unsigned n, int rc)
{
    const char *detail = rc == PL_EUNAVAIL || rc == PL_ETIMEDOUT
                             ? "the message store did not answer; retry with the same "
                               "client_msg_id"
                             : NULL;
    for (unsigned i = 0; i < n; i++) {
        struct api_call c = {.req = jobs[i]->req, .w = w, .env = w->env};
        c.a = http_req_arena(c.req);
        api_problem_send(c.req, rc, detail);
        api__finish(&c, rc);
    }
}

/* Read-your-writes on the standby: the batch's position, noted for every
 * sender before any of them is acknowledged (one query per batch). */
static void note_writes(struct api_worker *w, struct api_send *const *jobs, unsigned n)
{
    if (!api_replica_enabled())
        return;
    uint64_t lsn = api__write_lsn(w);
    for (unsigned i = 0; i < n; i++)
        api_replica_note_write(jobs[i]->s.sender_id, lsn);
}

/* Commits jobs[0..n) in one transaction and answers them. */
static int commit_some(struct api_worker *w, struct api_send *const *jobs, unsigned n)
{
    uint64_t t0 = pl_now_us();
    struct pl_arena *a = pl_arena_new();
    struct store_send **s = a ? pl_arena_alloc(a, n * sizeof(*s)) : NULL;
    struct out_json *out = a ? pl_arena_zalloc(a, n * sizeof(*out)) : NULL;
    int rc = s && out ? 0 : PL_ENOMEM;
    unsigned n_new = 0;
    for (unsigned i = 0; i < n && rc == 0; i++)
        s[i] = &jobs[i]->s;
    for (int attempt = 0; rc == 0 && attempt < TX_ATTEMPTS; attempt++) {
        rc = run_tx(w->pg, a, s, n, out, &n_new);
        if (rc != PL_ECONFLICT || attempt + 1 == TX_ATTEMPTS)
            break;
        pl_log_warn("send batch of %u hit a concurrent insert; retrying", n);
        rc = 0;
    }
    if (rc < 0) {
        if (rc != PL_EUNAVAIL && rc != PL_ETIMEDOUT)
            pl_log_error("send batch of %u failed: %s", n, pl_strerror(rc));
        fail_all(w, jobs, n, rc);
    } else {
        note_writes(w, jobs, n);
        publish(w->env, s, n);
        for (unsigned i = 0; i < n; i++)
            answer(w, jobs, i, out);
        pl_log_debug("send batch: %u sends, %u new, %" PRIu64 " us", n, n_new, pl_now_us() - t0);
    }
    pl_arena_free(a);
    return rc;
}

/* What a send adds to the statements' parameters (see TX_TEXT_BYTES); an
 * e2e send's ciphertexts travel twice too (rows and payload). */
static size_t send_bytes(const struct store_send *s)
{
    return strlen(s->body) + (s->e2e ? s->e2e->bytes : 0);
}

int64_t api_send_conversation(const struct api_send *job)
{
    return job->s.conversation_id;
}

int api_send_commit(struct api_worker *w, struct api_send *const *jobs, unsigned n)
{
    int rc = 0;
    for (unsigned i = 0, k; i < n; i += k) {
        size_t bytes = send_bytes(&jobs[i]->s);
        for (k = 1; i + k < n; k++) {
            size_t more = send_bytes(&jobs[i + k]->s);
            if (bytes + more > TX_TEXT_BYTES)
                break;
            bytes += more;
        }
        int r = commit_some(w, jobs + i, k);
        rc = r < 0 ? r : rc;
    }
    return rc;
}
