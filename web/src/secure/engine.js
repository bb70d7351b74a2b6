// SPDX-License-Identifier: MIT
// Parley web - E2E messages: encrypt (pairwise for direct chats, sender keys for groups) with a
// write-ahead outbox, and decrypt once into the local history (crypto/PROTOCOL.md, "Client state
// rules" 1-5, and docs/e2e-api.md).
//
// Records besides device.js's: s:<uid>:<dev> the current session with a device, so:<uid>:<dev>
// up to 4 earlier ones; own:<conv> our sender key, dist:<conv> ["uid:dev"] the devices it went
// to; mk:<conv>:<uid>:<dev> a member's sender key; h:<conv>:<seq> the decrypted payload (local
// history); o:<cmid> { conv, body, payload } a request written before it was sent.
import * as e2e from '../e2e/index.js';
import { api, ApiError } from '../api.js';
import { identity, pinCheck, listDevices } from './device.js';

const OLD_SESSIONS = 4;
const b64 = e2e.toB64url, unb64 = e2e.fromB64url;
export const hkey = (conv, seq) => `h:${conv}:${String(seq).padStart(12, '0')}`;

export class SafetyChanged extends Error {
  constructor(uids) {
    super('safety number changed');
    this.uids = uids;
  }
}

// ---- targets ----

// Every device that must get a copy: each member's, ours other than this one. Throws
// SafetyChanged (nothing is sent) when a device is not accepted.
async function targets(v, users, fresh) {
  const out = [], refused = [];
  for (const u of users) {
    const r = await listDevices(v, u, fresh);
    if (r.refused.length) refused.push(r.uid);
    out.push(...r.devs);
  }
  if (refused.length) throw new SafetyChanged(refused);
  return out;
}

// Bundles for the devices we have no session with (or one with another identity).
async function bundles(v, devs) {
  const need = await v.tx(async (t) => {
    const n = [];
    for (const d of devs) {
      const s = await t.get(`s:${d.uid}:${d.dev}`);
      if (!s || !e2e.equal(s.peerIk, d.ik)) n.push(d);
    }
    return n;
  });
  for (const d of need) {
    const r = await api('GET', `/v1/users/${d.uid}/keys?device=${d.dev}`);
    const x = r.devices && r.devices[0];
    if (!x || !e2e.equal(unb64(x.identity_key), d.ik)) throw new Error(`no key bundle for device ${d.dev}`);
    d.bundle = {
      identityKey: unb64(x.identity_key), spkId: x.signed_prekey.id,
      spkPub: unb64(x.signed_prekey.public_key), spkSig: unb64(x.signed_prekey.signature),
      ...(x.one_time_prekey ? { opkId: x.one_time_prekey.id, opkPub: unb64(x.one_time_prekey.public_key) } : {}),
    };
  }
}

async function pairwise(t, me, d, pt) {
  const k = `s:${d.uid}:${d.dev}`;
  let s = await t.get(k);
  if (!s || !e2e.equal(s.peerIk, d.ik)) {
    if (!d.bundle) throw new Error(`the session with device ${d.dev} changed meanwhile`);
    s = e2e.sessionInitiate(me, d.bundle);
  }
  const enc = e2e.sessionEncrypt(s, pt);
  t.put(k, enc.session);
  return { device_id: d.dev, type: enc.type, ciphertext: b64(enc.message) };
}

// ---- send ----

/**
 * Encrypts payload ({text} or {file}) for conversation conv and stores the body in the outbox in
 * the same transaction as the moved chains. conv = { id, kind, users: [usernames or ids] }.
 */
async function prepare(v, conv, cmid, payload, mediaIds, fresh, extra) {
  const devs = await targets(v, conv.users, fresh);
  await bundles(v, devs);
  const pt = e2e.utf8(JSON.stringify(payload));
  return v.tx(async (t) => {
    const me = await identity(t);
    const e = { recipients: [] };
    if (conv.kind === 'group') {
      const names = devs.map((d) => `${d.uid}:${d.dev}`);
      let own = await t.get(`own:${conv.id}`);
      let dist = (await t.get(`dist:${conv.id}`)) || [];
      // A device the key went to is gone: a member left or was removed; rotate first.
      if (!own || dist.some((x) => !names.includes(x))) {
        own = e2e.senderKeyNew(conv.id, v.deviceId);
        dist = [];
      }
      const skdm = e2e.utf8(JSON.stringify({ skdm: b64(e2e.senderKeyDistribution(own)) }));
      for (const d of devs) {
        if (dist.includes(`${d.uid}:${d.dev}`)) continue;
        e.recipients.push(await pairwise(t, me, d, skdm));
        dist.push(`${d.uid}:${d.dev}`);
      }
      const g = e2e.senderKeyEncrypt(own, pt);
      t.put(`own:${conv.id}`, g.senderKey);
      t.put(`dist:${conv.id}`, dist);
      e.group = b64(g.message);
    } else {
      for (const d of devs) e.recipients.push(await pairwise(t, me, d, pt));
    }
    if (mediaIds && mediaIds.length) e.media_ids = mediaIds;
    // An edit or reaction names what it acts on in the clear (PROTOCOL.md, "Edits and reactions").
    if (extra) Object.assign(e, { refers_to: extra.refers_to, action: extra.action });
    const body = { client_msg_id: cmid, kind: 'e2e', e2e: e };
    // desc, mediaIds and extra let a 409 found after a reload encrypt again (same client_msg_id).
    t.put(`o:${cmid}`, { conv: conv.id, desc: conv, mediaIds: mediaIds || [], extra: extra || null, body, payload,
      at: Date.now() });
    return body;
  });
}

