// SPDX-License-Identifier: MIT
// Parley web - new chat, new group and group info.
import { useState } from 'preact/hooks';
import { html } from './html.js';
import { Dialog } from './dialog.js';
import { useStore, state, set, userName } from '../store.js';
import { api, post } from '../api.js';
import { openConversation, loadConversations } from '../actions.js';
import { Disappearing } from './convinfo.js';

// New chats are end-to-end encrypted by default once this browser's keys are unlocked.
function E2EBox() {
  const s = useStore();
  const ready = s.e2e.status === 'ready';
  return html`<label class="check"><input type="checkbox" name="e2e" checked=${ready} disabled=${!ready} />
    End-to-end encrypted${ready ? '' : ' (unlock encryption first)'}</label>`;
}
const encryption = (f) => (f.get('e2e') ? 'e2e' : 'none');

const detail = (x) => (x.problem && x.problem.errors && x.problem.errors.length
  ? x.problem.errors.map((e) => e.detail).join('; ') : x.message);

export function NewChat() {
  const [err, setErr] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const user = f.get('user').trim();
    try {
      const c = await post('/v1/conversations', { kind: 'direct', user, encryption: encryption(f) });
      if (!state.convs.has(c.id)) await loadConversations();
      openConversation(c.id);
    } catch (x) { setErr(x.status === 422 ? `No user called “${user}”.` : detail(x)); }
  };
  return html`<${Dialog} title="New chat">
    <form onSubmit=${submit}>
      <label>Username of the person<input name="user" required autocomplete="off" /></label>
      <${E2EBox} />
      ${err && html`<p class="error" role="alert">${err}</p>`}
      <button class="primary" type="submit">Start chat</button>
    </form></${Dialog}>`;
}

export function NewGroup() {
  const [err, setErr] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const members = String(f.get('members')).split(/[\s,]+/).filter(Boolean);
    try {
      const c = await post('/v1/conversations', { kind: 'group', title: f.get('title').trim(), members,
        encryption: encryption(f) });
      if (!state.convs.has(c.id)) await loadConversations();
      openConversation(c.id);
    } catch (x) { setErr(detail(x)); }
  };
  return html`<${Dialog} title="New group">
    <form onSubmit=${submit}>
      <label>Group name<input name="title" required maxlength="100" autocomplete="off" /></label>
      <label>Members (usernames, separated by commas)<input name="members" autocomplete="off" /></label>
      <${E2EBox} />
      ${err && html`<p class="error" role="alert">${err}</p>`}
      <button class="primary" type="submit">Create group</button>
    </form></${Dialog}>`;
}

export function GroupInfo() {
  const s = useStore();
  const c = s.convs.get(s.open);
  const [err, setErr] = useState('');
  if (!c) return null;
  const admin = c.my_role === 'admin';
  const act = async (fn) => {
    setErr('');
    try { await fn(); } catch (x) { setErr(detail(x)); }
  };
  const refresh = async () => {
    const d = await api('GET', `/v1/conversations/${c.id}`);
    state.convs.set(c.id, { ...c, ...d, unread_count: c.unread_count });
    set({});
  };
  const add = (e) => {
    e.preventDefault();
    const user = new FormData(e.target).get('user').trim();
    e.target.reset();
    act(async () => { await api('PUT', `/v1/conversations/${c.id}/members/${encodeURIComponent(user)}`, {}); await refresh(); });
  };
  const rename = (e) => {
    e.preventDefault();
    const title = new FormData(e.target).get('title').trim();
    act(async () => { await api('PATCH', `/v1/conversations/${c.id}`, { title }); c.title = title; set({}); });
  };
  const members = c.members || [];
  return html`<${Dialog} title="Group info" wide>
    ${admin ? html`<form class="row" onSubmit=${rename}>
        <label class="grow">Group name<input name="title" value=${c.title} required maxlength="100" /></label>
        <button type="submit">Rename</button></form>`
      : html`<p><strong>${c.title}</strong></p>`}
    <${Disappearing} c=${c} />
    <h3>${members.length} members</h3>
    <ul class="members">
      ${members.map((mm) => html`<li key=${mm.user_id}>
        <span>${userName(mm.user_id)} <span class="muted">@${mm.username}</span></span>
        <span class="role">${mm.role === 'admin' ? 'Admin' : ''}</span>
        ${admin && mm.user_id !== s.me.id && html`<span class="row">
          ${mm.role !== 'admin' && html`<button onClick=${() => act(async () => { await api('PUT', `/v1/conversations/${c.id}/members/${mm.user_id}`, { role: 'admin' }); await refresh(); })}
            aria-label=${`Make ${mm.username} admin`}>Make admin</button>`}
          <button onClick=${() => act(async () => { await api('DELETE', `/v1/conversations/${c.id}/members/${mm.user_id}`); await refresh(); })}
            aria-label=${`Remove ${mm.username}`}>Remove</button></span>`}
      </li>`)}
    </ul>
    ${admin && html`<form class="row" onSubmit=${add}>
      <label class="grow">Add member (username)<input name="user" required autocomplete="off" /></label>
      <button type="submit">Add</button></form>`}
    ${err && html`<p class="error" role="alert">${err}</p>`}
    <button class="danger" onClick=${() => act(async () => { await api('DELETE', `/v1/conversations/${c.id}/members/${s.me.id}`); })}>Leave group</button>
  </${Dialog}>`;
}
