// SPDX-License-Identifier: MIT
// Parley web - a file in an e2e message: decrypted in the browser on demand, then shown inline
// (inert image/video/audio types) or saved under its sanitised name.
import { useState } from 'preact/hooks';
import { html } from './html.js';
import { Icon } from './icons.js';
import { e2eFiles } from '../e2ectl.js';

const safeName = (n) => String(n || 'file').replace(/[\\/\u0000-\u001f\u007f]/g, '_').slice(0, 255) || 'file';

export function E2EFile({ f }) {
  const [url, setUrl] = useState(null);
  const [err, setErr] = useState('');
  const name = safeName(f.name);
  const open = async () => {
    try {
      const { fileOpen } = await e2eFiles();
      const blob = await fileOpen(f);
      const u = URL.createObjectURL(blob);
      setUrl({ href: u, type: blob.type });
      setErr('');
      return u;
    } catch (x) { setErr(`Could not decrypt the file: ${x.message}`); return null; }
  };
  const save = async () => {
    const u = (url && url.href) || await open();
    if (!u) return;
    const a = document.createElement('a');
    a.href = u;
    a.download = name;
    a.click();
  };
  const t = url && url.type;
  return html`<div class="media">
    ${t && t.startsWith('image/') ? html`<img class="thumb" src=${url.href} alt=${name} />`
      : t && t.startsWith('video/') ? html`<video class="thumb" src=${url.href} controls></video>`
      : t && t.startsWith('audio/') ? html`<audio src=${url.href} controls></audio>`
      : html`<span class="file"><${Icon} name="file" /> ${name} · ${Math.ceil((f.size || 0) / 1024)} KB (encrypted)</span>`}
    <button class="link download" onClick=${save}>Download ${name}</button>
    ${err && html`<p class="error" role="alert">${err}</p>`}
  </div>`;
}
