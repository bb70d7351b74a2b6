/* SPDX-License-Identifier: MIT */
/* Parley - aes128gcm content coding (RFC 8188) and Web Push (RFC 8291). */
/* Copyright (c) 2026 Parley developers                                 */
#include "webpush.h"
#include "webpush_int.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdlib.h>
#include <string.h>

#define TAG_LEN 16
#define CEK_LEN 16
#define NONCE_LEN 12

/* ---- base64url ---- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int webpush_b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    size_t need = n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
    if (need + 1 > cap)
        return PL_ETOOBIG;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = B64[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = B64[v & 63];
    }
    out[o] = '\0';
    return (int)o;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(B64, c) : NULL;
    return p ? (int)(p - B64) : -1;
}

int webpush_b64url_decode(const char *in, uint8_t *out, size_t cap)
{
    size_t n = strlen(in);
    while (n && in[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return PL_EINVAL;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            return PL_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return PL_ETOOBIG;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* Non-zero leftover bits mean a non-canonical encoding. */
    if (acc & ((1u << bits) - 1))
        return PL_EINVAL;
    return (int)o;
}

/* ---- HKDF (RFC 5869) with SHA-256, as RFC 8188 and 8291 use it ---- */

int webpush__hkdf(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
                  const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
    /* Every use here needs at most one block of output: T(1) only. */
    uint8_t prk[32], t[32];
    unsigned len = 0;
    if (out_len > 32 || info_len > 256)
        return PL_EINVAL;
    if (!HMAC(EVP_sha256(), salt, (int)salt_len, ikm, ikm_len, prk, &len))
        return PL_EINTERNAL;
    uint8_t buf[257];
    memcpy(buf, info, info_len);
    buf[info_len] = 0x01;
    if (!HMAC(EVP_sha256(), prk, sizeof(prk), buf, info_len + 1, t, &len))
        return PL_EINTERNAL;
    memcpy(out, t, out_len);
    OPENSSL_cleanse(prk, sizeof(prk));
    OPENSSL_cleanse(t, sizeof(t));
    return 0;
}

/* CEK and base nonce of RFC 8188 section 2.2 and 2.3. */
static int derive(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, uint8_t cek[CEK_LEN],
                  uint8_t nonce[NONCE_LEN])
{
    static const char cek_info[] = "Content-Encoding: aes128gcm"; /* the NUL is part of info */
    static const char nonce_info[] = "Content-Encoding: nonce";
    int rc = webpush__hkdf(salt, WEBPUSH_SALT_LEN, ikm, ikm_len, (const uint8_t *)cek_info,
                           sizeof(cek_info), cek, CEK_LEN);
    if (rc == 0)
        rc = webpush__hkdf(salt, WEBPUSH_SALT_LEN, ikm, ikm_len, (const uint8_t *)nonce_info,
                           sizeof(nonce_info), nonce, NONCE_LEN);
    return rc;
}

/* AES-128-GCM of one record: the nonce is the base nonce XOR the record's
 * sequence number in its last 6 bytes (RFC 8188 section 2.3). */
static int record(bool enc, const uint8_t cek[CEK_LEN], const uint8_t base[NONCE_LEN], uint64_t seq,
                  const uint8_t *in, size_t n, uint8_t *out, uint8_t tag[TAG_LEN])
{
    uint8_t iv[NONCE_LEN];
    memcpy(iv, base, NONCE_LEN);
    for (int i = 0; i < 6; i++)
        iv[NONCE_LEN - 1 - i] ^= (uint8_t)(seq >> (8 * i));
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return PL_ENOMEM;
    int len = 0, ok;
    if (enc)
        ok = EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, cek, iv) == 1 &&
             EVP_EncryptUpdate(ctx, out, &len, in, (int)n) == 1 &&
             EVP_EncryptFinal_ex(ctx, out + len, &len) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1;
    else
        ok = EVP_DecryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, cek, iv) == 1 &&
             EVP_DecryptUpdate(ctx, out, &len, in, (int)n) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1 &&
             EVP_DecryptFinal_ex(ctx, out + len, &len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 0 : enc ? PL_EINTERNAL : PL_EINVAL;
}

