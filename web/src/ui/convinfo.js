// SPDX-License-Identifier: MIT
// Parley web - a direct chat's info (the contact, block / unblock, the disappearing-messages
// timer), and the timer picker that Group info shows too.
import { useState } from 'preact/hooks';
import { html } from './html.js';
import { Dialog } from './dialog.js';
import { useStore, convTitle } from '../store.js';
import { TIMERS, setTimer, isBlocked, block, unblock } from '../messenger.js';

// Off, 1 h, 24 h, 7 d, 90 d. In a group only admins may change it (the server says 403).
export function Disappearing({ c }) {
  const [err, setErr] = useState('');
  const mayChange = c.kind === 'direct' || c.my_role === 'admin';
  const change = async (e) => {
    const v = e.target.value === '' ? null : Number(e.target.value);
    setErr('');
    try { await setTimer(c, v); } catch (x) { setErr(x.message); }
  };
  return html`<div class="timer-pick">
    <label for=${`timer-${c.id}`}>Disappearing messages</label>
    <select id=${`timer-${c.id}`} value=${c.expire_after ? String(c.expire_after) : ''} onChange=${change} disabled=${!mayChange}>
      ${TIMERS.map(([v, name]) => html`<option key=${name} value=${v === null ? '' : String(v)}>${name}</option>`)}
    </select>
    <p class="muted small">New messages disappear this long after they are sent, for everyone in the chat.</p>
    ${err && html`<p class="error" role="alert">${err}</p>`}
  </div>`;
}

export function BlockButton({ user, name }) {
  const [err, setErr] = useState('');
  useStore();
  const blocked = isBlocked(user);
  const act = async () => {
    setErr('');
    try { await (blocked ? unblock(user) : block(user)); } catch (x) { setErr(x.message); }
  };
  return html`<span>
    <button class=${blocked ? '' : 'danger'} onClick=${act}>${blocked ? `Unblock ${name}` : `Block ${name}`}</button>
    ${err && html`<span class="error" role="alert">${err}</span>`}</span>`;
}

export function ConvInfo({ c }) {
  useStore();
  if (!c || c.kind !== 'direct' || !c.peer) return null;
  return html`<${Dialog} title="Chat info">
    <p><strong>${convTitle(c)}</strong> <span class="muted">@${c.peer.username}</span></p>
    <${Disappearing} c=${c} />
    <h3>Privacy</h3>
    <p class="muted small">A blocked contact cannot message you or see when you are online.</p>
    <${BlockButton} user=${c.peer.id} name=${c.peer.username} />
  </${Dialog}>`;
}
