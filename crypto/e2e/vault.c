/* SPDX-License-Identifier: MIT */
/* Parley - client secrets at rest, sealed under a passphrase.          */
/* Copyright (c) 2026 Parley developers                                 */
#include "crypto/e2e/e2e_int.h"

#include <string.h>

/*
 * Format (PROTOCOL.md, "Secrets at rest"):
 *   "PLV1" || opslimit (be32) || memlimit in KiB (be32) || salt (16)
 *   || nonce (24) || crypto_secretbox(pt)
 * key = crypto_pwhash argon2id13 (pass, salt, opslimit, memlimit), 32 bytes.
 * The cost travels with the file so it can be raised later; opening
 * refuses costs beyond libsodium's SENSITIVE limits so a planted file
 * cannot make the client allocate without bound.
 */
#define VAULT_MAGIC "PLV1"
#define VAULT_HDR (4 + 4 + 4 + crypto_pwhash_SALTBYTES + crypto_secretbox_NONCEBYTES)

struct e2e_vault_params e2e_vault_params_default(void)
{
    struct e2e_vault_params p = {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
    return p;
}

static int derive(uint8_t key[32], const char *pass, size_t passlen, const uint8_t *salt,
                  unsigned long long ops, size_t mem)
{
    if (crypto_pwhash(key, 32, pass, passlen, salt, ops, mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return PL_ENOMEM; /* libsodium fails only when it cannot get the memory */
    return 0;
}

int e2e_vault_seal(const char *pass, size_t passlen, const struct e2e_vault_params *p,
                   const uint8_t *pt, size_t len, uint8_t **out, size_t *outlen)
{
    uint8_t key[32];
    if (!pass || !p || (!pt && len) || !out || !outlen)
        return PL_EINVAL;
    if (p->opslimit < crypto_pwhash_OPSLIMIT_MIN || p->opslimit > UINT32_MAX ||
        p->memlimit < crypto_pwhash_MEMLIMIT_MIN || p->memlimit / 1024 > UINT32_MAX ||
        p->memlimit % 1024 != 0)
        return PL_EINVAL;
    if (len > SIZE_MAX - VAULT_HDR - crypto_secretbox_MACBYTES)
        return PL_ETOOBIG;
    size_t total = VAULT_HDR + crypto_secretbox_MACBYTES + len;
    uint8_t *v = e2e__alloc(total);
    if (!v)
        return PL_ENOMEM;
    memcpy(v, VAULT_MAGIC, 4);
    e2e__put32(v + 4, (uint32_t)p->opslimit);
    e2e__put32(v + 8, (uint32_t)(p->memlimit / 1024));
    uint8_t *salt = v + 12, *nonce = salt + crypto_pwhash_SALTBYTES;
    randombytes_buf(salt, crypto_pwhash_SALTBYTES);
    randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
    int rc = derive(key, pass, passlen, salt, p->opslimit, p->memlimit);
    if (rc < 0) {
        e2e_buf_free(v, total);
        return rc;
    }
    crypto_secretbox_easy(v + VAULT_HDR, pt, len, nonce, key);
    sodium_memzero(key, sizeof(key));
    *out = v;
    *outlen = total;
    return 0;
}

int e2e_vault_open(const char *pass, size_t passlen, const uint8_t *in, size_t len, uint8_t **pt,
                   size_t *ptlen)
{
    uint8_t key[32];
    if (!pass || !in || !pt || !ptlen)
        return PL_EINVAL;
    if (len < VAULT_HDR + crypto_secretbox_MACBYTES || memcmp(in, VAULT_MAGIC, 4) != 0)
        return PL_EMALFORMED;
    unsigned long long ops = e2e__get32(in + 4);
    size_t mem = (size_t)e2e__get32(in + 8) * 1024;
    if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_SENSITIVE ||
        mem < crypto_pwhash_MEMLIMIT_MIN || mem > crypto_pwhash_MEMLIMIT_SENSITIVE)
        return PL_EMALFORMED;
    const uint8_t *salt = in + 12, *nonce = salt + crypto_pwhash_SALTBYTES;
    size_t n = len - VAULT_HDR - crypto_secretbox_MACBYTES;
    uint8_t *p = e2e__alloc(n);
    if (!p)
        return PL_ENOMEM;
    int rc = derive(key, pass, passlen, salt, ops, mem);
    if (rc == 0 && crypto_secretbox_open_easy(p, in + VAULT_HDR, len - VAULT_HDR, nonce, key) != 0)
        rc = E2E_EPASSPHRASE;
    sodium_memzero(key, sizeof(key));
    if (rc < 0) {
        e2e_buf_free(p, n);
        return rc;
    }
    *pt = p;
    *ptlen = n;
    return 0;
}

/* ---- a store key and sealed records (the CLI's SQLite store) ---- */

int e2e_vault_key_derive(const char *pass, size_t passlen, const uint8_t salt[E2E_VAULT_SALTBYTES],
                         const struct e2e_vault_params *p, uint8_t key[32])
{
    if (!pass || !salt || !p || !key)
        return PL_EINVAL;
    if (p->opslimit < crypto_pwhash_OPSLIMIT_MIN ||
        p->opslimit > crypto_pwhash_OPSLIMIT_SENSITIVE ||
        p->memlimit < crypto_pwhash_MEMLIMIT_MIN || p->memlimit > crypto_pwhash_MEMLIMIT_SENSITIVE)
        return PL_EMALFORMED;
    return derive(key, pass, passlen, salt, p->opslimit, p->memlimit);
}

int e2e_vault_record_seal(const uint8_t key[32], const uint8_t *ad, size_t adlen, const uint8_t *pt,
                          size_t len, uint8_t **out, size_t *outlen)
{
    if (!key || (!ad && adlen) || (!pt && len) || !out || !outlen)
        return PL_EINVAL;
    if (len > SIZE_MAX - E2E_NONCEBYTES - E2E_TAGBYTES)
        return PL_ETOOBIG;
    size_t total = E2E_NONCEBYTES + len + E2E_TAGBYTES;
    uint8_t *v = e2e__alloc(total);
    if (!v)
        return PL_ENOMEM;
    randombytes_buf(v, E2E_NONCEBYTES); /* random 192-bit nonces never repeat in practice */
    crypto_aead_xchacha20poly1305_ietf_encrypt(v + E2E_NONCEBYTES, NULL, pt, len, ad, adlen, NULL,
                                               v, key);
    *out = v;
    *outlen = total;
    return 0;
}

int e2e_vault_record_open(const uint8_t key[32], const uint8_t *ad, size_t adlen, const uint8_t *in,
                          size_t len, uint8_t **pt, size_t *ptlen)
{
    unsigned long long n = 0;
    if (!key || (!ad && adlen) || !in || !pt || !ptlen)
        return PL_EINVAL;
    if (len < E2E_NONCEBYTES + E2E_TAGBYTES)
        return PL_EMALFORMED;
    uint8_t *p = e2e__alloc(len - E2E_NONCEBYTES - E2E_TAGBYTES + 1);
    if (!p)
        return PL_ENOMEM;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, &n, NULL, in + E2E_NONCEBYTES,
                                                   len - E2E_NONCEBYTES, ad, adlen, in, key) != 0) {
        free(p);
        return E2E_EPASSPHRASE;
    }
    *pt = p;
    *ptlen = (size_t)n;
    return 0;
}
