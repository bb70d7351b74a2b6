// SPDX-License-Identifier: MIT
// Parley - secrets at rest: the "PLV1" passphrase vault and the store's sealed records.
// Copyright (c) 2026 Parley developers
import sodium from './sodium.js';
import { be32, concat, E2EError, get32, utf8 } from './bytes.js';

const MAGIC = utf8('PLV1');
const SALT = 16;
const NONCE = 24;
const HDR = 4 + 4 + 4 + SALT + NONCE;

/** libsodium's MODERATE cost (3 passes, 256 MiB), the default for a new vault. */
export function vaultParamsDefault() {
  return {
    opslimit: sodium.crypto_pwhash_OPSLIMIT_MODERATE,
    memlimit: sodium.crypto_pwhash_MEMLIMIT_MODERATE,
  };
}

function derive(pass, salt, ops, mem) {
  return sodium.crypto_pwhash(32, typeof pass === 'string' ? utf8(pass) : pass, salt, ops, mem,
    sodium.crypto_pwhash_ALG_ARGON2ID13);
}

function checkCost(ops, mem) {
  if (ops < sodium.crypto_pwhash_OPSLIMIT_MIN || ops > sodium.crypto_pwhash_OPSLIMIT_SENSITIVE ||
      mem < sodium.crypto_pwhash_MEMLIMIT_MIN || mem > sodium.crypto_pwhash_MEMLIMIT_SENSITIVE) {
    throw new E2EError('EMALFORMED', 'vault cost out of range');
  }
}

/** Seals plaintext under a passphrase: "PLV1" || ops || mem/1024 || salt || nonce || secretbox. */
export function vaultSeal(pass, params, plaintext) {
  const { opslimit, memlimit } = params;
  if (memlimit % 1024 !== 0) throw new E2EError('EINVAL', 'memlimit must be a multiple of 1024');
  if (opslimit < sodium.crypto_pwhash_OPSLIMIT_MIN || memlimit < sodium.crypto_pwhash_MEMLIMIT_MIN) {
    throw new E2EError('EINVAL', 'vault cost too low');
  }
  const salt = sodium.randombytes_buf(SALT);
  const nonce = sodium.randombytes_buf(NONCE);
  const key = derive(pass, salt, opslimit, memlimit);
  const box = sodium.crypto_secretbox_easy(plaintext, nonce, key);
  return concat(MAGIC, be32(opslimit), be32(memlimit / 1024), salt, nonce, box);
}

/** Opens a vault; EPASSPHRASE for a wrong passphrase or a damaged file. */
export function vaultOpen(pass, sealed) {
  if (sealed.length < HDR + 16 || !MAGIC.every((x, i) => sealed[i] === x)) {
    throw new E2EError('EMALFORMED', 'not a vault');
  }
  const ops = get32(sealed, 4), mem = get32(sealed, 8) * 1024;
  checkCost(ops, mem);
  const key = derive(pass, sealed.subarray(12, 28), ops, mem);
  try {
    return sodium.crypto_secretbox_open_easy(sealed.subarray(HDR), sealed.subarray(28, HDR), key);
  } catch {
    throw new E2EError('EPASSPHRASE', 'wrong passphrase or damaged vault');
  }
}

/** The store key: crypto_pwhash(32, pass, salt (16), opslimit, memlimit, ARGON2ID13). */
export function vaultKeyDerive(pass, salt, params) {
  checkCost(params.opslimit, params.memlimit);
  return derive(pass, salt, params.opslimit, params.memlimit);
}

/** A sealed record: nonce (24, random) || XChaCha20-Poly1305(key, nonce, value, ad). */
export function vaultRecordSeal(key, ad, value) {
  const nonce = sodium.randombytes_buf(NONCE);
  return concat(nonce, sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(value, ad, null, nonce,
    key));
}

export function vaultRecordOpen(key, ad, record) {
  if (record.length < NONCE + 16) throw new E2EError('EMALFORMED', 'short record');
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, record.subarray(NONCE), ad,
      record.subarray(0, NONCE), key);
  } catch {
    throw new E2EError('EPASSPHRASE', 'record does not open');
  }
}
