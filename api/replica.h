/* SPDX-License-Identifier: MIT */
/* Parley - which reads a hot standby may serve (read-your-writes).     */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_API_REPLICA_H
#define PL_API_REPLICA_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Process-wide state of the PostgreSQL hot standby (setting pg_standby):
 *
 *   - the standby's replay position, set by a poller thread in server/
 *     every pg_standby_poll_ms (0 while the standby is down, lagging past
 *     use or not configured);
 *   - per user, the primary's WAL insert position taken right after each of
 *     the user's writes committed and before the write was acknowledged.
 *
 * A lag-tolerant read (history page, search, conversation list, analytics)
 * of user u goes to the standby only when replay >= last_write(u); the
 * write positions live in a fixed table of slots indexed by a hash of the
 * user id, each keeping the largest position of the users that share it
 * (a collision only sends a read to the primary that did not need to go
 * there). Memory is fixed (API_REPLICA_SLOTS * 8 bytes) and every call is
 * a few atomic operations: any thread, never blocks.
 *
 * The positions are this node's: a user whose requests land on another
 * node (scripts/run hashes the bearer token in HAProxy, so a device stays
 * on one node while it is up) is covered there by what that node saw.
 *
 * Reads also show what the user was told: per user, the largest event
 * stream position this node delivered to the user's streams (live,
 * relayed from other nodes, gap-filled or replayed on resume), and the
 * stream position the standby has replayed. A client that got a "message"
 * event from someone else and then reads history finds the message there,
 * though it wrote nothing itself.
 *
 * And a process that just started knows nobody's writes: until a poll
 * that began after routing was turned on finds the standby caught up with
 * the primary, every read goes to the primary (a node restarted after a
 * crash would otherwise send its users' reads to a standby still behind
 * their last writes).
 */
#define API_REPLICA_SLOTS 65536u

/* Turns routing on (a standby is configured) or off; off by default. */
void api_replica_enable(bool on);
bool api_replica_enabled(void);
/* The poller's result: the standby's replay position, 0 when it is not
 * usable (down, not in recovery). */
void api_replica_standby_set(uint64_t replay_lsn);
/* The poller's result too: the event stream position the standby has
 * replayed. */
void api_replica_standby_pos_set(uint64_t pos);
uint64_t api_replica_standby_lsn(void);
/* The poller read the primary's insert position at since_ms (pl_now_us()
 * / 1000, taken before the read) and then found the standby's replay
 * position at or past it: every write acknowledged before since_ms is on
 * the standby. */
void api_replica_caught_up(uint64_t since_ms);
/* Records that user's write committed at or before lsn. */
void api_replica_note_write(int64_t user, uint64_t lsn);
/* Records that the event at stream position pos goes to the streams of
 * the n users on this node. Cheap (an atomic maximum per user), and
 * nothing at all while routing is off. */
void api_replica_note_seen(uint64_t pos, const int64_t *users, unsigned n);
/* True when user's reads may go to the standby now. */
bool api_replica_readable(int64_t user);
/* Counts one read served by the standby, or one that went back to the
 * primary after the standby failed it. */
void api_replica_count(bool standby, bool fallback);

struct api_replica_stats {
    uint64_t standby_reads; /* lag-tolerant reads the standby served */
    uint64_t primary_reads; /* lag-tolerant reads sent to the primary */
    uint64_t fallbacks;     /* standby reads that failed and were redone */
    uint64_t standby_lsn;   /* as api_replica_standby_lsn() */
};
void api_replica_stats(struct api_replica_stats *out);

#endif
