/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for crypto/token.c.                              */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "crypto/crypto.h"

#include <stdlib.h>
#include <string.h>

static int is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static void new_token(char tok[PCRYPTO_TOKEN_STRLEN + 1], uint8_t hash[PCRYPTO_TOKEN_HASHBYTES])
{
    PL_ASSERT_INT_EQ(pcrypto_init(), 0);
    PL_ASSERT_INT_EQ(pcrypto_token_init(tok, hash), 0);
}

PLTEST(token_format)
{
    char tok[PCRYPTO_TOKEN_STRLEN + 1];
    uint8_t hash[PCRYPTO_TOKEN_HASHBYTES];
    for (int i = 0; i < 200; i++) {
        new_token(tok, hash);
        PL_ASSERT_INT_EQ(strlen(tok), PCRYPTO_TOKEN_STRLEN);
        PL_ASSERT(memcmp(tok, "pl_", 3) == 0);
        for (int j = 3; j < PCRYPTO_TOKEN_STRLEN; j++)
            PL_ASSERT(is_b64url(tok[j]));
    }
}

PLTEST(token_hash_matches_new)
{
    char tok[PCRYPTO_TOKEN_STRLEN + 1];
    uint8_t h1[PCRYPTO_TOKEN_HASHBYTES], h2[PCRYPTO_TOKEN_HASHBYTES], h3[PCRYPTO_TOKEN_HASHBYTES];
    new_token(tok, h1);
    PL_ASSERT_INT_EQ(pcrypto_token_hash(tok, h2), 0);
    PL_ASSERT_MEM_EQ(h1, h2, PCRYPTO_TOKEN_HASHBYTES);
    PL_ASSERT_INT_EQ(pcrypto_token_hash(tok, h3), 0);
    PL_ASSERT_MEM_EQ(h2, h3, PCRYPTO_TOKEN_HASHBYTES);
}

PLTEST(token_hash_known_value)
{
    /* 32 zero bytes encode to 43 'A's; the hash is BLAKE2b-256 of the
     * 46-character string, computed independently with Python's
     * hashlib.blake2b(b"pl_" + b"A" * 43, digest_size=32). */
    const char *tok = "pl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    static const uint8_t want[32] = {0x68, 0xd0, 0xe9, 0xb9, 0xae, 0x49, 0xac, 0xa2,
                                     0x69, 0xb6, 0x21, 0x39, 0x92, 0xa3, 0xe2, 0x3b,
                                     0xe5, 0xbf, 0x10, 0x98, 0x30, 0xbd, 0x7e, 0x6d,
                                     0x71, 0xcc, 0xe4, 0xdf, 0xdc, 0x65, 0x9d, 0xee};
    uint8_t h[PCRYPTO_TOKEN_HASHBYTES];
    PL_ASSERT_INT_EQ(pcrypto_init(), 0);
    PL_ASSERT_INT_EQ(pcrypto_token_hash(tok, h), 0);
    PL_ASSERT_MEM_EQ(h, want, sizeof(want));
}

PLTEST(token_distinct_tokens_distinct_hashes)
{
    char a[PCRYPTO_TOKEN_STRLEN + 1], b[PCRYPTO_TOKEN_STRLEN + 1];
    uint8_t ha[PCRYPTO_TOKEN_HASHBYTES], hb[PCRYPTO_TOKEN_HASHBYTES];
    new_token(a, ha);
    memcpy(b, a, sizeof(b));
    /* Flip one character to another valid one. */
    b[10] = b[10] == 'A' ? 'B' : 'A';
    PL_ASSERT_INT_EQ(pcrypto_token_hash(b, hb), 0);
    PL_ASSERT(memcmp(ha, hb, PCRYPTO_TOKEN_HASHBYTES) != 0);
}

static int cmp_tok(const void *x, const void *y)
{
    return strcmp(x, y);
}

PLTEST(token_unique_across_draws)
{
    enum { N = 1000 };
    static char toks[N][PCRYPTO_TOKEN_STRLEN + 1];
    uint8_t hash[PCRYPTO_TOKEN_HASHBYTES];
    for (int i = 0; i < N; i++)
        new_token(toks[i], hash);
    qsort(toks, N, sizeof(toks[0]), cmp_tok);
    for (int i = 1; i < N; i++)
        PL_ASSERT(strcmp(toks[i - 1], toks[i]) != 0);
}

static void expect_rejected(const char *tok)
{
    uint8_t h[PCRYPTO_TOKEN_HASHBYTES];
    memset(h, 0xAA, sizeof(h));
    PL_ASSERT_INT_EQ(pcrypto_token_hash(tok, h), PL_EUNAUTH);
    static const uint8_t zero[PCRYPTO_TOKEN_HASHBYTES];
    PL_ASSERT_MEM_EQ(h, zero, sizeof(zero));
}

PLTEST(token_malformed_rejected)
{
    char tok[PCRYPTO_TOKEN_STRLEN + 1], bad[PCRYPTO_TOKEN_STRLEN + 2];
    uint8_t hash[PCRYPTO_TOKEN_HASHBYTES];
    new_token(tok, hash);

    expect_rejected(NULL);
    expect_rejected("");
    expect_rejected("pl_");

    memcpy(bad, tok, sizeof(tok)); /* wrong prefixes */
    bad[0] = 'P';
    expect_rejected(bad);
    memcpy(bad, tok, sizeof(tok));
    bad[2] = '-';
    expect_rejected(bad);
    memcpy(bad, "xx_", 3);
    expect_rejected(bad);

    memcpy(bad, tok, sizeof(tok)); /* one short */
    bad[PCRYPTO_TOKEN_STRLEN - 1] = '\0';
    expect_rejected(bad);
    memcpy(bad, tok, sizeof(tok)); /* one long */
    bad[PCRYPTO_TOKEN_STRLEN] = 'A';
    bad[PCRYPTO_TOKEN_STRLEN + 1] = '\0';
    expect_rejected(bad);

    /* Characters outside base64url: standard base64's '+' and '/',
     * padding, whitespace, and a high byte. */
    const char bads[] = {'+', '/', '=', ' ', '.', '\n', '\x80'};
    for (size_t i = 0; i < sizeof(bads); i++) {
        memcpy(bad, tok, sizeof(tok));
        bad[20] = bads[i];
        expect_rejected(bad);
    }
}

PLTEST(token_noncanonical_rejected)
{
    /* The last character carries 4 data bits and 2 spare bits; a server
     * never issues spare bits set, so 'B' (000001) in the last place is
     * not a token, while 'E' (000100) is. */
    char tok[] = "pl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    uint8_t h[PCRYPTO_TOKEN_HASHBYTES];
    PL_ASSERT_INT_EQ(pcrypto_init(), 0);
    tok[PCRYPTO_TOKEN_STRLEN - 1] = 'E';
    PL_ASSERT_INT_EQ(pcrypto_token_hash(tok, h), 0);
    tok[PCRYPTO_TOKEN_STRLEN - 1] = 'B';
    expect_rejected(tok);
}
