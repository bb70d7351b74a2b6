// SPDX-License-Identifier: MIT
// Parley web - the "Push notifications" switch in Settings: Web Push for this browser while the
// app is closed, with its state said as it is (on, off, blocked, not supported, or why it failed).
// Copyright (c) 2026 Parley developers
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { pushState, pushEnable, pushDisable } from '../push.js';

const TEXT = {
  checking: 'Checking…',
  working: 'Working…',
  on: 'On: this browser shows new messages while Parley is closed.',
  off: 'Off.',
  blocked: 'Blocked by the browser: allow notifications for this site in the browser\'s settings to turn this on.',
  unsupported: 'Not supported by this browser.',
};

export function PushSetting() {
  const [st, setSt] = useState({ state: 'checking' });
  useEffect(() => {
    let live = true;
    pushState().then((s) => live && setSt(s), (e) => live && setSt({ state: 'failed', reason: e.message }));
    return () => { live = false; };
  }, []);
  const toggle = async (e) => {
    const on = e.target.checked;
    setSt({ state: 'working', want: on });
    try {
      setSt(await (on ? pushEnable() : pushDisable()));
    } catch (x) {
      setSt({ state: 'failed', reason: x.message });
    }
  };
  const busy = st.state === 'checking' || st.state === 'working';
  const text = st.state === 'failed' ? `Failed: ${st.reason}.` : TEXT[st.state];
  return html`<div class="push-setting">
    <label class="check"><input type="checkbox" checked=${st.state === 'on' || (st.state === 'working' && st.want)} onChange=${toggle}
      disabled=${busy || st.state === 'blocked' || st.state === 'unsupported'}
      aria-describedby="push-state" />Push notifications</label>
    <p id="push-state" class="muted" role="status" aria-live="polite">${text}</p>
  </div>`;
}
