/* SPDX-License-Identifier: MIT */
/* Parley - X3DH key agreement: starting a pairwise session.            */
/* Copyright (c) 2026 Parley developers                                 */
#include "crypto/e2e/e2e_int.h"

#include <string.h>

/*
 * Signal's X3DH with our labels (PROTOCOL.md, "X3DH"):
 *   DH1 = DH(IK_A, SPK_B)  DH2 = DH(EK_A, IK_B)  DH3 = DH(EK_A, SPK_B)
 *   DH4 = DH(EK_A, OPK_B)  (only with a one-time prekey)
 *   SK  = HKDF(salt = 32 zero bytes, F || DH1 || DH2 || DH3 [|| DH4],
 *              "parley-x3dh-v1", 32), F = 32 bytes 0xFF
 * IK_* take part in DH in their X25519 form. The session then starts the
 * Double Ratchet with SK as root key and SPK_B as Bob's first ratchet key.
 */

static void x3dh_kdf(const uint8_t dh[4][32], int ndh, uint8_t sk[32])
{
    uint8_t ikm[32 * 5];
    memset(ikm, 0xff, 32);
    for (int i = 0; i < ndh; i++)
        memcpy(ikm + 32 * (i + 1), dh[i], 32);
    e2e__hkdf(NULL, 0, ikm, 32 * (size_t)(ndh + 1), E2E_LABEL_X3DH, sk, 32);
    sodium_memzero(ikm, sizeof(ikm));
}

struct e2e_session *e2e__session_alloc(void)
{
    struct e2e_session *s = sodium_malloc(sizeof(*s));
    if (s)
        sodium_memzero(s, sizeof(*s));
    return s;
}

void e2e_session_free(struct e2e_session *s)
{
    if (s)
        sodium_free(s);
}

const uint8_t *e2e_session_peer_identity(const struct e2e_session *s)
{
    return s->peer_ik;
}

/* The initiator's half: every DH and the KDF, from explicit secrets. */
int e2e__x3dh_initiator_secret(const struct e2e_identity *me, const struct e2e_bundle *b,
                               const uint8_t ek_sk[32], uint8_t sk[32])
{
    uint8_t ik_a[32], ik_b[32], dh[4][32];
    int rc = e2e__identity_dh_secret(me, ik_a);
    if (rc == 0 && crypto_sign_ed25519_pk_to_curve25519(ik_b, b->identity_key) != 0)
        rc = PL_EINVAL;
    if (rc == 0)
        rc = e2e__dh(dh[0], ik_a, b->spk_pub);
    if (rc == 0)
        rc = e2e__dh(dh[1], ek_sk, ik_b);
    if (rc == 0)
        rc = e2e__dh(dh[2], ek_sk, b->spk_pub);
    if (rc == 0 && b->has_opk)
        rc = e2e__dh(dh[3], ek_sk, b->opk_pub);
    if (rc == 0)
        x3dh_kdf((const uint8_t(*)[32])dh, b->has_opk ? 4 : 3, sk);
    sodium_memzero(ik_a, sizeof(ik_a));
    sodium_memzero(dh, sizeof(dh));
    return rc;
}

int e2e_session_initiate(const struct e2e_identity *me, const struct e2e_bundle *peer,
                         struct e2e_session **out)
{
    uint8_t ek_sk[32], sk[32], dh_out[32];
    struct e2e_session *s;
    int rc;

    if (!me || !peer || !out)
        return PL_EINVAL;
    /* Senders check the signed prekey: a server swapping it for its own
     * would otherwise sit in the middle. */
    if ((rc = e2e_signed_prekey_verify(peer->identity_key, peer->spk_id, peer->spk_pub,
                                       peer->spk_sig)) < 0)
        return rc;
    if (!(s = e2e__session_alloc()))
        return PL_ENOMEM;
    e2e__x25519_keypair(s->base_key, ek_sk);
    if ((rc = e2e__x3dh_initiator_secret(me, peer, ek_sk, sk)) < 0)
        goto fail;

    memcpy(s->ad, e2e_identity_public(me), 32);
    memcpy(s->ad + 32, peer->identity_key, 32);
    memcpy(s->peer_ik, peer->identity_key, 32);
    s->initiator = s->pending = 1;
    s->spk_id = peer->spk_id;
    s->has_opk = peer->has_opk ? 1 : 0;
    s->opk_id = peer->has_opk ? peer->opk_id : 0;

