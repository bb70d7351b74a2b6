// SPDX-License-Identifier: MIT
// Parley web - the messenger features of issue 12: edit, delete (for everyone / for me),
// reactions, forward, disappearing messages, message requests, blocking, pin and mute, and
// what their events do to the state. E2E chats never get plaintext through here: edits and
// reactions there go through e2ectl.js when it offers them (e2eEdit / e2eReact, sent as
// encrypted envelopes), and are not offered otherwise; deleting carries no content, so it is
// the plain DELETE there too (e2eSeen then forgets this browser's decrypted copy).
import * as e2ectl from './e2ectl.js';
import { api, get, post, clientMsgId } from './api.js';
import { state, changed, convMsgs, addMessage, userName } from './store.js';

export const EDIT_WINDOW_MS = 15 * 60 * 1000;    // the server's default edit_window
export const DELETE_WINDOW_MS = 48 * 3600 * 1000; // and delete_window (it has the last word)
export const REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];
export const TIMERS = [[null, 'Off'], [3600, '1 hour'], [86400, '24 hours'], [604800, '7 days'],
  [7776000, '90 days']];
export const timerName = (s) => (TIMERS.find(([v]) => v === (s || null)) || [0, `${s} s`])[1];

const isE2E = (c) => !!c && c.encryption === 'e2e';
// The optional E2E operations (e2ectl.js of issue 12), looked up by name so that a build without
// them still bundles: each is null until e2ectl.js exports it.
const e2eOp = (name) => (typeof e2ectl[name] === 'function' ? e2ectl[name] : null);

// An e2e edit or reaction travels as a message of its own: folded into the one it acts on by
// e2ectl.js, never a bubble.
export function isAction(m) {
  const f = e2eOp('e2eIsAction');
  return !!f && f(m);
}
const plainText = (m) => {
  const p = state.plain.get(`${m.conversation_id}:${m.seq}`);
  return !!p && typeof p.text === 'string';
};

const base = (c) => `/v1/conversations/${c}/messages`;

// What the message menu offers for message m of conversation c (a plain object of booleans).
export function canDo(c, m) {
  const e2e = isE2E(c);
  const mine = m.sender === state.me.id;
  const age = Date.now() - Date.parse(m.created_at);
  const live = m.kind !== 'deleted';
  return {
    edit: live && mine && age < EDIT_WINDOW_MS && (e2e ? !!e2eOp('e2eEdit') && m.kind === 'e2e'
      && plainText(m) : m.kind === 'text'),
    deleteAll: live && ((mine && age < DELETE_WINDOW_MS) || (c.kind === 'group' && c.my_role === 'admin')),
    react: live && (!e2e || !!e2eOp('e2eReact')),
    forward: live && !e2e && (m.kind === 'text' || m.kind === 'media'),
  };
}

// Replaces a held message by a new object (rows re-render on a new object), keeping what the
// server sends only in history (reactions) when the new copy lacks it. A message not held is
// not added: history is held as one run of seqs, which a lone older message would break.
function replace(msg) {
  const old = convMsgs(msg.conversation_id).bySeq.get(msg.seq);
  if (old && msg.reactions === undefined && old.reactions && msg.kind !== 'deleted')
    msg = { ...msg, reactions: old.reactions };
  if (old) addMessage(msg);
  const c = state.convs.get(msg.conversation_id);
  if (c && c.last_message && c.last_message.seq === msg.seq) c.last_message = msg;
  changed();
}

export async function editMessage(c, seq, text) {
  if (isE2E(c)) {
    const f = e2eOp('e2eEdit');
    if (!f) throw new Error('Editing is not available in encrypted chats yet.');
    return f(c.id, seq, text);
  }
  const msg = await api('PATCH', `${base(c.id)}/${seq}`, { text });
  replace(msg);
  return msg;
}

export async function deleteMessage(c, seq, forWhom) {
  await api('DELETE', `${base(c.id)}/${seq}?for=${forWhom}`);
  if (forWhom === 'me') return dropForMe(c.id, seq);
  const old = convMsgs(c.id).bySeq.get(seq);
  if (old && old.kind !== 'deleted')
    gone({ ...old, kind: 'deleted', text: null, media: undefined, e2e: undefined,
      reactions: undefined, deleted_at: new Date().toISOString() });
}

// Deleted for everyone: shown as such, and an e2e message's decrypted text is forgotten.
function gone(msg) {
  replace(msg);
  e2ectl.e2eSeen([msg]);
}

// Gone from this user's history only: no event tells other tabs (they see it on reload).
function dropForMe(convId, seq) {
  const m = convMsgs(convId);
  m.bySeq.delete(seq);
  m.sorted = null;
  const c = state.convs.get(convId);
  if (c && c.last_message && c.last_message.seq === seq) {
    let prev = null;
    for (const x of m.bySeq.values()) if (!prev || x.seq > prev.seq) prev = x;
    c.last_message = prev;
  }
  changed();
}

