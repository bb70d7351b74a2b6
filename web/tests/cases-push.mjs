// SPDX-License-Identifier: MIT
// Parley web tests - Web Push in the browser (issue 12): the service worker at /sw.js, the
// "Push notifications" switch in Settings, and notifications shown from what parleyd really sends.
// Copyright (c) 2026 Parley developers
//
// Headless Chromium has no push service to subscribe with (Chrome's is Google's, reached with API
// keys a Debian build lacks), so a push travels this way here: the test registers a subscription
// of its own for the user (keys it made), pointed at a push service on loopback in this process
// (parleyd runs with --webpush-allow-http); parleyd encrypts and posts the notification there as
// to any push service; the test decrypts it (RFC 8291, aes128gcm) and hands the plaintext to the
// browser's service worker with the DevTools protocol (ServiceWorker.deliverPushMessage), the way
// the browser would after decrypting it itself. What the worker shows is read back with
// registration.getNotifications().
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { createECDH, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { env, uname, signUp, newChat, send, outDir, sleep, startServer, stopServer, PASSWORD, shot } from './lib.mjs';

export const cases = [];
// Every name starts with "push", so PARLEY_WEB_ONLY=push runs just these.
const test = (name, fn) => cases.push([`push ${name}`, fn]);

// Pages for a case over h1 (the suite's browser) or h2. Chromium refuses to register a service
// worker whose script came with a certificate error, and the test server's certificate is
// self-signed, so h2 cases get a browser of their own that accepts it, as a browser that trusts
// the certificate would. Returns {newPage(opts), close()}.
async function browserFor(ctx, proto) {
  if (proto !== 'h2') return { newPage: ctx.newPage, close: async () => {} };
  const browser = await chromium.launch({ executablePath: env.PARLEY_TEST_CHROMIUM || '/usr/bin/chromium',
    headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--ignore-certificate-errors'] });
  return {
    newPage: async (opts = {}) => (await browser.newContext({ ignoreHTTPSErrors: true, ...opts })).newPage(),
    close: () => browser.close(),
  };
}

async function until(what, fn, timeout = 15000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeout) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// A REST call from the page, with its cookie session (as the app makes them).
const call = (page, method, path, body) => page.evaluate(async ([m, p, b]) => {
  const r = await fetch(p, { method: m, credentials: 'same-origin',
    headers: { 'X-Parley-CSRF': '1', ...(b ? { 'Content-Type': 'application/json' } : {}) },
    body: b ? JSON.stringify(b) : undefined });
  return { status: r.status, body: r.status === 204 ? null : await r.json().catch(() => null) };
}, [method, path, body]);

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// A push service on loopback: keeps every POST per path.
async function pushService() {
  const got = new Map();
  const srv = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const list = got.get(req.url) || [];
      list.push({ headers: req.headers, body: Buffer.concat(chunks) });
      got.set(req.url, list);
      res.writeHead(201, { Location: `${req.url}/m${list.length}` });
      res.end();
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { got, url: (path) => `http://127.0.0.1:${srv.address().port}${path}`,
    close: () => new Promise((r) => srv.close(r)) };
}

// The browser's side of a subscription: a P-256 key pair and an auth secret.
function browserKeys() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { ecdh, auth: randomBytes(16) };
}

// RFC 8291 / RFC 8188 aes128gcm, one record: what a browser does with a push before the worker.
function decryptPush(keys, body) {
  const salt = body.subarray(0, 16), rs = body.readUInt32BE(16), idlen = body[20];
  const serverPub = body.subarray(21, 21 + idlen), ct = body.subarray(21 + idlen);
  if (ct.length > rs) throw new Error('more than one record');
  const secret = keys.ecdh.computeSecret(serverPub);
  const info = Buffer.concat([Buffer.from('WebPush: info\0'), keys.ecdh.getPublicKey(), serverPub]);
  const ikm = Buffer.from(hkdfSync('sha256', secret, keys.auth, info, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const d = createDecipheriv('aes-128-gcm', cek, nonce);
  d.setAuthTag(ct.subarray(ct.length - 16));
  const plain = Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
  let end = plain.length - 1;
  while (end >= 0 && plain[end] === 0) end--;
  if (plain[end] !== 2) throw new Error('no last-record delimiter');
  return plain.subarray(0, end).toString('utf8');
}

// The service worker registration of this page's context, as DevTools sees it.
async function swRegistration(page, origin) {
  const cdp = await page.context().newCDPSession(page);
  const regs = new Map();
  cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => {
    for (const r of e.registrations) if (!r.isDeleted) regs.set(r.scopeURL, r.registrationId);
  });
  await cdp.send('ServiceWorker.enable');
  const id = await until('the service worker registration in DevTools', () => regs.get(`${origin}/`));
  return { cdp, deliver: (data) => cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId: id, data }) };
}

const notifications = (page) => page.evaluate(async () => {
  const reg = await navigator.serviceWorker.getRegistration('/');
  return reg ? (await reg.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data })) : [];
});

