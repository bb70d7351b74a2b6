/* SPDX-License-Identifier: MIT */
/* Parley - bounded growable byte buffer.                               */
/* Copyright (c) 2026 Parley developers                                 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pl_buf_init(struct pl_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void pl_buf_deinit(struct pl_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void pl_buf_reset(struct pl_buf *b)
{
    b->off = b->len = 0;
}

char *pl_buf_reserve(struct pl_buf *b, size_t n, int *rc)
{
    if (n > b->max || b->len > b->max - n) {
        *rc = PL_ETOOBIG;
        return NULL;
    }
    /* An empty buffer has no storage yet (data NULL, cap 0): even a
     * zero-byte reservation allocates, since NULL + 0 is undefined. */
    if (b->data && b->off + b->len + n <= b->cap)
        return b->data + b->off + b->len;
    /* Reclaim consumed space first; grow only when that is not enough. */
    if (b->off) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
        if (b->len + n <= b->cap)
            return b->data + b->len;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
        cap *= 2;
    if (cap > b->max)
        cap = b->max ? b->max : 1; /* a zero-byte buffer still gets storage */
    char *d = realloc(b->data, cap);
    if (!d) {
        *rc = PL_ENOMEM;
        return NULL;
    }
    b->data = d;
    b->cap = cap;
    return b->data + b->len;
}

void pl_buf_commit(struct pl_buf *b, size_t n)
{
    b->len += n;
}

int pl_buf_append(struct pl_buf *b, const void *p, size_t n)
{
    int rc = 0;
    char *d = pl_buf_reserve(b, n, &rc);
    if (!d)
        return rc;
    if (n)
        memcpy(d, p, n);
    b->len += n;
    return 0;
}

int pl_buf_printf(struct pl_buf *b, const char *fmt, ...)
{
    va_list ap;
    /* Straight into the free space when there is some; only output that
     * does not fit is formatted a second time (pl_arena_sprintf() says
     * why sizing with vsnprintf(NULL, 0) first is slow). */
    size_t room = b->data ? b->cap - b->off - b->len : 0;
    va_start(ap, fmt);
    int n =
        room ? vsnprintf(b->data + b->off + b->len, room, fmt, ap) : vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return PL_EINVAL;
    if ((size_t)n < room && b->len + (size_t)n < b->max) {
        b->len += (size_t)n;
        return 0;
    }
    int rc = 0;
    char *d = pl_buf_reserve(b, (size_t)n + 1, &rc);
    if (!d)
        return rc;
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void pl_buf_consume(struct pl_buf *b, size_t n)
{
    if (n >= b->len) {
        b->off = b->len = 0;
        return;
    }
    b->off += n;
    b->len -= n;
}
