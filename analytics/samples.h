/* SPDX-License-Identifier: MIT */
/* Parley - what only this node sees (streams, searches), as samples.   */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_ANALYTICS_SAMPLES_H
#define PL_ANALYTICS_SAMPLES_H

#include "storage/analytics.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * Open streams and searches happen on one node each, so this node counts
 * them here (process-wide atomics, any thread) and the aggregator thread
 * writes them to PostgreSQL as one sample per 10-second slot
 * (analytics_node_samples). The numbers of the admin API come only from
 * the samples of every node, summed per slot: no node's counters are the
 * numbers.
 */

/* A stream opened over proto (0 HTTP/1.1, 1 h2c, 2 h2); resumed when the
 * client sent Last-Event-ID (a reconnect). */
void analytics_stream_opened(unsigned proto, bool resumed);
void analytics_stream_closed(void);
/* A media download granted (a presigned URL handed out). */
void analytics_media_download(void);
/* A search answered in ms milliseconds. */
void analytics_search_done(uint64_t ms);

/* Takes the counts since the previous take (streams: open now, and the
 * most open at once since then). */
void analytics_sample_take(struct store_analytics_sample *out);

#endif
