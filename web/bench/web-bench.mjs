// SPDX-License-Identifier: MIT
// Parley web - the web client's numbers in headless Chromium against a real parleyd (loopback):
// first load (bytes transferred, first paint), a long conversation scrolled end to end (message
// nodes in the DOM, long tasks), and send -> rendered on the other browser latency.
// Copyright (c) 2026 Parley developers
//
// Same environment as tests/web.test.mjs; BENCH_MESSAGES (default 10000) and BENCH_SENDS
// (default 200) size the runs. Prints one line per measurement and a JSON summary.
import { chromium } from 'playwright-core';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { env, startServer, stopServer, signUp, newChat, uname, online, PASSWORD, PASSPHRASE, e2eReady,
  signUpE2E, newE2EChat } from '../tests/lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const N = Number(env.BENCH_MESSAGES || 10000);
const SENDS = Number(env.BENCH_SENDS || 200);
const srv = await startServer(env.PARLEY_WEB_DIST || join(here, '..', 'dist'));
const browser = await chromium.launch({ executablePath: env.PARLEY_TEST_CHROMIUM || '/usr/bin/chromium',
  headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
const origin = `https://127.0.0.1:${srv.tls}`;
const api = async (method, path, token, body) => {
  const r = await fetch(`http://127.0.0.1:${srv.port}${path}`, { method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined });
  return r.status === 204 ? null : r.json();
};
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const out = {};

try {
  // ---- 1. first load: a fresh context (empty cache), over h2 with br ----
  {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await ctx.newPage();
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Network.enable');
    let bytes = 0;
    const files = [];
    cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; files.push(e.encodedDataLength); });
    await page.goto(`${origin}/`, { waitUntil: 'networkidle' });
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const paint = await page.evaluate(() => Object.fromEntries(performance.getEntriesByType('paint').map((p) => [p.name, p.startTime])));
    out.first_load_bytes = bytes;
    out.first_load_requests = files.length;
    out.first_paint_ms = Math.round(paint['first-paint'] ?? -1);
    out.first_contentful_paint_ms = Math.round(paint['first-contentful-paint'] ?? -1);
    console.log(`first load: ${bytes} bytes transferred in ${files.length} requests (incl. headers); first paint ${out.first_paint_ms} ms, first contentful paint ${out.first_contentful_paint_ms} ms`);
    await ctx.close();
  }

  // ---- 1b. the same with end-to-end encryption: sign up with a passphrase, keys made and
  // published; everything the page loaded until then (libsodium's chunk included) ----
  {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await ctx.newPage();
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Network.enable');
    let bytes = 0, assets = 0;
    const urls = new Map();
    cdp.on('Network.requestWillBeSent', (e) => urls.set(e.requestId, e.request.url));
    cdp.on('Network.loadingFinished', (e) => {
      bytes += e.encodedDataLength;
      if (/\/assets\/|\/$/.test(urls.get(e.requestId) || '')) assets += e.encodedDataLength;
    });
    await page.goto(`${origin}/`, { waitUntil: 'networkidle' });
    await page.getByLabel('Username', { exact: true }).fill(uname('bench_e'));
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
    const t0 = Date.now();
    await page.getByRole('button', { name: 'Sign up' }).click();
    await e2eReady(page);
    out.e2e_setup_ms = Date.now() - t0;
    out.first_load_with_e2e_asset_bytes = assets;
    out.first_load_with_e2e_all_bytes = bytes;
    console.log(`first load with E2E: app files ${assets} bytes (libsodium included), ${bytes} bytes with the API calls; sign-up to keys published ${out.e2e_setup_ms} ms (argon2id cost of this build)`);
    await ctx.close();
  }

  // ---- 2. a conversation of N messages, scrolled from the newest to the first and back ----
  {
    const an = uname('bench_a'), bn = uname('bench_b');
    await api('POST', '/v1/users', null, { username: an, password: PASSWORD });
    await api('POST', '/v1/users', null, { username: bn, password: PASSWORD });
    const ta = (await api('POST', '/v1/sessions', null, { username: an, password: PASSWORD })).token;
    const conv = await api('POST', '/v1/conversations', ta, { kind: 'direct', user: bn });
    const t0 = Date.now();
    for (let i = 0; i < N; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, N - i) }, (_, k) =>
        api('POST', `/v1/conversations/${conv.id}/messages`, ta,
          { client_msg_id: `b${i + k}`, kind: 'text', text: `message ${i + k + 1}: ${'lorem ipsum '.repeat(1 + ((i + k) % 7))}` })));
    }
    console.log(`(stored ${N} messages in ${Date.now() - t0} ms)`);
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(`${origin}/`);
    await page.getByLabel('Username', { exact: true }).fill(bn);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await online(page);
    await page.getByRole('navigation', { name: 'Chats' }).getByRole('button', { name: new RegExp(an) }).click();
    await page.getByRole('log').getByText(`message ${N}:`, { exact: false }).waitFor();
    await page.evaluate(() => {
      window.bench = { maxNodes: 0, longTasks: [] };
      const count = () => { window.bench.maxNodes = Math.max(window.bench.maxNodes, document.querySelectorAll('.msg').length); };
      new MutationObserver(count).observe(document.querySelector('[role=log]'), { childList: true });
      new PerformanceObserver((l) => { for (const e of l.getEntries()) window.bench.longTasks.push(e.duration); })
        .observe({ type: 'longtask', buffered: false });
      count();
    });
    const up0 = Date.now();
    // Scroll up the way a wheel would, a screen at a time, until the first message is there.
    while (!(await page.getByText('This is the start of the conversation.').count())) {
      await page.mouse.move(800, 400);
      await page.mouse.wheel(0, -4000);
      await page.waitForTimeout(16);
      if (Date.now() - up0 > 600000) throw new Error('did not reach the start in 10 minutes');
    }
    await page.getByRole('log').getByText('message 1: lorem', { exact: false }).waitFor();
    const upMs = Date.now() - up0;
    const dn0 = Date.now();
    while (!(await page.getByRole('log').getByText(`message ${N}:`, { exact: false }).count())) {
      await page.mouse.wheel(0, 4000);
      await page.waitForTimeout(16);
      if (Date.now() - dn0 > 600000) throw new Error('did not reach the end in 10 minutes');
    }
    const b = await page.evaluate(() => window.bench);
    out.scroll_messages = N;
    out.scroll_max_message_nodes = b.maxNodes;
    out.scroll_long_tasks = b.longTasks.length;
    out.scroll_longest_task_ms = Math.round(Math.max(0, ...b.longTasks));
    out.scroll_up_ms = upMs;
    out.scroll_down_ms = Date.now() - dn0;
    console.log(`scroll ${N} messages: up ${upMs} ms, down ${out.scroll_down_ms} ms; at most ${b.maxNodes} message nodes; ${b.longTasks.length} long tasks, longest ${out.scroll_longest_task_ms} ms`);
    await ctx.close();
  }

  // ---- 3. send -> rendered on the other browser, plain and end-to-end encrypted ----
  for (const kind of ['plain', 'e2e']) {
    const a = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
    const b = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
    const an = uname('lat_a'), bn = uname('lat_b');
    if (kind === 'e2e') {
      await signUpE2E(a, origin, an);
      await signUpE2E(b, origin, bn);
      await newE2EChat(a, bn);
    } else {
      await signUp(a, origin, an);
      await signUp(b, origin, bn);
      await newChat(a, bn);
    }
    await b.getByRole('navigation', { name: 'Chats' }).getByRole('button', { name: new RegExp(an) }).click();
    await b.getByRole('log').waitFor();
    await b.evaluate(() => {
      window.seen = {};
      new MutationObserver(() => {
        for (const el of document.querySelectorAll('[role=log] .msg .text')) {
          const m = /^lat (\d+)$/.exec(el.textContent);
          if (m && !(m[1] in window.seen)) window.seen[m[1]] = performance.timeOrigin + performance.now();
        }
      }).observe(document.querySelector('[role=log]'), { childList: true, subtree: true, characterData: true });
    });
    const lat = [];
    const box = a.getByLabel('Message', { exact: true });
    for (let i = 0; i < SENDS; i++) {
      await box.fill(`lat ${i}`);
      const t = await a.evaluate(() => performance.timeOrigin + performance.now());
      await box.press('Enter');
      await b.waitForFunction((k) => k in window.seen, String(i));
      lat.push((await b.evaluate((k) => window.seen[k], String(i))) - t);
    }
    const k = kind === 'plain' ? 'send_render' : 'e2e_send_render';
    out[`${k}_n`] = SENDS;
    out[`${k}_p50_ms`] = Math.round(pct(lat, 0.5) * 10) / 10;
    out[`${k}_p95_ms`] = Math.round(pct(lat, 0.95) * 10) / 10;
    out[`${k}_max_ms`] = Math.round(Math.max(...lat) * 10) / 10;
    console.log(`${kind} send -> rendered on the other browser (${SENDS}): p50 ${out[`${k}_p50_ms`]} ms, p95 ${out[`${k}_p95_ms`]} ms, max ${out[`${k}_max_ms`]} ms`);
  }
} finally {
  await browser.close();
  await stopServer(srv);
}
console.log(JSON.stringify(out));
