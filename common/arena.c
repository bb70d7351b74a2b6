/* SPDX-License-Identifier: MIT */
/* Parley - bump allocator for per-request memory.                      */
/* Copyright (c) 2026 Parley developers                                 */
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 4 KiB chunks cover a typical request (headers, a small JSON body and its
 * reply) in one allocation; larger objects get a chunk of their own so a
 * big body does not waste the tail of a shared chunk. The first chunk is
 * smaller: an event stream keeps its request's arena for as long as it is
 * open, and opening one takes about 1.2 KiB (the request, its headers, the
 * authentication), so a 4 KiB first chunk was most of an idle stream's
 * memory (bench/README.md, issue 17). Requests that need more get 4 KiB
 * chunks after it. */
#define CHUNK_SIZE 4096
#define FIRST_CHUNK_SIZE (2048 - sizeof(struct chunk))
#define ALIGN 16

struct chunk {
    struct chunk *next;
    size_t used, size;
    _Alignas(ALIGN) unsigned char data[];
};

struct pl_arena {
    struct chunk *head;
    size_t total;
    size_t limit; /* 0 = none */
};

struct pl_arena *pl_arena_new(void)
{
    return calloc(1, sizeof(struct pl_arena));
}

void pl_arena_free(struct pl_arena *a)
{
    if (!a)
        return;
    for (struct chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(a);
}

static struct chunk *chunk_new(size_t size)
{
    struct chunk *c = malloc(sizeof(*c) + size);
    if (!c)
        return NULL;
    c->next = NULL;
    c->used = 0;
    c->size = size;
    return c;
}

void *pl_arena_alloc(struct pl_arena *a, size_t n)
{
    if (n > SIZE_MAX / 2)
        return NULL;
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (n == 0)
        n = ALIGN;
    if (a->limit && a->total + n > a->limit)
        return NULL;
    struct chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        if (n > CHUNK_SIZE / 4) {
            /* A big object: its own chunk, linked behind the current one so
             * the current chunk's free tail stays usable. */
            struct chunk *big = chunk_new(n);
            if (!big)
                return NULL;
            big->used = n;
            if (c) {
                big->next = c->next;
                c->next = big;
            } else {
                a->head = big;
            }
            a->total += n;
            return big->data;
        }
        c = chunk_new(c || n > FIRST_CHUNK_SIZE ? CHUNK_SIZE : FIRST_CHUNK_SIZE);
        if (!c)
            return NULL;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    a->total += n;
    return p;
}

void *pl_arena_zalloc(struct pl_arena *a, size_t n)
{
    void *p = pl_arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

void *pl_arena_memdup(struct pl_arena *a, const void *p, size_t n)
{
    void *d = pl_arena_alloc(a, n);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

char *pl_arena_strndup(struct pl_arena *a, const char *s, size_t n)
{
    char *d = pl_arena_alloc(a, n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *pl_arena_strdup(struct pl_arena *a, const char *s)
{
    return pl_arena_strndup(a, s, strlen(s));
}

/* Output that fits here is formatted once and copied; longer output is
 * formatted again into its exact size. (Sizing with vsnprintf(NULL, 0)
 * first made glibc push every character through its overflow path: a
 * fifth of the group-commit writer's time went there, building payloads.) */
#define SPRINTF_STACK 1024

char *pl_arena_sprintf(struct pl_arena *a, const char *fmt, ...)
{
    char buf[SPRINTF_STACK];
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char *d = NULL;
    if (n >= 0 && (size_t)n < sizeof(buf)) {
        d = pl_arena_memdup(a, buf, (size_t)n + 1);
    } else if (n >= 0 && (d = pl_arena_alloc(a, (size_t)n + 1))) {
        vsnprintf(d, (size_t)n + 1, fmt, ap2);
    }
    va_end(ap2);
    return d;
}

void pl_arena_set_limit(struct pl_arena *a, size_t bytes)
{
    a->limit = bytes;
}

size_t pl_arena_used(const struct pl_arena *a)
{
    return a->total;
}
