// SPDX-License-Identifier: MIT
// Parley - E2E files: "PLF1" || secretstream header || 65,536-byte chunks, SHA-256 digest.
// Copyright (c) 2026 Parley developers
import sodium from './sodium.js';
import { E2EError, equal, utf8 } from './bytes.js';

export const FILE_CHUNK = 65536;
const MAGIC = utf8('PLF1');
const ABYTES = 17;
const HEADER = 24;

/**
 * A streaming encryptor: { key, push(chunk, last) -> Uint8Array, digest() }. The first push
 * output starts with the magic and the secretstream header. Every chunk but the last must be
 * exactly FILE_CHUNK bytes; the last (last = true, also when full; empty for an empty file)
 * carries TAG_FINAL. Draws the key (32), then the header (24, inside libsodium).
 */
export function fileEncryptor() {
  const key = sodium.crypto_secretstream_xchacha20poly1305_keygen();
  const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
  const h = sodium.crypto_hash_sha256_init();
  let head = new Uint8Array([...MAGIC, ...header]);
  let done = false;
  return {
    key,
    push(chunk, last) {
      if (done) throw new E2EError('EINVAL', 'file already final');
      if (chunk.length > FILE_CHUNK || (!last && chunk.length !== FILE_CHUNK)) {
        throw new E2EError('EINVAL', 'chunk size');
      }
      const tag = last ? sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
        : sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
      const c = sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, null, tag);
      const out = new Uint8Array(head.length + c.length);
      out.set(head);
      out.set(c, head.length);
      head = new Uint8Array(0);
      sodium.crypto_hash_sha256_update(h, out);
      done = last;
      return out;
    },
    digest() {
      if (!done) throw new E2EError('EINVAL', 'file not final');
      return sodium.crypto_hash_sha256_final(h);
    },
  };
}

/** Encrypts a whole file in memory: { ciphertext, key, digest }. */
export function fileEncrypt(plaintext) {
  const e = fileEncryptor();
  const parts = [];
  let off = 0;
  do {
    const end = Math.min(off + FILE_CHUNK, plaintext.length);
    parts.push(e.push(plaintext.subarray(off, end), end === plaintext.length));
    off = end;
  } while (off < plaintext.length);
  const ciphertext = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    ciphertext.set(p, o);
    o += p.length;
  }
  return { ciphertext, key: e.key, digest: e.digest() };
}

/** The longest download accepted for a plaintext of `size` bytes. */
export function fileMaxCiphertext(size) {
  return size + 28 + ABYTES * (Math.floor(size / FILE_CHUNK) + 1);
}

/**
 * Decrypts a whole downloaded file: checks the digest first (EDIGEST), then every chunk (EAUTH
 * when altered, reordered, truncated before TAG_FINAL or followed by anything).
 */
export function fileDecrypt(ciphertext, key, digest) {
  if (ciphertext.length < MAGIC.length + HEADER || !equal(ciphertext.subarray(0, 4), MAGIC)) {
    throw new E2EError('EMALFORMED', 'not an E2E file');
  }
  if (!equal(sodium.crypto_hash_sha256(ciphertext), digest)) {
    throw new E2EError('EDIGEST', 'file digest mismatch');
  }
  let state;
  try {
    state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(ciphertext.subarray(4, 28), key);
  } catch {
    throw new E2EError('EAUTH', 'bad file header');
  }
  const ct = FILE_CHUNK + ABYTES;
  const parts = [];
  let off = 28, total = 0;
  for (;;) {
    const n = Math.min(ct, ciphertext.length - off);
    if (n < ABYTES) throw new E2EError('EAUTH', 'file truncated');
    const r = sodium.crypto_secretstream_xchacha20poly1305_pull(state,
      ciphertext.subarray(off, off + n));
    if (!r) throw new E2EError('EAUTH', 'file chunk failed authentication');
    off += n;
    parts.push(r.message);
    total += r.message.length;
    if (r.tag === sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
      if (off !== ciphertext.length) throw new E2EError('EAUTH', 'bytes after the final chunk');
      break;
    }
    if (n < ct) throw new E2EError('EAUTH', 'short chunk that is not final');
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
