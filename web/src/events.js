// SPDX-License-Identifier: MIT
// Parley web - the downstream connection: an EventSource on /v1/events, resumed from the last
// event id after every drop (so nothing is lost and, since messages are kept by seq, nothing is
// shown twice); when EventSource never gets through (a proxy that buffers the stream), the same
// events are long-polled from /v1/sync. The banner shows connecting / reconnecting in N s /
// offline.
import { get } from './api.js';
import { state, set } from './store.js';
import { handlers, loadConversations, loadLatest, markRead, subscribePresence, flushOutbox } from './actions.js';

const KINDS = Object.keys(handlers);
let es = null, lastId = null, failures = 0, everOpened = false, timer = null, countdown = null;
let stopped = false;

function conn(patch) { set({ conn: { ...state.conn, ...patch } }); }

// EventSource's lastEventId carries over to events without an id: only persisted kinds have one.
const EPHEMERAL = new Set(['presence', 'typing']);

function dispatch(type, data, id) {
  if (!EPHEMERAL.has(type) && id != null && id !== '') {
    const n = Number(id);
    if (lastId != null && n <= lastId) return; // replayed twice: already applied
    lastId = n;
  }
  const f = handlers[type];
  if (f) f(data);
}

// After a reset, or on first connect, the REST state is the truth.
async function resync() {
  await loadConversations();
  for (const id of state.msgs.keys()) {
    const m = state.msgs.get(id);
    if (m.loaded) await loadLatest(id);
  }
  if (state.open) markRead(state.open);
  subscribePresence(true);
  flushOutbox(); // e2e messages encrypted while offline go out now, the same bytes

}

export function start() {
  stopped = false;
  window.addEventListener('online', () => { if (state.conn.state !== 'online') reconnectNow(); });
  window.addEventListener('offline', () => conn({ state: 'offline' }));
  open();
}

export function stop() {
  stopped = true;
  if (es) es.close();
  es = null;
  clearTimeout(timer);
  clearInterval(countdown);
}

function reconnectNow() {
  clearTimeout(timer);
  clearInterval(countdown);
  if (state.conn.mode === 'sync') poll(); else open();
}

function open() {
  if (stopped) return;
  if (es) es.close();
  conn({ state: failures ? 'reconnecting' : 'connecting', retryIn: 0 });
  const q = lastId != null ? `?last_event_id=${lastId}` : '';
  es = new EventSource(`/v1/events${q}`, { withCredentials: true });
  es.onopen = () => { everOpened = true; };
  es.addEventListener('ready', (e) => {
    const d = JSON.parse(e.data);
    if (lastId == null) lastId = d.position;
    online();
    resync();
  });
  es.addEventListener('reset', (e) => {
    lastId = JSON.parse(e.data).position;
    online();
    resync();
  });
  for (const k of KINDS)
    es.addEventListener(k, (e) => {
      online();
      dispatch(k, JSON.parse(e.data), e.lastEventId);
    });
  es.onerror = () => {
    // We drive reconnection ourselves, with backoff and a visible countdown.
    es.close();
    es = null;
    failures++;
    if (!everOpened && failures >= 3) { conn({ mode: 'sync' }); poll(); return; }
    schedule(open);
  };
  // A replayed stream sends no `ready`: the first event, or the open, says we are through.
  es.onopen = () => { everOpened = true; if (lastId != null) online(); };
}

function online() {
  if (state.conn.state !== 'online') {
    conn({ state: 'online', retryIn: 0 });
    if (state.open) markRead(state.open);
    subscribePresence(true); // a resumed stream is a new one: the set ended with the old

  }
  failures = 0;
}

function schedule(fn) {
  const secs = Math.min(30, 2 ** Math.min(failures - 1, 5));
  let left = secs;
  conn({ state: navigator.onLine === false ? 'offline' : 'reconnecting', retryIn: left });
  clearInterval(countdown);
  countdown = setInterval(() => {
    left = Math.max(0, left - 1);
    conn({ retryIn: left });
  }, 1000);
  clearTimeout(timer);
  timer = setTimeout(() => { clearInterval(countdown); fn(); }, secs * 1000);
}

// Long-polling: the same persisted events, as JSON batches.
async function poll() {
  if (stopped) return;
  try {
    if (lastId == null) {
      // Without a position: start from the current one (a huge since is answered with a reset
      // carrying it), then load the state over REST.
      const cur = await get(`/v1/sync?since=${Number.MAX_SAFE_INTEGER}&timeout=0`);
      lastId = cur.position;
      await resync();
    }
    online();
    for (;;) {
      if (stopped) return;
      const b = await get(`/v1/sync?since=${lastId}&timeout=25000`);
      if (b.reset) { lastId = b.position; await resync(); continue; }
      for (const ev of b.events || []) dispatch(ev.event, ev.data, ev.id);
      lastId = Math.max(lastId, b.position);
    }
  } catch {
    failures++;
    schedule(poll);
  }
}

export const _test = { get lastId() { return lastId; } };