// Settings > "Push notifications" on: resolves to the status text it ends with.
async function switchOn(page) {
  await page.getByRole('button', { name: 'Settings' }).click();
  const sw = page.getByRole('checkbox', { name: 'Push notifications', exact: true });
  await sw.waitFor();
  await until('the push switch to be usable', () => sw.isEnabled());
  await sw.check().catch(() => {}); // it may end unchecked (failed): checked below
  const state = page.locator('#push-state');
  return until('a final push state', async () => {
    const t = await state.textContent();
    return /^(On|Off|Failed|Blocked|Not supported)/.test(t) && t;
  }, 30000);
}

for (const proto of ['h1', 'h2']) {
  test(`${proto}: /sw.js is served no-cache with the CSP and registers with scope /`, async (ctx) => {
    const origin = ctx.origins[proto]();
    const br = await browserFor(ctx, proto);
    try {
      const page = await br.newPage();
      const r = await page.request.get(`${origin}/sw.js`);
      if (r.status() !== 200) throw new Error(`/sw.js: ${r.status()}`);
      const h = r.headers();
      if (!/^text\/javascript/.test(h['content-type'])) throw new Error(`content-type ${h['content-type']}`);
      if (h['cache-control'] !== 'no-cache') throw new Error(`cache-control ${h['cache-control']}`);
      for (const want of ["worker-src 'self'", "default-src 'self'", "connect-src 'self'"])
        if (!(h['content-security-policy'] || '').includes(want)) throw new Error(`sw CSP lacks ${want}: ${h['content-security-policy']}`);
      if (!(await r.text()).includes('showNotification')) throw new Error('/sw.js is not the service worker');
      const index = await page.request.get(`${origin}/`);
      if (!index.headers()['content-security-policy'].includes("worker-src 'self'")) throw new Error('the page CSP lacks worker-src');
      await page.goto(`${origin}/`);
      const reg = await page.evaluate(async () => {
        await navigator.serviceWorker.register('/sw.js', { scope: '/' });
        const r = await navigator.serviceWorker.ready;
        return { scope: r.scope, script: r.active && r.active.scriptURL, state: r.active && r.active.state };
      });
      if (reg.scope !== `${origin}/` || reg.script !== `${origin}/sw.js`) throw new Error(`registered ${JSON.stringify(reg)}`);
      // It claims the page: the next load is controlled by it (and it never serves the app itself).
      await page.reload();
      await until('the page to be controlled', () => page.evaluate(() => !!navigator.serviceWorker.controller));
    } finally {
      await br.close();
    }
  });
}