    /* Double Ratchet initialisation (Alice): a fresh ratchet key, Bob's
     * signed prekey as his ratchet key, and the first sending chain. */
    memcpy(s->dhr, peer->spk_pub, 32);
    s->has_dhr = 1;
    e2e__x25519_keypair(s->dhs_pk, s->dhs_sk);
    if ((rc = e2e__dh(dh_out, s->dhs_sk, s->dhr)) < 0)
        goto fail;
    memcpy(s->rk, sk, 32);
    e2e__kdf_rk(s->rk, dh_out, s->cks);
    s->has_cks = 1;
    *out = s;
    rc = 0;
    goto done;
fail:
    e2e_session_free(s);
done:
    sodium_memzero(ek_sk, sizeof(ek_sk));
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(dh_out, sizeof(dh_out));
    return rc;
}

int e2e_prekey_msg_parse(const uint8_t *msg, size_t len, struct e2e_prekey_info *info)
{
    int t = e2e_msg_type_of(msg, len);
    if (t < 0)
        return t;
    if (t != E2E_MSG_PREKEY || !info)
        return PL_EINVAL;
    if (len < E2E_PREKEY_HDRBYTES + E2E_RATCHET_HDRBYTES + E2E_TAGBYTES)
        return PL_EMALFORMED;
    memcpy(info->identity_key, msg + 1, 32);
    memcpy(info->base_key, msg + 33, 32);
    info->spk_id = e2e__get32(msg + 65);
    if (msg[69] > 1)
        return PL_EMALFORMED;
    info->has_opk = msg[69];
    info->opk_id = e2e__get32(msg + 70);
    if (!info->has_opk && info->opk_id != 0)
        return PL_EMALFORMED;
    return 0;
}

static int responder_secret(const struct e2e_identity *me, const struct e2e_prekey *spk,
                            const struct e2e_prekey *opk, const struct e2e_prekey_info *in,
                            uint8_t sk[32])
{
    uint8_t ik_b[32], ik_a[32], dh[4][32];
    int rc = e2e__identity_dh_secret(me, ik_b);
    if (rc == 0 && crypto_sign_ed25519_pk_to_curve25519(ik_a, in->identity_key) != 0)
        rc = PL_EINVAL;
    if (rc == 0)
        rc = e2e__dh(dh[0], spk->priv, ik_a);
    if (rc == 0)
        rc = e2e__dh(dh[1], ik_b, in->base_key);
    if (rc == 0)
        rc = e2e__dh(dh[2], spk->priv, in->base_key);
    if (rc == 0 && opk)
        rc = e2e__dh(dh[3], opk->priv, in->base_key);
    if (rc == 0)
        x3dh_kdf((const uint8_t(*)[32])dh, opk ? 4 : 3, sk);
    sodium_memzero(ik_b, sizeof(ik_b));
    sodium_memzero(dh, sizeof(dh));
    return rc;
}

int e2e_session_respond(const struct e2e_identity *me, const struct e2e_prekey *spk,
                        const struct e2e_prekey *opk, const uint8_t *msg, size_t len,
                        struct e2e_session **out, uint8_t **pt, size_t *ptlen)
{
    struct e2e_prekey_info in;
    struct e2e_session *s;
    uint8_t sk[32];
    int rc;

    if (!me || !spk || !out || !pt || !ptlen)
        return PL_EINVAL;
    if ((rc = e2e_prekey_msg_parse(msg, len, &in)) < 0)
        return rc;
    if (in.spk_id != spk->id || in.has_opk != (opk != NULL) || (opk && in.opk_id != opk->id))
        return PL_EINVAL;
    if (!(s = e2e__session_alloc()))
        return PL_ENOMEM;
    if ((rc = responder_secret(me, spk, opk, &in, sk)) < 0)
        goto fail;
    memcpy(s->ad, in.identity_key, 32);
    memcpy(s->ad + 32, e2e_identity_public(me), 32);
    memcpy(s->peer_ik, in.identity_key, 32);
    memcpy(s->base_key, in.base_key, 32);
    s->spk_id = in.spk_id;
    s->has_opk = (uint8_t)in.has_opk;
    s->opk_id = in.opk_id;
    /* Double Ratchet initialisation (Bob): the signed prekey is his first
     * ratchet key pair; the root key is SK; no chain until Alice's key. */
    memcpy(s->dhs_pk, spk->pub, 32);
    memcpy(s->dhs_sk, spk->priv, 32);
    memcpy(s->rk, sk, 32);
    rc = e2e__ratchet_decrypt(s, msg + E2E_PREKEY_HDRBYTES, len - E2E_PREKEY_HDRBYTES, pt, ptlen);
    if (rc < 0)
        goto fail;
    *out = s;
    sodium_memzero(sk, sizeof(sk));
    return 0;
fail:
    e2e_session_free(s);
    sodium_memzero(sk, sizeof(sk));
    return rc;
}
