// SPDX-License-Identifier: MIT
// Parley web - the side bar's end-to-end encryption line: set up or unlock this browser's keys
// with the passphrase (asked again after every reload: it is never stored).
import { useState } from 'preact/hooks';
import { html } from './html.js';
import { useStore } from '../store.js';
import { e2eUnlock } from '../e2ectl.js';

export function E2EBar() {
  const s = useStore();
  const [busy, setBusy] = useState(false);
  const st = s.e2e.status;
  if (st === 'ready') return html`<p class="e2e-ok muted small" role="status">End-to-end encryption is on in this browser.</p>`;
  if (st !== 'locked' && st !== 'none' && st !== 'unlocking') return null;
  const submit = async (e) => {
    e.preventDefault();
    const pass = new FormData(e.target).get('passphrase');
    setBusy(true);
    try { await e2eUnlock(pass); } catch { /* the error is in the state */ }
    setBusy(false);
  };
  const fresh = st === 'none';
  return html`<form class="e2e-bar" onSubmit=${submit} aria-label="End-to-end encryption">
    <p class="small">${fresh ? 'Choose a passphrase for this browser\u2019s encryption keys.' : 'Encrypted chats are locked.'}</p>
    <div class="row"><label class="grow">Passphrase<input name="passphrase" type="password" required autocomplete="off" /></label>
      <button type="submit" disabled=${busy || st === 'unlocking'}>${fresh ? 'Set up encryption' : 'Unlock'}</button></div>
    ${s.e2e.error && html`<p class="error" role="alert">${s.e2e.error}</p>`}
  </form>`;
}
