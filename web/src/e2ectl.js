// SPDX-License-Identifier: MIT
// Parley web - end-to-end encryption as the app sees it: unlocking this browser's sealed store,
// decrypting e2e messages once into `state.plain`, sending through the write-ahead outbox, the
// "safety number changed" notices. The crypto (libsodium, secure/*) loads as its own chunk the
// first time it is needed, so the shell stays small.
//
// Edits, reactions and deletes in e2e chats (crypto/PROTOCOL.md, "Edits and reactions") — the
// API the UI uses, the same for every e2e conversation, direct or group:
//
//   e2eEdit(convId, seq, text)       sends an encrypted edit of our message seq; the server
//                                     checks sender and edit_window (403 / 409 thrown as ApiError)
//   e2eReact(convId, seq, emoji, on) sets (on) or takes back (!on) our reaction to seq; one per
//                                     user per message, a new one replaces ours
//   e2eIsAction(m)                   true for an edit/reaction message: not a bubble of its own
//   e2eSeen(msgs)                    (as before) decrypts; also folds actions into what they act
//                                     on, and forgets the local text of messages of kind 'deleted'
//                                     (pass message.deleted's message through it too)
//   emojiOk(s)                       the single-emoji rule, checked before e2eReact
//
// Deleting for everyone is the plain DELETE (the server erases the ciphertexts). Folding changes
// the message objects the UI already renders, in the shape the server gives plain chats: the
// message in state.msgs is replaced by a copy with `edited_at` and `reactions`
// ([{ emoji, count, mine }], most first), and state.plain of an edited message holds the new
// `text` (and `edited: true`). Actions may arrive before the message they act on (a held message,
// an older page): they are kept and applied when it arrives.
import { state, changed, set, userName } from './store.js';
import { emojiOk as emojiRule } from './e2e/action.js';

let lib = null;    // the secure/ modules, once loaded
let vault = null;  // the open store
let queue = Promise.resolve();

const load = async () => {
  if (!lib) {
    const [vaultdb, device, engine] = await Promise.all([import('./secure/vaultdb.js'),
      import('./secure/device.js'), import('./secure/engine.js')]);
    lib = { ...vaultdb, ...device, ...engine };
  }
  return lib;
};

// One e2e operation at a time in this tab (Web Locks order them across tabs).
function serial(fn) {
  const p = queue.then(fn, fn);
  queue = p.catch(() => {});
  return p;
}

function e2e(patch) { set({ e2e: { ...state.e2e, ...patch } }); }

export const pkey = (conv, seq) => `${conv}:${seq}`;
export const isE2E = (c) => !!c && c.encryption === 'e2e';

/** After sign-in: is there a store for this device (locked) or none yet (set up)? */
export async function e2eInit() {
  const dev = state.me && state.me.device_id;
  if (!dev || !window.indexedDB) { e2e({ status: 'unavailable' }); return; }
  let exists = false;
  try {
    const all = indexedDB.databases ? await indexedDB.databases() : [];
    exists = all.some((d) => d.name === `parley-e2e-${dev}`);
  } catch { exists = false; }
  e2e({ status: exists ? 'locked' : 'none' });
}

/** Opens (or creates) the store with the passphrase, registers keys, resends the outbox. */
export async function e2eUnlock(passphrase) {
  e2e({ status: 'unlocking', error: '' });
  try {
    const L = await load();
    vault = await L.Vault.open(state.me.device_id, passphrase);
    await L.deviceRegister(vault);
    const ch = new Map();
    for (const uid of await L.pendingUsers(vault)) ch.set(uid, true);
    e2e({ status: 'ready', error: '', changed: ch });
    await loadOutbox();
    flushOutbox();
    redecrypt();
  } catch (x) {
    vault = null;
    e2e({ status: state.e2e.status === 'unlocking' ? (x.code === 'EPASSPHRASE' ? 'locked' : 'none') : state.e2e.status,
      error: x.code === 'EPASSPHRASE' ? 'Wrong passphrase.' : `Could not open the keys: ${x.message}` });
    throw x;
  }
}