// The switch's honest states: on (or why the browser's push service refused), off, blocked,
// not supported; signing out deletes this session's subscription before the session ends.
for (const proto of ['h1', 'h2']) {
  test(`${proto}: the switch subscribes or says why not, turns off, and sign-out deletes the subscription`, async (ctx) => {
    const origin = ctx.origins[proto]();
    const br = await browserFor(ctx, proto);
    try {
      const page = await br.newPage({ permissions: ['notifications'] });
      await signUp(page, origin, uname('ps'));
      const text = await switchOn(page);
      const sw = page.getByRole('checkbox', { name: 'Push notifications', exact: true });
      const mine = async () => (await call(page, 'GET', '/v1/push/subscriptions')).body.subscriptions.filter((s) => s.current_device);
      if (text.startsWith('On')) {
        // A browser with a reachable push service: the subscription reached the server.
        if (!(await sw.isChecked()) || (await mine()).length !== 1) throw new Error('on, but no subscription on the server');
        await shot(page, `22-settings-push-${proto}`);
        await sw.uncheck();
        await until('Off', async () => (await page.locator('#push-state').textContent()) === 'Off.');
        if ((await mine()).length) throw new Error('off, but the server still has the subscription');
      } else if (text.startsWith("Failed: the browser's push service refused to subscribe")) {
        // Headless Chromium without Google's push service: said as it is, nothing registered.
        if (await sw.isChecked()) throw new Error('failed, yet the switch is on');
        if ((await mine()).length) throw new Error('failed, yet the server has a subscription');
        await shot(page, `22-settings-push-${proto}`);
      } else {
        throw new Error(`unexpected push state: ${text}`);
      }
      // The worker is registered either way; a subscription of this session (as a successful
      // subscribe would have made) must be deleted by signing out, before the session ends.
      const keys = browserKeys();
      const r = await call(page, 'POST', '/v1/push/subscriptions', { endpoint: 'https://push.example.net/send/ps1',
        keys: { p256dh: b64url(keys.ecdh.getPublicKey()), auth: b64url(keys.auth) } });
      if (r.status !== 201) throw new Error(`POST subscription: ${r.status} ${JSON.stringify(r.body)}`);
      const order = [];
      page.on('response', (x) => {
        const u = new URL(x.url());
        if (x.request().method() === 'DELETE') order.push(`${u.pathname} ${x.status()}`);
      });
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      const want = [`/v1/push/subscriptions/${r.body.id} 204`, '/v1/sessions/current 204'];
      if (order.join() !== want.join()) throw new Error(`sign-out sent ${JSON.stringify(order)}, wanted ${JSON.stringify(want)}`);
    } finally {
      await br.close();
    }
  });
}

test('h1: the switch says when notifications are blocked and when push is not supported', async (ctx) => {
  const origin = ctx.origins.h1();
  // Blocked: the browser's setting for this site is "deny" (set through DevTools, as a person
  // would in the site settings).
  const page = await ctx.newPage();
  await signUp(page, origin, uname('pb'));
  const cdp = await page.context().newCDPSession(page);
  const { targetInfo } = await cdp.send('Target.getTargetInfo');
  const bcdp = await ctx.browser.newBrowserCDPSession();
  await bcdp.send('Browser.setPermission', { permission: { name: 'notifications' }, setting: 'denied',
    origin, browserContextId: targetInfo.browserContextId });
  await page.getByRole('button', { name: 'Settings' }).click();
  const state = page.locator('#push-state');
  await until('Blocked', async () => /^Blocked by the browser/.test(await state.textContent()));
  if (!(await page.getByRole('checkbox', { name: 'Push notifications', exact: true }).isDisabled())) throw new Error('blocked, yet the switch can be used');
  await bcdp.detach();
  // Not supported: a browser without the Push API.
  const old = await ctx.newPage();
  await old.addInitScript(() => { delete window.PushManager; });
  await signUp(old, origin, uname('pn'));
  await old.getByRole('button', { name: 'Settings' }).click();
  await until('Not supported', async () => (await old.locator('#push-state').textContent()) === 'Not supported by this browser.');
});

