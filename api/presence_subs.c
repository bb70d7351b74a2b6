/* SPDX-License-Identifier: MIT */
/* Parley - /v1/presence/subscriptions: whose presence a device watches. */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/presence.h"

#include "common/ids.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A device (the caller's session) says whose presence it shows; only those
 * users' transitions reach its streams, so presence costs what people look
 * at instead of the square of a group's size. PUT replaces the set; the set
 * ends after presence_subscription_ttl or when the device's last event
 * stream closes, whichever comes first, so a client subscribes again after
 * it reconnects (the `ready` event is the moment).
 */

/* The set and the current presence of each of its users, under their
 * privacy settings (hidden users: status "hidden", nothing else). */
static int reply_set(struct api_call *c, int status, const int64_t *ids, unsigned n,
                     uint64_t expires_ms)
{
    uint64_t *hb = pl_arena_alloc(c->a, (n ? n : 1) * sizeof(*hb));
    int64_t *shown = NULL;
    unsigned n_shown = 0;
    if (!hb)
        return PL_ENOMEM;
    /* ids is sorted, and so is what comes back once sorted. */
    int rc = store_pg_presence_shown(c->w->pg, c->a, c->user_id, ids, n, &shown, &n_shown);
    if (rc < 0)
        return rc;
    if (n_shown)
        qsort(shown, n_shown, sizeof(*shown), pl_ids_cmp);
    rc = store_redis_presence_get_many(c->w->redis, ids, n, hb);
    for (unsigned i = 0; rc < 0 && i < n; i++)
        hb[i] = UINT64_MAX; /* Redis down: unknown */
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    char exp[48];
    api__format_ms(expires_ms, exp);
    yajl_gen_map_open(g);
    api__gen_key(g, "users");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < n; i++)
        yajl_gen_integer(g, ids[i]);
    yajl_gen_array_close(g);
    api__gen_key(g, "expires_at");
    if (n)
        yajl_gen_string(g, (const unsigned char *)exp, strlen(exp));
    else
        yajl_gen_null(g);
    api__gen_key(g, "presence");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < n; i++) {
        if (n_shown && bsearch(&ids[i], shown, n_shown, sizeof(*shown), pl_ids_cmp))
            api__gen_presence_hb(c, g, ids[i], hb[i]);
        else
            api__gen_presence_hidden(g, ids[i]);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return api__reply_json(c, status, g);
}

/* users[]: ids or usernames, resolved in one query; unknown ones are 422. */
static int resolve(struct api_call *c, const struct api_json *arr, int64_t **ids, unsigned *n)
{
    unsigned max = c->env->cfg->presence_subs_max;
    if (!arr || arr->type != API_JSON_ARRAY)
        return api__fail_field(c, "/users", "must be an array of user ids or usernames");
    if (arr->n > max)
        return api__fail_field(
            c, "/users", pl_arena_sprintf(c->a, "a device may subscribe to at most %u users", max));
    const char **refs = pl_arena_alloc(c->a, (arr->n ? arr->n : 1) * sizeof(*refs));
    *ids = pl_arena_alloc(c->a, (arr->n ? arr->n : 1) * sizeof(**ids));
    if (!refs || !*ids)
        return PL_ENOMEM;
    unsigned i = 0;
    for (const struct api_json *v = arr->first; v; v = v->next, i++) {
        int64_t id;
        refs[i] = NULL;
        if (v->type == API_JSON_STRING && strlen(v->str) == v->len)
            refs[i] = v->str;
        else if (api_json_int(v, &id) && id > 0)
            refs[i] = pl_arena_sprintf(c->a, "%" PRId64, id);
        if (!refs[i])
            api_errors_add(&c->errs, pl_arena_sprintf(c->a, "/users/%u", i),
                           "must be a user id or a username");
    }
    if (c->errs.n)
        return api__fail_validation(c);
    int rc = arr->n ? api__resolve_users(c, refs, arr->n, *ids) : 0;
    for (i = 0; rc == 0 && i < arr->n; i++)
        if ((*ids)[i] == 0)
            api_errors_add(&c->errs, pl_arena_sprintf(c->a, "/users/%u", i), "no such user");
    if (rc < 0)
        return rc;
    if (c->errs.n)
        return api__fail_validation(c);
    qsort(*ids, arr->n, sizeof(**ids), pl_ids_cmp);
    *n = pl_ids_unique(*ids, arr->n, 0);
    return 0;
}

int api_presence_subs_put(struct api_call *c)
{
    const struct api_json *users = NULL;
    const struct api_field fields[] = {{"users", API_FIELD_ANY, true, &users}};
    int rc = api__bind_body(c, fields, PL_ARRAY_LEN(fields));
    if (rc < 0)
        return rc;
    if (c->errs.n)
        return api__fail_validation(c);
    int64_t *ids = NULL;
    unsigned n = 0;
    if ((rc = resolve(c, users, &ids, &n)) < 0)
        return rc;
    uint64_t now = pl_wall_ms();
    uint64_t exp = now + (uint64_t)c->env->cfg->presence_sub_ttl_s * 1000;
    if ((rc = store_redis_psub_set(c->w->redis, c->user_id, c->device_id, now, exp, ids, n)) < 0)
        return rc;
    return reply_set(c, 200, ids, n, exp);
}

int api_presence_subs_get(struct api_call *c)
{
    int64_t *ids;
    unsigned n;
    uint64_t exp;
    int rc = store_redis_psub_get(c->w->redis, c->a, c->device_id, &ids, &n, &exp);
    if (rc < 0)
        return rc;
    return reply_set(c, 200, ids, n, exp);
}

int api_presence_subs_delete(struct api_call *c)
{
    int rc = store_redis_psub_clear(c->w->redis, c->user_id, c->device_id);
    if (rc < 0)
        return rc;
    api__reply_raw(c, 204, NULL, "", 0);
    return 0;
}