export const e2eReady = () => !!vault;

// ---- receiving ----

const inflight = new Set();
const ownTries = new Map(); // "conv:seq" -> how often an own message was looked for

// ---- edits and reactions (folded) ----

const acts = new Map();  // "conv:seq" of a message -> { edit: { at, sender, text }, reacts: Map(uid -> { at, emoji }) }
const bases = new Map(); // "conv:seq" -> the decrypted payload before any edit

export const emojiOk = emojiRule;
export const e2eIsAction = (m) => !!m && m.kind === 'e2e' && !!m.e2e && !!m.e2e.action;

// Records action a (from message seq `at` of sender) and applies it when its message is here.
function fold(conv, at, sender, a) {
  const k = pkey(conv, a.seq);
  const x = acts.get(k) || { edit: null, reacts: new Map() };
  if (a.kind === 'edit') {
    if (!x.edit || x.edit.at < at) x.edit = { at, sender, text: a.text };
  } else {
    const prev = x.reacts.get(sender);
    if (!prev || prev.at < at) x.reacts.set(sender, { at, emoji: a.emoji });
  }
  acts.set(k, x);
  refresh(conv, a.seq);
}

// Rebuilds message seq of conv from its decrypted payload and the actions on it.
function refresh(conv, seq) {
  const k = pkey(conv, seq), x = acts.get(k);
  const box = state.msgs.get(conv), m = box && box.bySeq.get(seq);
  if (!x || !m || m.kind !== 'e2e') return;
  const base = bases.get(k) || state.plain.get(k);
  // Only the message's own sender may edit it (PROTOCOL.md, receiver rule 3).
  if (x.edit && x.edit.sender === m.sender && base && typeof base.text === 'string') {
    bases.set(k, base);
    state.plain.set(k, { ...base, text: x.edit.text, edited: true });
  }
  const count = new Map();
  for (const [uid, r] of x.reacts) {
    if (!r.emoji) continue;
    const c = count.get(r.emoji) || { emoji: r.emoji, count: 0, mine: false };
    c.count++;
    c.mine = c.mine || uid === state.me.id;
    count.set(r.emoji, c);
  }
  const reactions = [...count.values()].sort((a, b) => b.count - a.count || (a.emoji < b.emoji ? -1 : 1));
  const editedAt = x.edit && x.edit.sender === m.sender ? (m.edited_at || new Date().toISOString()) : m.edited_at;
  box.bySeq.set(seq, { ...m, edited_at: editedAt || null, reactions });
  changed();
}

// A message deleted for everyone: its decrypted text and what acted on it go.
function forget(m) {
  const k = pkey(m.conversation_id, m.seq);
  acts.delete(k);
  bases.delete(k);
  const had = state.plain.get(k);
  state.plain.delete(k);
  if (had && vault) serial(() => lib.forgetMessage(vault, m.conversation_id, m.seq));
}

async function sendAction(convId, seq, kind, value) {
  const c = state.convs.get(convId);
  if (!isE2E(c)) throw new Error('not an end-to-end encrypted chat');
  if (kind === 'reaction' && value !== null && !emojiOk(value)) throw new Error('not a single emoji');
  const L = await load();
  const payload = L.actionPayload(kind, seq, value);
  return e2eSend(c, payload, actionId(), [], { refers_to: seq, action: kind });
}

