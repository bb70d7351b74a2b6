/* SPDX-License-Identifier: MIT */
/* Parley - the thread that follows the hot standby's replay position.  */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_SRV_STANDBY_H
#define PL_SRV_STANDBY_H

#include "config.h"

/*
 * With pg_standby set, one thread of its own (libpq blocks; no loop thread
 * ever waits for it) reads, every pg_standby_poll_ms, the primary's WAL
 * insert position and then the standby's replay position, and publishes
 * the latter through api_replica_standby_set() (0 while the standby cannot
 * be reached or is not in recovery), so that workers decide per read in a
 * few atomic loads. A standby that goes away only sends reads back to the
 * primary: nothing waits for it.
 */
struct srv_standby;

/* Starts the thread when cfg->pg_standby is set (and turns routing on);
 * otherwise *out is NULL and nothing runs. cfg is borrowed for the
 * thread's lifetime. Returns 0, PL_ENOMEM or a negative errno. */
PL_MUST_CHECK int srv_standby_new(const struct srv_config *cfg, struct srv_standby **out);
/* Stops and joins the thread (within one poll), turns routing off, frees.
 * NULL is fine. */
void srv_standby_free(struct srv_standby *s);

#endif
