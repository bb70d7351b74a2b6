// SPDX-License-Identifier: MIT
// Parley web - one message bubble: sender, reply quote, text or media, time, ticks, reactions,
// and its menu (reply, react, edit, forward, delete).
import { Icon } from './icons.js';
import { Menu } from './menu.js';
import { Reactions, run } from './reactions.js';
import { canDo, deleteMessage, react, REACTIONS } from '../messenger.js';
import { Component } from 'preact';
import { html, timeOf, preview } from './html.js';
import { state, userName, convMsgs } from '../store.js';
import { pkey } from '../e2ectl.js';
import { E2EFile } from './e2efile.js';

const TICKS = { sent: '✓', delivered: '✓✓', read: '✓✓' };
// Shown inline only for types browsers render without running anything.
const INLINE_IMG = /^image\/(png|jpeg|gif|webp|avif)$/;
const INLINE_VIDEO = /^video\/(mp4|webm|ogg)$/;
const INLINE_AUDIO = /^audio\/(mpeg|ogg|wav|webm|mp4|aac|flac)$/;

function Media({ m }) {
  const md = m.media || {};
  const src = `/v1/media/${md.media_id}`;
  const mime = md.mime || '';
  const name = md.filename || 'file';
  let body;
  if (INLINE_IMG.test(mime))
    body = html`<a href=${src} target="_blank" rel="noopener noreferrer"><img class="thumb" src=${src} loading="lazy"
      alt=${md.caption || name} width=${md.width && Math.min(md.width, 280)} /></a>`;
  else if (INLINE_VIDEO.test(mime)) body = html`<video class="thumb" src=${src} controls preload="metadata"></video>`;
  else if (INLINE_AUDIO.test(mime)) body = html`<audio src=${src} controls preload="none"></audio>`;
  else body = html`<span class="file"><${Icon} name="file" /> ${name}${md.size ? ` · ${Math.ceil(md.size / 1024)} KB` : ''}</span>`;
  return html`<div class="media">${body}
    <a class="download" href=${src} download=${name}>Download ${name}</a>
    ${md.caption && html`<p class="text">${md.caption}</p>`}</div>`;
}

// An e2e message as this browser decrypted it (e2ectl.js), or why it cannot be shown.
function Sealed({ m, p }) {
  if (p && typeof p.text === 'string') return html`<p class="text">${p.text}</p>`;
  if (p && p.file) return html`<${E2EFile} f=${p.file} />`;
  let why = 'Encrypted message (not readable on this device)';
  if (!p) why = state.e2e.status === 'ready' ? 'Decrypting…' : 'Encrypted message (unlock encryption to read it)';
  else if (p.held) why = `Held: the safety number with ${userName(p.held)} changed`;
  else if (p.own) why = 'Sent from this browser (another tab)…';
  else if (p.absent) why = 'Encrypted for your other devices only (sent before this browser was set up)';
  else if (p.none) why = 'Encryption keys updated';
  else if (p.error) why = `Could not decrypt this message (${p.error})`;
  return html`<p class="text muted">${why}</p>`;
}

function Quote({ convId, seq }) {
  const q = convMsgs(convId).bySeq.get(seq);
  return html`<blockquote class="quote">
    <span class="quote-who">${q ? userName(q.sender) : 'Earlier message'}</span>
    <span class="quote-text">${q ? preview(q) : `#${seq}`}</span></blockquote>`;
}

// What the "Message actions" menu offers for this message.
function menuOf(c, m, { onReply, onEdit, onForward }) {
  const can = canDo(c, m);
  const items = [];
  if (m.kind !== 'deleted') items.push({ label: 'Reply', onSelect: () => onReply(m) });
  if (can.edit) items.push({ label: 'Edit', onSelect: () => onEdit(m) });
  if (can.forward) items.push({ label: 'Forward', onSelect: () => onForward(m) });
  items.push({ label: 'Delete for me', onSelect: () => run(deleteMessage(c, m.seq, 'me')) });
  if (can.deleteAll) items.push({ label: 'Delete for everyone', onSelect: () => run(deleteMessage(c, m.seq, 'everyone')) });
  const top = can.react ? REACTIONS.map((e) => ({ label: e, name: `React with ${e}`, onSelect: () => run(react(c, m, e)) })) : [];
  return { items, top };
}

function render(props) {
  const { m, group, focus, onReply } = props;
  const mine = m.sender === state.me.id;
  const c = state.convs.get(m.conversation_id);
  const gone = m.kind === 'deleted';
  const { items, top } = c ? menuOf(c, m, props) : { items: [], top: [] };
  return html`
    <div class=${`msg ${mine ? 'mine' : 'theirs'} ${focus ? 'focus' : ''}`} data-seq=${m.seq} id=${`m-${m.seq}`}>
      <div class="bubble">
        ${group && !mine && html`<span class="who">${userName(m.sender)}</span>`}
        ${m.forwarded && !gone && html`<span class="fwd"><${Icon} name="forward" />Forwarded</span>`}
        ${m.reply_to && !gone && html`<${Quote} convId=${m.conversation_id} seq=${m.reply_to} />`}
        ${gone && html`<p class="text muted deleted">This message was deleted</p>`}
        ${m.kind === 'text' && html`<p class="text">${m.text}</p>`}
        ${m.kind === 'media' && html`<${Media} m=${m} />`}
        ${m.kind === 'e2e' && html`<${Sealed} m=${m} p=${state.plain.get(pkey(m.conversation_id, m.seq))} />`}
        <span class="meta">
          ${m.edited_at && !gone && html`<span class="edited">edited</span>`}
          <time datetime=${m.created_at}>${timeOf(m.created_at)}</time>
          ${mine && html`<span class=${`ticks ${m.status}`} role="img" aria-label=${m.status}>${TICKS[m.status] || '✓'}</span>`}
        </span>
        ${c && !gone && html`<${Reactions} c=${c} m=${m} />`}
      </div>
      ${!gone && html`<button class="reply-btn" onClick=${() => onReply(m)} aria-label=${`Reply to message ${m.seq}`}><${Icon} name="reply" /></button>`}
      ${c && html`<${Menu} label="Message actions" cls="msg-menu" items=${items} top=${top} />`}
    </div>`;
}

// Rows re-render only when their message, its tick or the focus changed: a scroll that moves
// the window diffs ~60 new rows, not all of them. (The tick is compared by value because
// message.status events update messages in place.)
export class Message extends Component {
  shouldComponentUpdate(n) {
    const p = this.props;
    return n.m !== p.m || n.m.status !== this.status || n.focus !== p.focus || n.group !== p.group
      || n.admin !== p.admin
      || (n.m.kind === 'e2e' && state.plain.get(pkey(n.m.conversation_id, n.m.seq)) !== this.plain);
  }
  render(props) {
    this.status = props.m.status;
    if (props.m.kind === 'e2e') this.plain = state.plain.get(pkey(props.m.conversation_id, props.m.seq));
    return render(props);
  }
}
