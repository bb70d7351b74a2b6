/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for crypto/password.c.                           */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "crypto/crypto.h"

#include <string.h>

/* The cheapest cost libsodium accepts, so the suite stays fast. */
static const struct pcrypto_pwhash_params fast = {.opslimit = 1, .memlimit = 8192};

static void hash_pw(const char *pw, char out[PCRYPTO_PWHASH_STRBYTES])
{
    PL_ASSERT_INT_EQ(pcrypto_init(), 0);
    PL_ASSERT_INT_EQ(pcrypto_password_hash(&fast, pw, strlen(pw), out), 0);
}

PLTEST(password_round_trip)
{
    char h[PCRYPTO_PWHASH_STRBYTES];
    hash_pw("correct horse battery staple", h);
    PL_ASSERT(strncmp(h, "$argon2id$v=19$", 15) == 0);
    PL_ASSERT(strlen(h) < PCRYPTO_PWHASH_STRBYTES);
    PL_ASSERT_INT_EQ(pcrypto_password_verify(h, "correct horse battery staple", 28), 0);
}

PLTEST(password_records_its_cost)
{
    char h[PCRYPTO_PWHASH_STRBYTES];
    hash_pw("hunter22", h);
    /* memlimit is recorded in KiB. */
    PL_ASSERT(strstr(h, "$m=8,t=1,p=1$") != NULL);
}

PLTEST(password_wrong_password_fails)
{
    char h[PCRYPTO_PWHASH_STRBYTES];
    hash_pw("hunter22", h);
    PL_ASSERT_INT_EQ(pcrypto_password_verify(h, "hunter23", 8), PL_EUNAUTH);
    PL_ASSERT_INT_EQ(pcrypto_password_verify(h, "hunter2", 7), PL_EUNAUTH);
    PL_ASSERT_INT_EQ(pcrypto_password_verify(h, "", 0), PL_EUNAUTH);
    /* The length is authoritative: a prefix of the right password fails. */
    PL_ASSERT_INT_EQ(pcrypto_password_verify(h, "hunter22", 6), PL_EUNAUTH);
}

PLTEST(password_binary_and_long_passwords)
{
    char h[PCRYPTO_PWHASH_STRBYTES];
    const char pw[] = {'a', '\0', 'b', '\xff', 'c', 'd', 'e', 'f'};
    PL_ASSERT_INT_EQ(pcrypto_init(), 0);
    PL_ASSERT_INT_EQ(pcrypto_password_hash(&fast, pw, sizeof(pw), h), 0);
    PL_ASSERT_INT_EQ(pcrypto_password_verify(h, pw, sizeof(pw)), 0);
    PL_ASSERT_INT_EQ(pcrypto_password_verify(h, pw, 1), PL_EUNAUTH);

    char big[1024];
    memset(big, 'x', sizeof(big));
    PL_ASSERT_INT_EQ(pcrypto_password_hash(&fast, big, sizeof(big), h), 0);
    PL_ASSERT_INT_EQ(pcrypto_password_verify(h, big, sizeof(big)), 0);
    big[1023] = 'y';
    PL_ASSERT_INT_EQ(pcrypto_password_verify(h, big, sizeof(big)), PL_EUNAUTH);
}

PLTEST(password_malformed_hash_fails)
{
    char h[PCRYPTO_PWHASH_STRBYTES];
    hash_pw("hunter22", h);
    PL_ASSERT_INT_EQ(pcrypto_password_verify("", "hunter22", 8), PL_EUNAUTH);
    PL_ASSERT_INT_EQ(pcrypto_password_verify("$argon2id$", "hunter22", 8), PL_EUNAUTH);
    PL_ASSERT_INT_EQ(pcrypto_password_verify("hunter22", "hunter22", 8), PL_EUNAUTH);
    PL_ASSERT_INT_EQ(pcrypto_password_verify(NULL, "hunter22", 8), PL_EUNAUTH);

    char cut[PCRYPTO_PWHASH_STRBYTES];
    memcpy(cut, h, sizeof(cut));
    cut[strlen(cut) - 5] = '\0';
    PL_ASSERT_INT_EQ(pcrypto_password_verify(cut, "hunter22", 8), PL_EUNAUTH);

    /* A buffer with no NUL inside PCRYPTO_PWHASH_STRBYTES is refused
     * without being read past its end. */
    char full[PCRYPTO_PWHASH_STRBYTES];
    memset(full, 'a', sizeof(full));
    PL_ASSERT_INT_EQ(pcrypto_password_verify(full, "hunter22", 8), PL_EUNAUTH);
}

PLTEST(password_same_password_different_salt)
{
    char a[PCRYPTO_PWHASH_STRBYTES], b[PCRYPTO_PWHASH_STRBYTES];
    hash_pw("same password", a);
    hash_pw("same password", b);
    PL_ASSERT(strcmp(a, b) != 0);
    PL_ASSERT_INT_EQ(pcrypto_password_verify(a, "same password", 13), 0);
    PL_ASSERT_INT_EQ(pcrypto_password_verify(b, "same password", 13), 0);
}

PLTEST(password_rejects_out_of_range_cost)
{
    char h[PCRYPTO_PWHASH_STRBYTES];
    struct pcrypto_pwhash_params zero_ops = {.opslimit = 0, .memlimit = 8192};
    struct pcrypto_pwhash_params tiny_mem = {.opslimit = 1, .memlimit = 1024};
    PL_ASSERT_INT_EQ(pcrypto_init(), 0);
    PL_ASSERT_INT_EQ(pcrypto_password_hash(&zero_ops, "hunter22", 8, h), PL_EINVAL);
    PL_ASSERT_STR_EQ(h, "");
    PL_ASSERT_INT_EQ(pcrypto_password_hash(&tiny_mem, "hunter22", 8, h), PL_EINVAL);
    PL_ASSERT_INT_EQ(pcrypto_password_hash(NULL, "hunter22", 8, h), PL_EINVAL);
}

PLTEST(password_burn_runs_and_changes_nothing)
{
    PL_ASSERT_INT_EQ(pcrypto_init(), 0);
    /* Twice at one cost (cached dummy), then at another (rebuilt). */
    pcrypto_password_burn(&fast, "whatever", 8);
    pcrypto_password_burn(&fast, "whatever", 8);
    struct pcrypto_pwhash_params two = {.opslimit = 2, .memlimit = 16384};
    pcrypto_password_burn(&two, "whatever", 8);
    pcrypto_password_burn(&two, NULL, 0);
    /* Invalid parameters are ignored rather than crashing. */
    pcrypto_password_burn(NULL, "whatever", 8);

    char h[PCRYPTO_PWHASH_STRBYTES];
    hash_pw("whatever", h);
    PL_ASSERT_INT_EQ(pcrypto_password_verify(h, "whatever", 8), 0);
}
