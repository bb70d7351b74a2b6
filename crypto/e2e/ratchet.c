/* SPDX-License-Identifier: MIT */
/* Parley - the Double Ratchet: encrypting and decrypting in a session. */
/* Copyright (c) 2026 Parley developers                                 */
#include "crypto/e2e/e2e_int.h"

#include <string.h>

/*
 * Signal's Double Ratchet with header-in-the-clear (no header encryption).
 * A ratchet message is
 *   header = type byte (0x12) || DHs public key (32) || PN (be32) || N (be32)
 *   body   = XChaCha20-Poly1305-IETF(key, nonce, plaintext, AD || header)
 * with (key, nonce) = HKDF(mk, "parley-msgkeys-v1") and AD = IK_A || IK_B
 * from X3DH. Every message key is used once and then deleted, which makes
 * a replay fail; keys of skipped messages wait in a bounded list.
 */

void e2e__kdf_rk(uint8_t rk[32], const uint8_t dh_out[32], uint8_t ck[32])
{
    uint8_t okm[64];
    e2e__hkdf(rk, 32, dh_out, 32, E2E_LABEL_RATCHET, okm, sizeof(okm));
    memcpy(rk, okm, 32);
    memcpy(ck, okm + 32, 32);
    sodium_memzero(okm, sizeof(okm));
}

size_t e2e__session_used(const struct e2e_session *s)
{
    return offsetof(struct e2e_session, skipped) + s->nskipped * sizeof(s->skipped[0]);
}

static int aead_open(const uint8_t mk[32], const uint8_t *ad, size_t adlen, const uint8_t *ct,
                     size_t ctlen, uint8_t **pt, size_t *ptlen)
{
    uint8_t key[32], nonce[E2E_NONCEBYTES];
    unsigned long long n = 0;
    uint8_t *p = e2e__alloc(ctlen);
    if (!p)
        return PL_ENOMEM;
    e2e__msg_keys(mk, E2E_LABEL_MSGKEYS, key, nonce);
    int rc =
        crypto_aead_xchacha20poly1305_ietf_decrypt(p, &n, NULL, ct, ctlen, ad, adlen, nonce, key);
    sodium_memzero(key, sizeof(key));
    if (rc != 0) {
        e2e_buf_free(p, ctlen);
        return E2E_EAUTH;
    }
    *pt = p;
    *ptlen = (size_t)n;
    return 0;
}

/* Remembers a skipped message key; when the list is full the oldest key is
 * dropped, so the list never exceeds E2E_MAX_SKIP entries. */
static void skipped_add(struct e2e_session *s, const uint8_t mk[32])
{
    if (s->nskipped == E2E_MAX_SKIP) {
        sodium_memzero(&s->skipped[0], sizeof(s->skipped[0]));
        memmove(&s->skipped[0], &s->skipped[1], (E2E_MAX_SKIP - 1) * sizeof(s->skipped[0]));
        s->nskipped--;
    }
    struct e2e__skipped *k = &s->skipped[s->nskipped++];
    memcpy(k->dh, s->dhr, 32);
    k->n = s->nr;
    memcpy(k->mk, mk, 32);
}

static void skipped_remove(struct e2e_session *s, uint32_t i)
{
    memmove(&s->skipped[i], &s->skipped[i + 1], (s->nskipped - i - 1) * sizeof(s->skipped[0]));
    s->nskipped--;
    sodium_memzero(&s->skipped[s->nskipped], sizeof(s->skipped[0]));
}

/* Derives and stores the keys of messages nr .. until-1 of the receiving
 * chain. More than E2E_MAX_SKIP at once is refused: a forged N must not
 * make us spend unbounded work or memory. */
static int skip_until(struct e2e_session *s, uint32_t until)
{
    uint8_t mk[32];
    if (!s->has_ckr || until <= s->nr)
        return 0;
    if (until - s->nr > E2E_MAX_SKIP)
        return E2E_ETOOMANYSKIP;
    while (s->nr < until) {
        e2e__kdf_ck(s->ckr, mk);
        skipped_add(s, mk);
        s->nr++;
    }
    sodium_memzero(mk, sizeof(mk));
    return 0;
}