/**
 * Posts an outbox entry: the stored body as it is (a retry re-sends the same bytes with the same
 * client_msg_id). Returns the message, null when it must stay queued (offline, 5xx), or throws.
 * On 201/200 the payload goes to the local history and the entry leaves the outbox; a 4xx other
 * than 409 drops it (the step is lost, which is safe).
 */
export async function postOutbox(v, cmid) {
  const o = await v.read(`o:${cmid}`);
  if (!o) return null;
  let msg;
  try {
    msg = await api('POST', `/v1/conversations/${o.conv}/messages`, o.body);
  } catch (x) {
    if (!(x instanceof ApiError) || x.status >= 500 || x.status === 429) return null;
    if (x.status !== 409) await v.tx(async (t) => t.del(`o:${cmid}`));
    throw x;
  }
  const kept = historyOf(o.body.e2e, o.payload);
  await v.tx(async (t) => {
    t.put(hkey(o.conv, msg.seq), kept);
    t.del(`o:${cmid}`);
  });
  return { msg, payload: kept };
}

// What the local history keeps of a payload: an edit or reaction as { action } (its effect is
// folded into the message it acts on), anything else as it is.
function historyOf(env, payload) {
  if (!payload || !(payload.edit || payload.reaction)) return payload;
  const a = e2e.actionParse(env, payload);
  return a ? { action: a, none: true } : { none: true }; // none: no bubble of its own
}

/** Encrypts and sends; on 409 devices-changed encrypts again under the same client_msg_id. */
export async function send(v, conv, cmid, payload, mediaIds, extra) {
  for (let attempt = 0; attempt < 4; attempt++) {
    await prepare(v, conv, cmid, payload, mediaIds, attempt > 0, extra);
    try {
      return await postOutbox(v, cmid);
    } catch (x) {
      if (!(x instanceof ApiError) || x.status !== 409) throw x;
      // Devices changed meanwhile; in a group the members may have too.
      if (conv.kind === 'group') {
        const d = await api('GET', `/v1/conversations/${conv.id}`);
        conv = { ...conv, users: d.members.map((m) => m.user_id) };
      }
    }
  }
  throw new Error('the devices kept changing; not sent');
}

/** The outbox: [{ cmid, conv, desc, mediaIds, extra, payload }], oldest first. */
export async function outbox(v) {
  return (await v.readAll('o:')).map(([k, o]) => ({ cmid: k.slice(2), conv: o.conv, desc: o.desc,
    mediaIds: o.mediaIds, extra: o.extra || null, payload: o.payload, at: o.at })).sort((a, b) => a.at - b.at);
}

/** Sends a stored entry again; a 409 (devices changed meanwhile) encrypts it anew. */
export async function resend(v, o) {
  try {
    return await postOutbox(v, o.cmid);
  } catch (x) {
    if (!(x instanceof ApiError) || x.status !== 409 || !o.desc) throw x;
    return send(v, o.desc, o.cmid, o.payload, o.mediaIds, o.extra);
  }
}

// ---- receive ----

async function respond(t, me, m) {
  const h = e2e.parsePrekey(m);
  const spk = await t.get(`spk:${h.spkId}`);
  const opk = h.hasOpk ? await t.get(`opk:${h.opkId}`) : null;
  if (!spk || (h.hasOpk && !opk)) throw new e2e.E2EError('ENOKEY', 'prekey not found');
  const r = e2e.sessionRespond(me, spk, opk, m);
  if (opk) t.del(`opk:${h.opkId}`); // one-time: never again
  return r;
}

// Makes s current; the replaced one becomes the newest earlier session.
async function promote(t, uid, dev, s, from) {
  const k = `s:${uid}:${dev}`;
  const cur = await t.get(k);
  const old = ((await t.get(`so:${uid}:${dev}`)) || []).filter((_, i) => i !== from);
  if (cur) old.unshift(cur);
  t.put(`so:${uid}:${dev}`, old.slice(0, OLD_SESSIONS));
  t.put(k, s);
}

