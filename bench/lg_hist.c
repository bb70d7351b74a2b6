/* SPDX-License-Identifier: MIT */
/* Parley - load generator: log-linear latency histogram.               */
/* Copyright (c) 2026 Parley developers                                 */
#include "lg.h"

#include <string.h>

/*
 * HdrHistogram's layout with 6 bits of sub-bucket: values below 128 us are
 * exact, and above that each power of two is split into 64 equal buckets,
 * so a reported quantile is within 1/64 (1.6%) of the true value. Fixed
 * size (about 20 KiB), constant-time add, no allocation.
 */

static unsigned index_of(uint64_t v)
{
    if (v < 2 * LG_HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* 7 and up */
    unsigned i = 2 * LG_HIST_SUB + (e - 7) * LG_HIST_SUB + (unsigned)((v >> (e - 6)) - LG_HIST_SUB);
    return i < LG_HIST_BUCKETS ? i : LG_HIST_BUCKETS - 1;
}

/* The highest value that lands in bucket i. */
static uint64_t upper_of(unsigned i)
{
    if (i < 2 * LG_HIST_SUB)
        return i;
    unsigned k = i - 2 * LG_HIST_SUB;
    unsigned e = 7 + k / LG_HIST_SUB;
    uint64_t sub = LG_HIST_SUB + k % LG_HIST_SUB;
    return ((sub + 1) << (e - 6)) - 1;
}

void lg_hist_reset(struct lg_hist *h)
{
    memset(h, 0, sizeof(*h));
}

void lg_hist_add(struct lg_hist *h, uint64_t us)
{
    h->b[index_of(us)]++;
    h->count++;
    h->sum += us;
    if (us > h->max)
        h->max = us;
}

uint64_t lg_hist_quantile(const struct lg_hist *h, double q)
{
    if (!h->count)
        return 0;
    uint64_t want = (uint64_t)(q * (double)h->count + 0.999999);
    if (want < 1)
        want = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want)
            return PL_MIN(upper_of(i), h->max);
    }
    return h->max;
}
