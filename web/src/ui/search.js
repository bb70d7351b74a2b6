// SPDX-License-Identifier: MIT
// Parley web - server search over plain chats; a hit opens its conversation at that message.
import { useState } from 'preact/hooks';
import { html, snippetParts, shortWhen } from './html.js';
import { Dialog } from './dialog.js';
import { useStore, convTitle, userName } from '../store.js';
import { get } from '../api.js';
import { openConversation } from '../actions.js';
import { e2eSearch, e2eReady } from '../e2ectl.js';

// A local hit's text with each searched word marked (as nodes, never markup).
function marked(text, words) {
  if (!words.length) return [text];
  const esc = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`(${esc.join('|')})`, 'gi');
  const t = text.length > 160 ? `${text.slice(0, 157)}…` : text;
  return t.split(re).map((p, i) => (i % 2 ? html`<mark>${p}</mark>` : p));
}

function Snippet({ s }) {
  return html`<span class="snippet">${snippetParts(s).map((p) => (p.mark ? html`<mark>${p.text}</mark>` : p.text))}</span>`;
}

export function Search() {
  const st = useStore();
  const [hits, setHits] = useState(null);
  const [local, setLocal] = useState(null); // { words, hits } from the decrypted e2e history
  const [err, setErr] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    const q = new FormData(e.target).get('q').trim();
    if (!q) return;
    // E2E chats are never indexed by the server: they are searched here, in this browser's
    // decrypted history, at the same time.
    const words = q.toLowerCase().replace(/["-]/g, ' ').split(/\s+/).filter(Boolean);
    const mine = e2eReady() ? e2eSearch(words.join(' ')).catch(() => []) : Promise.resolve(null);
    try { setHits((await get(`/v1/search?q=${encodeURIComponent(q)}&limit=30`)).hits); setErr(''); } catch (x) { setErr(x.message); }
    const lh = await mine;
    setLocal(lh && { words, hits: lh });
  };
  return html`<${Dialog} title="Search messages" wide>
    <form class="row" role="search" onSubmit=${submit}>
      <input class="grow" name="q" type="search" aria-label="Search" placeholder="Words, “a phrase”, -exclude" />
      <button type="submit" class="primary">Search</button></form>
    ${err && html`<p class="error" role="alert">${err}</p>`}
    ${hits && (hits.length ? html`<ul class="hits" aria-label="Results">${hits.map((h) => html`<li key=${h.id}>
        <button class="hit" onClick=${() => openConversation(h.conversation_id, h.seq)}>
          <span class="hit-top"><strong>${convTitle(st.convs.get(h.conversation_id)) || 'Chat'}</strong>
            <span class="muted">${userName(h.sender)} · ${shortWhen(h.created_at)}</span></span>
          <${Snippet} s=${h.snippet} /></button></li>`)}</ul>`
      : html`<p class="muted">No messages found${local ? ' in plain chats' : ''}.</p>`)}
    ${local && html`<h3>In encrypted chats</h3>
      ${local.hits.length ? html`<ul class="hits" aria-label="Results in encrypted chats">${local.hits.map((h) => html`<li key=${`${h.conv}:${h.seq}`}>
        <button class="hit" onClick=${() => openConversation(h.conv, h.seq)}>
          <span class="hit-top"><strong>${convTitle(st.convs.get(h.conv)) || 'Chat'}</strong></span>
          <span class="snippet">${marked(h.text, local.words)}</span></button></li>`)}</ul>`
        : html`<p class="muted">Nothing in this browser's encrypted history.</p>`}`}
  </${Dialog}>`;
}
