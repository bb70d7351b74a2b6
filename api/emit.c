/* SPDX-License-Identifier: MIT */
/* Parley - persisting events in a handler's transaction, then publishing. */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/events.h"

#include <string.h>

int api__emit(struct api_emit *e, const char *type, int64_t conversation_id, int64_t target_user_id,
              const char *payload)
{
    if (e->n == API_EMIT_MAX)
        return PL_ENOMEM;
    e->ev[e->n++] = (struct api_emit_event){.type = type,
                                            .payload = payload,
                                            .conversation_id = conversation_id,
                                            .target_user_id = target_user_id};
    return 0;
}

/* Sets the event's audience: ids[0..n) (shared by the events of one
 * conversation, never written), plus its target unless it is there. */
static int add_target(struct api_call *c, struct api_emit_event *ev, int64_t *ids, unsigned n)
{
    bool have_target = !ev->target_user_id;
    for (unsigned i = 0; i < n && !have_target; i++)
        have_target = ids[i] == ev->target_user_id;
    int64_t *all = ids;
    if (!have_target) {
        if (!(all = pl_arena_alloc(c->a, (n + 1) * sizeof(*all))))
            return PL_ENOMEM;
        if (n)
            memcpy(all, ids, n * sizeof(*all));
        all[n++] = ev->target_user_id;
    }
    ev->users = all;
    ev->n_users = n;
    return 0;
}

/* conv's index in convs[0..n), or n. */
static unsigned slot(const int64_t *convs, unsigned n, int64_t conv)
{
    unsigned k = 0;
    while (k < n && convs[k] != conv)
        k++;
    return k;
}

/* Every event's audience, read with one statement for all the
 * conversations of em[0..n_em) (a batch of receipts emits several events
 * per conversation). It is read inside the transaction, after the
 * handler's own writes, so it reflects the membership the event leaves
 * behind: a new member sees its member.added, a removed one gets its
 * member.removed as the event's target. */
static int audiences(struct api_call *c, struct api_emit *em, unsigned n_em, unsigned total)
{
    int64_t *convs = pl_arena_alloc(c->a, total * sizeof(*convs));
    int64_t **ids = pl_arena_alloc(c->a, total * sizeof(*ids));
    unsigned *n_ids = pl_arena_alloc(c->a, total * sizeof(*n_ids)), n_convs = 0;
    if (!convs || !ids || !n_ids)
        return PL_ENOMEM;
    for (unsigned j = 0; j < n_em; j++)
        for (unsigned i = 0; i < em[j].n; i++) {
            int64_t conv = em[j].ev[i].conversation_id;
            if (conv && slot(convs, n_convs, conv) == n_convs)
                convs[n_convs++] = conv;
        }
    int rc = n_convs ? store_pg_member_ids_many(c->w->pg, c->a, convs, n_convs, ids, n_ids) : 0;
    for (unsigned j = 0; j < n_em && rc == 0; j++)
        for (unsigned i = 0; i < em[j].n && rc == 0; i++) {
            struct api_emit_event *ev = &em[j].ev[i];
            unsigned k = slot(convs, n_convs, ev->conversation_id);
            rc = k < n_convs ? add_target(c, ev, ids[k], n_ids[k]) : add_target(c, ev, NULL, 0);
        }
    return rc;
}

/* The rows for store_pg_events_append() of every event of em[0..n_em),
 * in that order, in the arena; NULL on OOM. */
static struct store_event_row *event_rows(struct api_call *c, const struct api_emit *em,
                                          unsigned n_em, unsigned total)
{
    struct store_event_row *rows = pl_arena_alloc(c->a, total * sizeof(*rows));
    unsigned k = 0;
    for (unsigned j = 0; j < n_em && rows; j++)
        for (unsigned i = 0; i < em[j].n; i++) {
            const struct api_emit_event *ev = &em[j].ev[i];
            rows[k++] = (struct store_event_row){.conversation_id = ev->conversation_id,
                                                 .target_user_id = ev->target_user_id,
                                                 .type = ev->type,
                                                 .payload = ev->payload};
        }
    return rows;
}

int api__emit_store(struct api_call *c, struct api_emit *e)
{
    return api__emit_store_all(c, e, 1);
}

int api__emit_store_all(struct api_call *c, struct api_emit *em, unsigned n_em)
{
    /* Audiences and the row text are prepared before the positions are
     * taken: from then on every node's writers wait on us, so the lock is
     * held for one statement and the commit, however many events (a batch
     * of receipts stores all of its events at once). */
    unsigned total = 0;
    for (unsigned j = 0; j < n_em; j++)
        total += em[j].n;
    if (total == 0)
        return 0;
    int rc = audiences(c, em, n_em, total);
    if (rc < 0)
        return rc;
    const struct store_event_row *rows = event_rows(c, em, n_em, total);
    if (!rows)
        return PL_ENOMEM;
    uint64_t pos;
    if ((rc = store_pg_events_append(c->w->pg, rows, total, &pos)) < 0)
        return rc;
    for (unsigned j = 0; j < n_em; j++)
        for (unsigned i = 0; i < em[j].n; i++)
            em[j].ev[i].pos = pos++;
    return 0;
}

void api__emit_publish(struct api_call *c, const struct api_emit *e)
{
    for (unsigned i = 0; i < e->n; i++) {
        const struct api_emit_event *ev = &e->ev[i];
        c->env->publish(c->env->publish_ctx, ev->pos, ev->type, ev->payload, strlen(ev->payload),
                        ev->users, ev->n_users);
    }
}
