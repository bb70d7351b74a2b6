/* SPDX-License-Identifier: MIT */
/* Parley - files compiled into the binary by tools/embed.c.            */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_EMBEDDED_H
#define PL_EMBEDDED_H

#include <stddef.h>

/* An embedded file: its base name and bytes (NUL-terminated; len excludes
 * the NUL). Arrays end with an entry whose name is NULL. */
struct pl_embedded {
    const char *name;
    const char *data;
    size_t len;
};

#endif
