// SPDX-License-Identifier: MIT
// Parley web - a modal panel: Esc or the close button closes it; focus moves into it.
import { useLayoutEffect, useRef } from 'preact/hooks';
import { Icon } from './icons.js';
import { html } from './html.js';
import { set } from '../store.js';

export function Dialog({ title, children, wide, onClose }) {
  const ref = useRef(null);
  const close = onClose || (() => set({ dialog: null }));
  const closeRef = useRef(close);
  closeRef.current = close;
  // A layout effect: the Esc handler is in place in the same task as the
  // panel, never a frame later (a key pressed on a busy machine in that
  // frame was lost, and the panel stayed open).
  useLayoutEffect(() => {
    const el = ref.current;
    const first = el && el.querySelector('input, select, textarea, button:not(.close)');
    if (first) first.focus();
    const onKey = (e) => { if (e.key === 'Escape') { e.stopPropagation(); closeRef.current(); } };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, []);
  const id = `dlg-${title.replace(/\W+/g, '-').toLowerCase()}`;
  return html`
    <div class="overlay" onClick=${(e) => { if (e.target === e.currentTarget) close(); }}>
      <div class=${`dialog ${wide ? 'wide' : ''}`} role="dialog" aria-modal="true" aria-labelledby=${id} ref=${ref}>
        <header><h2 id=${id}>${title}</h2>
          <button class="icon close" onClick=${close} aria-label="Close"><${Icon} name="close" /></button></header>
        ${children}
      </div>
    </div>`;
}
