// SPDX-License-Identifier: MIT
// Parley web - what the user and the server's events do to the state.
import { api, get, post, clientMsgId } from './api.js';
import { state, set, changed, convMsgs, addMessage, sortedMsgs, rememberUser, rank,
  totalUnread, convTitle } from './store.js';
import { e2eInit, e2eUnlock, e2eSeen, e2eSend, e2eKeysChanged, e2eRotate, e2eForget, e2eOnSent,
  flushOutbox, isE2E } from './e2ectl.js';
import { pushSignOut } from './push.js';
import { messengerHandlers, loadBlocks, completeConversation, answered, isMuted, isAction } from './messenger.js';

export const PAGE = 50;

export async function loadMe() {
  try {
    // A server too busy to answer in 10 s is asked again rather than waited on forever.
    let me = null;
    for (let i = 0; ; i++) {
      const ac = new AbortController();
      const t = setTimeout(() => ac.abort(), 10000);
      try {
        me = await get('/v1/me', { signal: ac.signal });
        break;
      } catch (e) {
        if (e.name !== 'AbortError' || i >= 5) throw e;
      } finally {
        clearTimeout(t);
      }
    }
    rememberUser(me);
    set({ me });
    e2eInit(); // not awaited: the shell never waits on IndexedDB
    return me;
  } catch (e) {
    if (e.status === 401) { set({ me: null }); return null; }
    throw e;
  }
}

export async function signUp(username, password, passphrase) {
  await post('/v1/users', { username, password });
  return signIn(username, password, passphrase);
}

// A passphrase, when given, opens (or sets up) this browser's end-to-end keys right away: the
// device registers its keys on sign-in. Without one the app works for plain chats, and the side
// bar offers to unlock later.
export async function signIn(username, password, passphrase) {
  const s = await post('/v1/sessions', { username, password, cookie: true,
    device_name: `web (${navigator.platform || 'browser'})`.slice(0, 64) });
  rememberUser(s.user);
  const me = { ...s.user, device_id: s.device_id };
  set({ me });
  await e2eInit();
  if (passphrase) await e2eUnlock(passphrase).catch(() => {});
  return me;
}

export async function signOut() {
  await pushSignOut(); // while the session can still delete its subscription
  try { await api('DELETE', '/v1/sessions/current'); } catch { /* signed out either way */ }
  await e2eForget().catch(() => {});
  location.reload();
}

