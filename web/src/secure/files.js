// SPDX-License-Identifier: MIT
// Parley web - E2E files (crypto/PROTOCOL.md, "Files"): encrypted in the browser before the
// presigned PUT (the server learns only the ciphertext's size), decrypted after the download
// once its digest and length check out.
import * as e2e from '../e2e/index.js';

/** { ciphertext, key, digest } of a File (the "PLF1" secretstream form). */
export async function fileSeal(file) {
  return e2e.fileEncrypt(new Uint8Array(await file.arrayBuffer()));
}

export const b64 = e2e.toB64url;

const SAFE_INLINE = /^(image\/(png|jpeg|gif|webp|avif)|video\/(mp4|webm|ogg)|audio\/(mpeg|ogg|wav|webm|mp4|aac|flac))$/;

/** Downloads and decrypts a file payload: a Blob (typed only for inert media types). */
export async function fileOpen(f) {
  const r = await fetch(`/v1/media/${f.media_id}`, { credentials: 'same-origin', headers: { 'X-Parley-CSRF': '1' } });
  if (!r.ok) throw new Error(`download failed (HTTP ${r.status})`);
  const ct = new Uint8Array(await r.arrayBuffer());
  if (ct.length > e2e.fileMaxCiphertext(f.size)) throw new Error('download longer than the file');
  const pt = e2e.fileDecrypt(ct, e2e.fromB64url(f.key), e2e.fromB64url(f.digest));
  const mime = SAFE_INLINE.test(f.mime || '') ? f.mime : 'application/octet-stream';
  return new Blob([pt], { type: mime });
}
