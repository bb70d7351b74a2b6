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

/* The audience is read inside the transaction, after the handler's own
 * writes, so it reflects the membership this event leaves behind: a new
 * member sees its member.added, a removed one gets its member.removed as
 * the event's target. */
static int audience(struct api_call *c, struct api_emit_event *ev)
{
    int64_t *ids = NULL;
    unsigned n = 0;
    if (ev->conversation_id) {
        int rc = store_pg_member_ids(c->w->pg, c->a, ev->conversation_id, &ids, &n);
        if (rc < 0)
            return rc;
    }
    bool have_target = !ev->target_user_id;
    for (unsigned i = 0; i < n && !have_target; i++)
        have_target = ids[i] == ev->target_user_id;
    if (!have_target) {
        int64_t *more = pl_arena_alloc(c->a, (n + 1) * sizeof(*more));
        if (!more)
            return PL_ENOMEM;
        if (n)
            memcpy(more, ids, n * sizeof(*more));
        more[n++] = ev->target_user_id;
        ids = more;
    }
    ev->users = ids;
    ev->n_users = n;
    return 0;
}

/* The rows for store_pg_events_insert() of every event of em[0..n_em),
 * numbered in that order, in the arena; NULL on OOM. */
static const char *rows_json(struct api_call *c, const struct api_emit *em, unsigned n_em)
{
    yajl_gen g = api__gen_new();
    if (!g)
        return NULL;
    yajl_gen_array_open(g);
    unsigned k = 0;
    for (unsigned j = 0; j < n_em; j++)
        for (unsigned i = 0; i < em[j].n; i++) {
            const struct api_emit_event *ev = &em[j].ev[i];
            yajl_gen_map_open(g);
            api__gen_int(g, "i", k++);
            api__gen_int(g, "c", ev->conversation_id);
            api__gen_int(g, "t", ev->target_user_id);
            api__gen_str(g, "y", ev->type);
            api__gen_key(g, "p");
            yajl_gen_number(g, ev->payload, strlen(ev->payload)); /* our own JSON, spliced */
            yajl_gen_map_close(g);
        }
    yajl_gen_array_close(g);
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    const char *out = pl_arena_strndup(c->a, (const char *)buf, len);
    yajl_gen_free(g);
    return out;
}

int api__emit_store(struct api_call *c, struct api_emit *e)
{
    return api__emit_store_all(c, e, 1);
}

int api__emit_store_all(struct api_call *c, struct api_emit *em, unsigned n_em)
{
    /* Audiences and the row text are prepared before the positions are
     * taken: from then on every node's writers wait on us, so the lock is
     * held for exactly two statements and the commit, however many events
     * (a batch of receipts stores all of its events at once). */
    unsigned total = 0;
    for (unsigned j = 0; j < n_em; j++)
        for (unsigned i = 0; i < em[j].n; i++, total++) {
            int rc = audience(c, &em[j].ev[i]);
            if (rc < 0)
                return rc;
        }
    if (total == 0)
        return 0;
    const char *rows = rows_json(c, em, n_em);
    if (!rows)
        return PL_ENOMEM;
    uint64_t first;
    int rc = store_pg_positions_take(c->w->pg, total, &first);
    if (rc < 0)
        return rc;
    uint64_t pos = first;
    for (unsigned j = 0; j < n_em; j++)
        for (unsigned i = 0; i < em[j].n; i++)
            em[j].ev[i].pos = pos++;
    return store_pg_events_insert(c->w->pg, first, rows);
}

void api__emit_publish(struct api_call *c, const struct api_emit *e)
{
    for (unsigned i = 0; i < e->n; i++) {
        const struct api_emit_event *ev = &e->ev[i];
        c->env->publish(c->env->publish_ctx, ev->pos, ev->type, ev->payload, strlen(ev->payload),
                        ev->users, ev->n_users);
    }
}
