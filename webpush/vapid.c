/* SPDX-License-Identifier: MIT */
/* Parley - P-256 keys, ECDH and VAPID JWTs (RFC 8292, ES256).          */
/* Copyright (c) 2026 Parley developers                                 */
#include "webpush.h"
#include "webpush_int.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The key and its two encodings, computed once: the private scalar and the
 * uncompressed public point. */
struct webpush_key {
    EVP_PKEY *pkey;
    uint8_t d[WEBPUSH_PRIVATE_LEN];
    uint8_t pub[WEBPUSH_PUBLIC_LEN];
};

/* Builds an EVP_PKEY from the raw encodings (OpenSSL 3 parameters, no
 * deprecated EC_KEY). d may be NULL for a public key. */
static EVP_PKEY *pkey_from(const uint8_t *d, const uint8_t pub[WEBPUSH_PUBLIC_LEN])
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn = d ? BN_bin2bn(d, WEBPUSH_PRIVATE_LEN, NULL) : NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    if (!bld || (d && !bn))
        goto done;
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, WEBPUSH_PUBLIC_LEN) ||
        (bn && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn)))
        goto done;
    if (!(params = OSSL_PARAM_BLD_to_param(bld)) ||
        !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) || EVP_PKEY_fromdata_init(ctx) <= 0)
        goto done;
    if (EVP_PKEY_fromdata(ctx, &pkey, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    BN_clear_free(bn);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

bool webpush_public_valid(const uint8_t pub[WEBPUSH_PUBLIC_LEN])
{
    if (pub[0] != 0x04)
        return false;
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *p = g ? EC_POINT_new(g) : NULL;
    bool ok = p && EC_POINT_oct2point(g, p, pub, WEBPUSH_PUBLIC_LEN, NULL) == 1 &&
              EC_POINT_is_on_curve(g, p, NULL) == 1;
    EC_POINT_free(p);
    EC_GROUP_free(g);
    return ok;
}

/* The public point of scalar d: d x G, uncompressed. */
static int public_of(const uint8_t d[WEBPUSH_PRIVATE_LEN], uint8_t pub[WEBPUSH_PUBLIC_LEN])
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *p = g ? EC_POINT_new(g) : NULL;
    BIGNUM *bn = BN_bin2bn(d, WEBPUSH_PRIVATE_LEN, NULL);
    int rc = PL_ENOMEM;
    if (p && bn) {
        /* 0 < d < n, or it is not a private key. */
        rc = PL_EINVAL;
        if (!BN_is_zero(bn) && BN_cmp(bn, EC_GROUP_get0_order(g)) < 0 &&
            EC_POINT_mul(g, p, bn, NULL, NULL, NULL) == 1 &&
            EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, pub, WEBPUSH_PUBLIC_LEN,
                               NULL) == WEBPUSH_PUBLIC_LEN)
            rc = 0;
    }
    BN_clear_free(bn);
    EC_POINT_free(p);
    EC_GROUP_free(g);
    return rc;
}

int webpush_key_from_private(const uint8_t d[WEBPUSH_PRIVATE_LEN], struct webpush_key **out)
{
    struct webpush_key *k = calloc(1, sizeof(*k));
    if (!k)
        return PL_ENOMEM;
    int rc = public_of(d, k->pub);
    if (rc == 0 && !(k->pkey = pkey_from(d, k->pub)))
        rc = PL_ENOMEM;
    if (rc < 0) {
        free(k);
        return rc;
    }
    memcpy(k->d, d, WEBPUSH_PRIVATE_LEN);
    *out = k;
    return 0;
}

int webpush_key_generate(struct webpush_key **out)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    BIGNUM *bn = NULL;
    uint8_t d[WEBPUSH_PRIVATE_LEN];
    int rc = PL_EINTERNAL;
    if (pkey && EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1 &&
        BN_bn2binpad(bn, d, sizeof(d)) == sizeof(d))
        rc = webpush_key_from_private(d, out);
    OPENSSL_cleanse(d, sizeof(d));
    BN_clear_free(bn);
    EVP_PKEY_free(pkey);
    return rc;
}

