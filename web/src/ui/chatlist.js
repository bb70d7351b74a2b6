// SPDX-License-Identifier: MIT
// Parley web - the chat list: pinned chats first, then most recent activity, live; each row has
// a menu to pin or mute it; message requests are marked and counted in the "Requests" entry.
import { html, shortWhen, preview } from './html.js';
import { Icon } from './icons.js';
import { Menu } from './menu.js';
import { RequestsEntry } from './requests.js';
import { Toast, run } from './reactions.js';
import { useStore, convTitle, userName } from '../store.js';
import { sortedConvs, openConversation, typingNames } from '../actions.js';
import { setPrefs, isMuted } from '../messenger.js';

const HOUR = 3600 * 1000;
const until = (ms) => new Date(Date.now() + ms).toISOString();

function chatMenu(c) {
  const muted = isMuted(c);
  return [
    c.pinned ? { label: 'Unpin chat', onSelect: () => run(setPrefs(c, { pinned: false })) }
      : { label: 'Pin chat', onSelect: () => run(setPrefs(c, { pinned: true })) },
    ...(muted ? [{ label: 'Unmute', onSelect: () => run(setPrefs(c, { muted_until: null })) }]
      : [{ label: 'Mute for 8 hours', onSelect: () => run(setPrefs(c, { muted_until: until(8 * HOUR) })) },
        { label: 'Mute for 1 week', onSelect: () => run(setPrefs(c, { muted_until: until(7 * 24 * HOUR) })) },
        { label: 'Mute always', onSelect: () => run(setPrefs(c, { muted_until: until(100 * 365 * 24 * HOUR) })) }]),
  ];
}

function Row({ c, active }) {
  const s = useStore();
  const peerP = c.peer && s.presence.get(c.peer.id);
  const online = peerP && (peerP.online || peerP.status === 'online');
  const typers = typingNames(c.id);
  const last = c.last_message;
  const who = last && c.kind === 'group' ? `${userName(last.sender)}: ` : '';
  const muted = isMuted(c);
  return html`
    <li class="chat-row">
      <button class=${`chat ${active ? 'active' : ''}`} onClick=${() => openConversation(c.id)}
        aria-current=${active ? 'true' : undefined}>
        <span class="avatar" aria-hidden="true">${convTitle(c).slice(0, 1).toUpperCase()}
          ${c.peer && html`<span class=${`dot ${online ? 'on' : ''}`}></span>`}</span>
        <span class="chat-main">
          <span class="chat-top"><span class="chat-title">${convTitle(c)}${c.encryption === 'e2e' && html` <span class="lock"><${Icon} name="lock" /><span class="sr-only">(encrypted)</span></span>`}</span>
            <span class="chat-time">${shortWhen(last ? last.created_at : c.updated_at)}</span></span>
          ${c.request_from && html`<span class="req-tag">Message request</span>`}
          <span class="chat-bottom">
            <span class=${`chat-preview ${typers.length ? 'typing' : ''}`}>${typers.length ? 'typing…' : who + preview(last)}</span>
            ${muted && html`<span class="state-ico" role="img" aria-label="Muted" title="Muted"><${Icon} name="mute" /></span>`}
            ${c.pinned && html`<span class="state-ico" role="img" aria-label="Pinned" title="Pinned"><${Icon} name="pin" /></span>`}
            ${c.unread_count > 0 && html`<span class=${`badge ${muted ? 'quiet' : ''}`} aria-label=${`${c.unread_count} unread`}>${c.unread_count}</span>`}
          </span>
          ${online && html`<span class="sr-only">online</span>`}
        </span>
      </button>
      <${Menu} label="Chat options" cls="chat-menu" items=${chatMenu(c)} />
    </li>`;
}

export function ChatList() {
  const s = useStore();
  const convs = sortedConvs();
  if (!convs.length) return html`<p class="empty">No chats yet. Start one with “New chat”.</p>`;
  return html`<${Toast} where="list" /><nav aria-label="Chats"><${RequestsEntry} />
    <ul class="chats">${convs.map((c) => html`<${Row} key=${c.id} c=${c} active=${s.open === c.id} />`)}</ul></nav>`;
}
