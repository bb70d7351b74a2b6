/* SPDX-License-Identifier: MIT */
/* Parley - helpers shared by the crypto/e2e unit tests (header-only).  */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_TEST_E2E_TESTUTIL_H
#define PL_TEST_E2E_TESTUTIL_H

#include "tests/pltest.h"

#include "crypto/e2e.h"

#include <stdint.h>
#include <string.h>

/* The conversation and sending device a test's sender keys are bound to
 * (the device id uses the high 32 bits, to catch a truncated be64). */
#define G_CONV 12345u
#define G_DEV 0x100000002ULL

/* A seeded PRNG (xorshift64*) so every property run is reproducible; the
 * seed is printed on failure through the assertion's message. */
static inline uint64_t prng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static inline uint32_t prng_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(prng_next(s) % n);
}

static inline void prng_shuffle(uint64_t *s, uint32_t *a, uint32_t n)
{
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = prng_below(s, i), t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* A device: identity, signed prekey and one one-time prekey. */
struct tdev {
    struct e2e_identity *id;
    struct e2e_signed_prekey spk;
    struct e2e_prekey opk;
};

static inline void tdev_init(struct tdev *d, uint32_t spk_id, uint32_t opk_id)
{
    PL_ASSERT_INT_EQ(e2e_init(), 0);
    PL_ASSERT_INT_EQ(e2e_identity_new(&d->id), 0);
    PL_ASSERT_INT_EQ(e2e_signed_prekey_generate(d->id, spk_id, &d->spk), 0);
    PL_ASSERT_INT_EQ(e2e_prekey_generate(opk_id, &d->opk), 0);
}

static inline void tdev_deinit(struct tdev *d)
{
    e2e_identity_free(d->id);
    e2e_prekey_wipe(&d->spk.key);
    e2e_prekey_wipe(&d->opk);
}

static inline void tdev_bundle(const struct tdev *d, int with_opk, struct e2e_bundle *b)
{
    memset(b, 0, sizeof(*b));
    memcpy(b->identity_key, e2e_identity_public(d->id), 32);
    b->spk_id = d->spk.key.id;
    memcpy(b->spk_pub, d->spk.key.pub, 32);
    memcpy(b->spk_sig, d->spk.sig, 64);
    b->has_opk = with_opk;
    b->opk_id = d->opk.id;
    memcpy(b->opk_pub, d->opk.pub, 32);
}

/* Decrypts m with s and asserts the plaintext is want. */
static inline void expect_plain(struct e2e_session *s, const uint8_t *m, size_t len,
                                const char *want)
{
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    int rc = e2e_session_decrypt(s, m, len, &pt, &ptlen);
    if (rc != 0)
        pltest_fail(__FILE__, __LINE__, "decrypt of \"%s\": %s", want, e2e_strerror(rc));
    PL_ASSERT_INT_EQ(ptlen, strlen(want));
    PL_ASSERT_MEM_EQ(pt, want, ptlen);
    e2e_buf_free(pt, ptlen);
}

/* Alice starts a session with Bob and Bob answers, so both sides hold an
 * established session. */
static inline void session_pair(struct tdev *a, struct tdev *b, int with_opk,
                                struct e2e_session **sa, struct e2e_session **sb)
{
    struct e2e_bundle bu;
    uint8_t *m, *pt;
    size_t mlen, ptlen;
    enum e2e_msg_type t;
    tdev_bundle(b, with_opk, &bu);
    PL_ASSERT_INT_EQ(e2e_session_initiate(a->id, &bu, sa), 0);
    PL_ASSERT_INT_EQ(e2e_session_encrypt(*sa, (const uint8_t *)"hi", 2, &m, &mlen, &t), 0);
    PL_ASSERT_INT_EQ(t, E2E_MSG_PREKEY);
    PL_ASSERT_INT_EQ(e2e_session_respond(b->id, &b->spk.key, with_opk ? &b->opk : NULL, m, mlen, sb,
                                         &pt, &ptlen),
                     0);
    PL_ASSERT_INT_EQ(ptlen, 2);
    PL_ASSERT_MEM_EQ(pt, "hi", 2);
    e2e_buf_free(pt, ptlen);
    e2e_buf_free(m, mlen);
}

#endif
