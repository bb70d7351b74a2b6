/* SPDX-License-Identifier: MIT */
/* Parley - what only this node sees (streams, searches), as samples.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "samples.h"

#include <stdatomic.h>

static atomic_llong streams, peak, resumes, searches, downloads;
static atomic_llong opens[3];
static atomic_llong search_hist[STORE_ANALYTICS_HIST_N];

void analytics_stream_opened(unsigned proto, bool resumed)
{
    long long now = atomic_fetch_add(&streams, 1) + 1;
    long long p = atomic_load(&peak);
    while (now > p && !atomic_compare_exchange_weak(&peak, &p, now)) {
    }
    atomic_fetch_add(&opens[proto < 3 ? proto : 0], 1);
    if (resumed)
        atomic_fetch_add(&resumes, 1);
}

void analytics_media_download(void)
{
    atomic_fetch_add(&downloads, 1);
}

void analytics_stream_closed(void)
{
    atomic_fetch_sub(&streams, 1);
}

/* The latency histograms' bucket of ms: floor(4 log2(ms)), as the
 * aggregator's SQL computes it (pg_analytics_metrics.c). */
static unsigned bucket(uint64_t ms)
{
    if (ms <= 1)
        return 0;
    unsigned k = 63 - (unsigned)__builtin_clzll(ms);
    double f = (double)ms / (double)(1ULL << k); /* in [1, 2) */
    return 4 * k + (f >= 1.6817928305 ? 3 : f >= 1.4142135624 ? 2 : f >= 1.1892071150 ? 1 : 0);
}

void analytics_search_done(uint64_t ms)
{
    unsigned b = bucket(ms);
    atomic_fetch_add(&search_hist[b < STORE_ANALYTICS_HIST_N ? b : STORE_ANALYTICS_HIST_N - 1], 1);
    atomic_fetch_add(&searches, 1);
}

void analytics_sample_take(struct store_analytics_sample *out)
{
    out->streams = atomic_load(&streams);
    out->peak = atomic_exchange(&peak, out->streams);
    if (out->peak < out->streams)
        out->peak = out->streams;
    for (unsigned i = 0; i < 3; i++)
        out->opens[i] = atomic_exchange(&opens[i], 0);
    out->resumes = atomic_exchange(&resumes, 0);
    out->searches = atomic_exchange(&searches, 0);
    out->downloads = atomic_exchange(&downloads, 0);
    for (unsigned i = 0; i < STORE_ANALYTICS_HIST_N; i++)
        out->search_hist[i] = atomic_exchange(&search_hist[i], 0);
}
