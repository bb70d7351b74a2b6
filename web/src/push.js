// SPDX-License-Identifier: MIT
// Parley web - Web Push for this browser: the service worker (sw.js), the browser's push
// subscription and its registration with parleyd (/v1/push/...), and what the worker tells the page.
// Copyright (c) 2026 Parley developers
import { api, get, post } from './api.js';

// What the Settings toggle shows: {state, reason}. state is one of
//   'unsupported'  this browser (or this page: no secure context) has no Web Push;
//   'blocked'      notifications are denied for this site in the browser;
//   'off'          no subscription of this browser is registered for this session;
//   'on'           the browser's subscription is registered with the server for this device;
//   'failed'       the last attempt to turn it on failed; reason says why.
export function pushSupported() {
  return typeof window !== 'undefined' && window.isSecureContext && 'serviceWorker' in navigator
    && 'PushManager' in window && typeof Notification !== 'undefined';
}

const registration = () => navigator.serviceWorker.getRegistration('/');

// The server's subscriptions of this session (device) with this endpoint.
async function serverSubs(endpoint) {
  const r = await get('/v1/push/subscriptions');
  return (r.subscriptions || []).filter((s) => s.current_device && (!endpoint || s.endpoint === endpoint));
}

export async function pushState() {
  if (!pushSupported()) return { state: 'unsupported' };
  if (Notification.permission === 'denied') return { state: 'blocked' };
  const reg = await registration();
  const sub = reg && await reg.pushManager.getSubscription();
  if (!sub || Notification.permission !== 'granted') return { state: 'off' };
  return { state: (await serverSubs(sub.endpoint)).length ? 'on' : 'off' };
}

function b64urlBytes(s) {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

const sameKey = (a, b) => a && a.byteLength === b.byteLength && new Uint8Array(a).every((x, i) => x === b[i]);

// Asks for permission, registers the worker, subscribes with the server's VAPID key and registers
// the subscription. Resolves to the new state; a step that fails gives 'failed' with its reason.
export async function pushEnable() {
  if (!pushSupported()) return { state: 'unsupported' };
  const perm = await Notification.requestPermission();
  if (perm === 'denied') return { state: 'blocked' };
  if (perm !== 'granted') return { state: 'failed', reason: 'notification permission was not given' };
  let key;
  try {
    key = b64urlBytes((await get('/v1/push/vapid')).public_key);
  } catch (e) {
    return { state: 'failed', reason: `the server offers no Web Push (${e.message})` };
  }
  let reg;
  try {
    await navigator.serviceWorker.register('/sw.js', { scope: '/' });
    reg = await navigator.serviceWorker.ready;
  } catch (e) {
    return { state: 'failed', reason: `the service worker did not start (${e.message})` };
  }
  let sub;
  try {
    sub = await reg.pushManager.getSubscription();
    // A subscription made with another server key (the server's key changed) cannot be used.
    if (sub && !sameKey(sub.options.applicationServerKey, key)) {
      await sub.unsubscribe();
      sub = null;
    }
    sub = sub || await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  } catch (e) {
    return { state: 'failed', reason: `the browser's push service refused to subscribe (${e.name}: ${e.message})` };
  }
  try {
    await post('/v1/push/subscriptions', sub.toJSON());
  } catch (e) {
    await sub.unsubscribe().catch(() => {});
    return { state: 'failed', reason: `the server did not take the subscription (${e.message})` };
  }
  return { state: 'on' };
}

// Unsubscribes this browser and deletes this session's subscriptions on the server. The server
// deletes them at sign-out too; the browser's own one is dropped here.
export async function pushDisable() {
  if (!pushSupported()) return { state: 'unsupported' };
  const reg = await registration();
  const sub = reg && await reg.pushManager.getSubscription();
  for (const s of await serverSubs(null)) await api('DELETE', `/v1/push/subscriptions/${s.id}`);
  if (sub) await sub.unsubscribe();
  return Notification.permission === 'denied' ? { state: 'blocked' } : { state: 'off' };
}

// Before signing out: nothing of this browser's push subscription may outlive the session, on
// the server or in the browser (the next person signing in here would otherwise get pushes meant
// for this one). Bounded, so a slow server does not hold the sign-out.
export async function pushSignOut() {
  if (!pushSupported()) return;
  const reg = await registration().catch(() => null);
  if (!reg) return;
  await Promise.race([pushDisable().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
  const sub = await reg.pushManager.getSubscription().catch(() => null);
  if (sub) await sub.unsubscribe().catch(() => {});
}

// Messages from the worker: a click on a notification asks this tab to open a conversation.
export function pushListen(openConversation) {
  if (!pushSupported()) return;
  navigator.serviceWorker.addEventListener('message', (e) => {
    const m = e.data;
    if (m && m.type === 'parley-open' && Number.isSafeInteger(m.conversation_id)) openConversation(m.conversation_id);
  });
  navigator.serviceWorker.startMessages();
}
