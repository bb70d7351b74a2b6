// SPDX-License-Identifier: MIT
// Parley web - this browser's E2E state in IndexedDB, every value sealed (crypto/PROTOCOL.md,
// "Secrets at rest"): one database per device, key = argon2id(passphrase, salt), record =
// nonce || XChaCha20-Poly1305(key, value, AD = "parley-web-store-v1" || record key). The
// passphrase never leaves the page; the server and a copy of the disk see only sealed bytes.
//
// Every change is a transaction: `tx(fn)` runs fn under a Web Lock named after the device (so
// tabs of one device take turns: PROTOCOL.md client rule 3), fn reads records (fresh from the
// database) and queues writes, and the writes commit together in one IndexedDB transaction at
// the end, or not at all when fn throws.
import * as e2e from '../e2e/index.js';

const AD_PREFIX = 'parley-web-store-v1';
const CHECK = 'parley store check';

// libsodium's MODERATE cost for a new store, as the CLI; a build for the test suite (esbuild
// define, `PARLEY_WEB_INSECURE_TEST_KDF=1 node build.mjs`) uses the minimum instead.
/* global __PARLEY_INSECURE_TEST_KDF__ */
const TEST_KDF = typeof __PARLEY_INSECURE_TEST_KDF__ !== 'undefined' && __PARLEY_INSECURE_TEST_KDF__;
function costNew() {
  const s = e2e.sodium;
  return TEST_KDF ? { opslimit: s.crypto_pwhash_OPSLIMIT_MIN, memlimit: s.crypto_pwhash_MEMLIMIT_MIN }
    : e2e.vaultParamsDefault();
}

// Values are JSON with byte arrays as { $b: base64url } (sessions and keys hold Uint8Arrays).
function encode(v) {
  return e2e.utf8(JSON.stringify(v, (k, x) => (x instanceof Uint8Array ? { $b: e2e.toB64url(x) } : x)));
}
function decode(b) {
  return JSON.parse(e2e.fromUtf8(b), (k, x) => (x && typeof x === 'object' && typeof x.$b === 'string'
    ? e2e.fromB64url(x.$b) : x));
}

const req = (r) => new Promise((resolve, reject) => {
  r.onsuccess = () => resolve(r.result);
  r.onerror = () => reject(r.error);
});

function openDb(name) {
  const r = indexedDB.open(name, 1);
  r.onupgradeneeded = () => {
    r.result.createObjectStore('meta');
    r.result.createObjectStore('rec');
  };
  return req(r);
}

export const dbName = (deviceId) => `parley-e2e-${deviceId}`;

/** True when this browser holds a store for the device. */
export async function storeExists(deviceId) {
  if (indexedDB.databases) {
    const all = await indexedDB.databases();
    return all.some((d) => d.name === dbName(deviceId));
  }
  const db = await openDb(dbName(deviceId));
  const m = await req(db.transaction('meta').objectStore('meta').get('kdf'));
  db.close();
  return !!m;
}

export async function storeDelete(deviceId) {
  await req(indexedDB.deleteDatabase(dbName(deviceId))).catch(() => {});
}

export class Vault {
  constructor(db, key, deviceId) {
    this.db = db;
    this.key = key;
    this.deviceId = deviceId;
    this.lock = `parley-e2e-${deviceId}`;
  }

  /** Opens (or creates, for a new device) the store; EPASSPHRASE for a wrong passphrase. */
  static async open(deviceId, passphrase) {
    const db = await openDb(dbName(deviceId));
    let meta = await req(db.transaction('meta').objectStore('meta').get('kdf'));
    let fresh = false;
    if (!meta) {
      const p = costNew();
      meta = { salt: e2e.sodium.randombytes_buf(16), opslimit: p.opslimit, memlimit: p.memlimit };
      fresh = true;
    }
    const key = e2e.vaultKeyDerive(passphrase, meta.salt, meta);
    const v = new Vault(db, key, deviceId);
    if (fresh) {
      const t = db.transaction('meta', 'readwrite');
      t.objectStore('meta').put(meta, 'kdf');
      t.objectStore('meta').put(v.seal('check', CHECK), 'check');
      await new Promise((res, rej) => { t.oncomplete = res; t.onerror = () => rej(t.error); });
    } else {
      const c = await req(db.transaction('meta').objectStore('meta').get('check'));
      try {
        v.unseal('check', c);
      } catch {
        db.close();
        throw new e2e.E2EError('EPASSPHRASE', 'wrong passphrase');
      }
    }
    v.fresh = fresh;
    return v;
  }

  ad(k) { return e2e.utf8(`${AD_PREFIX}\u0000${k}`); }
  seal(k, v) { return e2e.vaultRecordSeal(this.key, this.ad(k), encode(v)); }
  unseal(k, b) { return decode(e2e.vaultRecordOpen(this.key, this.ad(k), b)); }

  /** Runs fn({ get, put, del, keys }) as one transaction (see the file comment). */
  async tx(fn) {
    const run = async () => {
      const writes = new Map();
      const t = {
        get: async (k) => {
          if (writes.has(k)) return writes.get(k);
          const b = await req(this.db.transaction('rec').objectStore('rec').get(k));
          return b === undefined ? undefined : this.unseal(k, b);
        },
        put: (k, v) => { writes.set(k, v); },
        del: (k) => { writes.set(k, undefined); },
        // Record keys with a prefix (keys are not secret: ids and seq numbers, as in the CLI).
        keys: async (prefix) => {
          const range = IDBKeyRange.bound(prefix, `${prefix}\uffff`);
          const ks = await req(this.db.transaction('rec').objectStore('rec').getAllKeys(range));
          return ks.filter((k) => !writes.has(k) || writes.get(k) !== undefined);
        },
      };
      const out = await fn(t);
      if (writes.size) {
        const w = this.db.transaction('rec', 'readwrite', { durability: 'strict' });
        const os = w.objectStore('rec');
        for (const [k, v] of writes) {
          if (v === undefined) os.delete(k);
          else os.put(this.seal(k, v), k);
        }
        await new Promise((res, rej) => { w.oncomplete = res; w.onerror = () => rej(w.error); w.onabort = () => rej(w.error); });
      }
      return out;
    };
    if (navigator.locks) return navigator.locks.request(this.lock, run);
    return run();
  }

  /** Reads one record outside a transaction (for display). */
  async read(k) {
    const b = await req(this.db.transaction('rec').objectStore('rec').get(k));
    return b === undefined ? undefined : this.unseal(k, b);
  }

  /** All records under a prefix: [[key, value]] (local search, history). */
  async readAll(prefix) {
    const range = IDBKeyRange.bound(prefix, `${prefix}\uffff`);
    const tr = this.db.transaction('rec');
    const os = tr.objectStore('rec');
    const [ks, vs] = await Promise.all([req(os.getAllKeys(range)), req(os.getAll(range))]);
    return ks.map((k, i) => [k, this.unseal(k, vs[i])]);
  }

  close() { this.db.close(); }
}
