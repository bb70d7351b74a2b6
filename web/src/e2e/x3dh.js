// SPDX-License-Identifier: MIT
// Parley - X3DH: starting a pairwise session as initiator (from a bundle) or responder.
// Copyright (c) 2026 Parley developers
import { concat, E2EError } from './bytes.js';
import { hkdf, kdfRk, LABEL } from './kdf.js';
import {
  dh, identityDhPublic, identityDhSecret, signedPrekeyVerify, x25519Keypair,
} from './keys.js';
import { ratchetDecrypt } from './ratchet.js';
import { parsePrekey, PREKEY_HDR } from './wire.js';

function x3dhKdf(dhs) {
  return hkdf(null, concat(new Uint8Array(32).fill(0xff), ...dhs), LABEL.x3dh, 32);
}

/** SK for the initiator from an explicit ephemeral secret (no signature check). */
export function x3dhInitiatorSecret(me, bundle, ekPriv) {
  const spk = bundle.spkPub;
  const dhs = [
    dh(identityDhSecret(me), spk),
    dh(ekPriv, identityDhPublic(bundle.identityKey)),
    dh(ekPriv, spk),
  ];
  if (bundle.opkPub) dhs.push(dh(ekPriv, bundle.opkPub));
  return x3dhKdf(dhs);
}

/**
 * Alice's side. bundle = { identityKey, spkId, spkPub, spkSig, opkId?, opkPub? } (Uint8Arrays,
 * ids as numbers; no opkPub when the server had no one-time prekey). Verifies the signed prekey
 * (EBADSIG). Draws EK_A, then the first ratchet key. Returns a new session state.
 */
export function sessionInitiate(me, bundle) {
  signedPrekeyVerify(bundle.identityKey, bundle.spkId, bundle.spkPub, bundle.spkSig);
  const ek = x25519Keypair();
  const sk = x3dhInitiatorSecret(me, bundle, ek.priv);
  const dhs = x25519Keypair();
  const { rk, ck } = kdfRk(sk, dh(dhs.priv, bundle.spkPub));
  return {
    ad: concat(me.pub, bundle.identityKey),
    peerIk: Uint8Array.from(bundle.identityKey),
    rk,
    dhsPub: dhs.pub,
    dhsPriv: dhs.priv,
    dhr: Uint8Array.from(bundle.spkPub),
    cks: ck,
    ckr: null,
    initiator: true,
    pending: true,
    hasOpk: !!bundle.opkPub,
    spkId: bundle.spkId >>> 0,
    opkId: bundle.opkPub ? bundle.opkId >>> 0 : 0,
    baseKey: ek.pub,
    ns: 0,
    nr: 0,
    pn: 0,
    skipped: [],
  };
}

/**
 * Bob's side: runs X3DH from the prekey message with his signed prekey { id, pub, priv } and the
 * named one-time prekey (or null), and decrypts the embedded message. Returns
 * { session, plaintext, header }; throws (and creates nothing) when decryption fails.
 */
export function sessionRespond(me, spk, opk, msg) {
  const h = parsePrekey(msg);
  if (h.spkId !== spk.id || h.hasOpk !== !!opk || (opk && h.opkId !== opk.id)) {
    throw new E2EError('EINVAL', 'prekey ids do not match');
  }
  const ikA = identityDhPublic(h.identityKey);
  const dhs = [dh(spk.priv, ikA), dh(identityDhSecret(me), h.baseKey), dh(spk.priv, h.baseKey)];
  if (opk) dhs.push(dh(opk.priv, h.baseKey));
  const s = {
    ad: concat(h.identityKey, me.pub),
    peerIk: h.identityKey,
    rk: x3dhKdf(dhs),
    dhsPub: Uint8Array.from(spk.pub),
    dhsPriv: Uint8Array.from(spk.priv),
    dhr: null,
    cks: null,
    ckr: null,
    initiator: false,
    pending: false,
    hasOpk: h.hasOpk,
    spkId: h.spkId,
    opkId: h.opkId,
    baseKey: h.baseKey,
    ns: 0,
    nr: 0,
    pn: 0,
    skipped: [],
  };
  const { session, plaintext } = ratchetDecrypt(s, msg.subarray(PREKEY_HDR));
  return { session, plaintext, header: h };
}
