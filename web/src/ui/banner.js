// SPDX-License-Identifier: MIT
// Parley web - the connection banner (hidden while online).
import { html } from './html.js';
import { useStore } from '../store.js';

export function Banner() {
  const { conn } = useStore();
  if (conn.state === 'online') return null;
  const text = conn.state === 'offline' ? 'Offline: waiting for the network'
    : conn.state === 'reconnecting' ? (conn.retryIn ? `Reconnecting in ${conn.retryIn} s…` : 'Reconnecting…')
      : 'Connecting…';
  return html`<div class="banner" role="status" aria-live="polite">${text}</div>`;
}