int webpush_ece_encrypt(const uint8_t *ikm, size_t ikm_len, const uint8_t salt[WEBPUSH_SALT_LEN],
                        uint32_t rs, const uint8_t *keyid, size_t keyid_len, const uint8_t *pt,
                        size_t pt_len, uint8_t **out, size_t *out_len)
{
    if (keyid_len > 255 || rs < 18)
        return PL_EINVAL;
    if (pt_len + 1 + TAG_LEN > rs)
        return PL_ETOOBIG;
    size_t hdr = WEBPUSH_ECE_HEADER_LEN + keyid_len;
    size_t total = hdr + pt_len + 1 + TAG_LEN;
    uint8_t *b = malloc(total), *padded = malloc(pt_len + 1);
    uint8_t cek[CEK_LEN], nonce[NONCE_LEN];
    int rc = b && padded ? derive(ikm, ikm_len, salt, cek, nonce) : PL_ENOMEM;
    if (rc == 0) {
        memcpy(b, salt, WEBPUSH_SALT_LEN);
        b[16] = (uint8_t)(rs >> 24), b[17] = (uint8_t)(rs >> 16);
        b[18] = (uint8_t)(rs >> 8), b[19] = (uint8_t)rs;
        b[20] = (uint8_t)keyid_len;
        if (keyid_len)
            memcpy(b + WEBPUSH_ECE_HEADER_LEN, keyid, keyid_len);
        /* One record, so it is the last: delimiter 0x02, no padding. */
        if (pt_len)
            memcpy(padded, pt, pt_len);
        padded[pt_len] = 0x02;
        rc = record(true, cek, nonce, 0, padded, pt_len + 1, b + hdr, b + hdr + pt_len + 1);
    }
    OPENSSL_cleanse(cek, sizeof(cek));
    free(padded);
    if (rc < 0) {
        free(b);
        return rc;
    }
    *out = b;
    *out_len = total;
    return 0;
}

/* Strips a decrypted record's padding: the last non-zero byte is the
 * delimiter, 0x02 for the last record and 0x01 for the others. */
static int unpad(const uint8_t *r, size_t n, bool last, size_t *len)
{
    while (n && r[n - 1] == 0)
        n--;
    if (!n || r[n - 1] != (last ? 0x02 : 0x01))
        return PL_EINVAL;
    *len = n - 1;
    return 0;
}

int webpush_ece_decrypt(const uint8_t *ikm, size_t ikm_len, const uint8_t *body, size_t len,
                        uint8_t **pt, size_t *pt_len)
{
    if (len < WEBPUSH_ECE_HEADER_LEN)
        return PL_EINVAL;
    uint32_t rs =
        (uint32_t)body[16] << 24 | (uint32_t)body[17] << 16 | (uint32_t)body[18] << 8 | body[19];
    size_t hdr = WEBPUSH_ECE_HEADER_LEN + body[20];
    if (rs < 18 || len <= hdr)
        return PL_EINVAL;
    uint8_t cek[CEK_LEN], nonce[NONCE_LEN];
    uint8_t *out = malloc(len - hdr), *tmp = malloc(rs);
    int rc = out && tmp ? derive(ikm, ikm_len, body, cek, nonce) : PL_ENOMEM;
    size_t o = 0;
    for (uint64_t seq = 0; rc == 0 && hdr < len; seq++) {
        size_t n = len - hdr < rs ? len - hdr : rs;
        bool last = hdr + n == len;
        size_t plain;
        uint8_t tag[TAG_LEN];
        if (n <= TAG_LEN) {
            rc = PL_EINVAL;
            break;
        }
        memcpy(tag, body + hdr + n - TAG_LEN, TAG_LEN);
        rc = record(false, cek, nonce, seq, body + hdr, n - TAG_LEN, tmp, tag);
        if (rc == 0)
            rc = unpad(tmp, n - TAG_LEN, last, &plain);
        if (rc == 0) {
            memcpy(out + o, tmp, plain);
            o += plain;
        }
        hdr += n;
    }
    OPENSSL_cleanse(cek, sizeof(cek));
    free(tmp);
    if (rc < 0) {
        free(out);
        return rc;
    }
    *pt = out;
    *pt_len = o;
    return 0;
}

