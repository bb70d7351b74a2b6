// SPDX-License-Identifier: MIT
// Parley web - edit and reaction payloads (crypto/PROTOCOL.md, "Edits and reactions"): what a
// receiver makes of one against the clear envelope, and the single-emoji rule the server applies
// to plain chats (the server cannot see an e2e reaction, so the clients check it).
// Copyright (c) 2026 Parley developers

const pictographic = (cp) => (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF)
  || (cp >= 0x2300 && cp <= 0x23FF) || (cp >= 0x2B00 && cp <= 0x2BFF) || (cp >= 0x2190 && cp <= 0x21FF)
  || (cp >= 0x25A0 && cp <= 0x25FF) || [0xA9, 0xAE, 0x203C, 0x2049, 0x2122, 0x2139, 0x3030, 0x303D,
  0x3297, 0x3299].includes(cp);
const modifier = (cp) => cp === 0xFE0F || cp === 0xFE0E || (cp >= 0x1F3FB && cp <= 0x1F3FF)
  || (cp >= 0xE0020 && cp <= 0xE007F);
const regional = (cp) => cp >= 0x1F1E6 && cp <= 0x1F1FF;

/** One emoji grapheme: a flag, a keycap, or pictographs joined by ZWJ with their modifiers. */
export function emojiOk(s) {
  if (typeof s !== 'string' || !s || new TextEncoder().encode(s).length > 64) return false;
  const cps = [...s].map((c) => c.codePointAt(0));
  if (cps.some((cp) => cp >= 0xD800 && cp <= 0xDFFF)) return false; // lone surrogate
  let i = 0;
  if (regional(cps[0])) return cps.length === 2 && regional(cps[1]);
  if ((cps[0] >= 0x30 && cps[0] <= 0x39) || cps[0] === 0x23 || cps[0] === 0x2A) {
    const rest = cps.slice(1);
    if (rest[0] === 0xFE0F) rest.shift();
    return rest.length === 1 && rest[0] === 0x20E3;
  }
  for (;;) {
    if (!pictographic(cps[i++])) return false;
    while (i < cps.length && modifier(cps[i])) i++;
    if (i === cps.length) return true;
    if (cps[i++] !== 0x200D || i === cps.length) return false;
  }
}

/**
 * The action a decrypted payload doc carries, checked against its clear envelope e
 * ({ refers_to, action }): { kind: 'edit', seq, text } | { kind: 'reaction', seq, emoji (null:
 * none) } | null (not an action, or one to ignore).
 */
export function actionParse(e, doc) {
  if (!doc || typeof doc !== 'object' || !e) return null;
  const isObj = (x) => x && typeof x === 'object' && !Array.isArray(x);
  const kind = isObj(doc.edit) ? 'edit' : isObj(doc.reaction) ? 'reaction' : null;
  if (!kind) return null;
  const o = doc[kind];
  if (!Number.isInteger(o.seq) || o.seq < 1 || o.seq !== e.refers_to || e.action !== kind) return null;
  if (kind === 'edit') {
    if (typeof o.text !== 'string' || !o.text || new TextEncoder().encode(o.text).length > 65536) return null;
    return { kind, seq: o.seq, text: o.text };
  }
  if (o.emoji === null) return { kind, seq: o.seq, emoji: null };
  return emojiOk(o.emoji) ? { kind, seq: o.seq, emoji: o.emoji } : null;
}

/** The payload of an action: edit (value: the new text) or reaction (value: an emoji or null). */
export function actionPayload(kind, seq, value) {
  return kind === 'edit' ? { edit: { seq, text: value } } : { reaction: { seq, emoji: value || null } };
}

/** actions.json's canonical result: "edit SEQ TEXT" | "reaction SEQ EMOJI" | "ignore". */
export function actionEffect(refersTo, action, payloadText, sender, targetSender) {
  let doc;
  try { doc = JSON.parse(payloadText); } catch { return 'ignore'; }
  const a = actionParse({ refers_to: refersTo, action }, doc);
  if (!a || (a.kind === 'edit' && sender !== targetSender)) return 'ignore';
  return a.kind === 'edit' ? `edit ${a.seq} ${a.text}` : `reaction ${a.seq} ${a.emoji || ''}`;
}
