/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for webpush/ece.c: RFC 8188 and RFC 8291 vectors. */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "webpush/webpush.h"

#include <stdlib.h>
#include <string.h>

/* Decodes a base64url vector into a static buffer (tests only). */
static size_t b64(const char *s, uint8_t *out, size_t cap)
{
    int n = webpush_b64url_decode(s, out, cap);
    PL_ASSERT(n >= 0);
    return (size_t)n;
}

/* RFC 8188 section 3.1: one record, rs 4096, no key id. */
PLTEST(rfc8188_example1_encrypt_exact)
{
    uint8_t ikm[16], salt[16], want[128];
    PL_ASSERT_INT_EQ(b64("yqdlZ-tYemfogSmv7Ws5PQ", ikm, sizeof(ikm)), 16);
    PL_ASSERT_INT_EQ(b64("I1BsxtFttlv3u_Oo94xnmw", salt, sizeof(salt)), 16);
    size_t wn = b64("I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva3MEB1PD-ly8Thjg", want,
                    sizeof(want));
    uint8_t *out;
    size_t n;
    PL_ASSERT_INT_EQ(webpush_ece_encrypt(ikm, 16, salt, 4096, NULL, 0,
                                         (const uint8_t *)"I am the walrus", 15, &out, &n),
                     0);
    PL_ASSERT_INT_EQ(n, wn);
    PL_ASSERT_MEM_EQ(out, want, n);
    uint8_t *pt;
    size_t pn;
    PL_ASSERT_INT_EQ(webpush_ece_decrypt(ikm, 16, out, n, &pt, &pn), 0);
    PL_ASSERT_INT_EQ(pn, 15);
    PL_ASSERT_MEM_EQ(pt, "I am the walrus", 15);
    free(pt);
    free(out);
}

/* RFC 8188 section 3.2: two records of 25 bytes, key id "a1", padding. */
PLTEST(rfc8188_example2_decrypt_two_records)
{
    uint8_t ikm[16], body[128];
    PL_ASSERT_INT_EQ(b64("BO3ZVPxUlnLORbVGMpbT1Q", ikm, sizeof(ikm)), 16);
    size_t n =
        b64("uNCkWiNYzKTnBN9ji3-qWAAAABkCYTHOG8chz_gnvgOqdGYovxyjuqRyJFjEDyoF1Fvkj6hQPdPHI51O"
            "EUKEpgz3SsLWIqS_uA",
            body, sizeof(body));
    PL_ASSERT_INT_EQ(body[20], 2);
    PL_ASSERT_MEM_EQ(body + 21, "a1", 2);
    uint8_t *pt;
    size_t pn;
    PL_ASSERT_INT_EQ(webpush_ece_decrypt(ikm, 16, body, n, &pt, &pn), 0);
    PL_ASSERT_INT_EQ(pn, 15);
    PL_ASSERT_MEM_EQ(pt, "I am the walrus", 15);
    free(pt);
    /* Any flipped bit fails authentication; a truncated body fails too. */
    for (size_t i = 23; i < n; i += 7) {
        body[i] ^= 1;
        PL_ASSERT_INT_EQ(webpush_ece_decrypt(ikm, 16, body, n, &pt, &pn), PL_EINVAL);
        body[i] ^= 1;
    }
    PL_ASSERT_INT_EQ(webpush_ece_decrypt(ikm, 16, body, n - 25, &pt, &pn), PL_EINVAL);
}

/* RFC 8291 appendix A: the exact body from the published keys and salt. */
#define AS_PRIVATE "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
#define AS_PUBLIC                                                                                  \
    "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
#define UA_PRIVATE "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
#define UA_PUBLIC                                                                                  \
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
#define SALT "DGv6ra1nlYgDCS1FRnbzlw"
#define AUTH "BTBZMqHH6r4Tts7J_aSIgg"
#define BODY                                                                                       \
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS" \
    "6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_"   \
    "Qulcy4a-fN"
#define PLAINTEXT "When I grow up, I want to be a watermelon"

PLTEST(rfc8291_appendix_a_encrypt_exact)
{
    uint8_t asd[32], asp[65], uap[65], salt[16], auth[16], want[256];
    b64(AS_PRIVATE, asd, sizeof(asd));
    b64(AS_PUBLIC, asp, sizeof(asp));
    b64(UA_PUBLIC, uap, sizeof(uap));
    b64(SALT, salt, sizeof(salt));
    b64(AUTH, auth, sizeof(auth));
    size_t wn = b64(BODY, want, sizeof(want));
    struct webpush_key *as;
    PL_ASSERT_INT_EQ(webpush_key_from_private(asd, &as), 0);
    uint8_t pub[65];
    webpush_key_public(as, pub);
    PL_ASSERT_MEM_EQ(pub, asp, 65);
    struct webpush_fixed fx = {.salt = salt, .as_key = as};
    uint8_t *out;
    size_t n;
    PL_ASSERT_INT_EQ(
        webpush_encrypt(uap, auth, (const uint8_t *)PLAINTEXT, strlen(PLAINTEXT), &fx, &out, &n),
        0);
    PL_ASSERT_INT_EQ(n, wn);
    PL_ASSERT_MEM_EQ(out, want, n);
    free(out);
    webpush_key_free(as);
}

