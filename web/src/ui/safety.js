// SPDX-License-Identifier: MIT
// Parley web - the safety number with a contact: 60 digits in 12 groups and the QR code of the
// 65-byte form (crypto/PROTOCOL.md, "Safety numbers"), the same as `parley verify` prints. When
// the contact's keys changed, the number is shown first and sending waits for "Accept".
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { Dialog } from './dialog.js';
import { useStore, userName } from '../store.js';
import { e2eSafety, e2eAccept, changedText } from '../e2ectl.js';

// The QR code as one SVG path (a unit square per dark module): no canvas, no markup strings.
function Qr({ bytes, lean }) {
  const code = lean.generate(lean.mode.bytes(bytes), { minCorrectionLevel: 1 });
  const n = code.size, q = 4;
  let d = '';
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) if (code.get(x, y)) d += `M${x + q} ${y + q}h1v1h-1z`;
  return html`<svg class="qr" viewBox=${`0 0 ${n + 2 * q} ${n + 2 * q}`} role="img"
    aria-label="QR code of the safety number" shape-rendering="crispEdges">
    <rect width="100%" height="100%" fill="#fff" /><path d=${d} fill="#000" /></svg>`;
}

export function Safety() {
  const s = useStore();
  const peer = s.safetyPeer; // { id, username }
  const [sn, setSn] = useState(null);
  const [err, setErr] = useState('');
  const changed = peer && s.e2e.changed && s.e2e.changed.has(peer.id);
  useEffect(() => {
    if (!peer) return;
    // The QR encoder loads with the dialog, not with the app shell.
    Promise.all([e2eSafety(peer.username), import('lean-qr')])
      .then(([n, lean]) => setSn({ ...n, lean }), (x) => setErr(x.message));
  }, [peer && peer.id, changed]);
  if (!peer) return null;
  const groups = sn ? sn.digits.match(/.{5}/g) : [];
  return html`<${Dialog} title="Safety number" wide>
    ${changed && html`<p class="error" role="alert">${changedText(peer.id)}. Compare the new number before you go on.</p>`}
    <p>Compare these numbers with ${userName(peer.id)}'s screen (in the CLI: <code>parley verify ${s.me.username}</code>).
      If they match, your chat is end-to-end encrypted with the right person.</p>
    ${err && html`<p class="error" role="alert">${err}</p>`}
    ${sn ? html`<p class="safety-digits" aria-label="Safety number digits">${groups.map((g, i) => html`<span key=${i}>${g}</span> `)}</p>
      <${Qr} bytes=${sn.qr} lean=${sn.lean} />` : !err && html`<p class="muted">Computing…</p>`}
    ${changed && html`<button class="primary" onClick=${() => e2eAccept(peer.id).catch((x) => setErr(x.message))}>Accept new safety number</button>`}
  </${Dialog}>`;
}
