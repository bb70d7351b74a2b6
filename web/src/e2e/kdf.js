// SPDX-License-Identifier: MIT
// Parley - HKDF-SHA256 and the ratchet KDFs of crypto/PROTOCOL.md (KDF_RK, KDF_CK, message keys).
// Copyright (c) 2026 Parley developers
import sodium from './sodium.js';
import { concat, E2EError, utf8 } from './bytes.js';

export const LABEL = {
  x3dh: 'parley-x3dh-v1',
  ratchet: 'parley-ratchet-v1',
  msgkeys: 'parley-msgkeys-v1',
  senderkey: 'parley-senderkey-v1',
  spk: 'parley-spk-v1',
  safety: 'parley-safety-v1',
};

/** HMAC-SHA256 with a key of any length. */
export function hmac(key, msg) {
  const st = sodium.crypto_auth_hmacsha256_init(key);
  sodium.crypto_auth_hmacsha256_update(st, msg);
  return sodium.crypto_auth_hmacsha256_final(st);
}

/** HKDF-SHA256 (RFC 5869); an empty salt means 32 zero bytes; info is an ASCII label. */
export function hkdf(salt, ikm, info, length) {
  if (length > 255 * 32) throw new E2EError('EINVAL', 'hkdf length');
  const prk = hmac(salt && salt.length ? salt : new Uint8Array(32), ikm);
  const inf = typeof info === 'string' ? utf8(info) : info;
  const out = new Uint8Array(length);
  let t = new Uint8Array(0);
  for (let i = 1, o = 0; o < length; i++) {
    t = hmac(prk, concat(t, inf, Uint8Array.of(i)));
    out.set(t.subarray(0, Math.min(32, length - o)), o);
    o += 32;
  }
  return out;
}

/** KDF_CK: { mk: HMAC(ck, 0x01), ck: HMAC(ck, 0x02) }. */
export function kdfCk(ck) {
  return { mk: hmac(ck, Uint8Array.of(1)), ck: hmac(ck, Uint8Array.of(2)) };
}

/** KDF_RK: { rk, ck } = HKDF(salt = rk, dh_out, "parley-ratchet-v1", 64). */
export function kdfRk(rk, dhOut) {
  const o = hkdf(rk, dhOut, LABEL.ratchet, 64);
  return { rk: o.slice(0, 32), ck: o.slice(32, 64) };
}

/** AEAD key and nonce from a message key (label: LABEL.msgkeys or LABEL.senderkey). */
export function msgKeys(mk, label = LABEL.msgkeys) {
  const o = hkdf(null, mk, label, 56);
  return { key: o.slice(0, 32), nonce: o.slice(32, 56) };
}
