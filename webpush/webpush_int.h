/* SPDX-License-Identifier: MIT */
/* Parley - webpush/ internals shared by its .c files.                  */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_WEBPUSH_INT_H
#define PL_WEBPUSH_INT_H

#include "webpush.h"

/* HKDF-SHA-256 (RFC 5869) with at most 32 bytes of output and 256 of
 * info. 0, PL_EINVAL or PL_EINTERNAL. */
int webpush__hkdf(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                  const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);
/* The ECDH shared secret (the x coordinate) of own and peer's public key.
 * 0, PL_EINVAL (peer not on the curve) or PL_ENOMEM. */
int webpush__ecdh(const struct webpush_key *own, const uint8_t peer[WEBPUSH_PUBLIC_LEN],
                  uint8_t secret[32]);

#endif
