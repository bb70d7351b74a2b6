/* SPDX-License-Identifier: MIT */
/* Parley - fuzz: reaches the static Cookie parser of api/auth.c.       */
/* Copyright (c) 2026 Parley developers                                 */
#include "api/auth.c"

#include "fuzz_hdr.h"

const char *fuzz_hdr_cookie(struct api_call *c, const char *name)
{
    return cookie_value(c, name);
}
