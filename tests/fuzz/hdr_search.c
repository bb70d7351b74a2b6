/* SPDX-License-Identifier: MIT */
/* Parley - fuzz: reaches the static cursor parser of api/search.c.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "api/search.c"

#include "fuzz_hdr.h"

bool fuzz_hdr_search_cursor(struct api_call *c, const char *s)
{
    struct store_search_query q = {0};
    return cursor_parse(c, s, &q);
}
