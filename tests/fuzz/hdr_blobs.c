/* SPDX-License-Identifier: MIT */
/* Parley - fuzz: reaches the static header parsers of api/blobs.c.     */
/* Copyright (c) 2026 Parley developers                                 */
#include "api/blobs.c"

#include "fuzz_hdr.h"

int fuzz_hdr_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
    return parse_range(h, size, from, to);
}

bool fuzz_hdr_etag(const char *h, const char *etag)
{
    return etag_matches(h, etag);
}

bool fuzz_hdr_blob_key(struct api_call *c, char key[STORE_BLOB_KEY_MAX])
{
    return key_of(c, key);
}
