// SPDX-License-Identifier: MIT
// Parley web - a menu button (the WAI-ARIA menu button pattern): the button opens a role="menu"
// of role="menuitem" buttons; focus moves to the first item, arrow keys, Home and End move
// between them, Esc or Tab closes it and focus returns to the button, a click outside closes it.
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { Icon } from './icons.js';

// items: [{ label, name?, onSelect }] (name: the accessible name when it differs from label);
// top: more menu items shown first in a row (the reactions), same shape.
export function Menu({ label, icon = 'more', items, top = [], cls = '' }) {
  const [open, setOpen] = useState(false);
  const btn = useRef(null), pop = useRef(null);

  useLayoutEffect(() => {
    if (!open) return undefined;
    const first = pop.current && pop.current.querySelector('[role=menuitem]');
    if (first) first.focus();
    const away = (e) => { if (pop.current && !pop.current.contains(e.target) && e.target !== btn.current) setOpen(false); };
    document.addEventListener('mousedown', away);
    return () => document.removeEventListener('mousedown', away);
  }, [open]);

  const close = (refocus) => { setOpen(false); if (refocus && btn.current) btn.current.focus(); };
  // On the whole menu, button included: an Esc that comes before focus moved into the menu
  // must close the menu, not reach the conversation (which Esc closes).
  const onKey = (e) => {
    if (!open || !pop.current) return;
    const all = [...pop.current.querySelectorAll('[role=menuitem]')];
    const i = all.indexOf(document.activeElement);
    const go = (j) => { e.preventDefault(); all[(j + all.length) % all.length].focus(); };
    if (e.key === 'ArrowDown' || e.key === 'ArrowRight') go(i + 1);
    else if (e.key === 'ArrowUp' || e.key === 'ArrowLeft') go(i - 1);
    else if (e.key === 'Home') go(0);
    else if (e.key === 'End') go(all.length - 1);
    else if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); close(true); }
    else if (e.key === 'Tab') close(false);
  };
  const pick = (it) => { close(true); it.onSelect(); };
  const item = (it) => html`<button role="menuitem" tabindex="-1" key=${it.name || it.label}
    aria-label=${it.name} onClick=${() => pick(it)}>${it.label}</button>`;

  return html`<span class=${`menu-wrap ${cls}`} onKeyDown=${onKey}>
    <button class="icon menu-btn" ref=${btn} aria-label=${label} title=${label} aria-haspopup="menu"
      aria-expanded=${open ? 'true' : 'false'} onClick=${() => setOpen(!open)}><${Icon} name=${icon} /></button>
    ${open && html`<div class="menu-pop" role="menu" aria-label=${label} ref=${pop}>
      ${top.length > 0 && html`<div class="menu-top" role="group" aria-label="React">${top.map(item)}</div>`}
      ${items.map(item)}
    </div>`}
  </span>`;
}
