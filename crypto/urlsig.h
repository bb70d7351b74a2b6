/* SPDX-License-Identifier: MIT */
/* Parley - signed URLs: HMAC-SHA256 over what a presigned URL allows.  */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_CRYPTO_URLSIG_H
#define PL_CRYPTO_URLSIG_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

/*
 * A presigned URL carries its expiry and a signature; everything else it
 * allows (method, blob key, size, content type) is bound into the
 * signature, so changing any of them, or the expiry, makes it fail. The
 * signature is HMAC-SHA256 (libsodium crypto_auth_hmacsha256) under the
 * server's url_secret over the canonical string
 *   "parley-url-v1\n" METHOD "\n" KEY "\n" SIZE "\n" CONTENT_TYPE "\n" EXPIRES
 * (size and expiry in decimal; GET URLs use size 0 and an empty type),
 * written in base64url without padding (43 characters). Nodes that share
 * url_secret accept each other's URLs. Every function is safe from any
 * thread once pcrypto_init() has returned 0.
 */

#define PCRYPTO_URLSIG_KEYBYTES 32
#define PCRYPTO_URLSIG_KEYHEX (PCRYPTO_URLSIG_KEYBYTES * 2)
#define PCRYPTO_URLSIG_STRLEN 43

struct pcrypto_urlsig_key {
    uint8_t k[PCRYPTO_URLSIG_KEYBYTES];
};

/* Draws a new random key. */
void pcrypto_urlsig_key_init(struct pcrypto_urlsig_key *key);
/* Parses 64 hex digits (borrowed; surrounding whitespace allowed) into key.
 * Returns 0 or PL_EINVAL. */
PL_MUST_CHECK int pcrypto_urlsig_key_parse(const char *hex, struct pcrypto_urlsig_key *key);
/* Writes the key as 64 lowercase hex digits and a NUL. */
void pcrypto_urlsig_key_format(const struct pcrypto_urlsig_key *key,
                               char out[PCRYPTO_URLSIG_KEYHEX + 1]);

/* Writes the NUL-terminated signature for the fields (borrowed; type may
 * be NULL for "") into out (cap bytes, at least PCRYPTO_URLSIG_STRLEN + 1).
 * Returns 0; PL_EINVAL when a field contains a newline or cap is short. */
PL_MUST_CHECK int pcrypto_urlsig_sign(const struct pcrypto_urlsig_key *key, const char *method,
                                      const char *blob_key, uint64_t size, const char *type,
                                      int64_t expires, char *out, size_t cap);
/* Checks sig (borrowed; may be NULL) against the fields, in constant time,
 * and that now (seconds since the epoch) is not past expires. Returns 0;
 * PL_EFORBIDDEN for a missing, malformed or wrong signature or an expired
 * URL (callers answer all of these alike). */
PL_MUST_CHECK int pcrypto_urlsig_verify(const struct pcrypto_urlsig_key *key, const char *method,
                                        const char *blob_key, uint64_t size, const char *type,
                                        int64_t expires, int64_t now, const char *sig);

#endif
