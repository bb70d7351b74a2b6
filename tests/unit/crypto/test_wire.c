/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for crypto/wire.c.                               */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "crypto/crypto.h"

#include <sodium.h>
#include <string.h>

static void b64(const uint8_t *p, size_t n, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

PLTEST(b64url_round_trip_every_length)
{
    uint8_t raw[40], back[40];
    char s[64];
    for (size_t n = 0; n < sizeof(raw); n++) {
        for (size_t i = 0; i < n; i++)
            raw[i] = (uint8_t)(i * 37 + n);
        b64(raw, n, s, sizeof(s));
        size_t got = 99;
        PL_ASSERT_INT_EQ(pcrypto_b64url_decode(s, strlen(s), back, n, &got), 0);
        PL_ASSERT_INT_EQ(got, n);
        PL_ASSERT_MEM_EQ(back, raw, n);
        got = 99;
        PL_ASSERT_INT_EQ(pcrypto_b64url_check(s, strlen(s), n, &got), 0);
        PL_ASSERT_INT_EQ(got, n);
        if (n)
            PL_ASSERT_INT_EQ(pcrypto_b64url_check(s, strlen(s), n - 1, NULL), PL_ETOOBIG);
    }
}

PLTEST(b64url_refuses_non_canonical)
{
    uint8_t out[8];
    const char *bad[] = {
        "AB=",  /* padding */
        "A",    /* a one-character tail carries no byte */
        "AB+/", /* the standard alphabet */
        "AB C", /* whitespace */
        "AF",   /* 0x00 with spare bits set: "AA" is the one spelling */
        "AAB",  /* 2 bytes, last spare bits set: "AAA" is the one spelling */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        PL_ASSERT_INT_EQ(pcrypto_b64url_decode(bad[i], strlen(bad[i]), out, sizeof(out), NULL),
                         PL_EMALFORMED);
        PL_ASSERT_INT_EQ(pcrypto_b64url_check(bad[i], strlen(bad[i]), 8, NULL), PL_EMALFORMED);
    }
    PL_ASSERT_INT_EQ(pcrypto_b64url_decode("AA", 2, out, sizeof(out), NULL), 0);
    PL_ASSERT_INT_EQ(pcrypto_b64url_decode("AAA", 3, out, sizeof(out), NULL), 0);
    PL_ASSERT_INT_EQ(pcrypto_b64url_decode(NULL, 0, out, sizeof(out), NULL), PL_EMALFORMED);
    PL_ASSERT_INT_EQ(pcrypto_b64url_decode("AAAAAAAAAAAA", 12, out, sizeof(out), NULL), PL_ETOOBIG);
}

/* Signs what crypto/PROTOCOL.md says a signed prekey's signature covers. */
static void sign_spk(const uint8_t sk[64], uint32_t id, const uint8_t pub[32], uint8_t sig[64])
{
    uint8_t msg[13 + 4 + 32];
    memcpy(msg, "parley-spk-v1", 13);
    msg[13] = (uint8_t)(id >> 24);
    msg[14] = (uint8_t)(id >> 16);
    msg[15] = (uint8_t)(id >> 8);
    msg[16] = (uint8_t)id;
    memcpy(msg + 17, pub, 32);
    crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
}

PLTEST(spk_verify)
{
    PL_ASSERT_INT_EQ(pcrypto_init(), 0);
    uint8_t pk[32], sk[64], other_pk[32], other_sk[64], pub[32], sig[64];
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(other_pk, other_sk);
    randombytes_buf(pub, sizeof(pub));
    sign_spk(sk, 0x01020304u, pub, sig);
    PL_ASSERT_INT_EQ(pcrypto_spk_verify(pk, 0x01020304u, pub, sig), 0);
    /* Every bound field matters. */
    PL_ASSERT_INT_EQ(pcrypto_spk_verify(other_pk, 0x01020304u, pub, sig), PL_EUNAUTH);
    PL_ASSERT_INT_EQ(pcrypto_spk_verify(pk, 0x01020305u, pub, sig), PL_EUNAUTH);
    pub[0] ^= 1;
    PL_ASSERT_INT_EQ(pcrypto_spk_verify(pk, 0x01020304u, pub, sig), PL_EUNAUTH);
    pub[0] ^= 1;
    sig[63] ^= 0x40;
    PL_ASSERT_INT_EQ(pcrypto_spk_verify(pk, 0x01020304u, pub, sig), PL_EUNAUTH);
}

PLTEST(sha256_and_wipe)
{
    uint8_t d[32], want[32];
    crypto_hash_sha256(want, (const uint8_t *)"abc", 3);
    pcrypto_sha256(d, "abc", 3);
    PL_ASSERT_MEM_EQ(d, want, 32);
    /* FIPS 180-2's first example. */
    PL_ASSERT_INT_EQ(d[0], 0xba);
    PL_ASSERT_INT_EQ(d[31], 0xad);
    char secret[16] = "not for the log";
    pcrypto_wipe(secret, sizeof(secret));
    for (size_t i = 0; i < sizeof(secret); i++)
        PL_ASSERT_INT_EQ(secret[i], 0);
}
