// SPDX-License-Identifier: MIT
// Parley web - the open conversation. The log renders a window of at most MAX_DOM messages of
// the ones held in memory: scrolling near the top moves it up by STEP (fetching older pages when
// needed) and trims the bottom, and the other way round, keeping the message under the viewport's
// top edge where it was, so the DOM stays bounded however long the history. Each move renders,
// lays out and paints only STEP new rows in one task (bench/README.md, "Web client"), and older
// pages are fetched while the window still has rows above it, so a fetch never lands in the same
// task as a move: the rows it adds are off the window until the user scrolls to them.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Icon } from './icons.js';
import { html, dayOf, lastSeenText } from './html.js';
import { useStore, state, set, sortedMsgs, convMsgs, convTitle, userName } from '../store.js';
import { loadEarlier, closeConversation, markRead, typingNames } from '../actions.js';
import { Message } from './message.js';
import { Composer } from './composer.js';
import { isE2E, pendingFor, changedUsers, changedText } from '../e2ectl.js';
import { timerName, isAction } from '../messenger.js';
import { Forward } from './forward.js';
import { ConvInfo } from './convinfo.js';
import { RequestBanner, BlockedBanner, blockedPeer } from './requests.js';
import { Toast } from './reactions.js';

// The contact whose safety number a button opens: the peer, or the first changed member.
function openSafety(uid) {
  const u = state.users.get(uid);
  set({ dialog: 'safety', safetyPeer: { id: uid, username: u ? u.username : String(uid) } });
}

// EDGE (px from an end) starts a move; a page is prefetched once fewer than PREFETCH rows are
// held above the window.
const MAX_DOM = 120, STEP = 40, EDGE = 600, PREFETCH = 120;

function subtitle(c) {
  const typers = typingNames(c.id);
  if (typers.length)
    return c.kind === 'direct' ? 'typing…' : `${typers.map(userName).join(', ')} ${typers.length > 1 ? 'are' : 'is'} typing…`;
  if (c.kind === 'direct') return c.peer ? lastSeenText(state.presence.get(c.peer.id)) : '';
  return `${c.member_count || (c.members && c.members.length) || ''} members`;
}

