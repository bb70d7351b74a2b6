/* SPDX-License-Identifier: MIT */
/* Parley - the disappearing-messages sweeper.                          */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_SRV_EXPIRY_H
#define PL_SRV_EXPIRY_H

#include "config.h"

#include "storage/blob.h"

/*
 * A thread (common/ticker.c) that every expiry_interval ms (0: never),
 * under the deployment-wide expiry lock (so one node sweeps at a time and
 * each message is erased once), erases the expired messages of
 * disappearing-message conversations (storage/expiry.h): their rows and
 * what hangs on them in PostgreSQL, the blobs of media nothing references
 * any more, and their lines in archive segments (a segment is rewritten
 * without them, or deleted when nothing is left). Never on a loop or a
 * worker. cfg and blobs are borrowed and must outlive it. Free with
 * srv_expiry_timer_free(), which joins the thread.
 */
struct srv_expiry_timer;
PL_MUST_CHECK int srv_expiry_timer_new(const struct srv_config *cfg, struct store_blob *blobs,
                                       struct srv_expiry_timer **out);
void srv_expiry_timer_free(struct srv_expiry_timer *t);

#endif
