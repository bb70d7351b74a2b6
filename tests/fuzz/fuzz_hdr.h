/* SPDX-License-Identifier: MIT */
/* Parley - fuzz: the static header and cursor parsers, made reachable. */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_FUZZ_HDR_H
#define PL_FUZZ_HDR_H

/* Each hdr_*.c includes one api/ file and exports its parser here (the
 * files cannot share one translation unit: their statics collide). */
#include "api/api_int.h"
#include "storage/blob.h"

#include <stdbool.h>
#include <stdint.h>

int fuzz_hdr_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to);
bool fuzz_hdr_etag(const char *h, const char *etag);
bool fuzz_hdr_blob_key(struct api_call *c, char key[STORE_BLOB_KEY_MAX]);
const char *fuzz_hdr_cookie(struct api_call *c, const char *name);
bool fuzz_hdr_search_cursor(struct api_call *c, const char *s);
bool fuzz_hdr_last_event_id(const char *s, uint64_t *out);

#endif
