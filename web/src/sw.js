// SPDX-License-Identifier: MIT
// Parley web - the service worker, served at /sw.js (scope /): shows a notification for each Web
// Push parleyd sends while no tab of the app is in front, and opens the conversation on a click.
// Copyright (c) 2026 Parley developers
//
// It has no fetch handler on purpose: the app is never served from a cache, so a new build is
// simply the next page load. It is bundled on its own (build.mjs), as a classic script, which
// every browser with Web Push can run as a service worker.
import { pushNote } from './pushnote.js';

// The build puts the content-hashed icon's path here.
/* global __PARLEY_ICON__ */
const ICON = __PARLEY_ICON__;

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));

// The app's own windows: the page at / (the admin dashboard at /admin does not count).
async function appWindows() {
  const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  return all.filter((c) => new URL(c.url).pathname === '/');
}

async function onPush(e) {
  let payload = null;
  try { payload = e.data ? e.data.json() : null; } catch { payload = null; }
  const note = pushNote(payload);
  // A tab the person is looking at already shows the message (the server pushes only while the
  // user holds no stream, so this is a race with a reconnecting tab): no notification, but the
  // tab is told, so it can catch up at once. Chrome requires a notification for every push
  // (userVisibleOnly) unless a tab of the site is visible, which is exactly this case.
  const front = (await appWindows()).find((c) => c.visibilityState === 'visible' && c.focused);
  if (front) {
    front.postMessage({ type: 'parley-push', shown: false, conversation_id: note.data.conversation_id });
    return;
  }
  await self.registration.showNotification(note.title, { body: note.body, tag: note.tag,
    data: note.data, icon: ICON });
}

self.addEventListener('push', (e) => e.waitUntil(onPush(e)));

// Focuses a tab of the app, telling it which conversation to open, or opens one at it.
async function openConversation(id) {
  const wins = await appWindows();
  const win = wins.find((c) => c.focused) || wins.find((c) => c.visibilityState === 'visible') || wins[0];
  if (win) {
    await win.focus().catch(() => {});
    if (id) win.postMessage({ type: 'parley-open', conversation_id: id });
    return;
  }
  await self.clients.openWindow(id ? `/#/c/${id}` : '/');
}

async function onClick(e) {
  e.notification.close();
  await openConversation(e.notification.data && e.notification.data.conversation_id);
}

// For the tests, as window.parley is in the page: a click on a notification cannot be simulated
// (DevTools has no way to, and a synthetic event cannot wait or open windows).
self.parleyOpen = openConversation;

self.addEventListener('notificationclick', (e) => e.waitUntil(onClick(e)));

// The push service replaced the subscription (expiry, key rotation): subscribe again with the same
// server key and register the new one for this browser's session. The old one is dropped by the
// server when the push service answers 404/410 for it.
async function onSubscriptionChange(e) {
  const key = e.oldSubscription && e.oldSubscription.options.applicationServerKey;
  const sub = e.newSubscription || (key && await self.registration.pushManager.subscribe({
    userVisibleOnly: true, applicationServerKey: key }));
  if (!sub) return;
  await fetch('/v1/push/subscriptions', { method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-Parley-CSRF': '1' },
    body: JSON.stringify(sub.toJSON()) });
}

self.addEventListener('pushsubscriptionchange', (e) => e.waitUntil(onSubscriptionChange(e).catch(() => {})));