export function Conversation({ id }) {
  const s = useStore();
  const c = s.convs.get(id);
  const all = sortedMsgs(id);
  // E2E edits and reactions are folded into their messages (e2ectl.js), never rows.
  const list = useMemo(() => (all.some(isAction) ? all.filter((x) => !isAction(x)) : all), [all]);
  const m = convMsgs(id);
  const logRef = useRef(null);
  const anchor = useRef(null);     // { seq, offset } to restore after a window change
  const focusTo = useRef(null);    // the seq of a search hit to centre after the next render
  const [win, setWin] = useState({ start: Math.max(0, list.length - MAX_DOM), end: list.length, stick: true });
  const [replyTo, setReplyTo] = useState(null);
  const [editing, setEditing] = useState(null);   // the message being edited in the composer
  const [forwarding, setForwarding] = useState(null); // the message the Forward dialog sends
  const [flash, setFlash] = useState(null);
  const loading = useRef(false);

  // Follow new messages while stuck to the bottom; focus a search hit.
  let { start, end } = win;
  if (win.stick) { end = list.length; start = Math.max(0, end - MAX_DOM); }
  end = Math.min(end, list.length);
  start = Math.min(start, end);

  useEffect(() => {
    if (s.focusSeq == null) return;
    const i = list.findIndex((x) => x.seq >= s.focusSeq);
    if (i < 0) return;
    const st = Math.max(0, i - STEP), en = Math.min(list.length, st + MAX_DOM);
    setWin({ start: st, end: en, stick: en === list.length && i > list.length - STEP });
    setFlash(s.focusSeq);
    set({ focusSeq: null });
    focusTo.current = list[i].seq;
  }, [s.focusSeq, list.length]);

  // After each render, before it is painted: the search hit centred (in the same task as the
  // render that marks it, so it is never shown marked but off screen), or the anchored message
  // back where it was, or the newest in view.
  useLayoutEffect(() => {
    const log = logRef.current;
    if (!log) return;
    const el = focusTo.current != null && document.getElementById(`m-${focusTo.current}`);
    if (el) {
      focusTo.current = null;
      anchor.current = null;
      el.scrollIntoView({ block: 'center' });
    } else if (anchor.current) {
      const a = log.querySelector(`[data-seq="${anchor.current.seq}"]`);
      if (a) log.scrollTop = a.offsetTop - anchor.current.offset;
      anchor.current = null;
    } else if (win.stick) {
      log.scrollTop = log.scrollHeight;
    }
  });

  useEffect(() => { markRead(id); }, [id, list.length]);
  useEffect(() => {
    const onVis = () => markRead(id);
    document.addEventListener('visibilitychange', onVis);
    return () => document.removeEventListener('visibilitychange', onVis);
  }, [id]);

  const remember = () => {
    const log = logRef.current;
    for (const el of log.querySelectorAll('.msg')) {
      if (el.offsetTop + el.offsetHeight > log.scrollTop) {
        anchor.current = { seq: el.dataset.seq, offset: el.offsetTop - log.scrollTop };
        return;
      }
    }
  };

  // Older messages arrive in the background; the window shifts by as many places in the same
  // render, so the rows on screen stay the same DOM and nothing is laid out again.
  // A user who reached the top meanwhile (where a wheel fires no more scroll events) gets the
  // next move with it.
  const prefetch = async () => {
    loading.current = true;
    const n = await loadEarlier(id).catch(() => 0);
    loading.current = false;
    if (!n) return;
    const log = logRef.current;
    const up = log && log.scrollTop < EDGE;
    if (up) remember();
    setWin((w) => {
      if (w.stick) return w;
      const st = Math.max(0, w.start + n - (up ? STEP : 0));
      return { start: st, end: Math.min(w.end + n, st + MAX_DOM), stick: false };
    });
  };

  const onScroll = async () => {
    const log = logRef.current;
    if (!log) return;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    if (log.scrollTop < EDGE) {
      if (start > 0) {
        if (start < PREFETCH && m.hasMore && !loading.current) prefetch();
        remember();
        const st = Math.max(0, start - STEP);
        setWin({ start: st, end: Math.min(end, st + MAX_DOM), stick: false });
      } else if (m.hasMore && !loading.current) {
        loading.current = true;
        remember();
        const n = await loadEarlier(id).catch(() => 0);
        loading.current = false;
        // The held list grew at the front: the same messages moved n places; show STEP of them.
        const st = Math.max(0, n - STEP);
        if (n) setWin({ start: st, end: Math.min(end + n, st + MAX_DOM), stick: false });
      }
    } else if (log.scrollHeight - log.scrollTop - log.clientHeight < EDGE && end < list.length) {
      const en = Math.min(list.length, end + STEP);
      // At the very bottom, reaching the newest (e.g. one that arrived meanwhile) follows it.
      const stick = atBottom && en === list.length;
      if (!stick) remember();
      setWin({ start: Math.max(start, en - MAX_DOM), end: en, stick });
    } else if (atBottom && end === list.length && !win.stick) {
      setWin({ start, end, stick: true });
    }
  };

  useEffect(() => {
    const onKey = (e) => { if (e.key === 'Escape' && !state.dialog) closeConversation(); };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  if (!c) return null;
  const rows = [];
  let lastDay = null;
  // Timer announcements go after the newest message held when they came.
  const notices = s.notices.get(id) || [];
  const notice = (n) => html`<p class="notice" key=${n.key}><${Icon} name="timer" /> ${n.text}</p>`;
  const firstShown = end > start ? list[start].seq : 0;
  if (start === 0) for (const n of notices) if (n.afterSeq < firstShown) rows.push(notice(n));
  const admin = c.my_role === 'admin';
  for (let i = start; i < end; i++) {
    const msg = list[i];
    const day = dayOf(msg.created_at);
    if (day !== lastDay) {
      rows.push(html`<div class="day" key=${`d${msg.seq}`} role="separator"><span>${day}</span></div>`);
      lastDay = day;
    }
    rows.push(html`<${Message} key=${msg.seq} m=${msg} group=${c.kind === 'group'} focus=${flash === msg.seq}
      admin=${admin} onReply=${(x) => { setEditing(null); setReplyTo(x); }} onEdit=${(x) => { setReplyTo(null); setEditing(x); }}
      onForward=${setForwarding} />`);
    const next = i + 1 < list.length ? list[i + 1].seq : Infinity;
    for (const n of notices) if (n.afterSeq >= msg.seq && n.afterSeq < next) rows.push(notice(n));
  }
  if (start === end) for (const n of notices) rows.push(notice(n));
  const sub = subtitle(c);
  const changed = isE2E(c) ? changedUsers(c) : [];
  const pending = isE2E(c) ? pendingFor(id) : [];
  return html`
    <section class="conversation" aria-label=${`Conversation with ${convTitle(c)}`}>
      <header class="conv-head">
        <button class="icon back" onClick=${closeConversation} aria-label="Back to chats"><${Icon} name="back" /></button>
        <div class="conv-title">
          <h2>${convTitle(c)}</h2>
          <p class="presence" aria-live="polite">${sub}</p>
        </div>
        ${isE2E(c) && html`<span class="lock" role="img" aria-label="End-to-end encrypted" title="End-to-end encrypted"><${Icon} name="lock" /></span>`}
        ${isE2E(c) && c.peer && html`<button onClick=${() => openSafety(c.peer.id)}>Safety number</button>`}
        ${c.expire_after && html`<span class="lock timer" role="img" aria-label=${`Disappearing messages: ${timerName(c.expire_after)}`}
          title=${`Disappearing messages: ${timerName(c.expire_after)}`}><${Icon} name="timer" /></span>`}
        ${c.kind === 'group' && html`<button onClick=${() => set({ dialog: 'group-info' })}>Group info</button>`}
        ${c.kind === 'direct' && html`<button onClick=${() => set({ dialog: 'conv-info' })}>Chat info</button>`}
      </header>
      <${Toast} />
      ${changed.map((u) => html`<div class="safety-alert" role="alert" key=${u}>${changedText(u)}.
        <button class="link" onClick=${() => openSafety(u)}>Compare safety number</button></div>`)}
      <div class="log" role="log" aria-label="Messages" aria-live="polite" ref=${logRef} onScroll=${onScroll} tabindex="0">
        ${start === 0 && !m.hasMore && html`<p class="start">This is the start of the conversation.</p>`}
        ${(start > 0 || m.hasMore) && html`<button class="link earlier" onClick=${() => { logRef.current.scrollTop = 0; onScroll(); }}>Load earlier messages</button>`}
        ${rows}
        ${pending.map((o) => html`<div class="msg mine pending" key=${o.cmid}><div class="bubble">
          <p class="text">${o.payload.text != null ? o.payload.text : `Attachment: ${(o.payload.file && o.payload.file.name) || 'file'}`}</p>
          <span class="meta"><span class="ticks" role="img" aria-label="waiting to send"><${Icon} name="clock" /></span></span></div></div>`)}
      </div>
      <${RequestBanner} c=${c} />
      ${blockedPeer(c) ? html`<${BlockedBanner} c=${c} />`
        : html`<${Composer} key=${id} convId=${id} replyTo=${replyTo} setReplyTo=${setReplyTo}
          editing=${editing} setEditing=${setEditing} />`}
      ${forwarding && html`<${Forward} from=${c} m=${forwarding} done=${() => setForwarding(null)} />`}
      ${s.dialog === 'conv-info' && html`<${ConvInfo} c=${c} />`}
    </section>`;
}
