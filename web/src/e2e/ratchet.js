// SPDX-License-Identifier: MIT
// Parley - the Double Ratchet (header in the clear): encrypt and transactional decrypt.
// Copyright (c) 2026 Parley developers
//
// A session is a plain object of Uint8Arrays, numbers and booleans (structured-cloneable, so it
// can go to IndexedDB as is). sessionEncrypt and sessionDecrypt never modify their argument: they
// return the next state, which the caller stores (write-ahead, PROTOCOL.md "Client state rules").
import sodium from './sodium.js';
import { be32, concat, E2EError, equal, get32 } from './bytes.js';
import { kdfCk, kdfRk, LABEL, msgKeys } from './kdf.js';
import { dh, x25519Keypair } from './keys.js';
import {
  MAX_PLAINTEXT, MAX_SKIP, MSG, msgType, parsePrekey, PREKEY_HDR, RATCHET_HDR, TAG, typeByte,
} from './wire.js';

export function sessionClone(s) {
  return structuredClone(s);
}

function aeadOpen(mk, ad, ct) {
  const { key, nonce } = msgKeys(mk, LABEL.msgkeys);
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ct, ad, nonce, key);
  } catch {
    throw new E2EError('EAUTH', 'message failed authentication');
  }
}

function skippedAdd(s, mk) {
  if (s.skipped.length === MAX_SKIP) s.skipped.shift();
  s.skipped.push({ dh: Uint8Array.from(s.dhr), n: s.nr, mk });
}

function skipUntil(s, until) {
  if (!s.ckr || until <= s.nr) return;
  if (until - s.nr > MAX_SKIP) throw new E2EError('ETOOMANYSKIP', 'too many skipped messages');
  while (s.nr < until) {
    const { mk, ck } = kdfCk(s.ckr);
    s.ckr = ck;
    skippedAdd(s, mk);
    s.nr++;
  }
}

function dhRatchet(s, pub) {
  s.pn = s.ns;
  s.ns = s.nr = 0;
  s.dhr = Uint8Array.from(pub);
  let r = kdfRk(s.rk, dh(s.dhsPriv, s.dhr));
  s.rk = r.rk;
  s.ckr = r.ck;
  const kp = x25519Keypair();
  s.dhsPub = kp.pub;
  s.dhsPriv = kp.priv;
  r = kdfRk(s.rk, dh(s.dhsPriv, s.dhr));
  s.rk = r.rk;
  s.cks = r.ck;
}

/**
 * Decrypts a ratchet message (0x22 header + AEAD) on a copy of s. Returns { session, plaintext };
 * s itself is never changed, so a forged or replayed message cannot move the ratchet.
 */
export function ratchetDecrypt(state, msg) {
  if (msg.length < RATCHET_HDR + TAG || msg.length > RATCHET_HDR + TAG + MAX_PLAINTEXT) {
    throw new E2EError('EMALFORMED', 'bad message length');
  }
  if (msg[0] !== typeByte(MSG.ratchet)) throw new E2EError('EVERSION', 'not a v2 ratchet message');
  const s = sessionClone(state);
  const pub = msg.subarray(1, 33), pn = get32(msg, 33), n = get32(msg, 37);
  const ct = msg.subarray(RATCHET_HDR);
  const ad = concat(s.ad, msg.subarray(0, RATCHET_HDR));
  const i = s.skipped.findIndex((k) => k.n === n && equal(k.dh, pub));
  if (i >= 0) {
    const plaintext = aeadOpen(s.skipped[i].mk, ad, ct);
    s.skipped.splice(i, 1);
    s.pending = false;
    return { session: s, plaintext };
  }
  if (!s.dhr || !equal(pub, s.dhr)) {
    skipUntil(s, pn);
    dhRatchet(s, pub);
  } else if (n < s.nr) {
    throw new E2EError('EREPLAY', 'message already decrypted');
  }
  skipUntil(s, n);
  const { mk, ck } = kdfCk(s.ckr);
  s.ckr = ck;
  s.nr++;
  const plaintext = aeadOpen(mk, ad, ct);
  s.pending = false; // the peer answered: X3DH is complete
  return { session: s, plaintext };
}

/**
 * Decrypts a "prekey" or "message" wire message in an existing session: { session, plaintext }.
 * A prekey message of another session throws ENEWSESSION (respond with sessionRespond).
 */
export function sessionDecrypt(s, msg) {
  const t = msgType(msg);
  if (t === MSG.prekey) {
    const h = parsePrekey(msg);
    if (s.initiator || !equal(h.identityKey, s.peerIk) || !equal(h.baseKey, s.baseKey)) {
      throw new E2EError('ENEWSESSION', 'prekey message of another session');
    }
    if (h.spkId !== s.spkId || h.hasOpk !== s.hasOpk || h.opkId !== s.opkId) {
      throw new E2EError('EAUTH', 'X3DH header changed');
    }
    return ratchetDecrypt(s, msg.subarray(PREKEY_HDR));
  }
  if (t !== MSG.ratchet) throw new E2EError('EINVAL', 'not a pairwise message');
  return ratchetDecrypt(s, msg);
}

/** Encrypts: { session, message, type: 'prekey' | 'message' } (the contract's type names). */
export function sessionEncrypt(state, plaintext) {
  if (plaintext.length > MAX_PLAINTEXT) throw new E2EError('ETOOBIG', 'plaintext too big');
  if (!state.cks) throw new E2EError('EINVAL', 'no sending chain');
  const s = sessionClone(state);
  const header = concat(Uint8Array.of(typeByte(MSG.ratchet)), s.dhsPub, be32(s.pn), be32(s.ns));
  const { mk, ck } = kdfCk(s.cks);
  s.cks = ck;
  s.ns++;
  const { key, nonce } = msgKeys(mk, LABEL.msgkeys);
  const ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, concat(s.ad, header),
    null, nonce, key);
  let message = concat(header, ct);
  if (s.pending) {
    const pre = concat(Uint8Array.of(typeByte(MSG.prekey)), s.ad.subarray(0, 32), s.baseKey,
      be32(s.spkId), Uint8Array.of(s.hasOpk ? 1 : 0), be32(s.opkId));
    message = concat(pre, message);
  }
  return { session: s, message, type: s.pending ? 'prekey' : 'message' };
}
