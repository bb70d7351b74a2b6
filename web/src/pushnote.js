// SPDX-License-Identifier: MIT
// Parley web - what a Web Push notification shows, from the payload parleyd's dispatcher sends
// (api/push_note.c): {"type":"message","conversation_id","seq","sender":{"id","display_name"},
// "count","e2e", and for plain text messages only "text" (and "truncated")}; for an e2e chat only
// {"type","conversation_id","count","e2e":true} (titled "Parley").
// Copyright (c) 2026 Parley developers

// Returns {title, body, tag, data}. The tag is the conversation's, the same as the notifications
// the open app raises (actions.js), so a burst in one chat collapses into its latest one. Text is
// shown only when the payload says the chat is not end-to-end encrypted, whatever else it holds.
export function pushNote(p) {
  const ok = p && typeof p === 'object' && p.type === 'message' && Number.isSafeInteger(p.conversation_id)
    && p.conversation_id > 0;
  if (!ok) return { title: 'Parley', body: 'New activity', tag: 'parley', data: { conversation_id: 0 } };
  const id = p.conversation_id;
  const name = (p.sender && typeof p.sender.display_name === 'string' && p.sender.display_name.trim()) || 'Parley';
  const count = Number.isSafeInteger(p.count) && p.count > 0 ? p.count : 1;
  const e2e = p.e2e !== false;
  let body = count > 1 ? `${count} new messages` : 'New message';
  if (!e2e && typeof p.text === 'string' && p.text) {
    const text = p.truncated ? `${p.text}…` : p.text;
    body = count > 1 ? `${text}\n(${body})` : text;
  }
  return { title: name, body, tag: `c${id}`, data: { conversation_id: id, seq: Number(p.seq) || 0 } };
}