/* ---- RFC 8291: the input keying material from ECDH and the auth secret ---- */

/* IKM = HKDF(auth, ecdh_secret, "WebPush: info" 0x00 ua_public as_public). */
static int webpush_ikm(const struct webpush_key *own, const uint8_t peer[WEBPUSH_PUBLIC_LEN],
                       const uint8_t ua_public[WEBPUSH_PUBLIC_LEN],
                       const uint8_t as_public[WEBPUSH_PUBLIC_LEN],
                       const uint8_t auth[WEBPUSH_AUTH_LEN], uint8_t ikm[32])
{
    uint8_t secret[32];
    int rc = webpush__ecdh(own, peer, secret);
    if (rc < 0)
        return rc;
    static const char label[] = "WebPush: info";
    uint8_t info[sizeof(label) + 2 * WEBPUSH_PUBLIC_LEN];
    memcpy(info, label, sizeof(label)); /* with its NUL */
    memcpy(info + sizeof(label), ua_public, WEBPUSH_PUBLIC_LEN);
    memcpy(info + sizeof(label) + WEBPUSH_PUBLIC_LEN, as_public, WEBPUSH_PUBLIC_LEN);
    rc = webpush__hkdf(auth, WEBPUSH_AUTH_LEN, secret, sizeof(secret), info, sizeof(info), ikm, 32);
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}

int webpush_encrypt(const uint8_t ua_public[WEBPUSH_PUBLIC_LEN],
                    const uint8_t auth[WEBPUSH_AUTH_LEN], const uint8_t *pt, size_t pt_len,
                    const struct webpush_fixed *fixed, uint8_t **out, size_t *out_len)
{
    if (pt_len > WEBPUSH_MAX_PLAINTEXT)
        return PL_ETOOBIG;
    if (!webpush_public_valid(ua_public))
        return PL_EINVAL;
    struct webpush_key *eph = NULL;
    const struct webpush_key *as = fixed ? fixed->as_key : NULL;
    uint8_t salt[WEBPUSH_SALT_LEN], as_public[WEBPUSH_PUBLIC_LEN], ikm[32];
    int rc = 0;
    if (!as) {
        if ((rc = webpush_key_generate(&eph)) < 0)
            return rc;
        as = eph;
    }
    if (fixed && fixed->salt)
        memcpy(salt, fixed->salt, sizeof(salt));
    else if (RAND_bytes(salt, sizeof(salt)) != 1)
        rc = PL_EINTERNAL;
    webpush_key_public(as, as_public);
    if (rc == 0)
        rc = webpush_ikm(as, ua_public, ua_public, as_public, auth, ikm);
    if (rc == 0)
        rc = webpush_ece_encrypt(ikm, sizeof(ikm), salt, WEBPUSH_RS, as_public, WEBPUSH_PUBLIC_LEN,
                                 pt, pt_len, out, out_len);
    OPENSSL_cleanse(ikm, sizeof(ikm));
    webpush_key_free(eph);
    return rc;
}

int webpush_decrypt(const struct webpush_key *ua, const uint8_t auth[WEBPUSH_AUTH_LEN],
                    const uint8_t *body, size_t len, uint8_t **pt, size_t *pt_len)
{
    /* The key id of a push message is the sender's public key. */
    if (len < WEBPUSH_ECE_HEADER_LEN + WEBPUSH_PUBLIC_LEN || body[20] != WEBPUSH_PUBLIC_LEN)
        return PL_EINVAL;
    const uint8_t *as_public = body + WEBPUSH_ECE_HEADER_LEN;
    if (!webpush_public_valid(as_public))
        return PL_EINVAL;
    uint8_t ua_public[WEBPUSH_PUBLIC_LEN], ikm[32];
    webpush_key_public(ua, ua_public);
    int rc = webpush_ikm(ua, as_public, ua_public, as_public, auth, ikm);
    if (rc == 0)
        rc = webpush_ece_decrypt(ikm, sizeof(ikm), body, len, pt, pt_len);
    OPENSSL_cleanse(ikm, sizeof(ikm));
    return rc;
}
