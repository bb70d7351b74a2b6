// SPDX-License-Identifier: MIT
// Parley web - sign up and sign in: one form, two buttons.
import { useState } from 'preact/hooks';
import { html } from './html.js';
import { signIn, signUp } from '../actions.js';

export function Auth() {
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const up = e.submitter && e.submitter.value === 'up';
    setBusy(true);
    setErr('');
    try {
      const pass = f.get('passphrase') || '';
      if (up) await signUp(f.get('username'), f.get('password'), pass);
      else await signIn(f.get('username'), f.get('password'), pass);
    } catch (x) {
      const errs = x.problem && x.problem.errors;
      setErr(errs && errs.length ? errs.map((e2) => e2.detail).join('; ') : x.message);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <main class="auth">
      <form class="card" onSubmit=${submit} aria-labelledby="auth-title">
        <h1 id="auth-title">Parley</h1>
        <p class="muted">Chat that works in any browser.</p>
        <label>Username<input name="username" autocomplete="username" required maxlength="32" /></label>
        <label>Password<input name="password" type="password" required autocomplete="current-password" /></label>
        <label>Passphrase<input name="passphrase" type="password" autocomplete="off" aria-describedby="pass-hint" /></label>
        <p class="muted small" id="pass-hint">Optional: protects this browser's end-to-end encryption keys. It never leaves this browser; you need it again after a reload.</p>
        ${err && html`<p class="error" role="alert">${err}</p>`}
        <div class="row">
          <button type="submit" class="primary" value="in" disabled=${busy}>Sign in</button>
          <button type="submit" value="up" disabled=${busy}>Sign up</button>
        </div>
      </form>
    </main>`;
}
