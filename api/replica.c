/* SPDX-License-Identifier: MIT */
/* Parley - which reads a hot standby may serve (read-your-writes).     */
/* Copyright (c) 2026 Parley developers                                 */
#include "replica.h"
#include "api_int.h"

#include "storage/replica.h"

#include <stdatomic.h>

static atomic_bool enabled;
static _Atomic uint64_t standby_lsn;
static _Atomic uint64_t slots[API_REPLICA_SLOTS];
/* A write whose position could not be read (the primary's connection broke
 * right after the commit) marks its slot UNKNOWN_LSN. Such a slot allows
 * the standby once a poll that began after the last such write found the
 * standby caught up with the primary (see api_replica_caught_up()). */
#define UNKNOWN_LSN UINT64_MAX
static _Atomic uint64_t unknown_at_ms, caught_up_ms;
/* Per slot, the largest stream position delivered to its users here; the
 * standby's replayed stream position; when routing was turned on. */
static _Atomic uint64_t seen[API_REPLICA_SLOTS];
static _Atomic uint64_t standby_pos, enabled_ms;
static atomic_uint_fast64_t n_standby, n_primary, n_fallback;

void api_replica_enable(bool on)
{
    if (on)
        atomic_store(&enabled_ms, pl_now_us() / 1000);
    atomic_store(&enabled, on);
}

bool api_replica_enabled(void)
{
    return atomic_load_explicit(&enabled, memory_order_relaxed);
}

void api_replica_standby_set(uint64_t replay_lsn)
{
    atomic_store(&standby_lsn, replay_lsn);
}

uint64_t api_replica_standby_lsn(void)
{
    return atomic_load(&standby_lsn);
}

void api_replica_standby_pos_set(uint64_t pos)
{
    atomic_store(&standby_pos, pos);
}

/* Fibonacci hashing: consecutive ids spread over the table. */
static size_t slot_of(int64_t user)
{
    return (size_t)(((uint64_t)user * 0x9E3779B97F4A7C15ull) >> 48);
}

static _Atomic uint64_t *slot(int64_t user)
{
    return &slots[slot_of(user)];
}

/* Raises *s to v unless it is already there. */
static void raise_to(_Atomic uint64_t *s, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(s, memory_order_relaxed);
    while (cur < v && !atomic_compare_exchange_weak(s, &cur, v)) {
    }
}

void api_replica_note_seen(uint64_t pos, const int64_t *users, unsigned n)
{
    if (!api_replica_enabled())
        return;
    for (unsigned i = 0; i < n; i++)
        raise_to(&seen[slot_of(users[i])], pos);
}

static bool unknown_resolved(void)
{
    return atomic_load(&caught_up_ms) > atomic_load(&unknown_at_ms);
}

void api_replica_note_write(int64_t user, uint64_t lsn)
{
    _Atomic uint64_t *s = slot(user);
    uint64_t cur = atomic_load(s);
    for (;;) {
        /* An unknown position that a catch-up has since covered gives way
         * to a known one; otherwise a slot only grows. */
        bool stale = cur == UNKNOWN_LSN && lsn != UNKNOWN_LSN && unknown_resolved();
        if (cur >= lsn && !stale)
            return;
        if (atomic_compare_exchange_weak(s, &cur, lsn))
            return;
    }
}

void api_replica_caught_up(uint64_t since_ms)
{
    atomic_store(&caught_up_ms, since_ms);
}

bool api_replica_readable(int64_t user)
{
    if (!api_replica_enabled())
        return false;
    uint64_t replay = atomic_load(&standby_lsn);
    if (replay == 0 || atomic_load(&caught_up_ms) < atomic_load(&enabled_ms))
        return false;
    if (atomic_load(&seen[slot_of(user)]) > atomic_load(&standby_pos))
        return false;
    uint64_t w = atomic_load(slot(user));
    if (w == UNKNOWN_LSN)
        return unknown_resolved();
    return w <= replay;
}

void api_replica_count(bool standby, bool fallback)
{
    atomic_fetch_add_explicit(standby ? &n_standby : &n_primary, 1, memory_order_relaxed);
    if (fallback)
        atomic_fetch_add_explicit(&n_fallback, 1, memory_order_relaxed);
}

void api_replica_stats(struct api_replica_stats *out)
{
    out->standby_reads = atomic_load_explicit(&n_standby, memory_order_relaxed);
    out->primary_reads = atomic_load_explicit(&n_primary, memory_order_relaxed);
    out->fallbacks = atomic_load_explicit(&n_fallback, memory_order_relaxed);
    out->standby_lsn = atomic_load(&standby_lsn);
}

/* ---- for handlers ---- */

struct store_pg *api__read_pg(struct api_call *c)
{
    struct api_worker *w = c->w;
    if (w && w->pg_ro && api_replica_readable(c->user_id))
        return w->pg_ro;
    return w ? w->pg : NULL;
}

bool api__read_retry(struct api_call *c, struct store_pg **pg, int rc)
{
    struct api_worker *w = c->w;
    bool on_standby = w && *pg == w->pg_ro && w->pg_ro;
    if (!on_standby) {
        if (api_replica_enabled())
            api_replica_count(false, false);
        return false;
    }
    /* Answers that are the data's, not the standby's: the same on the
     * primary. Anything else (unreachable, a recovery conflict cancelled
     * the query, a statement the standby refuses) is redone there. */
    if (rc >= 0 || rc == PL_ENOTFOUND || rc == PL_EFORBIDDEN || rc == PL_ENOMEM ||
        rc == PL_ETOOBIG) {
        api_replica_count(true, false);
        return false;
    }
    if (rc == PL_EUNAVAIL)
        api_replica_standby_set(0); /* until the poller sees it again */
    api_replica_count(false, true);
    *pg = w->pg;
    return true;
}

uint64_t api__write_lsn(struct api_worker *w)
{
    uint64_t lsn;
    /* The query is retried once on a fresh connection, and any later
     * insert position is past the commit too, so a failure means the
     * primary is away: the user's reads wait for a full catch-up. */
    if (store_pg_wal_insert_lsn(w->pg, &lsn) < 0) {
        atomic_store(&unknown_at_ms, pl_now_us() / 1000 + 1);
        lsn = UNKNOWN_LSN;
    }
    return lsn;
}

void api__note_write(struct api_worker *w, int64_t user)
{
    if (user && w && w->pg_ro && api_replica_enabled())
        api_replica_note_write(user, api__write_lsn(w));
}
