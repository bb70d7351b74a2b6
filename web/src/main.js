// SPDX-License-Identifier: MIT
// Parley web - the app shell: sign-in, or the chat list beside the open conversation.
import { render } from 'preact';
import { html } from './ui/html.js';
import { Icon } from './ui/icons.js';
import { useStore, set, state } from './store.js';
import { loadMe, openConversation, updateTitle } from './actions.js';
import { start } from './events.js';
import { Auth } from './ui/auth.js';
import { Banner } from './ui/banner.js';
import { ChatList } from './ui/chatlist.js';
import { Conversation } from './ui/conversation.js';
import { NewChat, NewGroup, GroupInfo } from './ui/dialogs.js';
import { Search } from './ui/search.js';
import { Settings } from './ui/settings.js';
import { E2EBar } from './ui/e2ebar.js';
import { Safety } from './ui/safety.js';
import { pushListen } from './push.js';

const DIALOGS = { 'new-chat': NewChat, 'new-group': NewGroup, 'group-info': GroupInfo,
  search: Search, settings: Settings, safety: Safety };

function Shell() {
  const s = useStore();
  const D = s.dialog && DIALOGS[s.dialog];
  return html`
    <div class=${`shell ${s.open ? 'has-open' : ''}`}>
      <${Banner} />
      <aside class="side">
        <header class="side-head">
          <h1 class="brand">Parley</h1>
          <div class="row">
            <button class="icon" onClick=${() => set({ dialog: 'search' })} aria-label="Search messages" title="Search"><${Icon} name="search" /></button>
            <button class="icon" onClick=${() => set({ dialog: 'settings' })} aria-label="Settings" title="Settings"><${Icon} name="settings" /></button>
          </div>
        </header>
        <div class="side-actions row">
          <button onClick=${() => set({ dialog: 'new-chat' })}>New chat</button>
          <button onClick=${() => set({ dialog: 'new-group' })}>New group</button>
        </div>
        <${E2EBar} />
        <${ChatList} />
      </aside>
      <main class="pane">
        ${s.open ? html`<${Conversation} key=${s.open} id=${s.open} />`
          : html`<div class="placeholder"><h2>Welcome, ${s.me.display_name}</h2><p class="muted">Pick a chat or start a new one.</p></div>`}
      </main>
      ${D && html`<${D} />`}
    </div>`;
}

function App() {
  const s = useStore();
  if (s.me === undefined) return html`<main class="boot" aria-busy="true"><h1>Parley</h1><p>Loading…</p></main>`;
  if (!s.me) return html`<${Auth} />`;
  return html`<${Shell} />`;
}

let started = false;
async function boot() {
  set({ me: undefined });
  render(html`<${App} />`, document.getElementById('app'));
  const tick = () => {
    if (state.me && !started) {
      started = true;
      start();
      const m = /^#\/c\/(\d+)$/.exec(location.hash);
      if (m) openConversation(Number(m[1]));
      updateTitle();
    }
  };
  await loadMe().catch(() => set({ me: null }));
  tick();
  // Signing in later starts the connection too.
  const iv = setInterval(() => { tick(); if (started) clearInterval(iv); }, 100);
  // A notification clicked while this tab is open: it opens the conversation.
  pushListen((id) => { if (state.me) openConversation(id); });
  window.parley = { state }; // for the tests and the curious: read-only use
}

boot();
