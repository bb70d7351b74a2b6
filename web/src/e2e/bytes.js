// SPDX-License-Identifier: MIT
// Parley - byte helpers for the E2E modules: concat, big-endian integers, hex, base64url, UTF-8.
// Copyright (c) 2026 Parley developers

/** Error with one of the protocol's codes ('EAUTH', 'EREPLAY', ... as in crypto/e2e.h). */
export class E2EError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'E2EError';
    this.code = code;
  }
}

export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function be32(x) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, x >>> 0);
  return b;
}

export function get32(b, off = 0) {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off);
}

/** be64 of a non-negative integer given as a number, bigint or decimal string (the API's ids). */
export function be64(x) {
  const v = BigInt(x);
  if (v < 0n || v >= 1n << 64n) throw new E2EError('EINVAL', 'id out of range');
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v);
  return b;
}

export function get64(b, off = 0) {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off);
}

export function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export function compare(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export function fromHex(h) {
  if (h.length % 2) throw new E2EError('EINVAL', 'odd hex');
  const b = new Uint8Array(h.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(h.substr(2 * i, 2), 16);
  return b;
}

export function toHex(b) {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

export function utf8(s) {
  return new TextEncoder().encode(s);
}

export function fromUtf8(b) {
  return new TextDecoder('utf-8', { fatal: true }).decode(b);
}

export function toB64url(b) {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromB64url(s) {
  const t = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  const b = new Uint8Array(t.length);
  for (let i = 0; i < t.length; i++) b[i] = t.charCodeAt(i);
  return b;
}