export async function loadConversations() {
  const convs = new Map();
  let cursor = null;
  for (let i = 0; i < 20; i++) {
    const page = await get(`/v1/conversations?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    for (const c of page.conversations) {
      if (c.peer) rememberUser(c.peer);
      convs.set(c.id, c);
    }
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  set({ convs });
  loadBlocks();
  subscribePresence();
  // What arrived while this browser was away reached this device now: tick it delivered.
  for (const c of convs.values())
    if (c.unread_count > 0 && c.last_message && c.last_message.sender !== state.me.id)
      markDelivered(c.id, c.last_message.seq);
  updateTitle();
  for (const c of convs.values())
    if (c.peer && !state.presence.has(c.peer.id)) loadPresence(c.peer.id);
}

// Pinned chats first, then by activity.
export function sortedConvs() {
  const key = (c) => (c.last_message ? c.last_message.created_at : c.updated_at) || '';
  return [...state.convs.values()].sort((a, b) => (!!b.pinned - !!a.pinned)
    || (key(b) > key(a) ? 1 : key(b) < key(a) ? -1 : b.id - a.id));
}

export async function loadPresence(userId) {
  try {
    const p = await get(`/v1/users/${userId}/presence`);
    state.presence.set(userId, p);
    changed();
  } catch { /* unknown stays unknown */ }
}

// The server sends `presence` events only for the users this device subscribed to (the open
// chat's members and the chat list's direct partners). The set ends with the device's last
// stream and after presence_subscription_ttl, so it is sent again on every (re)connect and
// every half hour. A server without the endpoint (404) is tolerated.
let lastSubs = '';
let renewTimer = null;
export async function subscribePresence(force = false) {
  const ids = new Set();
  for (const c of state.convs.values()) if (c.peer) ids.add(c.peer.id);
  const open = state.open && state.convs.get(state.open);
  if (open && open.members) for (const m of open.members) if (m.user_id !== state.me?.id) ids.add(m.user_id);
  const users = [...ids].sort((a, b) => a - b).slice(0, 256);
  const key = users.join(',');
  if (key === lastSubs && !force) return;
  lastSubs = key;
  clearTimeout(renewTimer);
  renewTimer = setTimeout(() => subscribePresence(true), 30 * 60 * 1000);
  try {
    const r = await api('PUT', '/v1/presence/subscriptions', { users });
    for (const p of (r && r.presence) || []) state.presence.set(p.user_id, p);
    changed();
  } catch { lastSubs = ''; /* 404 (older server) or offline: the next change retries */ }
}

export async function openConversation(id, focusSeq = null) {
  set({ open: id, focusSeq, dialog: null });
  if (location.hash !== `#/c/${id}`) history.replaceState(null, '', `#/c/${id}`);
  const m = convMsgs(id);
  if (focusSeq != null && !m.bySeq.has(focusSeq)) {
    await loadAround(id, focusSeq);
  } else if (!m.loaded) {
    await loadLatest(id);
  }
  loadDetail(id);
  markRead(id);
  const c = state.convs.get(id);
  if (c && c.peer) loadPresence(c.peer.id);
}

export function closeConversation() {
  set({ open: null, focusSeq: null });
  history.replaceState(null, '', '#/');
}

async function loadDetail(id) {
  try {
    const d = await get(`/v1/conversations/${id}`);
    for (const mm of d.members) rememberUser({ id: mm.user_id, ...mm });
    const c = state.convs.get(id);
    state.convs.set(id, { ...(c || {}), ...d, unread_count: c ? c.unread_count : d.unread_count });
    changed();
    subscribePresence();
  } catch { /* the list entry is enough to chat */ }
}

export async function loadLatest(id) {
  const page = await get(`/v1/conversations/${id}/messages?limit=${PAGE}`);
  const m = convMsgs(id);
  for (const msg of page.messages) addMessage(msg);
  e2eSeen(page.messages);
  m.loaded = true;
  m.hasMore = page.messages.length > 0 && page.has_more !== false;
  if (page.messages.length && page.messages[0].seq <= 1) m.hasMore = false;
  changed();
}

// One page older than the oldest message held. Returns how many arrived.
export async function loadEarlier(id) {
  const m = convMsgs(id);
  const list = sortedMsgs(id);
  if (!m.hasMore || !list.length) return 0;
  const before = list[0].seq;
  if (before <= 1) { m.hasMore = false; changed(); return 0; }
  const page = await get(`/v1/conversations/${id}/messages?before=${before}&limit=${PAGE}`);
  for (const msg of page.messages) addMessage(msg);
  e2eSeen(page.messages);
  m.hasMore = page.has_more && page.messages.length > 0;
  changed();
  return page.messages.length;
}

async function loadAround(id, seq) {
  const m = convMsgs(id);
  const older = await get(`/v1/conversations/${id}/messages?before=${seq + 1}&limit=${PAGE}`);
  const newer = await get(`/v1/conversations/${id}/messages?after=${seq}&limit=${PAGE}`);
  for (const msg of [...older.messages, ...newer.messages]) addMessage(msg);
  e2eSeen([...older.messages, ...newer.messages]);
  m.hasMore = older.has_more;
  // Newer pages are fetched until the end so that live messages join a continuous list.
  let last = newer.messages.length ? newer.messages[newer.messages.length - 1].seq : seq;
  let more = newer.has_more;
  for (let i = 0; more && i < 200; i++) {
    const p = await get(`/v1/conversations/${id}/messages?after=${last}&limit=100`);
    for (const msg of p.messages) addMessage(msg);
    e2eSeen(p.messages);
    if (!p.messages.length) break;
    last = p.messages[p.messages.length - 1].seq;
    more = p.has_more;
  }
  m.loaded = true;
  changed();
}

const readSent = new Map(); // conversation id -> highest seq we marked read
export async function markRead(id) {
  const c = state.convs.get(id);
  if (!c || document.hidden || state.open !== id) return;
  const list = sortedMsgs(id);
  if (!list.length) return; // not loaded yet: the load calls again
  const last = list[list.length - 1].seq;
  if (c.unread_count) { c.unread_count = 0; changed(); updateTitle(); }
  if ((readSent.get(id) || 0) >= last) return;
  // Only others' messages need a receipt; our own are read by definition.
  const theirs = list.some((x) => x.sender !== state.me.id && x.seq > (readSent.get(id) || 0));
  readSent.set(id, last);
  if (!theirs) return;
  try {
    await post(`/v1/conversations/${id}/receipts`, { type: 'read', up_to_seq: last });
  } catch {
    readSent.delete(id); // e.g. offline: try again shortly
    setTimeout(() => markRead(id), 3000);
  }
}

const deliveredSent = new Map();
async function markDelivered(id, seq) {
  if ((deliveredSent.get(id) || 0) >= seq) return;
  deliveredSent.set(id, seq);
  try { await post(`/v1/conversations/${id}/receipts`, { type: 'delivered', up_to_seq: seq }); } catch { /* next message retries */ }
}

export async function sendText(id, text, replyTo) {
  const c = state.convs.get(id);
  if (isE2E(c)) {
    if (c.kind === 'group' && !c.members) await loadDetail(id);
    const msg = await e2eSend(state.convs.get(id), { text }, clientMsgId());
    if (msg) onMessage(msg);
    answered(id);
    return msg;
  }
  const body = { client_msg_id: clientMsgId(), kind: 'text', text };
  if (replyTo) body.reply_to = replyTo;
  const msg = await post(`/v1/conversations/${id}/messages`, body);
  onMessage(msg);
  answered(id);
  return msg;
}

// An e2e payload ({ file }) through the outbox; mediaIds are listed in the clear for download.
export async function sendE2E(id, payload, mediaIds) {
  let c = state.convs.get(id);
  if (c.kind === 'group' && !c.members) { await loadDetail(id); c = state.convs.get(id); }
  const msg = await e2eSend(c, payload, clientMsgId(), mediaIds);
  if (msg) onMessage(msg);
  return msg;
}

export async function sendMedia(id, media) {
  const msg = await post(`/v1/conversations/${id}/messages`,
    { client_msg_id: clientMsgId(), kind: 'media', media });
  onMessage(msg);
  answered(id);
  return msg;
}

let typingAt = 0;
export function typing(id) {
  const now = Date.now();
  if (now - typingAt < 3000) return;
  typingAt = now;
  post(`/v1/conversations/${id}/typing`).catch(() => {});
}
export function stoppedTyping() { typingAt = 0; }

export function updateTitle() {
  const n = totalUnread();
  document.title = n ? `(${n}) Parley` : 'Parley';
}

function notify(c, msg) {
  if (!document.hidden || isMuted(c) || typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  try {
    new Notification(convTitle(c), { body: msg.kind === 'text' ? msg.text : 'Attachment', tag: `c${c.id}` });
  } catch { /* some browsers only notify from a service worker */ }
}

// ---- events (from the stream or /v1/sync) ----

export function onMessage(msg) {
  const fresh = addMessage(msg);
  e2eSeen([msg]);
  const c = state.convs.get(msg.conversation_id);
  if (!c) { loadConversations(); return; }
  c.last_seq = Math.max(c.last_seq || 0, msg.seq);
  // An e2e edit or reaction is folded into its message: no preview, unread count or notice.
  if (isAction(msg)) {
    if (fresh && msg.sender !== state.me.id) markDelivered(c.id, msg.seq);
    if (state.open === c.id && !document.hidden) markRead(c.id);
    changed();
    return;
  }
  if (!c.last_message || c.last_message.seq <= msg.seq) c.last_message = msg;
  const mine = msg.sender === state.me.id;
  if (fresh && !mine) {
    const t = state.typing.get(c.id);
    if (t) t.delete(msg.sender);
    markDelivered(c.id, msg.seq);
    if (state.open === c.id && !document.hidden) markRead(c.id);
    else { c.unread_count = (c.unread_count || 0) + 1; notify(c, msg); }
  }
  changed();
  updateTitle();
}

export const handlers = {
  'message.created': (d) => onMessage(d.message),
  'message.status': (d) => {
    const m = convMsgs(d.conversation_id);
    for (const msg of m.bySeq.values())
      if (msg.sender === state.me.id && msg.seq <= d.up_to_seq && rank(d.status) > rank(msg.status))
        msg.status = d.status;
    const c = state.convs.get(d.conversation_id);
    if (c && c.last_message && c.last_message.sender === state.me.id && c.last_message.seq <= d.up_to_seq
        && rank(d.status) > rank(c.last_message.status)) c.last_message = { ...c.last_message, status: d.status };
    m.sorted = null;
    changed();
  },
  receipt: () => {},
  'conversation.created': (d) => {
    const c = d.conversation;
    if (c.peer) rememberUser(c.peer);
    if (!state.convs.has(c.id)) state.convs.set(c.id, { unread_count: 0, last_message: null, my_role: 'member', ...c });
    if (c.peer) loadPresence(c.peer.id);
    completeConversation(c.id); // is it a message request?
    changed();
    subscribePresence();
  },
  ...messengerHandlers,
  'member.added': (d) => {
    if (!state.convs.has(d.conversation_id)) { loadConversations(); return; }
    if (state.open === d.conversation_id) loadDetail(d.conversation_id);
    const c = state.convs.get(d.conversation_id);
    if (d.user_id === state.me.id) c.my_role = d.role;
    changed();
  },
  'member.removed': (d) => {
    if (d.user_id === state.me.id) {
      state.convs.delete(d.conversation_id);
      if (state.open === d.conversation_id) closeConversation();
      changed();
      return;
    }
    if (state.open === d.conversation_id) loadDetail(d.conversation_id);
    if (isE2E(state.convs.get(d.conversation_id))) e2eRotate(d.conversation_id);
  },
  presence: (d) => {
    state.presence.set(d.user_id, { ...(state.presence.get(d.user_id) || {}), ...d });
    changed();
  },
  typing: (d) => {
    let t = state.typing.get(d.conversation_id);
    if (!t) state.typing.set(d.conversation_id, (t = new Map()));
    const until = Date.now() + (d.expires_in_ms || 5000);
    t.set(d.user_id, until);
    changed();
    setTimeout(changed, (d.expires_in_ms || 5000) + 50);
  },
  'keys.changed': (d) => e2eKeysChanged(d),
};

e2eOnSent((msg) => onMessage(msg));
export { flushOutbox };

export function typingNames(convId) {
  const t = state.typing.get(convId);
  if (!t) return [];
  const now = Date.now();
  return [...t.entries()].filter(([u, until]) => until > now && u !== state.me.id).map(([u]) => u);
}
