// SPDX-License-Identifier: MIT
// Parley - sender keys (groups), bound to a conversation and a sending device (protocol v2).
// Copyright (c) 2026 Parley developers
//
// A sender key is a plain object { conv, dev (decimal strings), keyId, iteration, ck, signPub,
// signSeed (own keys only), skipped: [{ iteration, mk }] }; every function returns a new state.
import sodium from './sodium.js';
import { be32, be64, concat, E2EError, get32, get64 } from './bytes.js';
import { kdfCk, LABEL, msgKeys } from './kdf.js';
import { MAX_PLAINTEXT, MAX_SKIP, MSG, msgType, TAG, typeByte } from './wire.js';

export const SKDM_BYTES = 89;
const HDR = 9;
const SIG = 64;

function id(x) {
  return BigInt(x).toString();
}

/** A new own sender key for (conv, dev). Draws key id (4), chain key (32), signing seed (32). */
export function senderKeyNew(conv, dev) {
  const keyId = get32(sodium.randombytes_buf(4));
  const ck = sodium.randombytes_buf(32);
  const signSeed = sodium.randombytes_buf(32);
  const kp = sodium.crypto_sign_seed_keypair(signSeed);
  return {
    conv: id(conv), dev: id(dev), keyId, iteration: 0, ck, signPub: kp.publicKey, signSeed,
    skipped: [],
  };
}

/** The 89-byte distribution message of an own key at its current iteration. */
export function senderKeyDistribution(k) {
  if (!k.signSeed) throw new E2EError('EINVAL', 'not an own sender key');
  return concat(Uint8Array.of(typeByte(MSG.skdm)), be64(k.conv), be64(k.dev), be32(k.keyId),
    be32(k.iteration), k.ck, k.signPub);
}

/**
 * A receiving state from a distribution that arrived (inside a pairwise message) in conversation
 * conv from device dev; ECONTEXT when the message names another conversation or device.
 */
export function senderKeyFromDistribution(msg, conv, dev) {
  if (msgType(msg) !== MSG.skdm) throw new E2EError('EINVAL', 'not a distribution');
  if (msg.length !== SKDM_BYTES) throw new E2EError('EMALFORMED', 'distribution length');
  if (get64(msg, 1) !== BigInt(conv) || get64(msg, 9) !== BigInt(dev)) {
    throw new E2EError('ECONTEXT', 'distribution for another conversation or device');
  }
  return {
    conv: id(conv), dev: id(dev), keyId: get32(msg, 17), iteration: get32(msg, 21),
    ck: msg.slice(25, 57), signPub: msg.slice(57, 89), signSeed: null, skipped: [],
  };
}

function ad(conv, dev, header) {
  return concat(be64(conv), be64(dev), header);
}

/** Encrypts a group message: { senderKey, message } (header || ct || sig). */
export function senderKeyEncrypt(k, plaintext) {
  if (!k.signSeed) throw new E2EError('EINVAL', 'not an own sender key');
  if (plaintext.length > MAX_PLAINTEXT) throw new E2EError('ETOOBIG', 'plaintext too big');
  const s = structuredClone(k);
  const header = concat(Uint8Array.of(typeByte(MSG.group)), be32(s.keyId), be32(s.iteration));
  const { mk, ck } = kdfCk(s.ck);
  s.ck = ck;
  s.iteration++;
  const { key, nonce } = msgKeys(mk, LABEL.senderkey);
  const a = ad(s.conv, s.dev, header);
  const ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, a, null, nonce, key);
  const sk = sodium.crypto_sign_seed_keypair(s.signSeed).privateKey;
  const sig = sodium.crypto_sign_detached(concat(a, ct), sk);
  return { senderKey: s, message: concat(header, ct, sig) };
}

function open(mk, a, ct) {
  const { key, nonce } = msgKeys(mk, LABEL.senderkey);
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ct, a, nonce, key);
  } catch {
    throw new E2EError('EAUTH', 'group message failed authentication');
  }
}

/**
 * Decrypts a group message delivered in conversation conv from device dev:
 * { senderKey, plaintext }. Checks, in order: type (EVERSION), binding (ECONTEXT), key id
 * (ENOKEY), signature (EBADSIG); then advances a copy of the chain (EREPLAY, ETOOMANYSKIP, EAUTH).
 */
export function senderKeyDecrypt(k, conv, dev, msg) {
  if (msgType(msg) !== MSG.group) throw new E2EError('EINVAL', 'not a group message');
  if (msg.length < HDR + TAG + SIG) throw new E2EError('EMALFORMED', 'short group message');
  if (BigInt(conv) !== BigInt(k.conv) || BigInt(dev) !== BigInt(k.dev)) {
    throw new E2EError('ECONTEXT', 'sender key bound to another conversation or device');
  }
  if (get32(msg, 1) !== k.keyId) throw new E2EError('ENOKEY', 'unknown sender key id');
  const body = msg.length - SIG;
  const a = ad(conv, dev, msg.subarray(0, HDR));
  const ct = msg.subarray(HDR, body);
  let ok = false;
  try {
    ok = sodium.crypto_sign_verify_detached(msg.subarray(body), concat(a, ct), k.signPub);
  } catch {
    ok = false;
  }
  if (!ok) throw new E2EError('EBADSIG', 'group message signature');
  const s = structuredClone(k);
  const it = get32(msg, 5);
  if (it < s.iteration) {
    const i = s.skipped.findIndex((x) => x.iteration === it);
    if (i < 0) throw new E2EError('EREPLAY', 'message already decrypted');
    const plaintext = open(s.skipped[i].mk, a, ct);
    s.skipped.splice(i, 1);
    return { senderKey: s, plaintext };
  }
  if (it - s.iteration > MAX_SKIP) throw new E2EError('ETOOMANYSKIP', 'too many skipped');
  while (s.iteration < it) {
    if (s.skipped.length === MAX_SKIP) s.skipped.shift();
    const { mk, ck } = kdfCk(s.ck);
    s.skipped.push({ iteration: s.iteration++, mk });
    s.ck = ck;
  }
  const { mk, ck } = kdfCk(s.ck);
  s.ck = ck;
  s.iteration++;
  return { senderKey: s, plaintext: open(mk, a, ct) };
}
