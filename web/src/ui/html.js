// SPDX-License-Identifier: MIT
// Parley web - htm bound to Preact: tagged templates instead of JSX, so there is no JSX compile
// step, and every ${value} in a text position becomes a text node (never markup).
import { h } from 'preact';
import htm from 'htm';

import { state } from '../store.js';

export const html = htm.bind(h);

// The decrypted payload of an e2e message, if this browser has it (store.js state.plain).
const plainOf = (m) => state.plain.get(`${m.conversation_id}:${m.seq}`);

const pad = (n) => String(n).padStart(2, '0');
export function timeOf(iso) {
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

const dayCache = new Map();
export function dayOf(iso) {
  const d = new Date(iso), t = new Date();
  const key = `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}|${t.getFullYear()}-${t.getMonth()}-${t.getDate()}`;
  let v = dayCache.get(key);
  if (v === undefined) {
    if (dayCache.size > 1000) dayCache.clear();
    v = dayName(iso);
    dayCache.set(key, v);
  }
  return v;
}

function dayName(iso) {
  const d = new Date(iso);
  const today = new Date();
  const y = new Date(today);
  y.setDate(today.getDate() - 1);
  if (d.toDateString() === today.toDateString()) return 'Today';
  if (d.toDateString() === y.toDateString()) return 'Yesterday';
  return d.toLocaleDateString(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
}

export function shortWhen(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString() ? timeOf(iso)
    : d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
}

export function lastSeenText(p) {
  if (!p) return '';
  if (p.online || p.status === 'online') return 'online';
  if (!p.last_seen) return '';
  const d = new Date(p.last_seen);
  return `last seen ${d.toDateString() === new Date().toDateString() ? `today at ${timeOf(p.last_seen)}` : `${shortWhen(p.last_seen)} at ${timeOf(p.last_seen)}`}`;
}

export function preview(m) {
  if (!m) return '';
  if (m.kind === 'deleted') return 'This message was deleted';
  if (m.kind === 'text') return m.text || '';
  if (m.kind === 'media') return `Attachment: ${m.media && (m.media.caption || m.media.filename) || 'Attachment'}`;
  if (m.kind === 'e2e') {
    const p = plainOf(m);
    if (p && typeof p.text === 'string') return p.text;
    if (p && p.file) return `Attachment: ${p.file.name || 'file'}`;
  }
  return 'Encrypted message';
}

// The server's search snippet is HTML-escaped text with <mark> around matches. It is split into
// text and marked parts and rendered as nodes: no user text ever goes through innerHTML.
export function snippetParts(s) {
  const unescape = (t) => t.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'").replace(/&amp;/g, '&');
  const parts = [];
  const re = /<mark>(.*?)<\/mark>/gs;
  let last = 0, m;
  while ((m = re.exec(s))) {
    if (m.index > last) parts.push({ text: unescape(s.slice(last, m.index)) });
    parts.push({ text: unescape(m[1]), mark: true });
    last = re.lastIndex;
  }
  if (last < s.length) parts.push({ text: unescape(s.slice(last)) });
  return parts;
}