void webpush_key_free(struct webpush_key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    OPENSSL_cleanse(k, sizeof(*k));
    free(k);
}

void webpush_key_private(const struct webpush_key *k, uint8_t d[WEBPUSH_PRIVATE_LEN])
{
    memcpy(d, k->d, WEBPUSH_PRIVATE_LEN);
}

void webpush_key_public(const struct webpush_key *k, uint8_t pub[WEBPUSH_PUBLIC_LEN])
{
    memcpy(pub, k->pub, WEBPUSH_PUBLIC_LEN);
}

int webpush__ecdh(const struct webpush_key *own, const uint8_t peer[WEBPUSH_PUBLIC_LEN],
                  uint8_t secret[32])
{
    if (!webpush_public_valid(peer))
        return PL_EINVAL;
    EVP_PKEY *pp = pkey_from(NULL, peer);
    EVP_PKEY_CTX *ctx = pp ? EVP_PKEY_CTX_new_from_pkey(NULL, own->pkey, NULL) : NULL;
    size_t len = 32;
    int rc = ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, pp) == 1 &&
                     EVP_PKEY_derive(ctx, secret, &len) == 1 && len == 32
                 ? 0
                 : PL_ENOMEM;
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pp);
    return rc;
}

/* ---- ES256 JWTs ---- */

/* ECDSA P-256 over SHA-256, as JWS wants it: r || s, 32 bytes each
 * (RFC 7518 section 3.4), not OpenSSL's DER. */
static int es256_sign(const struct webpush_key *k, const char *msg, size_t n, uint8_t sig[64])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t der[80];
    size_t der_len = sizeof(der);
    int rc = PL_EINTERNAL;
    if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
        EVP_DigestSign(md, der, &der_len, (const uint8_t *)msg, n) == 1) {
        const uint8_t *p = der;
        ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
        if (s && BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, 32) == 32 &&
            BN_bn2binpad(ECDSA_SIG_get0_s(s), sig + 32, 32) == 32)
            rc = 0;
        ECDSA_SIG_free(s);
    }
    EVP_MD_CTX_free(md);
    return rc;
}

static int es256_verify(const uint8_t pub[WEBPUSH_PUBLIC_LEN], const char *msg, size_t n,
                        const uint8_t sig[64])
{
    EVP_PKEY *pk = webpush_public_valid(pub) ? pkey_from(NULL, pub) : NULL;
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *ss = BN_bin2bn(sig + 32, 32, NULL);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t *der = NULL;
    int rc = PL_EFORBIDDEN, der_len;
    if (!pk || !s || !r || !ss || !md || ECDSA_SIG_set0(s, r, ss) != 1)
        goto done;
    r = ss = NULL; /* owned by s now */
    if ((der_len = i2d_ECDSA_SIG(s, &der)) <= 0)
        goto done;
    if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
        EVP_DigestVerify(md, der, (size_t)der_len, (const uint8_t *)msg, n) == 1)
        rc = 0;
done:
    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    BN_free(r);
    BN_free(ss);
    ECDSA_SIG_free(s);
    EVP_PKEY_free(pk);
    return rc;
}

/* Strings we put into JSON unescaped must not need escaping. */
static bool json_plain(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
            return false;
    return true;
}