// One reaction per user per message: picking the one I have takes it back.
export async function react(c, m, emoji) {
  const mineNow = (m.reactions || []).find((r) => r.mine);
  const off = mineNow && mineNow.emoji === emoji;
  if (isE2E(c)) {
    const f = e2eOp('e2eReact');
    if (!f) throw new Error('Reactions are not available in encrypted chats yet.');
    await f(c.id, m.seq, emoji, !off);
  } else {
    await api(off ? 'DELETE' : 'PUT', `${base(c.id)}/${m.seq}/reactions/${encodeURIComponent(emoji)}`);
  }
  // Shown at once; the `reaction` event then refetches the server's aggregate.
  const cur = convMsgs(c.id).bySeq.get(m.seq) || m;
  replace({ ...cur, reactions: adjust(cur.reactions, mineNow && mineNow.emoji, off ? null : emoji) });
}

function adjust(list, from, to) {
  const out = (list || []).map((r) => ({ ...r }));
  if (from) {
    const r = out.find((x) => x.emoji === from);
    if (r) { r.count--; r.mine = false; }
  }
  if (to) {
    const r = out.find((x) => x.emoji === to);
    if (r) { r.count++; r.mine = true; } else out.push({ emoji: to, count: 1, mine: true });
  }
  return out.filter((r) => r.count > 0);
}

// A `reaction` event names who reacted with what, not the aggregate (the server keeps that):
// the message is read again, once per burst of events about it.
const refetching = new Set();
function refetch(convId, seq) {
  const k = `${convId}:${seq}`;
  if (refetching.has(k)) return;
  refetching.add(k);
  setTimeout(async () => {
    refetching.delete(k);
    try {
      const p = await get(`${base(convId)}?before=${seq + 1}&limit=1`);
      const msg = p.messages.find((x) => x.seq === seq);
      if (msg) replace({ ...msg, reactions: msg.reactions || [] });
    } catch { /* the next event or a reload catches up */ }
  }, 50);
}

export async function forward(from, m, target) {
  const msg = await post(base(target.id), { client_msg_id: clientMsgId(),
    forward_of: { conversation_id: from.id, seq: m.seq } });
  return msg;
}

export async function setTimer(c, seconds) {
  const r = await api('PATCH', `/v1/conversations/${c.id}`, { expire_after: seconds });
  c.expire_after = r && r.expire_after !== undefined ? r.expire_after : seconds;
  changed();
}

export async function setPrefs(c, prefs) {
  const r = await api('PATCH', `/v1/conversations/${c.id}/settings`, prefs);
  c.pinned = r.pinned;
  c.muted_until = r.muted_until ?? null;
  changed();
}
export const isMuted = (c) => !!c && !!c.muted_until && Date.parse(c.muted_until) > Date.now();

// ---- message requests and blocks ----

export const requests = () => [...state.convs.values()].filter((c) => c.request_from);

export async function acceptRequest(c) {
  await post(`/v1/requests/${c.id}/accept`);
  c.request_from = null;
  changed();
}

export async function declineRequest(c) {
  await post(`/v1/requests/${c.id}/decline`);
  leave(c.id);
}

function leave(convId) {
  state.convs.delete(convId);
  if (state.open === convId) {
    state.open = null;
    history.replaceState(null, '', '#/');
  }
  changed();
}

export async function loadBlocks() {
  try {
    const r = await get('/v1/me/blocks');
    state.blocks = new Map(r.blocks.map((b) => [b.user_id, b]));
    changed();
  } catch { /* an older server: nobody is blocked */ }
}

export const isBlocked = (uid) => state.blocks.has(uid);

// Blocking also declines a pending request from that user (the server leaves it for us).
export async function block(user) {
  await api('PUT', `/v1/me/blocks/${encodeURIComponent(user)}`);
  await loadBlocks();
  for (const c of requests()) if (state.blocks.has(c.request_from)) leave(c.id);
}

export async function unblock(user) {
  await api('DELETE', `/v1/me/blocks/${encodeURIComponent(user)}`);
  state.blocks.delete(user);
  changed();
}

// Sending in a request accepts it (the server does the same).
export function answered(convId) {
  const c = state.convs.get(convId);
  if (c && c.request_from) { c.request_from = null; changed(); }
}

// ---- events ----

// The announcement of a timer change, shown in the chat after the newest message held then.
function announce(d) {
  const c = state.convs.get(d.conversation_id);
  if (!c) return;
  c.expire_after = d.expire_after;
  const who = d.by ? userName(d.by) : 'Someone';
  const text = d.expire_after ? `${who} set disappearing messages to ${timerName(d.expire_after)}`
    : `${who} turned off disappearing messages`;
  let list = state.notices.get(c.id);
  if (!list) state.notices.set(c.id, (list = []));
  list.push({ afterSeq: c.last_seq || 0, text, key: `n${list.length}` });
}

// A new conversation's event lacks the caller's side of it (request_from, pinned, ...).
export async function completeConversation(id) {
  try {
    const d = await get(`/v1/conversations/${id}`);
    const c = state.convs.get(id);
    if (c) {
      for (const k of ['request_from', 'pinned', 'muted_until', 'expire_after'])
        if (d[k] !== undefined) c[k] = d[k];
      changed();
    }
  } catch { /* the list entry is enough */ }
}

export const messengerHandlers = {
  'message.edited': (d) => replace(d.message),
  'message.deleted': (d) => gone(d.message),
  reaction: (d) => refetch(d.conversation_id, d.seq),
  'conversation.updated': (d) => {
    const c = state.convs.get(d.conversation_id);
    if (!c) return;
    if (d.title !== undefined) c.title = d.title;
    if ('expire_after' in d) announce(d);
    changed();
  },
};
