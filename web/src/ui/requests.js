// SPDX-License-Identifier: MIT
// Parley web - message requests: the "Requests" entry of the chat list with its count, the list
// of pending requests (accept / decline / block), the banner a chat from a stranger shows until
// it is accepted (answering accepts it too), and the banner of a chat whose contact is blocked.
import { html, preview } from './html.js';
import { Dialog } from './dialog.js';
import { useStore, set, convTitle, userName, state } from '../store.js';
import { openConversation } from '../actions.js';
import { requests, acceptRequest, declineRequest, block, unblock, isBlocked } from '../messenger.js';
import { run } from './reactions.js';

export const blockedPeer = (c) => c.kind === 'direct' && c.peer && isBlocked(c.peer.id);

function Choices({ c, after }) {
  const who = c.request_from;
  const name = (state.users.get(who) || {}).username || userName(who);
  const done = (p) => run(p.then(() => after && after()));
  return html`<span class="row wrap">
    <button class="primary" onClick=${() => done(acceptRequest(c))}>Accept</button>
    <button onClick=${() => done(declineRequest(c))}>Decline</button>
    <button class="danger" onClick=${() => done(block(who))} aria-label=${`Block ${name}`}>Block</button>
  </span>`;
}

export function RequestBanner({ c }) {
  if (!c.request_from) return null;
  const who = userName(c.request_from);
  return html`<div class="request" role="region" aria-label="Message request">
    <p>${c.kind === 'group' ? `${who} added you to this group.` : `${who} wants to chat with you.`}
      ${' '}They will not see that you read their messages, nor when you are online, until you accept. Replying accepts.</p>
    <${Choices} c=${c} />
  </div>`;
}

export function BlockedBanner({ c }) {
  return html`<div class="request" role="region" aria-label="Blocked contact">
    <p>You blocked ${convTitle(c)}. They cannot message you or see when you are online.</p>
    <button onClick=${() => run(unblock(c.peer.id))}>Unblock</button>
  </div>`;
}

function RequestsDialog() {
  useStore();
  const list = requests();
  const close = () => set({ dialog: null });
  return html`<${Dialog} title="Message requests" wide>
    ${!list.length && html`<p class="muted">No pending requests.</p>`}
    <ul class="members" aria-label="Requests">${list.map((c) => html`<li key=${c.id} class="req-item">
      <button class="link" onClick=${() => { close(); openConversation(c.id); }}>${convTitle(c)}</button>
      <span class="muted small grow">${c.last_message ? preview(c.last_message).slice(0, 60) : ''}</span>
      <${Choices} c=${c} />
    </li>`)}</ul>
  </${Dialog}>`;
}

// The chat list's entry: shown while requests are pending, with their count.
export function RequestsEntry() {
  const s = useStore();
  const n = requests().length;
  return html`${n > 0 && html`<button class="requests-entry" onClick=${() => set({ dialog: 'requests' })}>
      Requests <span class="badge">${n}</span></button>`}
    ${s.dialog === 'requests' && html`<${RequestsDialog} />`}`;
}
