// SPDX-License-Identifier: MIT
// Parley web - the app's state and the one way it changes: set() then notify subscribers.
// Messages are kept per conversation in a Map by seq, so an event seen twice (replay after a
// reconnect, REST page overlapping the stream) is stored once.
import { useEffect, useRef, useState } from 'preact/hooks';

const subs = new Set();
export const state = {
  me: null,            // the signed-in user, null when signed out, undefined while loading
  convs: new Map(),    // id -> conversation (as GET /v1/conversations returns it)
  msgs: new Map(),     // conversation id -> { bySeq: Map(seq -> message), hasMore, loaded }
  open: null,          // the open conversation's id
  focusSeq: null,      // a seq to scroll to (search hit)
  typing: new Map(),   // conversation id -> Map(user id -> expiry ms)
  presence: new Map(), // user id -> { online, last_seen }
  users: new Map(),    // user id -> { username, display_name }
  conn: { state: 'connecting', retryIn: 0, mode: 'stream' },
  dialog: null,        // 'new-chat' | 'new-group' | 'group-info' | 'settings' | 'search'
  toast: null,
  e2e: { status: 'off', error: '', changed: new Map() }, // this browser's E2E keys (e2ectl.js)
  plain: new Map(),    // "conv:seq" -> decrypted payload of an e2e message ({text} | {file} | …)
  safetyPeer: null,    // { id, username } the safety-number dialog is about
  outbox: new Map(),   // client_msg_id -> e2e message encrypted and waiting for the server
  blocks: new Map(),   // user id -> { user_id, username, blocked_at } (GET /v1/me/blocks)
  notices: new Map(),  // conversation id -> [{ afterSeq, text, key }] (disappearing-timer changes)
};

let pending = false;
let version = 0; // counts changes, so a component can tell it missed one (useStore)
export function changed() {
  version++;
  if (pending) return;
  pending = true;
  queueMicrotask(() => {
    pending = false;
    for (const f of subs) f();
  });
}

export function set(patch) {
  Object.assign(state, patch);
  changed();
}

// Re-renders the calling component whenever the state changes. Effects run after the first
// paint, so a change made between the render and the subscription (e.g. /v1/me answering 401
// before it: the page stayed on "Loading…") is caught up on right when subscribing.
export function useStore() {
  const [, tick] = useState(0);
  const seen = useRef(0);
  seen.current = version;
  useEffect(() => {
    const f = () => tick((n) => n + 1);
    subs.add(f);
    if (version !== seen.current) f();
    return () => subs.delete(f);
  }, []);
  return state;
}

// A conversation's messages by seq; any set or delete drops the sorted copy, whoever makes it
// (e2ectl.js replaces messages it folds edits and reactions into).
class SeqMap extends Map {
  constructor(box) { super(); this.box = box; }
  set(k, v) { if (this.box) this.box.sorted = null; return super.set(k, v); }
  delete(k) { if (this.box) this.box.sorted = null; return super.delete(k); }
}

export function convMsgs(id) {
  let m = state.msgs.get(id);
  if (!m) {
    m = { bySeq: null, hasMore: true, loaded: false, sorted: null };
    m.bySeq = new SeqMap(m);
    state.msgs.set(id, m);
  }
  return m;
}

export function addMessage(msg) {
  const m = convMsgs(msg.conversation_id);
  const old = m.bySeq.get(msg.seq);
  // A tick never goes backwards, whichever copy arrives last.
  if (old) msg.status = rank(old.status) > rank(msg.status) ? old.status : msg.status;
  m.bySeq.set(msg.seq, msg);
  m.sorted = null;
  return !old;
}

export function sortedMsgs(id) {
  const m = convMsgs(id);
  if (!m.sorted) m.sorted = [...m.bySeq.values()].sort((a, b) => a.seq - b.seq);
  return m.sorted;
}

const RANKS = { sent: 0, delivered: 1, read: 2 };
export const rank = (s) => RANKS[s] ?? 0;

export function rememberUser(u) {
  if (!u) return;
  const id = u.id ?? u.user_id;
  if (id) state.users.set(id, { username: u.username, display_name: u.display_name });
}

export function userName(id) {
  if (state.me && id === state.me.id) return 'You';
  const u = state.users.get(id);
  return u ? (u.display_name || u.username) : `user ${id}`;
}

export function convTitle(c) {
  if (!c) return '';
  if (c.kind === 'direct') return c.peer ? (c.peer.display_name || c.peer.username) : 'Direct chat';
  return c.title || 'Group';
}

export function totalUnread() {
  let n = 0;
  for (const c of state.convs.values()) n += c.unread_count || 0;
  return n;
}
