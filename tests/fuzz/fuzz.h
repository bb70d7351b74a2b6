/* SPDX-License-Identifier: MIT */
/* Parley - helpers shared by the libFuzzer harnesses (header-only).    */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_FUZZ_H
#define PL_FUZZ_H

/*
 * Each harness is one LLVMFuzzerTestOneInput(). Like the unit tests, a
 * harness may #include the .c file it fuzzes to reach its static parsers.
 * The input is often cut into several fields: fuzz_take() splits at the
 * next NUL byte (or takes the rest), so the seeds stay readable and
 * libFuzzer's byte-level mutations still reach every field.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_in {
    const uint8_t *p;
    size_t left;
};

/* The next field, up to the next NUL or the end, as a malloc'd
 * NUL-terminated copy (free it); *len gets its length when not NULL. Never
 * NULL unless out of memory; an exhausted input gives "". */
static inline char *fuzz_take(struct fuzz_in *in, size_t *len)
{
    const uint8_t *z = in->left ? memchr(in->p, 0, in->left) : NULL;
    size_t n = z ? (size_t)(z - in->p) : in->left;
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    memcpy(s, in->p, n);
    s[n] = 0;
    in->p += n + (z ? 1 : 0);
    in->left -= n + (z ? 1 : 0);
    if (len)
        *len = n;
    return s;
}

/* The next byte of the input, or 0 once it is exhausted. */
static inline uint8_t fuzz_byte(struct fuzz_in *in)
{
    if (!in->left)
        return 0;
    in->left--;
    return *in->p++;
}

#endif
