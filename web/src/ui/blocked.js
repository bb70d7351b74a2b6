// SPDX-License-Identifier: MIT
// Parley web - Settings' list of blocked users: unblock each, or block someone by username.
// The list is the one loaded with the chats (and after each block / unblock): loading it again
// here would re-render Settings while its form is being typed into.
import { useState } from 'preact/hooks';
import { html } from './html.js';
import { useStore } from '../store.js';
import { block, unblock } from '../messenger.js';

export function Blocked() {
  const s = useStore();
  const [err, setErr] = useState('');
  const act = async (p) => {
    setErr('');
    try { await p; } catch (x) { setErr(x.status === 404 ? 'No such user.' : x.message); }
  };
  const add = (e) => {
    e.preventDefault();
    const user = new FormData(e.target).get('user').trim();
    e.target.reset();
    if (user) act(block(user));
  };
  const list = [...s.blocks.values()];
  return html`<h3>Blocked users</h3>
    ${!list.length && html`<p class="muted">Nobody is blocked.</p>`}
    <ul class="members" aria-label="Blocked users">${list.map((b) => html`<li key=${b.user_id}>
      <span>@${b.username}</span>
      <button onClick=${() => act(unblock(b.user_id))} aria-label=${`Unblock ${b.username}`}>Unblock</button></li>`)}</ul>
    <form class="row" onSubmit=${add}>
      <label class="grow">Block a user (username)<input name="user" required autocomplete="off" /></label>
      <button type="submit">Block</button></form>
    ${err && html`<p class="error" role="alert">${err}</p>`}`;
}
