/* SPDX-License-Identifier: MIT */
/* Parley - signed URLs: HMAC-SHA256 over what a presigned URL allows.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "urlsig.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The version prefix keeps these MACs apart from anything else the key
 * might ever sign; the newline separators cannot occur inside a field
 * (checked), so two different field lists never share a canonical string. */
#define URLSIG_PREFIX "parley-url-v1\n"

void pcrypto_urlsig_key_init(struct pcrypto_urlsig_key *key)
{
    randombytes_buf(key->k, sizeof(key->k));
}

int pcrypto_urlsig_key_parse(const char *hex, struct pcrypto_urlsig_key *key)
{
    size_t bin_len = 0;
    const char *end = NULL;
    while (*hex == ' ' || *hex == '\t' || *hex == '\n')
        hex++;
    if (sodium_hex2bin(key->k, sizeof(key->k), hex, strlen(hex), NULL, &bin_len, &end) != 0 ||
        bin_len != sizeof(key->k))
        return PL_EINVAL;
    for (; *end; end++)
        if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')
            return PL_EINVAL;
    return 0;
}

void pcrypto_urlsig_key_format(const struct pcrypto_urlsig_key *key,
                               char out[PCRYPTO_URLSIG_KEYHEX + 1])
{
    sodium_bin2hex(out, PCRYPTO_URLSIG_KEYHEX + 1, key->k, sizeof(key->k));
}

static bool field_ok(const char *s)
{
    return s && !strchr(s, '\n');
}

static int mac(const struct pcrypto_urlsig_key *key, const char *method, const char *blob_key,
               uint64_t size, const char *type, int64_t expires,
               uint8_t out[crypto_auth_hmacsha256_BYTES])
{
    if (!type)
        type = "";
    if (!field_ok(method) || !field_ok(blob_key) || !field_ok(type))
        return PL_EINVAL;
    char num[48];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key->k, sizeof(key->k));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)URLSIG_PREFIX, strlen(URLSIG_PREFIX));
    const char *parts[] = {method, "\n", blob_key, "\n"};
    for (size_t i = 0; i < PL_ARRAY_LEN(parts); i++)
        crypto_auth_hmacsha256_update(&st, (const uint8_t *)parts[i], strlen(parts[i]));
    int n = snprintf(num, sizeof(num), "%" PRIu64 "\n", size);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)num, (size_t)n);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)type, strlen(type));
    n = snprintf(num, sizeof(num), "\n%" PRId64, expires);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)num, (size_t)n);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
    return 0;
}

int pcrypto_urlsig_sign(const struct pcrypto_urlsig_key *key, const char *method,
                        const char *blob_key, uint64_t size, const char *type, int64_t expires,
                        char *out, size_t cap)
{
    uint8_t m[crypto_auth_hmacsha256_BYTES];
    if (cap < PCRYPTO_URLSIG_STRLEN + 1)
        return PL_EINVAL;
    int rc = mac(key, method, blob_key, size, type, expires, m);
    if (rc < 0)
        return rc;
    sodium_bin2base64(out, cap, m, sizeof(m), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return 0;
}

int pcrypto_urlsig_verify(const struct pcrypto_urlsig_key *key, const char *method,
                          const char *blob_key, uint64_t size, const char *type, int64_t expires,
                          int64_t now, const char *sig)
{
    uint8_t want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
    size_t len = 0;
    const char *end = NULL;
    if (!sig || strlen(sig) != PCRYPTO_URLSIG_STRLEN || now > expires)
        return PL_EFORBIDDEN;
    if (sodium_base642bin(got, sizeof(got), sig, PCRYPTO_URLSIG_STRLEN, NULL, &len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        len != sizeof(got) || *end)
        return PL_EFORBIDDEN;
    if (mac(key, method, blob_key, size, type, expires, want) < 0)
        return PL_EFORBIDDEN;
    return sodium_memcmp(want, got, sizeof(want)) == 0 ? 0 : PL_EFORBIDDEN;
}
