/* SPDX-License-Identifier: MIT */
/* Parley - HKDF-SHA256, chain KDFs and small helpers for crypto/e2e.   */
/* Copyright (c) 2026 Parley developers                                 */
#include "crypto/e2e/e2e_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * libsodium 1.0.18 (Debian's) has HMAC-SHA256 but no HKDF, so HKDF is
 * built here exactly as RFC 5869 describes it. The incremental HMAC API
 * accepts keys of any length, which HKDF-Extract needs (the salt is the
 * key) and which the one-shot crypto_auth_hmacsha256() (32-byte keys) does
 * not allow.
 */
void e2e__hkdf(const uint8_t *salt, size_t saltlen, const uint8_t *ikm, size_t ikmlen,
               const char *info, uint8_t *out, size_t outlen)
{
    static const uint8_t zeros[32];
    crypto_auth_hmacsha256_state st;
    uint8_t prk[32], t[32];
    size_t infolen = strlen(info), done = 0;

    if (!salt || !saltlen) {
        salt = zeros;
        saltlen = sizeof(zeros);
    }
    crypto_auth_hmacsha256_init(&st, salt, saltlen);
    crypto_auth_hmacsha256_update(&st, ikm, ikmlen);
    crypto_auth_hmacsha256_final(&st, prk);

    for (uint8_t i = 1; done < outlen; i++) {
        crypto_auth_hmacsha256_init(&st, prk, sizeof(prk));
        if (i > 1)
            crypto_auth_hmacsha256_update(&st, t, sizeof(t));
        crypto_auth_hmacsha256_update(&st, (const uint8_t *)info, infolen);
        crypto_auth_hmacsha256_update(&st, &i, 1);
        crypto_auth_hmacsha256_final(&st, t);
        size_t n = PL_MIN(sizeof(t), outlen - done);
        memcpy(out + done, t, n);
        done += n;
    }
    sodium_memzero(&st, sizeof(st));
    sodium_memzero(prk, sizeof(prk));
    sodium_memzero(t, sizeof(t));
}

void e2e__kdf_ck(uint8_t ck[32], uint8_t mk[32])
{
    static const uint8_t one = 0x01, two = 0x02;
    uint8_t next[32];
    crypto_auth_hmacsha256(mk, &one, 1, ck);
    crypto_auth_hmacsha256(next, &two, 1, ck);
    memcpy(ck, next, 32);
    sodium_memzero(next, sizeof(next));
}

void e2e__msg_keys(const uint8_t mk[32], const char *label, uint8_t key[32],
                   uint8_t nonce[E2E_NONCEBYTES])
{
    uint8_t okm[32 + E2E_NONCEBYTES];
    e2e__hkdf(NULL, 0, mk, 32, label, okm, sizeof(okm));
    memcpy(key, okm, 32);
    memcpy(nonce, okm + 32, E2E_NONCEBYTES);
    sodium_memzero(okm, sizeof(okm));
}

int e2e__dh(uint8_t out[32], const uint8_t sk[32], const uint8_t pk[32])
{
    /* crypto_scalarmult refuses (returns -1) an all-zero shared secret,
     * which a peer could force with a low-order public key. */
    return crypto_scalarmult(out, sk, pk) == 0 ? 0 : PL_EINVAL;
}

void e2e__x25519_keypair(uint8_t pk[32], uint8_t sk[32])
{
    randombytes_buf(sk, 32);
    crypto_scalarmult_base(pk, sk);
}

uint8_t *e2e__alloc(size_t n)
{
    return malloc(n ? n : 1);
}

int e2e_init(void)
{
    return sodium_init() < 0 ? PL_EINTERNAL : 0;
}

void e2e_buf_free(uint8_t *p, size_t len)
{
    if (!p)
        return;
    sodium_memzero(p, len);
    free(p);
}

int e2e_msg_type_of(const uint8_t *msg, size_t len)
{
    if (!msg || !len)
        return PL_EMALFORMED;
    if (msg[0] >> 4 != E2E_PROTOCOL_VERSION || (msg[0] & 0xf) < E2E_MSG_PREKEY ||
        (msg[0] & 0xf) > E2E_MSG_SKDM)
        return E2E_EVERSION;
    return msg[0] & 0xf;
}

const char *e2e_strerror(int rc)
{
    switch (rc) {
    case E2E_EAUTH: return "message failed authentication";
    case E2E_EREPLAY: return "message already decrypted (replay)";
    case E2E_ETOOMANYSKIP: return "too many skipped messages";
    case E2E_EBADSIG: return "signature does not verify";
    case E2E_EVERSION:
        return "unsupported protocol version or message type (both sides need protocol version 2)";
    case E2E_ENOKEY: return "unknown sender key";
    case E2E_ENEWSESSION: return "prekey message for another session";
    case E2E_EPASSPHRASE: return "wrong passphrase or damaged secret store";
    case E2E_EDIGEST: return "file digest mismatch";
    case E2E_ECONTEXT: return "sender key belongs to another conversation or device";
    default: return pl_strerror(rc);
    }
}

/* The writer grows its buffer; a failed growth sets len past cap, which the
 * caller checks once at the end (w.p == NULL). */
static void wr_reserve(struct e2e__wr *w, size_t n)
{
    if (!w->p && w->cap)
        return;
    if (w->len + n <= w->cap && w->p)
        return;
    size_t cap = PL_MAX(w->cap * 2, w->len + n + 256);
    uint8_t *p = malloc(cap);
    if (p && w->p)
        memcpy(p, w->p, w->len);
    if (w->p) {
        sodium_memzero(w->p, w->len);
        free(w->p);
    }
    w->p = p;
    w->cap = cap;
}

void e2e__wr_bytes(struct e2e__wr *w, const void *b, size_t n)
{
    wr_reserve(w, n);
    if (!w->p)
        return;
    memcpy(w->p + w->len, b, n);
    w->len += n;
}

void e2e__wr_u32(struct e2e__wr *w, uint32_t v)
{
    uint8_t b[4];
    e2e__put32(b, v);
    e2e__wr_bytes(w, b, 4);
}

void e2e__wr_u8(struct e2e__wr *w, uint8_t v)
{
    e2e__wr_bytes(w, &v, 1);
}

void e2e__rd_bytes(struct e2e__rd *r, void *b, size_t n)
{
    if (r->bad || r->len - r->off < n) {
        r->bad = 1;
        memset(b, 0, n);
        return;
    }
    memcpy(b, r->p + r->off, n);
    r->off += n;
}

uint32_t e2e__rd_u32(struct e2e__rd *r)
{
    uint8_t b[4];
    e2e__rd_bytes(r, b, 4);
    return e2e__get32(b);
}

uint8_t e2e__rd_u8(struct e2e__rd *r)
{
    uint8_t b;
    e2e__rd_bytes(r, &b, 1);
    return b;
}
