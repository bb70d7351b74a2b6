/* SPDX-License-Identifier: MIT */
/* Parley - fail the Nth allocation, for framers and parsers in tests.  */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PT_FAILMALLOC_H
#define PT_FAILMALLOC_H

#include <stdbool.h>
#include <stddef.h>

/*
 * nghttp2's failmalloc idea for code that calls malloc directly: a test
 * linked with failmalloc_dep has malloc, calloc and realloc wrapped at
 * link time (-Wl,--wrap), so every allocation made by our static
 * libraries, the test and pltest goes through a counter. Armed with n,
 * the nth allocation from then on returns NULL; shared libraries (libc's
 * own, yajl, libpq) are not affected.
 *
 * pt_failmalloc_loop() runs a scenario with the 1st, 2nd, 3rd ...
 * allocation failing, until a run completes without reaching the armed
 * one: then every allocation point of the scenario has failed once. The
 * scenario must end cleanly every time (an error code, a NULL, a closed
 * stream, never a crash), free what it made (LeakSanitizer checks at
 * exit in the sanitizer build), and check its full result when
 * pt_failmalloc_failed() is false. Single thread only.
 */

/* Runs run(ctx) with allocation 1, 2, ... failing; fails the case when a
 * scenario still reaches the armed allocation after max runs. */
void pt_failmalloc_loop(void (*run)(void *ctx), void *ctx, unsigned max);
/* Inside a run: true once the armed allocation has failed. */
bool pt_failmalloc_failed(void);
/* How many runs the last pt_failmalloc_loop() made (allocation points
 * tried, plus the final clean run). */
unsigned pt_failmalloc_runs(void);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);

#endif
