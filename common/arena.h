/* SPDX-License-Identifier: MIT */
/* Parley - bump allocator for per-request memory.                      */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_ARENA_H
#define PL_ARENA_H

#include "err.h"

#include <stdarg.h>
#include <stddef.h>

/* Every request owns one arena; everything a handler allocates from it is
 * released at once by pl_arena_free() when the transport completes the
 * request (h2o's req->pool, lwan's coro arena). Not thread-safe: an arena
 * is used by one thread at a time. */
struct pl_arena;

/* Returns a new arena, or NULL when out of memory. Free with pl_arena_free(). */
struct pl_arena *pl_arena_new(void);
void pl_arena_free(struct pl_arena *a);

/* Returns n bytes aligned for any type, or NULL when out of memory. The
 * memory is valid until the arena is freed. */
void *pl_arena_alloc(struct pl_arena *a, size_t n);
void *pl_arena_zalloc(struct pl_arena *a, size_t n);
/* Copies and NUL-terminates; NULL when out of memory. */
char *pl_arena_strdup(struct pl_arena *a, const char *s);
char *pl_arena_strndup(struct pl_arena *a, const char *s, size_t n);
void *pl_arena_memdup(struct pl_arena *a, const void *p, size_t n);
char *pl_arena_sprintf(struct pl_arena *a, const char *fmt, ...) PL_PRINTF(2, 3);

/* Caps the bytes the arena may hand out from now on (0 = no cap); an
 * allocation past the cap returns NULL. Bounds a request's memory, and lets
 * tests fail the Nth allocation (nghttp2's failmalloc idea). */
void pl_arena_set_limit(struct pl_arena *a, size_t bytes);

/* Bytes handed out so far (for limits and metrics). */
size_t pl_arena_used(const struct pl_arena *a);

#endif
