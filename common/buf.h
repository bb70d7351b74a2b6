/* SPDX-License-Identifier: MIT */
/* Parley - bounded growable byte buffer.                               */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_BUF_H
#define PL_BUF_H

#include "err.h"

#include <stddef.h>

/* A heap buffer that refuses to grow past max bytes. The caller provides
 * the struct (pl_buf_init/pl_buf_deinit); the buffer owns data. Readers
 * consume from the front; pl_buf_consume() moves the tail down lazily. */
struct pl_buf {
    char *data;
    size_t off; /* bytes already consumed at the front */
    size_t len; /* bytes stored, counting from data + off */
    size_t cap;
    size_t max;
};

void pl_buf_init(struct pl_buf *b, size_t max);
void pl_buf_deinit(struct pl_buf *b);
/* Appends n bytes. Returns 0, PL_ETOOBIG (nothing appended) when the result
 * would exceed max, or PL_ENOMEM. */
PL_MUST_CHECK int pl_buf_append(struct pl_buf *b, const void *p, size_t n);
PL_MUST_CHECK int pl_buf_printf(struct pl_buf *b, const char *fmt, ...) PL_PRINTF(2, 3);
/* Makes room for n more bytes and returns where to write them (commit with
 * pl_buf_commit), or NULL with *rc set. */
char *pl_buf_reserve(struct pl_buf *b, size_t n, int *rc);
void pl_buf_commit(struct pl_buf *b, size_t n);
static inline const char *pl_buf_head(const struct pl_buf *b)
{
    return b->data ? b->data + b->off : NULL; /* NULL + 0 is undefined behaviour */
}
/* Drops n bytes from the front (n <= len). */
void pl_buf_consume(struct pl_buf *b, size_t n);
void pl_buf_reset(struct pl_buf *b);

#endif
