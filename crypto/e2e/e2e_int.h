/* SPDX-License-Identifier: MIT */
/* Parley - internals shared by the crypto/e2e source files.             */
/* Copyright (c) 2026 Parley developers                                 */
#ifndef PL_CRYPTO_E2E_INT_H
#define PL_CRYPTO_E2E_INT_H

#include "crypto/e2e.h"

#include <sodium.h>

/* KDF labels (HKDF info strings); PROTOCOL.md lists them. */
#define E2E_LABEL_X3DH "parley-x3dh-v1"
#define E2E_LABEL_RATCHET "parley-ratchet-v1"
#define E2E_LABEL_MSGKEYS "parley-msgkeys-v1"
#define E2E_LABEL_SENDERKEY "parley-senderkey-v1"
#define E2E_SPK_PREFIX "parley-spk-v1"

#define E2E_NONCEBYTES 24 /* XChaCha20-Poly1305 IETF */
#define E2E_TAGBYTES 16

/* First byte of a wire message. */
#define E2E_TYPE_BYTE(t) ((uint8_t)((E2E_PROTOCOL_VERSION << 4) | (t)))

static inline void e2e__put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t e2e__get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* HKDF-SHA256 (RFC 5869) over crypto_auth_hmacsha256; outlen <= 255 * 32. */
void e2e__hkdf(const uint8_t *salt, size_t saltlen, const uint8_t *ikm, size_t ikmlen,
               const char *info, uint8_t *out, size_t outlen);

/* Symmetric-key ratchet step (Signal): mk = HMAC(ck, 0x01), ck' = HMAC(ck,
 * 0x02); ck is replaced in place. */
void e2e__kdf_ck(uint8_t ck[32], uint8_t mk[32]);

/* AEAD key and nonce from a message key: HKDF(salt = 32 zero bytes, mk,
 * label) -> 32 + 24 bytes. */
void e2e__msg_keys(const uint8_t mk[32], const char *label, uint8_t key[32],
                   uint8_t nonce[E2E_NONCEBYTES]);

/* X25519; PL_EINVAL when the result is all zero (a low-order point). */
PL_MUST_CHECK int e2e__dh(uint8_t out[32], const uint8_t sk[32], const uint8_t pk[32]);

/* A random X25519 key pair (the private key is 32 random bytes, clamped by
 * the scalar multiplication itself). */
void e2e__x25519_keypair(uint8_t pk[32], uint8_t sk[32]);

/* Ed25519 identity keys in their X25519 form. */
PL_MUST_CHECK int e2e__identity_dh_secret(const struct e2e_identity *id, uint8_t sk[32]);
const uint8_t *e2e__identity_sign_secret(const struct e2e_identity *id);

/* ---- Sessions (x3dh.c, ratchet.c, session_io.c) ---- */

#define E2E_RATCHET_HDRBYTES 41 /* type byte, DH public key, pn, n */
#define E2E_PREKEY_HDRBYTES 74  /* type byte, IK_A, EK_A, spk id, opk flag, opk id */

struct e2e__skipped {
    uint8_t dh[32]; /* the sending chain's ratchet public key */
    uint32_t n;     /* the message number in that chain */
    uint8_t mk[32];
};

/* Double Ratchet state, named as in Signal's specification. Allocated with
 * sodium_malloc; only the first nskipped entries of skipped are in use
 * (oldest first). */
struct e2e_session {
    uint8_t ad[64];      /* IK_initiator || IK_responder (Ed25519) */
    uint8_t peer_ik[32]; /* the other device's identity key */
    uint8_t rk[32];
    uint8_t dhs_pk[32], dhs_sk[32];
    uint8_t dhr[32];
    uint8_t cks[32], ckr[32];
    uint8_t has_dhr, has_cks, has_ckr;
    uint8_t initiator; /* we sent the X3DH prekey message */
    uint8_t pending;   /* initiator: no reply decrypted yet, keep sending prekey messages */
    uint8_t has_opk;
    uint32_t spk_id, opk_id;
    uint8_t base_key[32]; /* EK_A: ours (initiator) or the peer's (responder) */
    uint32_t ns, nr, pn;
    uint32_t nskipped;
    struct e2e__skipped skipped[E2E_MAX_SKIP];
};

/* The bytes of s that are in use (the struct up to its used skipped keys). */
size_t e2e__session_used(const struct e2e_session *s);
struct e2e_session *e2e__session_alloc(void);

/* KDF_RK: (rk, ck) = HKDF(salt = rk, ikm = dh_out, "parley-ratchet-v1", 64). */
void e2e__kdf_rk(uint8_t rk[32], const uint8_t dh_out[32], uint8_t ck[32]);

/* X3DH as the initiator from an explicit ephemeral secret: SK (32 bytes).
 * Does not check the signed prekey's signature. */
PL_MUST_CHECK int e2e__x3dh_initiator_secret(const struct e2e_identity *me,
                                             const struct e2e_bundle *b, const uint8_t ek_sk[32],
                                             uint8_t sk[32]);

/* Decrypts a ratchet message (E2E_RATCHET_HDRBYTES header + AEAD) into s,
 * which may be left half-updated on failure: callers pass a scratch copy. */
PL_MUST_CHECK int e2e__ratchet_decrypt(struct e2e_session *s, const uint8_t *msg, size_t len,
                                       uint8_t **pt, size_t *ptlen);
/* Decrypts msg on a copy of s and commits the copy only on success. */
PL_MUST_CHECK int e2e__session_decrypt_atomic(struct e2e_session *s, const uint8_t *msg, size_t len,
                                              uint8_t **pt, size_t *ptlen);

/* malloc'd copy helpers for results; NULL on ENOMEM. */
uint8_t *e2e__alloc(size_t n);

/* A bounded little writer / reader for serialisation. */
struct e2e__wr {
    uint8_t *p;
    size_t len, cap;
};
struct e2e__rd {
    const uint8_t *p;
    size_t len, off;
    int bad;
};
void e2e__wr_bytes(struct e2e__wr *w, const void *b, size_t n);
void e2e__wr_u32(struct e2e__wr *w, uint32_t v);
void e2e__wr_u8(struct e2e__wr *w, uint8_t v);
void e2e__rd_bytes(struct e2e__rd *r, void *b, size_t n);
uint32_t e2e__rd_u32(struct e2e__rd *r);
uint8_t e2e__rd_u8(struct e2e__rd *r);

#endif
