// SPDX-License-Identifier: MIT
// Parley web - the reactions under a bubble (one button per emoji with its count, mine pressed;
// pressing mine takes it back, another one changes mine to it), and the toast that reports an
// action the server refused (e.g. an edit after the window).
import { useEffect } from 'preact/hooks';
import { html } from './html.js';
import { state, set, useStore } from '../store.js';
import { react, canDo } from '../messenger.js';

export function run(p) {
  return Promise.resolve(p).catch((e) => set({ toast: e.message || String(e) }));
}

export function Reactions({ c, m }) {
  const list = m.reactions || [];
  if (!list.length) return null;
  const can = canDo(c, m).react;
  return html`<div class="reactions" role="group" aria-label="Reactions">
    ${list.map((r) => html`<button key=${r.emoji} class=${`reaction ${r.mine ? 'mine' : ''}`} aria-pressed=${r.mine ? 'true' : 'false'}
      disabled=${!can} aria-label=${`${r.emoji} ${r.count}`} title=${r.mine ? 'You reacted: click to remove' : 'React'}
      onClick=${() => run(react(c, m, r.emoji))}>${r.emoji} <span class="count">${r.count}</span></button>`)}
  </div>`;
}

// Shown for 6 s, then gone; `where` is where it is rendered ("list" only when no chat is open).
export function Toast({ where }) {
  const s = useStore();
  useEffect(() => {
    if (!s.toast) return undefined;
    const t = setTimeout(() => { if (state.toast === s.toast) set({ toast: null }); }, 6000);
    return () => clearTimeout(t);
  }, [s.toast]);
  if (!s.toast || (where === 'list' && s.open)) return null;
  return html`<p class="toast" role="alert">${s.toast}</p>`;
}
