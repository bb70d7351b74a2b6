// SPDX-License-Identifier: MIT
// Parley web - this browser's device keys (identity, signed prekey, one-time prekeys) and the
// identity pins of everybody else (crypto/PROTOCOL.md, "Identity pinning").
//
// Records (sealed, vaultdb.js): id {seed, pub}; spk:<id> {id, pub, priv, sig}; opk:<id>
// {id, pub, priv}; keys {spk, nextOpk, uploaded}; pin:<uid>:<dev> identity key; listed:<uid>;
// pend:<uid>:<dev> a changed or new key waiting for the user to accept it.
import * as e2e from '../e2e/index.js';
import { api } from '../api.js';

const OPK_BATCH = 100;
const OPK_LOW = 20;
const b64 = e2e.toB64url;

/** Makes this device's keys (write-ahead: stored before the upload) and publishes them. */
export async function deviceRegister(v) {
  const body = await v.tx(async (t) => {
    let keys = await t.get('keys');
    if (keys && keys.uploaded) return null;
    let id = await t.get('id');
    if (!id) {
      id = e2e.identityNew();
      t.put('id', id);
    }
    let spk = keys && (await t.get(`spk:${keys.spk}`));
    if (!spk) {
      spk = e2e.signedPrekeyGenerate(id, 1);
      t.put(`spk:${spk.id}`, spk);
    }
    const opks = [];
    for (let i = 1; i <= OPK_BATCH; i++) {
      let k = await t.get(`opk:${i}`);
      if (!k) { k = e2e.prekeyGenerate(i); t.put(`opk:${i}`, k); }
      opks.push(k);
    }
    keys = { spk: spk.id, nextOpk: OPK_BATCH + 1, uploaded: false };
    t.put('keys', keys);
    return {
      identity_key: b64(id.pub),
      signed_prekey: { id: spk.id, public_key: b64(spk.pub), signature: b64(spk.sig) },
      one_time_prekeys: opks.map((k) => ({ id: k.id, public_key: b64(k.pub) })),
    };
  });
  if (body) {
    await api('PUT', `/v1/devices/${v.deviceId}/keys`, body);
    await v.tx(async (t) => { const k = await t.get('keys'); k.uploaded = true; t.put('keys', k); });
  }
  await refill(v);
}

// Tops up the one-time prekeys the server hands out when few are left.
async function refill(v) {
  const c = await api('GET', `/v1/devices/${v.deviceId}/keys/count`);
  if (c.one_time_prekeys >= OPK_LOW) return;
  const body = await v.tx(async (t) => {
    const keys = await t.get('keys');
    const opks = [];
    for (let i = 0; i < OPK_BATCH; i++) {
      const k = e2e.prekeyGenerate(keys.nextOpk + i);
      t.put(`opk:${k.id}`, k);
      opks.push({ id: k.id, public_key: b64(k.pub) });
    }
    keys.nextOpk += OPK_BATCH;
    t.put('keys', keys);
    return { one_time_prekeys: opks };
  });
  await api('PUT', `/v1/devices/${v.deviceId}/keys`, body);
}

export async function identity(t) {
  return t.get('id');
}

/**
 * Checks a device's identity key against its pin inside transaction t: true when trusted. The
 * first key of a device of a user not listed yet is pinned (trust on first use); a changed key,
 * or a new device of a listed user, is recorded as pending and refused.
 */
export async function pinCheck(t, uid, dev, ik) {
  const pin = await t.get(`pin:${uid}:${dev}`);
  if (pin && e2e.equal(pin, ik)) return true;
  if (!pin && !(await t.get(`listed:${uid}`))) {
    t.put(`pin:${uid}:${dev}`, ik);
    return true;
  }
  t.put(`pend:${uid}:${dev}`, ik);
  return false;
}

/** Users with a refused (pending) device: [uid]. */
export async function pendingUsers(v) {
  const ks = await v.tx((t) => t.keys('pend:'));
  return [...new Set(ks.map((k) => Number(k.split(':')[1])))];
}

/**
 * The user's devices with keys (GET /v1/users/{u}/devices), each pin-checked: { uid, devs:
 * [{uid, dev, ik}], refused: [dev] }. The first listing pins them all and marks the user listed.
 */
// Device listings are kept for LIST_TTL_MS so that a send does not cost two extra round trips;
// a 409 devices-changed, a keys.changed event or an accept reads them again (fresh).
const LIST_TTL_MS = 60000;
const lists = new Map(); // user (as asked) -> { at, r }

export function forgetDevices() {
  lists.clear();
}

export async function listDevices(v, user, fresh = false) {
  const hit = lists.get(String(user));
  let r;
  if (!fresh && hit && Date.now() - hit.at < LIST_TTL_MS) {
    r = hit.r;
  } else {
    r = await api('GET', `/v1/users/${encodeURIComponent(user)}/devices`);
    lists.set(String(user), { at: Date.now(), r });
  }
  const uid = r.user_id;
  const devs = (r.devices || []).filter((d) => d.identity_key && d.device_id !== v.deviceId)
    .map((d) => ({ uid, dev: d.device_id, ik: e2e.fromB64url(d.identity_key) }));
  const refused = await v.tx(async (t) => {
    const out = [];
    for (const d of devs) if (!(await pinCheck(t, uid, d.dev, d.ik))) out.push(d.dev);
    t.put(`listed:${uid}`, 1);
    return out;
  });
  if (refused.length) lists.delete(String(user));
  return { uid, devs, refused, all: r.devices || [] };
}

/**
 * Accepts the user's current devices (after comparing the safety number): re-pins every one,
 * drops the pending records and the sessions whose peer is not pinned any more.
 */
export async function acceptUser(v, uid) {
  forgetDevices();
  const r = await api('GET', `/v1/users/${uid}/devices`);
  await v.tx(async (t) => {
    const pins = new Map();
    for (const d of r.devices || []) {
      if (!d.identity_key || d.device_id === v.deviceId) continue;
      const ik = e2e.fromB64url(d.identity_key);
      t.put(`pin:${uid}:${d.device_id}`, ik);
      pins.set(d.device_id, ik);
    }
    for (const k of await t.keys(`pend:${uid}:`)) t.del(k);
    for (const k of await t.keys(`s:${uid}:`)) {
      const s = await t.get(k);
      const dev = Number(k.split(':')[2]);
      if (!pins.has(dev) || !e2e.equal(s.peerIk, pins.get(dev))) t.del(k);
    }
    for (const k of await t.keys(`so:${uid}:`)) t.del(k);
    t.put(`listed:${uid}`, 1);
  });
}

/** The safety number with a user: their devices' keys and ours (this user's, all devices). */
export async function safetyWith(v, me, peer) {
  const [a, b] = await Promise.all([api('GET', `/v1/users/${me}/devices`), api('GET', `/v1/users/${encodeURIComponent(peer)}/devices`)]);
  const keys = (r) => (r.devices || []).filter((d) => d.identity_key).map((d) => e2e.fromB64url(d.identity_key));
  return e2e.safetyNumber(String(a.user_id), keys(a), String(b.user_id), keys(b));
}