static int dh_ratchet(struct e2e_session *s, const uint8_t dh[32])
{
    uint8_t dh_out[32];
    int rc;
    s->pn = s->ns;
    s->ns = s->nr = 0;
    memcpy(s->dhr, dh, 32);
    s->has_dhr = 1;
    if ((rc = e2e__dh(dh_out, s->dhs_sk, s->dhr)) < 0)
        return rc;
    e2e__kdf_rk(s->rk, dh_out, s->ckr);
    s->has_ckr = 1;
    e2e__x25519_keypair(s->dhs_pk, s->dhs_sk);
    if ((rc = e2e__dh(dh_out, s->dhs_sk, s->dhr)) < 0)
        return rc;
    e2e__kdf_rk(s->rk, dh_out, s->cks);
    s->has_cks = 1;
    sodium_memzero(dh_out, sizeof(dh_out));
    return 0;
}

int e2e__ratchet_decrypt(struct e2e_session *s, const uint8_t *msg, size_t len, uint8_t **pt,
                         size_t *ptlen)
{
    uint8_t ad[64 + E2E_RATCHET_HDRBYTES], mk[32];
    int rc;

    if (len < E2E_RATCHET_HDRBYTES + E2E_TAGBYTES ||
        len > E2E_RATCHET_HDRBYTES + E2E_TAGBYTES + E2E_MAX_PLAINTEXT)
        return PL_EMALFORMED;
    if (msg[0] != E2E_TYPE_BYTE(E2E_MSG_RATCHET))
        return E2E_EVERSION;
    const uint8_t *dh = msg + 1;
    uint32_t pn = e2e__get32(msg + 33), n = e2e__get32(msg + 37);
    const uint8_t *ct = msg + E2E_RATCHET_HDRBYTES;
    size_t ctlen = len - E2E_RATCHET_HDRBYTES;
    memcpy(ad, s->ad, 64);
    memcpy(ad + 64, msg, E2E_RATCHET_HDRBYTES);

    for (uint32_t i = 0; i < s->nskipped; i++) {
        if (s->skipped[i].n != n || sodium_memcmp(s->skipped[i].dh, dh, 32) != 0)
            continue;
        if ((rc = aead_open(s->skipped[i].mk, ad, sizeof(ad), ct, ctlen, pt, ptlen)) == 0)
            skipped_remove(s, i);
        return rc;
    }
    if (!s->has_dhr || sodium_memcmp(dh, s->dhr, 32) != 0) {
        if ((rc = skip_until(s, pn)) < 0)
            return rc;
        if ((rc = dh_ratchet(s, dh)) < 0)
            return rc;
    } else if (n < s->nr) {
        return E2E_EREPLAY;
    }
    if ((rc = skip_until(s, n)) < 0)
        return rc;
    e2e__kdf_ck(s->ckr, mk);
    s->nr++;
    rc = aead_open(mk, ad, sizeof(ad), ct, ctlen, pt, ptlen);
    sodium_memzero(mk, sizeof(mk));
    return rc;
}

int e2e__session_decrypt_atomic(struct e2e_session *s, const uint8_t *msg, size_t len, uint8_t **pt,
                                size_t *ptlen)
{
    struct e2e_session *tmp = e2e__session_alloc();
    if (!tmp)
        return PL_ENOMEM;
    memcpy(tmp, s, e2e__session_used(s));
    int rc = e2e__ratchet_decrypt(tmp, msg, len, pt, ptlen);
    if (rc == 0) {
        tmp->pending = 0; /* the peer answered: X3DH is complete */
        memcpy(s, tmp, e2e__session_used(tmp));
        /* Entries beyond the new count may hold stale keys: wipe them. */
        if (s->nskipped < E2E_MAX_SKIP)
            sodium_memzero(&s->skipped[s->nskipped],
                           (E2E_MAX_SKIP - s->nskipped) * sizeof(s->skipped[0]));
    }
    e2e_session_free(tmp);
    return rc;
}

