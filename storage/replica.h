/* SPDX-License-Identifier: MIT */
/* Parley - WAL positions of a primary and its streaming hot standby.   */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_STORAGE_REPLICA_H
#define PL_STORAGE_REPLICA_H

#include "pg.h"

#include <stdint.h>

/*
 * Read-your-writes on a hot standby compares two WAL positions (LSNs, as
 * 64-bit integers: "16/B374D848" is 0x16B374D848): the primary's insert
 * position taken after a caller's write committed, and the standby's
 * replay position. A standby whose replay position is at or past the
 * first has applied the write. Both functions block (libpq): workers and
 * the standby poller only, never a loop thread.
 */

/* The primary's current WAL insert position (pg_current_wal_insert_lsn(),
 * which is at or past the end of every transaction committed before the
 * call, even with synchronous_commit off). Read-only: retried once on a
 * lost connection. Returns 0; PL_EINVAL when pg is a standby (recovery in
 * progress); or a common code of storage/pg.h. */
PL_MUST_CHECK int store_pg_wal_insert_lsn(struct store_pg *pg, uint64_t *lsn);

/* The standby's last replayed position (pg_last_wal_replay_lsn()), and
 * the event stream position it has replayed (its stream_state.pos: the
 * row lock on it makes positions commit in order, so every event up to
 * *pos is there). Returns 0; PL_EINVAL when pg is not in recovery (a
 * primary, or a standby that was promoted: it no longer follows our
 * primary) or has replayed nothing yet; or a common code of storage/pg.h. */
PL_MUST_CHECK int store_pg_replay_lsn(struct store_pg *pg, uint64_t *lsn, uint64_t *pos);

/* Parses "X/Y" (hex halves) into *lsn. Returns 0 or PL_EINVAL. Pure. */
PL_MUST_CHECK int store_pg_lsn_parse(const char *s, uint64_t *lsn);

#endif
