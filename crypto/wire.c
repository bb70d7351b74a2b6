/* SPDX-License-Identifier: MIT */
/* Parley - base64url, signed-prekey checks, SHA-256 (libsodium).       */
/* Copyright (c) 2026 Parley developers                                 */
#include "crypto.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/*
 * The server never decrypts anything, but it does check what clients
 * publish: public keys and ciphertexts must be canonical base64url, and a
 * signed prekey must carry its identity key's signature; archive segments
 * are checked by SHA-256. These wrappers keep libsodium inside crypto/, so
 * api/ and server/ compile without sodium.h.
 */

/* The signed bytes: "parley-spk-v1" || be32(id) || public key
 * (crypto/PROTOCOL.md; crypto/e2e signs the same bytes). */
#define SPK_LABEL "parley-spk-v1"

_Static_assert(PCRYPTO_SIGN_PKBYTES == crypto_sign_PUBLICKEYBYTES, "Ed25519 public key");
_Static_assert(PCRYPTO_SIGN_BYTES == crypto_sign_BYTES, "Ed25519 signature");

/* The decoded size of len characters, or SIZE_MAX when no canonical
 * encoding has that length (a tail of one character carries no byte). */
static size_t decoded_size(size_t len)
{
    if (len % 4 == 1)
        return SIZE_MAX;
    return len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
}

int pcrypto_b64url_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n)
{
    size_t want = decoded_size(len);
    if (!s || want == SIZE_MAX)
        return PL_EMALFORMED;
    if (want > cap)
        return PL_ETOOBIG;
    size_t got = 0;
    const char *end = NULL;
    /* libsodium refuses non-zero padding bits, so a value has exactly one
     * spelling and stored keys compare as strings. */
    if (sodium_base642bin(out, cap, s, len, NULL, &got, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != s + len || got != want)
        return PL_EMALFORMED;
    if (n)
        *n = got;
    return 0;
}

int pcrypto_b64url_check(const char *s, size_t len, size_t max, size_t *n)
{
    size_t want = decoded_size(len);
    if (!s || want == SIZE_MAX)
        return PL_EMALFORMED;
    if (want > max)
        return PL_ETOOBIG;
    uint8_t *buf = malloc(want ? want : 1);
    if (!buf)
        return PL_ENOMEM;
    int rc = pcrypto_b64url_decode(s, len, buf, want, n);
    free(buf);
    return rc;
}

int pcrypto_spk_verify(const uint8_t identity[PCRYPTO_SIGN_PKBYTES], uint32_t spk_id,
                       const uint8_t spk_pub[PCRYPTO_SIGN_PKBYTES],
                       const uint8_t sig[PCRYPTO_SIGN_BYTES])
{
    uint8_t msg[sizeof(SPK_LABEL) - 1 + 4 + PCRYPTO_SIGN_PKBYTES];
    size_t o = sizeof(SPK_LABEL) - 1;
    memcpy(msg, SPK_LABEL, o);
    msg[o++] = (uint8_t)(spk_id >> 24);
    msg[o++] = (uint8_t)(spk_id >> 16);
    msg[o++] = (uint8_t)(spk_id >> 8);
    msg[o++] = (uint8_t)spk_id;
    memcpy(msg + o, spk_pub, PCRYPTO_SIGN_PKBYTES);
    return crypto_sign_verify_detached(sig, msg, sizeof(msg), identity) == 0 ? 0 : PL_EUNAUTH;
}

void pcrypto_sha256(uint8_t out[32], const void *p, size_t len)
{
    crypto_hash_sha256(out, p, len);
}

void pcrypto_wipe(void *p, size_t n)
{
    sodium_memzero(p, n);
}

bool pcrypto_equal(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}
