// SPDX-License-Identifier: MIT
// Parley - device keys: Ed25519 identity (and its X25519 form), signed and one-time prekeys.
// Copyright (c) 2026 Parley developers
import sodium from './sodium.js';
import { be32, concat, E2EError, utf8 } from './bytes.js';
import { LABEL } from './kdf.js';

/** X25519; an all-zero result (low-order point) is an error. */
export function dh(sk, pk) {
  let out;
  try {
    out = sodium.crypto_scalarmult(sk, pk);
  } catch {
    throw new E2EError('EINVAL', 'low-order point');
  }
  if (out.every((x) => x === 0)) throw new E2EError('EINVAL', 'low-order point');
  return out;
}

/** A random X25519 key pair: { pub, priv } (priv is 32 random bytes, clamped by X25519). */
export function x25519Keypair() {
  const priv = sodium.randombytes_buf(32);
  return { pub: sodium.crypto_scalarmult_base(priv), priv };
}

/** Identity { seed, pub } (Ed25519; the seed is the secret to keep). */
export function identityFromSeed(seed) {
  if (seed.length !== 32) throw new E2EError('EINVAL', 'seed length');
  const kp = sodium.crypto_sign_seed_keypair(seed);
  return { seed: Uint8Array.from(seed), pub: kp.publicKey };
}

export function identityNew() {
  return identityFromSeed(sodium.randombytes_buf(32));
}

/** The Ed25519 secret key (seed || pub) of an identity. */
export function identitySignSecret(id) {
  return concat(id.seed, id.pub);
}

/** The identity's X25519 secret (clamped first half of SHA-512(seed)). */
export function identityDhSecret(id) {
  return sodium.crypto_sign_ed25519_sk_to_curve25519(identitySignSecret(id));
}

export function identityDhPublic(pub) {
  try {
    return sodium.crypto_sign_ed25519_pk_to_curve25519(pub);
  } catch {
    throw new E2EError('EINVAL', 'bad identity key');
  }
}

/** A one-time prekey { id, pub, priv }. */
export function prekeyGenerate(id) {
  return { id: id >>> 0, ...x25519Keypair() };
}

function spkMessage(id, pub) {
  return concat(utf8(LABEL.spk), be32(id), pub);
}

/** A signed prekey { id, pub, priv, sig }: sig = SIGN(IK, "parley-spk-v1" || be32(id) || pub). */
export function signedPrekeyGenerate(identity, id) {
  const k = prekeyGenerate(id);
  k.sig = sodium.crypto_sign_detached(spkMessage(k.id, k.pub), identitySignSecret(identity));
  return k;
}

/** Throws EBADSIG unless sig is the identity's signature of the signed prekey. */
export function signedPrekeyVerify(identityPub, id, pub, sig) {
  let ok = false;
  try {
    ok = sodium.crypto_sign_verify_detached(sig, spkMessage(id, pub), identityPub);
  } catch {
    ok = false;
  }
  if (!ok) throw new E2EError('EBADSIG', 'signed prekey signature');
}
