// SPDX-License-Identifier: MIT
// Parley web - the message box: Enter sends, Shift+Enter is a new line, Esc drops the reply;
// Attach uploads a file with a progress bar and a cancel button. Editing a message puts its text
// here: Enter saves the edit, Esc cancels it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { Icon } from './icons.js';
import { html, preview } from './html.js';
import { userName, state } from '../store.js';
import { sendText, sendMedia, sendE2E, typing, stoppedTyping } from '../actions.js';
import { isE2E, e2eFiles } from '../e2ectl.js';
import { post, upload, sha256Hex } from '../api.js';
import { editMessage } from '../messenger.js';
import { pkey } from '../e2ectl.js';

// The text an edit starts from (an e2e message's is this browser's decrypted copy).
function textOf(m) {
  if (m.kind === 'text') return m.text || '';
  const p = state.plain.get(pkey(m.conversation_id, m.seq));
  return (p && typeof p.text === 'string') ? p.text : '';
}

async function imageSize(file) {
  if (!/^image\//.test(file.type)) return {};
  try {
    const bmp = await createImageBitmap(file);
    const r = { width: bmp.width, height: bmp.height };
    bmp.close();
    return r;
  } catch { return {}; }
}

export function Composer({ convId, replyTo, setReplyTo, editing, setEditing }) {
  const [text, setText] = useState('');
  const [up, setUp] = useState(null); // { name, progress, cancel }
  const [err, setErr] = useState('');
  const fileRef = useRef(null);
  const boxRef = useRef(null);
  const draft = useRef('');

  // Entering edit mode keeps the draft aside and brings it back after.
  useEffect(() => {
    if (!editing) return;
    draft.current = text;
    setText(textOf(editing));
    if (boxRef.current) boxRef.current.focus();
  }, [editing]);
  const endEdit = () => { setEditing(null); setText(draft.current); draft.current = ''; };

  const saveEdit = async () => {
    const t = text.trim();
    if (!t) return;
    try {
      await editMessage(state.convs.get(convId), editing.seq, t);
      setErr('');
      endEdit();
    } catch (e) { setErr(e.message); }
    boxRef.current && boxRef.current.focus();
  };

  const send = async () => {
    if (editing) { saveEdit(); return; }
    const t = text.trim();
    if (!t) return;
    setText('');
    stoppedTyping();
    const reply = replyTo && replyTo.seq;
    setReplyTo(null);
    try { await sendText(convId, t, reply); setErr(''); } catch (e) { setErr(e.message); setText(t); }
    boxRef.current && boxRef.current.focus();
  };

  const onKey = (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
    else if (e.key === 'Escape' && replyTo) { e.stopPropagation(); setReplyTo(null); }
    else if (e.key === 'Escape' && editing) { e.stopPropagation(); endEdit(); }
  };

  const attach = async (e) => {
    const file = e.target.files && e.target.files[0];
    e.target.value = '';
    if (!file) return;
    setErr('');
    const type = file.type || 'application/octet-stream';
    if (isE2E(state.convs.get(convId))) { attachE2E(file, type); return; }
    try {
      const buf = await file.arrayBuffer();
      const sha = await sha256Hex(buf);
      const res = await post('/v1/media', { content_type: type, size: file.size, sha256: sha,
        filename: file.name.slice(0, 255) || 'file' });
      const u = upload(res.upload_url, file, type, (p) => setUp((o) => o && { ...o, progress: p }));
      setUp({ name: file.name, progress: 0, cancel: u.cancel });
      await u.done;
      setUp(null);
      await sendMedia(convId, { media_id: res.media_id, mime: type, size: file.size,
        filename: file.name.slice(0, 255) || 'file', ...(await imageSize(file)) });
    } catch (x) {
      setUp(null);
      if (!x.cancelled) setErr(`Upload failed: ${x.message}`);
    }
  };

  // E2E: the file is encrypted here, the ciphertext uploaded as octets with no name; the key,
  // digest, name and type travel inside the encrypted message.
  const attachE2E = async (file, type) => {
    try {
      const { fileSeal, b64 } = await e2eFiles();
      const sealed = await fileSeal(file);
      const ct = sealed.ciphertext;
      const res = await post('/v1/media', { content_type: 'application/octet-stream', size: ct.length,
        sha256: await sha256Hex(ct) });
      const u = upload(res.upload_url, new Blob([ct]), 'application/octet-stream',
        (p) => setUp((o) => o && { ...o, progress: p }));
      setUp({ name: file.name, progress: 0, cancel: u.cancel });
      await u.done;
      setUp(null);
      await sendE2E(convId, { file: { media_id: res.media_id, key: b64(sealed.key), digest: b64(sealed.digest),
        size: file.size, name: file.name.slice(0, 255) || 'file', mime: type } }, [res.media_id]);
    } catch (x) {
      setUp(null);
      if (!x.cancelled) setErr(`Upload failed: ${x.message}`);
    }
  };

  return html`
    <div class="composer">
      ${replyTo && html`<div class="replying"><span>Replying to ${userName(replyTo.sender)}: ${preview(replyTo).slice(0, 80)}</span>
        <button class="link" onClick=${() => setReplyTo(null)}>Cancel reply</button></div>`}
      ${editing && html`<div class="replying"><span>Editing message</span>
        <button class="link" onClick=${endEdit}>Cancel edit</button></div>`}
      ${up && html`<div class="uploading"><span>Uploading ${up.name}</span>
        <progress max="1" value=${up.progress} aria-label="Upload progress"></progress>
        <button onClick=${up.cancel}>Cancel upload</button></div>`}
      ${err && html`<p class="error" role="alert">${err}</p>`}
      <div class="row">
        <button class="icon" onClick=${() => fileRef.current.click()} aria-label="Attach" title="Attach"><${Icon} name="attach" /></button>
        <input type="file" ref=${fileRef} onChange=${attach} hidden aria-hidden="true" tabindex="-1" />
        <textarea ref=${boxRef} aria-label="Message" placeholder="Type a message" rows="1" value=${text}
          onInput=${(e) => { setText(e.target.value); if (e.target.value && !editing) typing(convId); }}
          onKeyDown=${onKey}></textarea>
        <button class="primary" onClick=${send} disabled=${!text.trim()}>${editing ? 'Save' : 'Send'}</button>
      </div>
    </div>`;
}
