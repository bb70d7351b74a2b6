// SPDX-License-Identifier: MIT
// Parley - safety numbers: 60 digits and the 65-byte QR payload (crypto/PROTOCOL.md).
// Copyright (c) 2026 Parley developers
import sodium from './sodium.js';
import { be32, compare, concat, utf8 } from './bytes.js';
import { LABEL } from './kdf.js';

const ITERATIONS = 5200;

/** The 64-byte fingerprint of a user id (decimal string) and their devices' Ed25519 keys. */
export function fingerprint(userId, keys) {
  const id = utf8(String(userId));
  const k = concat(...[...keys].sort(compare));
  let h = sodium.crypto_hash_sha512(concat(utf8(LABEL.safety), be32(id.length), id, k));
  for (let i = 0; i < ITERATIONS; i++) h = sodium.crypto_hash_sha512(concat(h, k));
  return h;
}

function digits(fp) {
  let s = '';
  for (let g = 0; g < 6; g++) {
    let v = 0;
    for (let j = 0; j < 5; j++) v = v * 256 + fp[g * 5 + j];
    s += String(v % 100000).padStart(5, '0');
  }
  return s;
}

/**
 * The safety number of two users, the same on both sides: { digits (60 characters), qr (65 bytes) }.
 * keysA / keysB are arrays of 32-byte identity keys.
 */
export function safetyNumber(userA, keysA, userB, keysB) {
  const fa = fingerprint(userA, keysA), fb = fingerprint(userB, keysB);
  const a = { d: digits(fa), fp: fa }, b = { d: digits(fb), fp: fb };
  const c = a.d < b.d ? -1 : a.d > b.d ? 1 : compare(a.fp.subarray(0, 32), b.fp.subarray(0, 32));
  const [x, y] = c <= 0 ? [a, b] : [b, a];
  return {
    digits: x.d + y.d,
    qr: concat(Uint8Array.of(1), x.fp.subarray(0, 32), y.fp.subarray(0, 32)),
  };
}

/** The number as 12 groups of 5 digits. */
export function safetyGroups(d) {
  return d.match(/.{5}/g).join(' ');
}
