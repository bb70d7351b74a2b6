/* SPDX-License-Identifier: MIT */
/* Parley - bearer session tokens and their lookup hashes.              */
/* Copyright (c) 2026 Parley developers                                 */
#include "crypto.h"

#include <sodium.h>
#include <stdbool.h>
#include <string.h>

/*
 * A token is 32 bytes from the CSPRNG, so it carries 256 bits of entropy.
 * The server stores only a hash of it, so a leaked devices table does not
 * hand out working sessions. A fast hash (BLAKE2b-256) is enough here,
 * unlike for passwords: a password comes from a small human-chosen space
 * that argon2's cost protects against guessing, whereas nobody can
 * enumerate 2^256 random tokens no matter how cheap each guess is. Being
 * fast matters too, since every authenticated request hashes its token.
 *
 * The lookup itself is an indexed equality on the hash. Its timing can
 * at most leak how a guess's hash compares with stored hashes, and an
 * attacker cannot steer a hash toward a chosen value, so no constant-time
 * comparison is needed there.
 */

#define PREFIX_LEN (sizeof(PCRYPTO_TOKEN_PREFIX) - 1)
#define RAW_BYTES 32
#define B64_LEN (PCRYPTO_TOKEN_STRLEN - PREFIX_LEN)

_Static_assert(PCRYPTO_TOKEN_HASHBYTES == crypto_generichash_BYTES, "BLAKE2b-256");
_Static_assert(sodium_base64_ENCODED_LEN(RAW_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ==
                   B64_LEN + 1,
               "token length");

static void hash_string(const char *token, uint8_t hash[PCRYPTO_TOKEN_HASHBYTES])
{
    /* crypto_generichash only fails for out-of-range sizes, and these are
     * constants checked above. */
    int rc = crypto_generichash(hash, PCRYPTO_TOKEN_HASHBYTES, (const unsigned char *)token,
                                PCRYPTO_TOKEN_STRLEN, NULL, 0);
    (void)rc;
}

int pcrypto_token_init(char out[PCRYPTO_TOKEN_STRLEN + 1], uint8_t hash[PCRYPTO_TOKEN_HASHBYTES])
{
    unsigned char raw[RAW_BYTES];
    randombytes_buf(raw, sizeof(raw));
    memcpy(out, PCRYPTO_TOKEN_PREFIX, PREFIX_LEN);
    sodium_bin2base64(out + PREFIX_LEN, B64_LEN + 1, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    hash_string(out, hash);
    return 0;
}

static bool is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

int pcrypto_token_hash(const char *token, uint8_t hash[PCRYPTO_TOKEN_HASHBYTES])
{
    memset(hash, 0, PCRYPTO_TOKEN_HASHBYTES);
    if (!token || strnlen(token, PCRYPTO_TOKEN_STRLEN + 1) != PCRYPTO_TOKEN_STRLEN ||
        memcmp(token, PCRYPTO_TOKEN_PREFIX, PREFIX_LEN) != 0)
        return PL_EUNAUTH;
    for (size_t i = PREFIX_LEN; i < PCRYPTO_TOKEN_STRLEN; i++)
        if (!is_b64url(token[i]))
            return PL_EUNAUTH;
    /* 43 characters hold 258 bits; libsodium's decoder rejects the two
     * spare bits being set, so each 32-byte secret has exactly one
     * accepted spelling. */
    unsigned char raw[RAW_BYTES];
    size_t raw_len = 0;
    int rc = sodium_base642bin(raw, sizeof(raw), token + PREFIX_LEN, B64_LEN, NULL, &raw_len, NULL,
                               sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    if (rc != 0 || raw_len != RAW_BYTES)
        return PL_EUNAUTH;
    hash_string(token, hash);
    return 0;
}
