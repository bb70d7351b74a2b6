/* SPDX-License-Identifier: MIT */
/* Parley - identity keys, signed prekeys and one-time prekeys.         */
/* Copyright (c) 2026 Parley developers                                 */
#include "crypto/e2e/e2e_int.h"

#include <string.h>

/*
 * A device has one Ed25519 identity key. X3DH needs Diffie-Hellman with
 * it, for which libsodium converts both halves to X25519 (the birational
 * map from Edwards to Montgomery form), so one key both signs prekeys and
 * takes part in the key agreement, as XEdDSA does for Signal.
 */
struct e2e_identity {
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t sk[crypto_sign_SECRETKEYBYTES]; /* seed || pk, libsodium's layout */
};

int e2e_identity_from_seed(const uint8_t seed[32], struct e2e_identity **out)
{
    struct e2e_identity *id;
    if (!seed || !out)
        return PL_EINVAL;
    if (!(id = sodium_malloc(sizeof(*id))))
        return PL_ENOMEM;
    crypto_sign_seed_keypair(id->pk, id->sk, seed);
    *out = id;
    return 0;
}

int e2e_identity_new(struct e2e_identity **out)
{
    uint8_t seed[32];
    randombytes_buf(seed, sizeof(seed));
    int rc = e2e_identity_from_seed(seed, out);
    sodium_memzero(seed, sizeof(seed));
    return rc;
}

void e2e_identity_seed(const struct e2e_identity *id, uint8_t seed[32])
{
    crypto_sign_ed25519_sk_to_seed(seed, id->sk);
}

const uint8_t *e2e_identity_public(const struct e2e_identity *id)
{
    return id->pk;
}

void e2e_identity_free(struct e2e_identity *id)
{
    sodium_free(id); /* wipes the pages before unmapping them */
}

int e2e__identity_dh_secret(const struct e2e_identity *id, uint8_t sk[32])
{
    return crypto_sign_ed25519_sk_to_curve25519(sk, id->sk) == 0 ? 0 : PL_EINTERNAL;
}

const uint8_t *e2e__identity_sign_secret(const struct e2e_identity *id)
{
    return id->sk;
}

int e2e_prekey_generate(uint32_t id, struct e2e_prekey *out)
{
    if (!out)
        return PL_EINVAL;
    out->id = id;
    e2e__x25519_keypair(out->pub, out->priv);
    return 0;
}

void e2e_prekey_wipe(struct e2e_prekey *pk)
{
    sodium_memzero(pk, sizeof(*pk));
}

/* The signed bytes: "parley-spk-v1" || be32(id) || pub (the contract). */
static void spk_message(uint32_t spk_id, const uint8_t pub[32], uint8_t m[13 + 4 + 32])
{
    memcpy(m, E2E_SPK_PREFIX, 13);
    e2e__put32(m + 13, spk_id);
    memcpy(m + 17, pub, 32);
}

int e2e_signed_prekey_generate(const struct e2e_identity *id, uint32_t spk_id,
                               struct e2e_signed_prekey *out)
{
    uint8_t m[49];
    if (!id || !out)
        return PL_EINVAL;
    int rc = e2e_prekey_generate(spk_id, &out->key);
    if (rc < 0)
        return rc;
    spk_message(spk_id, out->key.pub, m);
    crypto_sign_detached(out->sig, NULL, m, sizeof(m), id->sk);
    return 0;
}

int e2e_signed_prekey_verify(const uint8_t ik[32], uint32_t spk_id, const uint8_t pub[32],
                             const uint8_t sig[64])
{
    uint8_t m[49];
    if (!ik || !pub || !sig)
        return PL_EINVAL;
    spk_message(spk_id, pub, m);
    return crypto_sign_verify_detached(sig, m, sizeof(m), ik) == 0 ? 0 : E2E_EBADSIG;
}
