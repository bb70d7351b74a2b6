/* SPDX-License-Identifier: MIT */
/* Parley - fuzz: reaches the static Last-Event-ID parser of api/events.c. */
/* Copyright (c) 2026 Parley developers                                 */
#include "api/events.c"

#include "fuzz_hdr.h"

bool fuzz_hdr_last_event_id(const char *s, uint64_t *out)
{
    return api__parse_pos(s, out);
}
