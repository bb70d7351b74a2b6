// SPDX-License-Identifier: MIT
// Parley web - settings: display name, last-seen privacy, notifications, this device, sign out.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { Dialog } from './dialog.js';
import { useStore, set } from '../store.js';
import { api } from '../api.js';
import { signOut } from '../actions.js';
import { Blocked } from './blocked.js';
import { PushSetting } from './pushsettings.js';

// The account's sessions (devices) with a button to end each other one.
function Devices() {
  const [list, setList] = useState(null);
  const load = () => api('GET', '/v1/sessions').then((r) => setList(r.sessions)).catch(() => setList([]));
  useEffect(() => { load(); }, []);
  if (!list) return html`<p class="muted">Loading devices…</p>`;
  return html`<ul class="members" aria-label="Devices">${list.map((d) => html`<li key=${d.id}>
    <span>${d.device_name}${d.current ? ' (this browser)' : ''}<br />
      <span class="muted">last used ${new Date(d.last_used_at).toLocaleString()}</span></span>
    ${!d.current && html`<button onClick=${() => api('DELETE', `/v1/sessions/${d.id}`).then(load, load)}
      aria-label=${`End session ${d.device_name}`}>End session</button>`}
  </li>`)}</ul>`;
}

export function Settings() {
  const s = useStore();
  const [msg, setMsg] = useState('');
  const save = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try {
      const me = await api('PATCH', '/v1/me', { display_name: f.get('display_name').trim(),
        last_seen_visibility: f.get('last_seen') });
      set({ me });
      setMsg('Saved.');
    } catch (x) { setMsg(x.message); }
  };
  const perm = typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
  return html`<${Dialog} title="Settings" wide>
    <form onSubmit=${save}>
      <label>Display name<input name="display_name" defaultValue=${s.me.display_name} maxlength="64" required /></label>
      <label>Who sees my last seen
        <select name="last_seen" value=${s.me.last_seen_visibility}>
          <option value="everyone">Everyone</option>
          <option value="contacts">My contacts</option>
          <option value="nobody">Nobody</option>
        </select></label>
      <button class="primary" type="submit">Save</button>
      ${msg && html`<p role="status">${msg}</p>`}
    </form>
    <h3>Notifications</h3>
    ${perm === 'default' ? html`<button onClick=${() => Notification.requestPermission().then(() => set({}))}>Allow notifications</button>`
      : html`<p class="muted">Notifications: ${perm}</p>`}
    <${PushSetting} />
    <${Blocked} />
    <h3>Devices</h3>
    <${Devices} />
    <h3>End-to-end encryption</h3>
    ${s.e2e.status === 'ready' ? html`<p class="muted">This browser's keys are sealed with your passphrase. Safety numbers:</p>
      <ul class="members" aria-label="Safety numbers">${[...s.convs.values()].filter((c) => c.encryption === 'e2e' && c.peer).map((c) => html`<li key=${c.id}>
        <span>${c.peer.display_name || c.peer.username}</span>
        <button onClick=${() => set({ dialog: 'safety', safetyPeer: { id: c.peer.id, username: c.peer.username } })}
          aria-label=${`Safety number with ${c.peer.username}`}>Safety number</button></li>`)}</ul>`
      : html`<p class="muted">Locked or not set up in this browser (see the side bar).</p>`}
    <h3>Account</h3>
    <p class="muted">Signed in as @${s.me.username}. This browser is one of your devices.</p>
    <button class="danger" onClick=${signOut}>Sign out</button>
  </${Dialog}>`;
}
