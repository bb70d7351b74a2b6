/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for crypto/urlsig.c.                             */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "crypto/crypto.h"
#include "crypto/urlsig.h"

#include <stdio.h>
#include <string.h>

#define KEY_A "m/00112233445566778899aabbccddeeff"
#define KEY_B "m/00112233445566778899aabbccddeef0"

static struct pcrypto_urlsig_key key(void)
{
    struct pcrypto_urlsig_key k;
    PL_ASSERT_INT_EQ(pcrypto_init(), 0);
    pcrypto_urlsig_key_init(&k);
    return k;
}

PLTEST(urlsig_round_trip)
{
    struct pcrypto_urlsig_key k = key();
    char sig[64];
    PL_ASSERT_INT_EQ(
        pcrypto_urlsig_sign(&k, "PUT", KEY_A, 1234, "image/png", 1000, sig, sizeof(sig)), 0);
    PL_ASSERT_INT_EQ(strlen(sig), PCRYPTO_URLSIG_STRLEN);
    PL_ASSERT_INT_EQ(pcrypto_urlsig_verify(&k, "PUT", KEY_A, 1234, "image/png", 1000, 999, sig), 0);
    PL_ASSERT_INT_EQ(pcrypto_urlsig_verify(&k, "PUT", KEY_A, 1234, "image/png", 1000, 1000, sig),
                     0);
}

PLTEST(urlsig_any_change_fails)
{
    struct pcrypto_urlsig_key k = key(), other = key();
    char sig[64];
    PL_ASSERT_INT_EQ(
        pcrypto_urlsig_sign(&k, "PUT", KEY_A, 1234, "image/png", 1000, sig, sizeof(sig)), 0);
    const int F = PL_EFORBIDDEN;
    PL_ASSERT_INT_EQ(pcrypto_urlsig_verify(&k, "PUT", KEY_A, 1234, "image/png", 1000, 1001, sig),
                     F);
    PL_ASSERT_INT_EQ(pcrypto_urlsig_verify(&k, "GET", KEY_A, 1234, "image/png", 1000, 0, sig), F);
    PL_ASSERT_INT_EQ(pcrypto_urlsig_verify(&k, "PUT", KEY_B, 1234, "image/png", 1000, 0, sig), F);
    PL_ASSERT_INT_EQ(pcrypto_urlsig_verify(&k, "PUT", KEY_A, 1235, "image/png", 1000, 0, sig), F);
    PL_ASSERT_INT_EQ(pcrypto_urlsig_verify(&k, "PUT", KEY_A, 1234, "image/gif", 1000, 0, sig), F);
    PL_ASSERT_INT_EQ(pcrypto_urlsig_verify(&k, "PUT", KEY_A, 1234, "image/png", 1001, 0, sig), F);
    PL_ASSERT_INT_EQ(pcrypto_urlsig_verify(&other, "PUT", KEY_A, 1234, "image/png", 1000, 0, sig),
                     F);
    char bad[64];
    strcpy(bad, sig);
    bad[5] = bad[5] == 'A' ? 'B' : 'A';
    PL_ASSERT_INT_EQ(pcrypto_urlsig_verify(&k, "PUT", KEY_A, 1234, "image/png", 1000, 0, bad), F);
    PL_ASSERT_INT_EQ(pcrypto_urlsig_verify(&k, "PUT", KEY_A, 1234, "image/png", 1000, 0, NULL), F);
    PL_ASSERT_INT_EQ(pcrypto_urlsig_verify(&k, "PUT", KEY_A, 1234, "image/png", 1000, 0, ""), F);
    bad[PCRYPTO_URLSIG_STRLEN - 1] = '\0';
    PL_ASSERT_INT_EQ(pcrypto_urlsig_verify(&k, "PUT", KEY_A, 1234, "image/png", 1000, 0, bad), F);
    /* Fields cannot smuggle a separator. */
    PL_ASSERT_INT_EQ(pcrypto_urlsig_sign(&k, "PUT", KEY_A, 1, "a\nb", 1, sig, sizeof(sig)),
                     PL_EINVAL);
    PL_ASSERT_INT_EQ(pcrypto_urlsig_sign(&k, "PUT", KEY_A, 1, "a", 1, sig, 10), PL_EINVAL);
}

PLTEST(urlsig_key_text)
{
    struct pcrypto_urlsig_key k = key(), back;
    char hex[PCRYPTO_URLSIG_KEYHEX + 1];
    pcrypto_urlsig_key_format(&k, hex);
    PL_ASSERT_INT_EQ(strlen(hex), 64);
    PL_ASSERT_INT_EQ(pcrypto_urlsig_key_parse(hex, &back), 0);
    PL_ASSERT(memcmp(k.k, back.k, sizeof(k.k)) == 0);
    char padded[80];
    snprintf(padded, sizeof(padded), " %s\n", hex);
    PL_ASSERT_INT_EQ(pcrypto_urlsig_key_parse(padded, &back), 0);
    PL_ASSERT_INT_EQ(pcrypto_urlsig_key_parse("abcd", &back), PL_EINVAL);
    hex[10] = 'x';
    PL_ASSERT_INT_EQ(pcrypto_urlsig_key_parse(hex, &back), PL_EINVAL);
    PL_ASSERT_INT_EQ(pcrypto_urlsig_key_parse("", &back), PL_EINVAL);
}
