// SPDX-License-Identifier: MIT
// Parley web - forward a message: pick a chat; the copy is marked "Forwarded" and a media message
// re-uses the same media (no upload). Only plain chats are offered: the server copies the text,
// which an e2e chat must never receive in the clear.
import { useState } from 'preact/hooks';
import { html, preview } from './html.js';
import { Dialog } from './dialog.js';
import { convTitle } from '../store.js';
import { sortedConvs, onMessage } from '../actions.js';
import { forward } from '../messenger.js';

export function Forward({ from, m, done }) {
  const [err, setErr] = useState('');
  const [sent, setSent] = useState([]);
  const targets = sortedConvs().filter((c) => c.encryption !== 'e2e' && !c.request_from);
  const go = async (c) => {
    setErr('');
    try {
      onMessage(await forward(from, m, c));
      setSent([...sent, c.id]);
    } catch (x) { setErr(x.message); }
  };
  return html`<${Dialog} title="Forward message" onClose=${done}>
    <p class="muted">${preview(m).slice(0, 120)}</p>
    <ul class="members" aria-label="Forward to">
      ${targets.map((c) => html`<li key=${c.id}><span>${convTitle(c)}</span>
        ${sent.includes(c.id) ? html`<span role="status">Forwarded</span>`
          : html`<button onClick=${() => go(c)} aria-label=${`Forward to ${convTitle(c)}`}>Send</button>`}</li>`)}
    </ul>
    ${err && html`<p class="error" role="alert">${err}</p>`}
    <button class="primary" onClick=${done}>Done</button>
  </${Dialog}>`;
}
