/* SPDX-License-Identifier: MIT */
/* Parley - sorting and de-duplicating arrays of int64 ids.             */
/* Copyright (c) 2026 Parley developers                                 */
#include "ids.h"

#include <stdlib.h>

int pl_ids_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

unsigned pl_ids_unique(int64_t *ids, unsigned n, int64_t skip)
{
    qsort(ids, n, sizeof(*ids), pl_ids_cmp);
    unsigned out = 0;
    for (unsigned i = 0; i < n; i++) {
        if (ids[i] == 0 || ids[i] == skip || (out && ids[out - 1] == ids[i]))
            continue;
        ids[out++] = ids[i];
    }
    return out;
}
