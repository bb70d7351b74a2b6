// SPDX-License-Identifier: MIT
// Parley web - server search over plain chats; a hit opens its conversation at that message.
import { useState } from 'preact/hooks';
import { html, snippetParts, shortWhen } from './html.js';
import { Dialog } from './dialog.js';
import { useStore, convTitle, userName } from '../store.js';
import { get } from '../api.js';
import { openConversation } from '../actions.js';

function Snippet({ s }) {
  return html`<span class="snippet">${snippetParts(s).map((p) => (p.mark ? html`<mark>${p.text}</mark>` : p.text))}</span>`;
}

export function Search() {
  const st = useStore();
  const [hits, setHits] = useState(null);
  const [err, setErr] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    const q = new FormData(e.target).get('q').trim();
    if (!q) return;
    try { setHits((await get(`/v1/search?q=${encodeURIComponent(q)}&limit=30`)).hits); setErr(''); } catch (x) { setErr(x.message); }
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
      : html`<p class="muted">No messages found.</p>`)}
  </${Dialog}>`;
}
