/* SPDX-License-Identifier: MIT */
/* Parley - presence (online / last seen) and typing indicators.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/blocks.h"

#include "storage/events.h"
#include "storage/presence.h"

#include "common/ids.h"
#include "common/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

PL_LOG_TOPIC("presence");

#define TYPING_TTL_MS 5000
#define SWEEP_MAX 1024
/* The durable last seen (PostgreSQL) is written on each transition and
 * refreshed at most once a minute while a user stays online, so a crash or
 * a Redis restart loses at most a minute of it. */
#define SEEN_REFRESH_MS 60000
/* How often a node's presence tick offers its online users for that
 * refresh; the SQL skips the rows refreshed less than a minute ago. */
#define SEEN_SWEEP_MS 30000

/* RFC 3339 UTC with milliseconds. */
static void format_ms(uint64_t ms, char out[48])
{
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(out, 48, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
}

static void gen_presence(yajl_gen g, int64_t user, const char *status, int online,
                         const char *last_seen)
{
    yajl_gen_map_open(g);
    api__gen_int(g, "user_id", user);
    api__gen_str(g, "status", status);
    api__gen_key(g, "online");
    if (online < 0)
        yajl_gen_null(g);
    else
        yajl_gen_bool(g, online);
    api__gen_key(g, "last_seen");
    if (last_seen)
        yajl_gen_string(g, (const unsigned char *)last_seen, strlen(last_seen));
    else
        yajl_gen_null(g);
    yajl_gen_map_close(g);
}

/* For /metrics and bench/: transitions announced, and subscribed devices
 * they were sent to (after privacy), across this node's workers. */
static _Atomic uint64_t n_transitions, n_audience;

void api_presence_counters(uint64_t *transitions, uint64_t *audience)
{
    *transitions = atomic_load_explicit(&n_transitions, memory_order_relaxed);
    *audience = atomic_load_explicit(&n_audience, memory_order_relaxed);
}

static int cmp_node(const void *a, const void *b)
{
    return strcmp(((const struct store_psub *)a)->node, ((const struct store_psub *)b)->node);
}

/* The subscribers of user whom its privacy setting allows to see it
 * (store_pg_presence_viewers), sorted by node. */
static int audience(struct api_worker *w, struct pl_arena *a, int64_t user,
                    struct store_psub **subs, unsigned *n)
{
    int rc = store_redis_psub_audience(w->redis, a, user, pl_wall_ms(), subs, n);
    if (rc < 0 || *n == 0)
        return rc;
    int64_t *viewers = pl_arena_alloc(a, *n * sizeof(*viewers)), *allowed;
    unsigned n_allowed, k = 0;
    if (!viewers)
        return PL_ENOMEM;
    for (unsigned i = 0; i < *n; i++)
        viewers[i] = (*subs)[i].user;
    qsort(viewers, *n, sizeof(*viewers), pl_ids_cmp);
    unsigned nv = pl_ids_unique(viewers, *n, 0);
    if ((rc = store_pg_presence_viewers(w->pg, a, user, viewers, nv, &allowed, &n_allowed)) < 0)
        return rc;
    qsort(allowed, n_allowed, sizeof(*allowed), pl_ids_cmp);
    for (unsigned i = 0; i < *n; i++)
        if (n_allowed &&
            bsearch(&(*subs)[i].user, allowed, n_allowed, sizeof(*allowed), pl_ids_cmp))
            (*subs)[k++] = (*subs)[i];
    *n = k;
    qsort(*subs, *n, sizeof(**subs), cmp_node);
    return 0;
}

/* Tells the devices subscribed to user (and allowed to see it) that it
 * came online or went offline: one hand-over per node holding such a
 * device, none for nodes without. Only transitions are announced (the
 * sweeper and ZADD decide them once per deployment). Group membership
 * alone no longer means delivery: a client subscribes to the users it
 * shows (PUT /v1/presence/subscriptions). */
static void announce(struct api_worker *w, int64_t user, bool online, uint64_t hb_ms)
{
    struct pl_arena *a = pl_arena_new();
    struct store_psub *subs;
    unsigned n = 0;
    atomic_fetch_add_explicit(&n_transitions, 1, memory_order_relaxed);
    int rc = a ? audience(w, a, user, &subs, &n) : PL_ENOMEM;
    pl_log_debug("user %lld %s: %u subscribed devices (%s)", (long long)user,
                 online ? "online" : "offline", n, rc < 0 ? pl_strerror(rc) : "ok");
    if (rc < 0 || n == 0) {
        pl_arena_free(a);
        return;
    }
    atomic_fetch_add_explicit(&n_audience, n, memory_order_relaxed);
    int64_t *users = pl_arena_alloc(a, n * sizeof(*users));
    int64_t *devices = pl_arena_alloc(a, n * sizeof(*devices));
    yajl_gen g = users && devices ? api__gen_new() : NULL;
    if (g) {
        /* Every recipient may see both fields: the setting chose them. */
        char seen[48];
        format_ms(hb_ms, seen);
        gen_presence(g, user, online ? "online" : "offline", online, seen);
        const unsigned char *buf;
        size_t len;
        yajl_gen_get_buf(g, &buf, &len);
        for (unsigned i = 0, j; i < n; i = j) {
            for (j = i; j < n && strcmp(subs[j].node, subs[i].node) == 0; j++) {
                users[j - i] = subs[j].user;
                devices[j - i] = subs[j].device;
            }
            w->env->presence_send(w->env->presence_ctx, subs[i].node, (const char *)buf, len, users,
                                  devices, j - i);
        }
        yajl_gen_free(g);
    }
    pl_arena_free(a);
}

/* Writes the durable last seen; a failure only costs freshness. */
static void seen_save(struct api_worker *w, const int64_t *users, unsigned n, uint64_t ms,
                      uint64_t min_age_ms)
{
    for (unsigned off = 0; off < n; off += 4096)
        if (store_pg_last_seen_save(w->pg, users + off, PL_MIN(4096u, n - off), ms, min_age_ms) <
            0) {
            pl_log_warn("could not save last seen of %u users", n);
            return;
        }
}

bool api__presence_touch(struct api_worker *w, int64_t user)
{
    bool came_online = false;
    uint64_t now = pl_wall_ms();
    if (store_redis_presence_touch(w->redis, &user, 1, w->env->node_id, now, &came_online) < 0)
        return false; /* Redis down: presence is "unknown" until it is back */
    /* Coming online is a transition: written at once. While the user
     * stays online, the tick's sweep (streams) or the heartbeats refresh
     * it, so a stream that opens while another is open costs no write. */
    if (came_online) {
        seen_save(w, &user, 1, now, 0);
        announce(w, user, true, now);
    }
    return came_online;
}

void api__presence_touch_many(struct api_worker *w, const int64_t *users, unsigned n)
{
    bool *came = calloc(n ? n : 1, sizeof(*came));
    int64_t *u = malloc((n ? n : 1) * sizeof(*u)), *up = malloc((n ? n : 1) * sizeof(*up));
    uint64_t now = pl_wall_ms();
    unsigned m = 0, k = 0;
    /* Each user once (a batch is small: a quadratic scan is fine), so one
     * coming online is announced once. */
    for (unsigned i = 0, j; u && i < n; i++) {
        for (j = 0; j < m && u[j] != users[i]; j++)
            ;
        if (j == m)
            u[m++] = users[i];
    }
    for (unsigned off = 0; came && u && up && off < m; off += 4096)
        if (store_redis_presence_touch(w->redis, u + off, PL_MIN(4096u, m - off), w->env->node_id,
                                       now, came + off) < 0)
            break; /* Redis down: presence is "unknown" until it is back */
    for (unsigned i = 0; came && u && up && i < m; i++)
        if (came[i])
            up[k++] = u[i];
    if (k)
        seen_save(w, up, k, now, 0);
    for (unsigned i = 0; i < k; i++)
        announce(w, up[i], true, now);
    free(came);
    free(u);
    free(up);
}

/* True once per SEEN_SWEEP_MS for the whole process, whichever worker
 * runs the tick. */
static bool seen_sweep_due(uint64_t now)
{
    static _Atomic uint64_t last;
    uint64_t prev = atomic_load_explicit(&last, memory_order_relaxed);
    return now - prev >= SEEN_SWEEP_MS &&
           atomic_compare_exchange_strong_explicit(&last, &prev, now, memory_order_relaxed,
                                                   memory_order_relaxed);
}

void api_presence_tick(struct api_worker *w, const int64_t *users, unsigned n)
{
    uint64_t now = pl_wall_ms();
    bool *came = calloc(n ? n : 1, sizeof(*came));
    if (!came)
        return;
    for (unsigned off = 0; off < n; off += 4096) {
        unsigned k = PL_MIN(4096u, n - off);
        if (store_redis_presence_touch(w->redis, users + off, k, w->env->node_id, now, came + off) <
            0)
            break;
    }
    bool sweep = seen_sweep_due(now);
    for (unsigned i = 0; i < n; i++)
        if (came[i]) {
            if (!sweep)
                seen_save(w, &users[i], 1, now, 0);
            announce(w, users[i], true, now);
        }
    free(came);
    /* One statement per 4096 users refreshes those not written for a
     * minute (the ones that just came online included). */
    if (sweep)
        seen_save(w, users, n, now, SEEN_REFRESH_MS);
    int64_t gone[SWEEP_MAX];
    uint64_t hb[SWEEP_MAX];
    unsigned n_gone = 0;
    uint64_t cutoff = now - (uint64_t)w->env->cfg->presence_timeout_s * 1000;
    if (store_redis_presence_expire(w->redis, cutoff, gone, hb, SWEEP_MAX, &n_gone) < 0)
        return;
    for (unsigned i = 0; i < n_gone; i++) {
        seen_save(w, &gone[i], 1, hb[i], 0);
        announce(w, gone[i], false, hb[i]);
    }
}

int api__gen_presence(struct api_call *c, yajl_gen g, int64_t user)
{
    bool visible = false;
    int rc = store_pg_last_seen_visible(c->w->pg, c->user_id, user, &visible);
    if (rc < 0)
        return rc;
    if (!visible) {
        /* The setting covers every field: not even whether the user is
         * online (issue 9, item 14), and no Redis read to leak timing. */
        gen_presence(g, user, "hidden", -1, NULL);
        return 0;
    }
    uint64_t hb = 0, durable = 0;
    rc = store_redis_presence_get(c->w->redis, user, &hb);
    /* Redis lost the user (restarted) or is down: the durable copy still
     * knows when they were last seen. */
    if (rc < 0 && store_pg_last_seen_get(c->w->pg, user, &durable) < 0)
        durable = 0;
    char seen[48];
    if (durable)
        format_ms(durable, seen);
    if (rc == PL_ENOTFOUND) {
        gen_presence(g, user, "offline", 0, durable ? seen : NULL);
    } else if (rc < 0) {
        /* Redis down: say we do not know rather than failing the call. */
        gen_presence(g, user, "unknown", -1, durable ? seen : NULL);
    } else {
        bool online = pl_wall_ms() - hb < (uint64_t)c->env->cfg->presence_timeout_s * 1000;
        format_ms(hb, seen);
        gen_presence(g, user, online ? "online" : "offline", online, seen);
    }
    return 0;
}

int api_presence_get(struct api_call *c)
{
    int64_t user;
    /* PL_ENOTFOUND for unknown users comes from the lookup. */
    int rc = api__resolve_user(c, http_req_param(c->req, 0), &user);
    if (rc < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    if ((rc = api__gen_presence(c, g, user)) < 0) {
        yajl_gen_free(g);
        return rc;
    }
    return api__reply_json(c, 200, g);
}

void api__gen_presence_hb(struct api_call *c, yajl_gen g, int64_t user, uint64_t hb_ms)
{
    char seen[48];
    if (hb_ms == UINT64_MAX) {
        gen_presence(g, user, "unknown", -1, NULL);
    } else if (hb_ms == 0) {
        gen_presence(g, user, "offline", 0, NULL);
    } else {
        bool online = pl_wall_ms() - hb_ms < (uint64_t)c->env->cfg->presence_timeout_s * 1000;
        format_ms(hb_ms, seen);
        gen_presence(g, user, online ? "online" : "offline", online, seen);
    }
}

void api__gen_presence_hidden(yajl_gen g, int64_t user)
{
    gen_presence(g, user, "hidden", -1, NULL);
}

void api__format_ms(uint64_t ms, char out[48])
{
    format_ms(ms, out);
}

/* One device's catch-up: the state of each of its targets it may see,
 * sent to it alone on this node. */
static int resync_device(struct api_worker *w, struct pl_arena *a, int64_t user, int64_t device)
{
    int64_t *targets;
    unsigned n = 0, k = 0;
    uint64_t exp;
    int rc = store_redis_psub_get(w->redis, a, device, &targets, &n, &exp);
    if (rc < 0 || n == 0)
        return rc;
    /* Privacy first (PostgreSQL), so the state read below is handed over
     * at once: a transition announced just after it then arrives after. */
    for (unsigned i = 0; i < n; i++) {
        int64_t *allowed;
        unsigned n_allowed = 0;
        rc = store_pg_presence_viewers(w->pg, a, targets[i], &user, 1, &allowed, &n_allowed);
        if (rc < 0 && rc != PL_ENOTFOUND)
            return rc;
        if (rc == 0 && n_allowed)
            targets[k++] = targets[i]; /* else gone, or hidden from this viewer */
    }
    uint64_t *hb = pl_arena_alloc(a, (k ? k : 1) * sizeof(*hb));
    bool *listed = pl_arena_alloc(a, (k ? k : 1) * sizeof(*listed));
    if (!hb || !listed)
        return PL_ENOMEM;
    /* The state transitions start from (listed in the heartbeat set), not
     * the heartbeat's age: a stale entry the sweeper has yet to remove is
     * still "online", and its removal will be announced as a transition;
     * telling "offline" now would leave the next "online" unannounced. */
    if (k && (rc = store_redis_presence_listed_many(w->redis, targets, k, hb, listed)) < 0)
        return rc;
    for (unsigned i = 0; i < k; i++) {
        /* Redis lost the user (restarted): the durable last seen; never
         * seen at all: nothing to tell beyond the subscription's answer. */
        uint64_t ms = hb[i];
        if (!ms && store_pg_last_seen_get(w->pg, targets[i], &ms) < 0)
            ms = 0;
        if (!ms)
            continue;
        yajl_gen g = api__gen_new();
        if (!g)
            return PL_ENOMEM;
        char seen[48];
        format_ms(ms, seen);
        gen_presence(g, targets[i], listed[i] ? "online" : "offline", listed[i], seen);
        const unsigned char *buf;
        size_t len;
        yajl_gen_get_buf(g, &buf, &len);
        w->env->presence_send(w->env->presence_ctx, w->env->node_id, (const char *)buf, len, &user,
                              &device, 1);
        yajl_gen_free(g);
    }
    return 0;
}

int api_presence_resync(struct api_worker *w, const int64_t *users, const int64_t *devices,
                        unsigned n)
{
    unsigned sent = 0;
    for (unsigned i = 0; i < n; i++) {
        struct pl_arena *a = pl_arena_new();
        int rc = a ? resync_device(w, a, users[i], devices[i]) : PL_ENOMEM;
        pl_arena_free(a);
        if (rc < 0) {
            pl_log_debug("presence catch-up stopped after %u of %u devices: %s", sent, n,
                         pl_strerror(rc));
            return PL_EUNAVAIL;
        }
        sent++;
    }
    pl_log_info("presence caught up for %u devices after the channel was made again", n);
    return 0;
}

void api_presence_streams_closed(struct api_worker *w, const int64_t *devices, unsigned n)
{
    unsigned cleared = 0;
    if (n &&
        store_redis_psub_streams_closed(w->redis, w->env->node_id, devices, n, &cleared) == 0 &&
        cleared)
        pl_log_debug("%u devices without streams left lost their presence subscriptions", cleared);
}

int api_presence_heartbeat(struct api_call *c)
{
    /* A heartbeat-only client has no stream for the tick to refresh: its
     * heartbeats refresh the durable copy, at most once a minute. */
    if (!api__presence_touch(c->w, c->user_id))
        seen_save(c->w, &c->user_id, 1, pl_wall_ms(), SEEN_REFRESH_MS);
    api__reply_raw(c, 204, NULL, "", 0);
    return 0;
}

/* Typing is ephemeral: no position, not stored, relayed to the other
 * members' streams only; clients drop it after expires_in_ms. */
int api_typing_post(struct api_call *c)
{
    int64_t conv;
    int rc = api__conversation_id(c, &conv);
    if (rc < 0)
        return rc;
    int64_t *ids;
    unsigned n;
    if ((rc = store_pg_member_ids(c->w->pg, c->a, conv, &ids, &n)) < 0)
        return rc;
    /* The member list doubles as the membership check. */
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++)
        if (ids[i] != c->user_id)
            ids[k++] = ids[i];
    if (k == n)
        return api__conversation_not_found(c);
    /* In a large group typing is noise that costs every member a wake-up:
     * not sent (the call still succeeds, so clients need no special case). */
    bool allowed = n <= c->env->cfg->typing_max_members;
    /* A client repeats the call while the user types; one event per
     * interval is enough (it lasts TYPING_TTL_MS). Redis down: send. */
    if (allowed && store_redis_typing_allow(c->w->redis, conv, c->user_id,
                                            c->env->cfg->typing_interval_ms, &allowed) < 0)
        allowed = true;
    if (!allowed) {
        api__reply_raw(c, 204, NULL, "", 0);
        return 0;
    }
    /* Users the typist blocked see nothing of it (issue 12). */
    if ((rc = store_pg_blocks_exclude(c->w->pg, c->a, c->user_id, ids, k, &ids, &k)) < 0)
        return rc;
    const char *json =
        pl_arena_sprintf(c->a, "{\"conversation_id\":%lld,\"user_id\":%lld,\"expires_in_ms\":%d}",
                         (long long)conv, (long long)c->user_id, TYPING_TTL_MS);
    if (!json)
        return PL_ENOMEM;
    c->env->publish(c->env->publish_ctx, 0, "typing", json, strlen(json), ids, k);
    api__reply_raw(c, 204, NULL, "", 0);
    return 0;
}