async function decryptPairwise(t, uid, dev, m) {
  const me = await identity(t);
  const k = `s:${uid}:${dev}`;
  const s = await t.get(k);
  let err;
  if (s) {
    try {
      const r = e2e.sessionDecrypt(s, m);
      t.put(k, r.session);
      return r.plaintext;
    } catch (x) { err = x; }
  }
  if (err && err.code === 'EVERSION') throw err;
  const old = (await t.get(`so:${uid}:${dev}`)) || [];
  for (let i = 0; i < old.length; i++) {
    try {
      const r = e2e.sessionDecrypt(old[i], m);
      await promote(t, uid, dev, r.session, i);
      return r.plaintext;
    } catch { /* next */ }
  }
  if (e2e.msgType(m) !== e2e.MSG.prekey) throw err || new e2e.E2EError('ENEWSESSION', 'no session');
  const r = await respond(t, me, m);
  await promote(t, uid, dev, r.session, -1);
  return r.plaintext;
}

// The identity a pairwise message rests on must be pinned: IK_A of a prekey message, or the
// peer of the stored session.
async function senderTrusted(t, uid, dev, m) {
  if (e2e.msgType(m) === e2e.MSG.prekey) return pinCheck(t, uid, dev, e2e.parsePrekey(m).identityKey);
  const s = await t.get(`s:${uid}:${dev}`);
  return s ? pinCheck(t, uid, dev, s.peerIk) : true;
}

/**
 * The payload of an e2e message as this device sees it, decrypting at most once: { text } |
 * { file } | { none: true } (nothing for us, or a sender key alone) | { held: uid } (the
 * sender's safety number changed: kept undecrypted until accepted) | { error: code }.
 */
export async function receive(v, msg) {
  const conv = msg.conversation_id, e = msg.e2e || {};
  const uid = msg.sender, dev = e.sender_device;
  return v.tx(async (t) => {
    const hk = hkey(conv, msg.seq);
    const have = await t.get(hk);
    if (have) return have;
    // Sent from this device, by another tab whose answer has not come back yet (it writes the
    // history then), or lost with a store: the caller looks again shortly.
    if (dev === v.deviceId) return { error: 'sent from this browser, not in its history', own: true };
    // Nothing addressed to this device: sent before it had keys (a new browser is a new device).
    if (!e.ciphertext && !e.group) return { absent: true };
    let doc = null;
    try {
      if (e.ciphertext) {
        const m = unb64(e.ciphertext);
        if (!(await senderTrusted(t, uid, dev, m))) return { held: uid };
        doc = JSON.parse(e2e.fromUtf8(await decryptPairwise(t, uid, dev, m)));
      }
      let out;
      if (e.group) {
        const mk = `mk:${conv}:${uid}:${dev}`;
        if (doc && doc.skdm) {
          const k = e2e.senderKeyFromDistribution(unb64(doc.skdm), conv, dev);
          const old = await t.get(mk);
          if (!old || old.keyId !== k.keyId) t.put(mk, k); // a repeat never resets (rule 5)
        }
        const k = await t.get(mk);
        if (!k) return { error: 'ENOKEY' };
        const r = e2e.senderKeyDecrypt(k, conv, dev, unb64(e.group));
        t.put(mk, r.senderKey);
        out = JSON.parse(e2e.fromUtf8(r.plaintext));
      } else {
        out = doc;
      }
      const p = out && (typeof out.text === 'string' ? { text: out.text }
        : out.file && typeof out.file === 'object' ? { file: out.file }
          : out.edit || out.reaction ? historyOf(e, out) : null);
      const res = p || { none: true };
      t.put(hk, res);
      return res;
    } catch (x) {
      // Nothing of this transaction is written: the stored state is as it was.
      throw Object.assign(x, { e2eCode: x.code || 'EMALFORMED' });
    }
  });
}

/** A message deleted for everyone: its decrypted payload leaves the local history. */
export async function forgetMessage(v, conv, seq) {
  await v.tx(async (t) => { t.put(hkey(conv, seq), { deleted: true }); });
}

/** The payload of an edit or reaction (PROTOCOL.md). */
export const actionPayload = e2e.actionPayload;

/** Forgets a removed member's key in the group state: the next send rotates. */
export async function rotate(v, convId) {
  await v.tx(async (t) => { t.del(`own:${convId}`); t.del(`dist:${convId}`); });
}

/**
 * Local history of the decrypted texts: [{ conv, seq, text, edit? }]; the latest edit of a
 * message is attached as `edit` ({ text }), so search sees what the chat shows. (The history
 * does not keep senders: the server refuses others' edits and cannot forge one.)
 */
export async function history(v) {
  const all = (await v.readAll('h:')).map(([k, p]) => { const [, c, s] = k.split(':'); return { conv: Number(c), seq: Number(s), ...p }; });
  const edits = new Map();
  for (const h of all) {
    if (h.action && h.action.kind === 'edit') {
      const k = `${h.conv}:${h.action.seq}`;
      const prev = edits.get(k);
      if (!prev || prev.at < h.seq) edits.set(k, { at: h.seq, text: h.action.text });
    }
  }
  return all.filter((p) => typeof p.text === 'string' || p.file)
    .map((h) => { const e = edits.get(`${h.conv}:${h.seq}`); return e ? { ...h, edit: e } : h; });
}