int webpush_vapid_header(const struct webpush_key *k, const char *aud, const char *sub, int64_t exp,
                         char *out, size_t cap)
{
    if (!json_plain(aud) || !json_plain(sub) || strlen(aud) > 512 || strlen(sub) > 512)
        return PL_EINVAL;
    static const char head[] = "{\"typ\":\"JWT\",\"alg\":\"ES256\"}";
    char claims[1200], jwt[2400], pubs[96];
    int n = *sub ? snprintf(claims, sizeof(claims), "{\"aud\":\"%s\",\"exp\":%lld,\"sub\":\"%s\"}",
                            aud, (long long)exp, sub)
                 : snprintf(claims, sizeof(claims), "{\"aud\":\"%s\",\"exp\":%lld}", aud,
                            (long long)exp);
    int a = webpush_b64url_encode((const uint8_t *)head, sizeof(head) - 1, jwt, sizeof(jwt));
    if (a < 0)
        return a;
    jwt[a++] = '.';
    int b = webpush_b64url_encode((const uint8_t *)claims, (size_t)n, jwt + a, sizeof(jwt) - a);
    if (b < 0)
        return b;
    size_t signed_len = (size_t)(a + b);
    uint8_t sig[64];
    int rc = es256_sign(k, jwt, signed_len, sig);
    if (rc < 0)
        return rc;
    jwt[signed_len] = '.';
    if ((rc = webpush_b64url_encode(sig, sizeof(sig), jwt + signed_len + 1,
                                    sizeof(jwt) - signed_len - 1)) < 0)
        return rc;
    if ((rc = webpush_b64url_encode(k->pub, WEBPUSH_PUBLIC_LEN, pubs, sizeof(pubs))) < 0)
        return rc;
    n = snprintf(out, cap, "vapid t=%s, k=%s", jwt, pubs);
    return n < 0 || (size_t)n >= cap ? PL_ETOOBIG : 0;
}

/* Copies the value of "name=" in a "vapid t=..., k=..." header. */
static int param(const char *h, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = h; (p = strstr(p, name)) != NULL; p += nl) {
        if ((p != h && p[-1] != ' ' && p[-1] != ',') || p[nl] != '=')
            continue;
        p += nl + 1;
        size_t n = strcspn(p, ", ");
        if (n >= cap)
            return PL_EINVAL;
        memcpy(out, p, n);
        out[n] = '\0';
        return 0;
    }
    return PL_EINVAL;
}

/* The claims' "aud" string and "exp" number (our own layout: no spaces). */
static int claims_check(const char *claims, const char *aud, int64_t now)
{
    char want[600];
    if (snprintf(want, sizeof(want), "\"aud\":\"%s\"", aud) >= (int)sizeof(want))
        return PL_EINVAL;
    const char *e = strstr(claims, "\"exp\":");
    if (!strstr(claims, want) || !e)
        return PL_EFORBIDDEN;
    long long exp = strtoll(e + 6, NULL, 10);
    /* RFC 8292 section 2: at most 24 hours ahead. */
    return exp > now && exp <= now + 86400 ? 0 : PL_EFORBIDDEN;
}

int webpush_vapid_verify(const char *header, const char *aud, int64_t now,
                         uint8_t pub[WEBPUSH_PUBLIC_LEN])
{
    char t[2400], kstr[128], claims[1800];
    uint8_t key[WEBPUSH_PUBLIC_LEN + 1], sig[65];
    if (strncmp(header, "vapid ", 6) != 0 || param(header + 6, "t", t, sizeof(t)) < 0 ||
        param(header + 6, "k", kstr, sizeof(kstr)) < 0 ||
        webpush_b64url_decode(kstr, key, sizeof(key)) != WEBPUSH_PUBLIC_LEN)
        return PL_EINVAL;
    char *dot1 = strchr(t, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot2 || webpush_b64url_decode(dot2 + 1, sig, sizeof(sig)) != 64)
        return PL_EINVAL;
    int rc = es256_verify(key, t, (size_t)(dot2 - t), sig);
    if (rc < 0)
        return rc;
    *dot2 = '\0';
    int n = webpush_b64url_decode(dot1 + 1, (uint8_t *)claims, sizeof(claims) - 1);
    if (n < 0)
        return PL_EINVAL;
    claims[n] = '\0';
    if ((rc = claims_check(claims, aud, now)) < 0)
        return rc;
    if (pub)
        memcpy(pub, key, WEBPUSH_PUBLIC_LEN);
    return 0;
}
