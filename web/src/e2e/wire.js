// SPDX-License-Identifier: MIT
// Parley - wire constants and header parsing of protocol version 2 (crypto/PROTOCOL.md).
// Copyright (c) 2026 Parley developers
import { E2EError, get32 } from './bytes.js';

export const VERSION = 2;
export const MSG = { prekey: 1, ratchet: 2, group: 3, skdm: 4 };
export const MAX_SKIP = 1000;
export const MAX_PLAINTEXT = 16 * 1024 * 1024;
export const RATCHET_HDR = 41;
export const PREKEY_HDR = 74;
export const TAG = 16;

export function typeByte(t) {
  return (VERSION << 4) | t;
}

/** The message type of a wire message; EVERSION for any other version or type. */
export function msgType(msg) {
  if (!msg || msg.length === 0) throw new E2EError('EMALFORMED', 'empty message');
  const v = msg[0] >> 4, t = msg[0] & 15;
  if (v !== VERSION || t < 1 || t > 4) {
    throw new E2EError('EVERSION',
      'unsupported protocol version or message type (both sides need protocol version 2)');
  }
  return t;
}

/** The X3DH header of a prekey message: { identityKey, baseKey, spkId, hasOpk, opkId }. */
export function parsePrekey(msg) {
  if (msgType(msg) !== MSG.prekey) throw new E2EError('EINVAL', 'not a prekey message');
  if (msg.length < PREKEY_HDR + RATCHET_HDR + TAG) throw new E2EError('EMALFORMED', 'short');
  const hasOpk = msg[69];
  const opkId = get32(msg, 70);
  if (hasOpk > 1 || (!hasOpk && opkId !== 0)) throw new E2EError('EMALFORMED', 'opk flag');
  return {
    identityKey: msg.slice(1, 33),
    baseKey: msg.slice(33, 65),
    spkId: get32(msg, 65),
    hasOpk: hasOpk === 1,
    opkId,
  };
}