const actionId = () => `act-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;

/** Sends an encrypted edit of our message seq. Returns the action message, or null if queued. */
export function e2eEdit(convId, seq, text) {
  if (typeof text !== 'string' || !text.trim()) return Promise.reject(new Error('the new text is empty'));
  return sendAction(convId, seq, 'edit', text);
}

/** Sets (on) or takes back our reaction to seq. Returns the action message, or null if queued. */
export function e2eReact(convId, seq, emoji, on = true) {
  return sendAction(convId, seq, 'reaction', on ? emoji : null);
}

// For the tests and the curious, as window.parley is (main.js): the edit/reaction API above.
if (typeof window !== 'undefined') window.parleyE2E = { e2eEdit, e2eReact, e2eIsAction };

/** Messages just held in state: decrypt the e2e ones not shown yet (in the order given). */
export function e2eSeen(msgs) {
  if (!vault) return;
  for (const m of msgs) {
    if (m.kind === 'deleted') { if (state.plain.has(pkey(m.conversation_id, m.seq))) forget(m); continue; }
    if (m.kind !== 'e2e') continue;
    if (acts.has(pkey(m.conversation_id, m.seq)) && state.plain.has(pkey(m.conversation_id, m.seq))) {
      refresh(m.conversation_id, m.seq); // a reloaded page: the server's copy has no e2e reactions
    }
    const k = pkey(m.conversation_id, m.seq);
    const p = state.plain.get(k);
    if ((p && !p.error && !p.held) || inflight.has(k)) continue;
    inflight.add(k);
    serial(async () => {
      let r;
      try {
        r = await lib.receive(vault, m);
      } catch (x) {
        r = { error: x.e2eCode || x.code || x.message };
      }
      inflight.delete(k);
      if (r.own) {
        // Another tab of this device sent it and stores its text when the server answers.
        const n = (ownTries.get(k) || 0) + 1;
        ownTries.set(k, n);
        if (n < 20) setTimeout(() => e2eSeen([m]), 250 * n);
      }
      if (r.held) noticeChanged(r.held);
      state.plain.set(k, r);
      bases.set(k, r);
      if (r.action) fold(m.conversation_id, m.seq, m.sender, r.action);
      refresh(m.conversation_id, m.seq);
      changed();
    });
  }
}

function redecrypt() {
  for (const m of state.msgs.values()) e2eSeen([...m.bySeq.values()].sort((a, b) => a.seq - b.seq));
}

function noticeChanged(uid) {
  const ch = new Map(state.e2e.changed);
  if (ch.has(uid)) return;
  ch.set(uid, true);
  e2e({ changed: ch });
}

/** keys.changed: a new or changed identity of someone we pinned is refused until accepted. */
export function e2eKeysChanged(d) {
  if (!vault || !d.identity_key || d.device_id === state.me.device_id) return;
  lib.forgetDevices();
  serial(async () => {
    const ok = await vault.tx((t) => lib.pinCheck(t, d.user_id, d.device_id,
      (new Uint8Array([...atob(d.identity_key.replace(/-/g, '+').replace(/_/g, '/'))].map((c) => c.charCodeAt(0))))));
    if (!ok) noticeChanged(d.user_id);
  });
}

/** The user compared the new safety number and accepts it. */
export async function e2eAccept(uid) {
  await serial(() => lib.acceptUser(vault, uid));
  const ch = new Map(state.e2e.changed);
  ch.delete(uid);
  e2e({ changed: ch });
  for (const [k, p] of state.plain) if (p.held === uid) state.plain.delete(k);
  redecrypt();
}

export function changedUsers(c) {
  if (!c || !state.e2e.changed || !state.e2e.changed.size) return [];
  const ids = c.peer ? [c.peer.id] : (c.members || []).map((m) => m.user_id);
  return ids.filter((u) => state.e2e.changed.has(u));
}

export const changedText = (uid) => `Safety number with ${userName(uid)} changed`;

// ---- sending ----

async function loadOutbox() {
  const list = await lib.outbox(vault);
  const ob = new Map();
  for (const o of list) ob.set(o.cmid, o);
  set({ outbox: ob });
}

let flushing = false;
/** Sends what is waiting in the outbox (after a reload, or when the connection is back). */
export async function flushOutbox() {
  if (!vault || flushing) return;
  flushing = true;
  try {
    for (const o of [...state.outbox.values()]) {
      const r = await serial(() => lib.resend(vault, o)).catch((x) => ({ failed: x }));
      if (r === null) break; // still offline: keep order, try later
      state.outbox.delete(o.cmid);
      if (r.msg) { sent(r.msg, r.payload); onSent(r.msg); }
      changed();
    }
  } finally { flushing = false; }
}

let onSent = () => {};
export function e2eOnSent(f) { onSent = f; }

// Our own message is stored: its payload is what this browser shows for it.
function sent(msg, payload) {
  state.plain.set(pkey(msg.conversation_id, msg.seq), payload);
  if (payload && payload.action) fold(msg.conversation_id, msg.seq, state.me.id, payload.action);
}

/**
 * Sends a text (or file payload) in an e2e conversation; extra ({ refers_to, action }) makes it
 * an edit or reaction. Returns the message, or null if queued.
 */
export async function e2eSend(c, payload, cmid, mediaIds, extra) {
  if (!vault) throw new Error('Unlock end-to-end encryption first (passphrase).');
  const stuck = changedUsers(c);
  if (stuck.length) throw new Error(`Not sent: ${changedText(stuck[0]).toLowerCase()}. Compare and accept it first.`);
  const users = c.kind === 'direct' ? [c.peer.id, state.me.id] : (c.members || []).map((m) => m.user_id);
  if (c.kind !== 'direct' && !users.length) throw new Error('group members not loaded yet');
  const conv = { id: c.id, kind: c.kind, users };
  state.outbox.set(cmid, { cmid, conv: c.id, desc: conv, mediaIds, extra, payload, at: Date.now() });
  changed();
  let r;
  try {
    r = await serial(() => lib.send(vault, conv, cmid, payload, mediaIds, extra));
  } catch (x) {
    if (x instanceof lib.SafetyChanged) for (const u of x.uids) noticeChanged(u);
    // Encrypted and stored, not answered: it stays queued; otherwise it is gone.
    const kept = await vault.read(`o:${cmid}`).catch(() => null);
    if (!kept) state.outbox.delete(cmid);
    changed();
    throw x instanceof lib.SafetyChanged ? new Error(`Not sent: ${changedText(x.uids[0]).toLowerCase()}.`) : x;
  }
  if (!r) return null; // queued (offline / server busy)
  state.outbox.delete(cmid);
  sent(r.msg, r.payload);
  changed();
  return r.msg;
}

export function pendingFor(convId) {
  return [...state.outbox.values()].filter((o) => o.conv === convId);
}

/** A group member was removed: our next message there uses a new sender key. */
export function e2eRotate(convId) {
  if (vault) serial(() => lib.rotate(vault, convId));
}

/** The safety number with a user: { digits, qr }. */
export async function e2eSafety(peer) {
  const L = await load();
  return L.safetyWith(vault, state.me.id, peer);
}

/** Searches the decrypted history of e2e chats: [{ conv, seq, text }] newest first. */
export async function e2eSearch(q) {
  if (!vault) return [];
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  const all = await lib.history(vault);
  const shown = all.map((h) => (h.edit ? { ...h, text: h.edit.text } : h));
  return shown.filter((h) => typeof h.text === 'string' && words.every((w) => h.text.toLowerCase().includes(w)))
    .sort((a, b) => b.conv - a.conv || b.seq - a.seq).slice(0, 50);
}

/** File helpers (secure/file.js) for the composer and the bubble. */
export async function e2eFiles() {
  await load();
  return import('./secure/files.js');
}

/** Signing out deletes this device's keys (as `parley logout`). */
export async function e2eForget() {
  const dev = state.me && state.me.device_id;
  if (vault) vault.close();
  vault = null;
  if (dev) await new Promise((r) => { const q = indexedDB.deleteDatabase(`parley-e2e-${dev}`); q.onsuccess = q.onerror = q.onblocked = r; });
}
