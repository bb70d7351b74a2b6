// SPDX-License-Identifier: MIT
// Parley web - the chat list: most recent activity first, live.
import { html, shortWhen, preview } from './html.js';
import { Icon } from './icons.js';
import { useStore, convTitle, userName } from '../store.js';
import { sortedConvs, openConversation, typingNames } from '../actions.js';

function Row({ c, active }) {
  const s = useStore();
  const peerP = c.peer && s.presence.get(c.peer.id);
  const online = peerP && (peerP.online || peerP.status === 'online');
  const typers = typingNames(c.id);
  const last = c.last_message;
  const who = last && c.kind === 'group' ? `${userName(last.sender)}: ` : '';
  return html`
    <li>
      <button class=${`chat ${active ? 'active' : ''}`} onClick=${() => openConversation(c.id)}
        aria-current=${active ? 'true' : undefined}>
        <span class="avatar" aria-hidden="true">${convTitle(c).slice(0, 1).toUpperCase()}
          ${c.peer && html`<span class=${`dot ${online ? 'on' : ''}`}></span>`}</span>
        <span class="chat-main">
          <span class="chat-top"><span class="chat-title">${convTitle(c)}${c.encryption === 'e2e' && html` <span class="lock"><${Icon} name="lock" /><span class="sr-only">(encrypted)</span></span>`}</span>
            <span class="chat-time">${shortWhen(last ? last.created_at : c.updated_at)}</span></span>
          <span class="chat-bottom">
            <span class=${`chat-preview ${typers.length ? 'typing' : ''}`}>${typers.length ? 'typing…' : who + preview(last)}</span>
            ${c.unread_count > 0 && html`<span class="badge" aria-label=${`${c.unread_count} unread`}>${c.unread_count}</span>`}
          </span>
          ${online && html`<span class="sr-only">online</span>`}
        </span>
      </button>
    </li>`;
}

export function ChatList() {
  const s = useStore();
  const convs = sortedConvs();
  if (!convs.length) return html`<p class="empty">No chats yet. Start one with “New chat”.</p>`;
  return html`<nav aria-label="Chats"><ul class="chats">${convs.map((c) => html`<${Row} key=${c.id} c=${c} active=${s.open === c.id} />`)}</ul></nav>`;
}