int e2e_session_decrypt(struct e2e_session *s, const uint8_t *msg, size_t len, uint8_t **pt,
                        size_t *ptlen)
{
    struct e2e_prekey_info in;
    int rc, t;

    if (!s || !pt || !ptlen)
        return PL_EINVAL;
    if ((t = e2e_msg_type_of(msg, len)) < 0)
        return t;
    if (t == E2E_MSG_PREKEY) {
        /* Alice repeats the X3DH header until Bob answers; the same header
         * is just the session we already have. Any other starts anew. */
        if ((rc = e2e_prekey_msg_parse(msg, len, &in)) < 0)
            return rc;
        if (s->initiator || sodium_memcmp(in.identity_key, s->peer_ik, 32) != 0 ||
            sodium_memcmp(in.base_key, s->base_key, 32) != 0)
            return E2E_ENEWSESSION;
        /* The rest of the X3DH header is not covered by the AEAD here (it
         * only fed SK when the session began), so it must repeat exactly:
         * a modified header is refused like a modified ciphertext. */
        if (in.spk_id != s->spk_id || (uint8_t)in.has_opk != s->has_opk || in.opk_id != s->opk_id)
            return E2E_EAUTH;
        msg += E2E_PREKEY_HDRBYTES;
        len -= E2E_PREKEY_HDRBYTES;
    } else if (t != E2E_MSG_RATCHET) {
        return PL_EINVAL;
    }
    return e2e__session_decrypt_atomic(s, msg, len, pt, ptlen);
}

int e2e_session_encrypt(struct e2e_session *s, const uint8_t *pt, size_t len, uint8_t **out,
                        size_t *outlen, enum e2e_msg_type *type)
{
    uint8_t ad[64 + E2E_RATCHET_HDRBYTES], mk[32], key[32], nonce[E2E_NONCEBYTES];
    if (!s || (!pt && len) || !out || !outlen || !type)
        return PL_EINVAL;
    if (len > E2E_MAX_PLAINTEXT)
        return PL_ETOOBIG;
    if (!s->has_cks)
        return PL_EINVAL; /* cannot happen: a responder decrypted first */
    size_t pre = s->pending ? E2E_PREKEY_HDRBYTES : 0;
    size_t total = pre + E2E_RATCHET_HDRBYTES + len + E2E_TAGBYTES;
    uint8_t *m = e2e__alloc(total);
    if (!m)
        return PL_ENOMEM;
    if (pre) {
        m[0] = E2E_TYPE_BYTE(E2E_MSG_PREKEY);
        memcpy(m + 1, s->ad, 32); /* our identity key: we are the initiator */
        memcpy(m + 33, s->base_key, 32);
        e2e__put32(m + 65, s->spk_id);
        m[69] = s->has_opk;
        e2e__put32(m + 70, s->opk_id);
    }
    uint8_t *h = m + pre;
    h[0] = E2E_TYPE_BYTE(E2E_MSG_RATCHET);
    memcpy(h + 1, s->dhs_pk, 32);
    e2e__put32(h + 33, s->pn);
    e2e__put32(h + 37, s->ns);
    memcpy(ad, s->ad, 64);
    memcpy(ad + 64, h, E2E_RATCHET_HDRBYTES);

    e2e__kdf_ck(s->cks, mk);
    s->ns++;
    e2e__msg_keys(mk, E2E_LABEL_MSGKEYS, key, nonce);
    crypto_aead_xchacha20poly1305_ietf_encrypt(h + E2E_RATCHET_HDRBYTES, NULL, pt, len, ad,
                                               sizeof(ad), NULL, nonce, key);
    sodium_memzero(mk, sizeof(mk));
    sodium_memzero(key, sizeof(key));
    *out = m;
    *outlen = total;
    *type = pre ? E2E_MSG_PREKEY : E2E_MSG_RATCHET;
    return 0;
}
