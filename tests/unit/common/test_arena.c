/* SPDX-License-Identifier: MIT */
/* Parley - tests for common/arena.c.                                   */
/* Copyright (c) 2026 Parley developers                                 */
#include "common/arena.h"
#include "pltest.h"

#include <stdint.h>
#include <string.h>

PLTEST(arena_alloc_is_aligned_and_distinct)
{
    struct pl_arena *a = pl_arena_new();
    PL_ASSERT(a);
    char *prev = NULL;
    /* Odd sizes: every pointer must still be aligned for any type, and
     * no two allocations may overlap. */
    for (size_t n = 1; n < 300; n += 7) {
        char *p = pl_arena_alloc(a, n);
        PL_ASSERT(p);
        PL_ASSERT_INT_EQ((uintptr_t)p % _Alignof(max_align_t), 0);
        memset(p, 0xab, n);
        if (prev)
            PL_ASSERT(p != prev);
        prev = p;
    }
    pl_arena_free(a);
}

PLTEST(arena_allocations_do_not_overlap)
{
    struct pl_arena *a = pl_arena_new();
    PL_ASSERT(a);
    enum { N = 2000 };
    static unsigned char *ptrs[N];
    static size_t sizes[N];
    /* Small and big objects interleaved, so both the shared chunks and
     * the dedicated big chunks are exercised; each object is filled with
     * its own byte and checked after everything was allocated. */
    for (size_t i = 0; i < N; i++) {
        sizes[i] = (i % 10 == 9) ? 3000 + i : 1 + (i * 37) % 200;
        ptrs[i] = pl_arena_alloc(a, sizes[i]);
        PL_ASSERT(ptrs[i]);
        memset(ptrs[i], (int)(i & 0xff), sizes[i]);
    }
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < sizes[i]; j++)
            PL_ASSERT_INT_EQ(ptrs[i][j], i & 0xff);
    pl_arena_free(a);
}

PLTEST(arena_zalloc_zeroes)
{
    struct pl_arena *a = pl_arena_new();
    PL_ASSERT(a);
    /* Dirty the chunk first so zeroes cannot come from fresh pages. */
    unsigned char *d = pl_arena_alloc(a, 512);
    PL_ASSERT(d);
    memset(d, 0xff, 512);
    unsigned char *z = pl_arena_zalloc(a, 777);
    PL_ASSERT(z);
    for (size_t i = 0; i < 777; i++)
        PL_ASSERT_INT_EQ(z[i], 0);
    pl_arena_free(a);
}

PLTEST(arena_string_helpers)
{
    struct pl_arena *a = pl_arena_new();
    PL_ASSERT(a);
    const char *src = "hello, arena";
    char *s = pl_arena_strdup(a, src);
    PL_ASSERT_STR_EQ(s, src);
    PL_ASSERT(s != src);
    PL_ASSERT_STR_EQ(pl_arena_strndup(a, src, 5), "hello");
    PL_ASSERT_STR_EQ(pl_arena_strndup(a, src, 0), "");
    PL_ASSERT_STR_EQ(pl_arena_strdup(a, ""), "");
    const unsigned char bytes[] = {0, 1, 2, 0, 255};
    PL_ASSERT_MEM_EQ(pl_arena_memdup(a, bytes, sizeof(bytes)), bytes, sizeof(bytes));
    PL_ASSERT_STR_EQ(pl_arena_sprintf(a, "%s-%d-%05.1f", "x", 42, 3.5), "x-42-003.5");
    /* Longer than a chunk: sprintf must size its buffer from the output. */
    char *big = pl_arena_sprintf(a, "%9000d|", 7);
    PL_ASSERT(big);
    PL_ASSERT_INT_EQ(strlen(big), 9001);
    PL_ASSERT_STR_EQ(big + 8999, "7|");
    pl_arena_free(a);
}

PLTEST(arena_used_counts_bytes)
{
    struct pl_arena *a = pl_arena_new();
    PL_ASSERT(a);
    PL_ASSERT_INT_EQ(pl_arena_used(a), 0);
    PL_ASSERT(pl_arena_alloc(a, 10));
    size_t after_small = pl_arena_used(a);
    PL_ASSERT(after_small >= 10);
    PL_ASSERT(pl_arena_alloc(a, 100000));
    PL_ASSERT(pl_arena_used(a) >= after_small + 100000);
    pl_arena_free(a);
}

PLTEST(arena_refuses_absurd_sizes)
{
    struct pl_arena *a = pl_arena_new();
    PL_ASSERT(a);
    PL_ASSERT(pl_arena_alloc(a, SIZE_MAX) == NULL);
    PL_ASSERT(pl_arena_alloc(a, SIZE_MAX - 8) == NULL);
    /* A refused allocation leaves the arena usable. */
    PL_ASSERT_STR_EQ(pl_arena_strdup(a, "still fine"), "still fine");
    pl_arena_free(a);
}

PLTEST(arena_free_null_is_a_noop)
{
    pl_arena_free(NULL);
}