// The whole way: parleyd's dispatcher encrypts a notification for the subscription, the push
// service (ours) gets it, the worker shows it. Plain text shows; an e2e payload shows no text; a
// burst in one chat is one notification; a focused tab of the app gets no notification.
test('h1: what parleyd pushes is shown by the worker, per conversation, never e2e text', async (ctx) => {
  const svc = await pushService();
  const srv = await startServer(ctx.webDir, { port: 0, tls: 0 }, null,
    { '--webpush-allow-http': 'true', '--webpush-retry-base-ms': '20' });
  try {
    const origin = `http://127.0.0.1:${srv.port}`;
    // Ben exists only through the API, so he is never online (parleyd pushes to users with no
    // stream); his browser holds the worker and the subscription's keys.
    const bn = uname('pb');
    const rest = async (path, body, token) => {
      const x = await fetch(`${origin}${path}`, { method: 'POST', body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) } });
      if (!x.ok) throw new Error(`${path}: ${x.status} ${await x.text()}`);
      return x.json();
    };
    await rest('/v1/users', { username: bn, password: PASSWORD });
    const { token } = await rest('/v1/sessions', { username: bn, password: PASSWORD });
    const keys = browserKeys();
    await rest('/v1/push/subscriptions', { endpoint: svc.url('/push/b'),
      keys: { p256dh: b64url(keys.ecdh.getPublicKey()), auth: b64url(keys.auth) } }, token);
    const b = await ctx.newPage({ permissions: ['notifications'] });
    await b.goto(`${origin}/`);
    await b.evaluate(async () => { await navigator.serviceWorker.register('/sw.js', { scope: '/' }); await navigator.serviceWorker.ready; });
    const { deliver } = await swRegistration(b, origin);
    await b.goto('about:blank'); // no tab of the app while the pushes arrive

    const a = await ctx.newPage();
    await signUp(a, origin, uname('pa'));
    await newChat(a, bn);
    await send(a, 'tea at 5?');
    await send(a, 'or at 6 <b>sharp</b>');
    const pushes = await until('two pushes', () => (svc.got.get('/push/b') || []).length >= 2 && svc.got.get('/push/b'));
    const [p1, p2] = pushes.map((p) => decryptPush(keys, p.body));
    const j1 = JSON.parse(p1), j2 = JSON.parse(p2);
    if (j1.text !== 'tea at 5?' || j1.e2e !== false || j2.count !== 2) throw new Error(`payloads ${p1} ${p2}`);
    const conv = j1.conversation_id;
    await deliver(p1);
    await deliver(p2);
    // An e2e chat's push, in the server's format (test 74 proves the server never puts text in
    // one); the worker would not show text even from one that did.
    await deliver(JSON.stringify({ type: 'message', conversation_id: conv + 1000, count: 1, e2e: true,
      text: 'secret' }));
    // Read back from a page of the origin that is not the app (the dashboard), so no tab of the
    // app is in front while the pushes are handled.
    await b.goto(`${origin}/admin`);
    const shown = await until('the notifications', async () => {
      const n = await notifications(b);
      return n.some((x) => x.tag === `c${conv}` && /\(2 new messages\)$/.test(x.body))
        && n.some((x) => x.tag === `c${conv + 1000}`) && n;
    });
    const plain = shown.filter((x) => x.tag === `c${conv}`);
    if (plain.length !== 1) throw new Error(`the burst is ${plain.length} notifications`);
    if (plain[0].title !== j1.sender.display_name || plain[0].body !== 'or at 6 <b>sharp</b>\n(2 new messages)'
      || plain[0].data.conversation_id !== conv) throw new Error(`plain notification ${JSON.stringify(plain[0])}`);
    const secret = shown.find((x) => x.tag === `c${conv + 1000}`);
    if (secret.title !== 'Parley' || secret.body !== 'New message' || JSON.stringify(secret).includes('secret')) throw new Error(`e2e notification ${JSON.stringify(secret)}`);
    // A click on the notification, with a tab of the app open: the worker focuses it and the app
    // opens the conversation (the worker's click handler, run through its test hook).
    await a.goto(`${origin}/`);
    await a.getByRole('button', { name: 'New chat' }).waitFor();
    await a.evaluate(async () => { await navigator.serviceWorker.register('/sw.js', { scope: '/' }); await navigator.serviceWorker.ready; });
    const worker = await until('Ann\'s service worker', () => a.context().serviceWorkers()[0]);
    await worker.evaluate((id) => self.parleyOpen(id), conv);
    await a.getByRole('heading', { name: bn, exact: true }).waitFor();
    if (new URL(a.url()).hash !== `#/c/${conv}`) throw new Error(`opened ${a.url()}`);
    // A tab of the app in front: a push raises no notification, and the tab is told.
    await b.goto(`${origin}/`);
    await b.getByRole('button', { name: 'Sign in' }).waitFor();
    await b.bringToFront();
    await b.evaluate(() => {
      window.__pushed = [];
      navigator.serviceWorker.addEventListener('message', (e) => window.__pushed.push(e.data));
      navigator.serviceWorker.startMessages();
    });
    await deliver(JSON.stringify({ ...j1, conversation_id: conv + 2000 }));
    const told = await until('the tab told of the push', () => b.evaluate(() => window.__pushed.find((m) => m.type === 'parley-push')));
    if (told.shown !== false || told.conversation_id !== conv + 2000) throw new Error(`told ${JSON.stringify(told)}`);
    if ((await notifications(b)).some((x) => x.tag === `c${conv + 2000}`)) throw new Error('a notification over a focused tab');
  } finally {
    await stopServer(srv);
    await svc.close();
  }
});
