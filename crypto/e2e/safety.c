/* SPDX-License-Identifier: MIT */
/* Parley - safety numbers: comparing two users' identity keys.         */
/* Copyright (c) 2026 Parley developers                                 */
#include "crypto/e2e/e2e_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * Signal's numeric fingerprint, adapted to per-device identity keys
 * (PROTOCOL.md, "Safety numbers"). For each user:
 *   K    = the user's device identity keys, sorted bytewise, concatenated
 *   H0   = SHA-512("parley-safety-v1" || be32(len(id)) || id || K)
 *   Hi+1 = SHA-512(Hi || K), 5200 times
 * The first 30 bytes of the last hash, as six 5-byte big-endian numbers
 * each taken mod 100000, give 30 digits. The safety number is the two
 * 30-digit halves in ascending order, so both users see the same 60
 * digits; the QR form is 0x01 || the two 32-byte fingerprints in the same
 * order. Iterating makes a brute-force search for a colliding key 5200
 * times dearer, as Signal argues.
 */
#define SAFETY_LABEL "parley-safety-v1"
#define SAFETY_ITERATIONS 5200

static int cmp_key(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static int fingerprint(const char *id, const uint8_t *keys, size_t n, uint8_t fp[64])
{
    crypto_hash_sha512_state st;
    uint8_t len[4];
    uint8_t *sorted = malloc(n * 32);
    if (!sorted)
        return PL_ENOMEM;
    memcpy(sorted, keys, n * 32);
    qsort(sorted, n, 32, cmp_key);
    e2e__put32(len, (uint32_t)strlen(id));
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, (const uint8_t *)SAFETY_LABEL, strlen(SAFETY_LABEL));
    crypto_hash_sha512_update(&st, len, 4);
    crypto_hash_sha512_update(&st, (const uint8_t *)id, strlen(id));
    crypto_hash_sha512_update(&st, sorted, n * 32);
    crypto_hash_sha512_final(&st, fp);
    for (int i = 0; i < SAFETY_ITERATIONS; i++) {
        crypto_hash_sha512_init(&st);
        crypto_hash_sha512_update(&st, fp, 64);
        crypto_hash_sha512_update(&st, sorted, n * 32);
        crypto_hash_sha512_final(&st, fp);
    }
    free(sorted);
    return 0;
}

static void digits30(const uint8_t fp[64], char out[31])
{
    for (int i = 0; i < 6; i++) {
        uint64_t v = 0;
        for (int j = 0; j < 5; j++)
            v = v << 8 | fp[i * 5 + j];
        unsigned d = (unsigned)(v % 100000);
        for (int j = 4; j >= 0; j--) {
            out[i * 5 + j] = (char)('0' + d % 10);
            d /= 10;
        }
    }
    out[30] = '\0';
}

int e2e_safety_number(const char *id_a, const uint8_t *keys_a, size_t na, const char *id_b,
                      const uint8_t *keys_b, size_t nb, char digits[E2E_SAFETY_DIGITS + 1],
                      uint8_t qr[E2E_SAFETY_QR_BYTES])
{
    uint8_t fa[64], fb[64];
    char da[31], db[31];
    int rc;
    if (!id_a || !id_b || !keys_a || !keys_b || !na || !nb || !digits)
        return PL_EINVAL;
    if (na > 1024 || nb > 1024 || strlen(id_a) > 1024 || strlen(id_b) > 1024)
        return PL_ETOOBIG;
    if ((rc = fingerprint(id_a, keys_a, na, fa)) < 0 ||
        (rc = fingerprint(id_b, keys_b, nb, fb)) < 0)
        return rc;
    digits30(fa, da);
    digits30(fb, db);
    /* Order by the digits, ties broken by the fingerprints, so the result
     * never depends on which user asks. */
    int a_first = strcmp(da, db) < 0 || (strcmp(da, db) == 0 && memcmp(fa, fb, 32) <= 0);
    memcpy(digits, a_first ? da : db, 30);
    memcpy(digits + 30, a_first ? db : da, 31);
    if (qr) {
        qr[0] = 0x01;
        memcpy(qr + 1, a_first ? fa : fb, 32);
        memcpy(qr + 33, a_first ? fb : fa, 32);
    }
    return 0;
}