PLTEST(rfc8291_appendix_a_decrypt)
{
    uint8_t uad[32], uap[65], auth[16], body[256];
    b64(UA_PRIVATE, uad, sizeof(uad));
    b64(UA_PUBLIC, uap, sizeof(uap));
    b64(AUTH, auth, sizeof(auth));
    size_t n = b64(BODY, body, sizeof(body));
    struct webpush_key *ua;
    PL_ASSERT_INT_EQ(webpush_key_from_private(uad, &ua), 0);
    uint8_t pub[65];
    webpush_key_public(ua, pub);
    PL_ASSERT_MEM_EQ(pub, uap, 65);
    uint8_t *pt;
    size_t pn;
    PL_ASSERT_INT_EQ(webpush_decrypt(ua, auth, body, n, &pt, &pn), 0);
    PL_ASSERT_INT_EQ(pn, strlen(PLAINTEXT));
    PL_ASSERT_MEM_EQ(pt, PLAINTEXT, pn);
    free(pt);
    /* The wrong auth secret cannot decrypt. */
    auth[0] ^= 1;
    PL_ASSERT_INT_EQ(webpush_decrypt(ua, auth, body, n, &pt, &pn), PL_EINVAL);
    webpush_key_free(ua);
}

PLTEST(webpush_round_trip_fresh_keys)
{
    struct webpush_key *ua;
    PL_ASSERT_INT_EQ(webpush_key_generate(&ua), 0);
    uint8_t uap[65], auth[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    webpush_key_public(ua, uap);
    PL_ASSERT(webpush_public_valid(uap));
    static uint8_t big[WEBPUSH_MAX_PLAINTEXT + 1];
    memset(big, 'x', sizeof(big));
    uint8_t *out, *pt;
    size_t n, pn;
    PL_ASSERT_INT_EQ(webpush_encrypt(uap, auth, big, sizeof(big), NULL, &out, &n), PL_ETOOBIG);
    PL_ASSERT_INT_EQ(webpush_encrypt(uap, auth, big, sizeof(big) - 1, NULL, &out, &n), 0);
    PL_ASSERT_INT_EQ(n, 4096);
    PL_ASSERT_INT_EQ(webpush_decrypt(ua, auth, out, n, &pt, &pn), 0);
    PL_ASSERT_INT_EQ(pn, sizeof(big) - 1);
    free(pt);
    free(out);
    /* Two encryptions of the same text differ (fresh salt and key). */
    uint8_t *o2;
    size_t n2;
    PL_ASSERT_INT_EQ(webpush_encrypt(uap, auth, big, 10, NULL, &out, &n), 0);
    PL_ASSERT_INT_EQ(webpush_encrypt(uap, auth, big, 10, NULL, &o2, &n2), 0);
    PL_ASSERT(n == n2 && memcmp(out, o2, n) != 0);
    free(out);
    free(o2);
    /* A point off the curve is refused. */
    uap[40] ^= 1;
    PL_ASSERT(!webpush_public_valid(uap));
    PL_ASSERT_INT_EQ(webpush_encrypt(uap, auth, big, 10, NULL, &out, &n), PL_EINVAL);
    webpush_key_free(ua);
}

PLTEST(b64url)
{
    char s[16];
    uint8_t b[16];
    PL_ASSERT_INT_EQ(webpush_b64url_encode((const uint8_t *)"\xfb\xff", 2, s, sizeof(s)), 3);
    PL_ASSERT_STR_EQ(s, "-_8");
    PL_ASSERT_INT_EQ(webpush_b64url_decode("-_8", b, sizeof(b)), 2);
    PL_ASSERT_INT_EQ(webpush_b64url_decode("-_8=", b, sizeof(b)), 2);
    PL_ASSERT_INT_EQ(webpush_b64url_decode("-_9", b, sizeof(b)), PL_EINVAL); /* stray bits */
    PL_ASSERT_INT_EQ(webpush_b64url_decode("a+b/", b, sizeof(b)), PL_EINVAL);
    PL_ASSERT_INT_EQ(webpush_b64url_decode("abcde", b, sizeof(b)), PL_EINVAL);
    PL_ASSERT_INT_EQ(webpush_b64url_decode("AAAAAAAA", b, 5), PL_ETOOBIG);
    PL_ASSERT_INT_EQ(webpush_b64url_encode(b, 3, s, 4), PL_ETOOBIG);
}
