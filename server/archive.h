/* SPDX-License-Identifier: MIT */
/* Parley - the history archiver: `parleyd archive` and its timer.      */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_SRV_ARCHIVE_H
#define PL_SRV_ARCHIVE_H

#include "config.h"

#include "storage/blob.h"

/* What one pass did. */
struct srv_archive_stats {
    unsigned segments, messages, orphans;
    uint64_t raw_bytes, stored_bytes;
    bool busy; /* another archiver held the lock throughout: nothing done */
};

/*
 * One archive pass (blocking; its own PostgreSQL connection): under the
 * deployment-wide archive lock, removes orphan "a/" blobs of crashed runs,
 * then packs every conversation's archivable messages older than
 * archive_after into segments (storage/archive.h), each written, fsynced,
 * read back and verified before ONE transaction records it and moves its
 * rows. blobs and cfg are borrowed. When another archiver holds the lock,
 * waits up to wait_ms for it (polling), then returns 0 having done
 * nothing, with st->busy set. Returns 0 or a negative code (the pass stops
 * at the first failure; what committed stays committed).
 */
PL_MUST_CHECK int srv_archive_run(const struct srv_config *cfg, struct store_blob *blobs,
                                  unsigned wait_ms, struct srv_archive_stats *st);

/* The in-server timer: a thread that runs a pass every archive_interval
 * seconds (0: never). Free with srv_archive_timer_free(), which wakes and
 * joins the thread (a pass in progress finishes its segment first). */
struct srv_archive_timer;
PL_MUST_CHECK int srv_archive_timer_new(const struct srv_config *cfg, struct store_blob *blobs,
                                        struct srv_archive_timer **out);
void srv_archive_timer_free(struct srv_archive_timer *t);

#endif
