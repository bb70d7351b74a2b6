/* SPDX-License-Identifier: MIT */
/* Parley - sorting and de-duplicating arrays of int64 ids.             */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_IDS_H
#define PL_IDS_H

#include <stdint.h>

/* qsort()/bsearch() comparator for int64_t, ascending. */
int pl_ids_cmp(const void *a, const void *b);
/* Sorts ids[0..n) ascending in place and packs them: each once, without
 * 0 and without skip. Returns how many are left. */
unsigned pl_ids_unique(int64_t *ids, unsigned n, int64_t skip);

#endif
