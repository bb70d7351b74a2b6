/* SPDX-License-Identifier: MIT */
/* Parley - fail the Nth allocation, for framers and parsers in tests.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "failmalloc.h"

#include "pltest.h"

static unsigned long count, fail_at; /* fail_at 0: disarmed */
static bool failed;
static unsigned runs;

/* True when this allocation may proceed. */
static bool next_ok(void)
{
    if (!fail_at || failed)
        return true;
    if (++count < fail_at)
        return true;
    failed = true;
    return false;
}

void *__wrap_malloc(size_t n)
{
    return next_ok() ? __real_malloc(n) : NULL;
}

void *__wrap_calloc(size_t n, size_t size)
{
    return next_ok() ? __real_calloc(n, size) : NULL;
}

void *__wrap_realloc(void *p, size_t n)
{
    return next_ok() ? __real_realloc(p, n) : NULL;
}

bool pt_failmalloc_failed(void)
{
    return failed;
}

unsigned pt_failmalloc_runs(void)
{
    return runs;
}

void pt_failmalloc_loop(void (*run)(void *ctx), void *ctx, unsigned max)
{
    for (runs = 1; runs <= max; runs++) {
        count = 0;
        failed = false;
        fail_at = runs;
        run(ctx);
        bool hit = failed;
        fail_at = 0;
        failed = false;
        if (!hit)
            return; /* every allocation before this one has failed once */
    }
    pltest_fail(__FILE__, __LINE__, "the scenario still allocates after %u runs", max);
}
