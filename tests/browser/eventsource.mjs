// SPDX-License-Identifier: MIT
// Parley - a real browser's EventSource against a real parleyd.
// Copyright (c) 2026 Parley developers
//
// Starts parleyd (PARLEY_TEST_BIN) with the harness's PostgreSQL, Redis and TLS material, and
// drives Debian's Chromium (headless, through playwright-core) to hold `new EventSource(...)`:
//   - over HTTPS, where Chromium negotiates h2 and offers br: the stream must come with
//     Content-Encoding: br, and each message must reach the page while nothing follows it
//     (the encoder flushes after every event);
//   - over cleartext HTTP/1.1 (Chromium offers br there too): the stream libmicrohttpd hands
//     over to h1_stream.c must deliver the same way, compressed.
// The token goes in the access_token query parameter, as a browser page would do it.
// Prints one `browser: N passed, N failed` line at the end; exits 1 when anything failed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = process.env;
const need = ['PARLEY_TEST_BIN', 'PARLEY_TEST_PG', 'PARLEY_TEST_REDIS', 'PARLEY_TEST_TLS_CERT',
  'PARLEY_TEST_TLS_KEY'];
for (const n of need) {
  if (!env[n]) {
    console.error(`browser: ${n} is not set (run through ./scripts/test)`);
    console.log('browser: 0 passed, 1 failed');
    process.exit(1);
  }
}
const chromePath = env.PARLEY_TEST_CHROMIUM || '/usr/bin/chromium';
let passed = 0, failed = 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'pt-browser-'));
  const portFile = join(dir, 'ports');
  const args = ['--bind', '127.0.0.1', '--port', '0', '--tls-port', '0', '--port-file', portFile,
    '--tls-cert', env.PARLEY_TEST_TLS_CERT, '--tls-key', env.PARLEY_TEST_TLS_KEY,
    '--pg', env.PARLEY_TEST_PG, '--redis', env.PARLEY_TEST_REDIS, '--data-dir', dir,
    '--pwhash-opslimit', '1', '--pwhash-memlimit', '8192', '--log', 'warn'];
  const proc = spawn(env.PARLEY_TEST_BIN, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 400; i++) {
    if (proc.exitCode !== null) throw new Error(`parleyd exited with ${proc.exitCode}`);
    if (existsSync(portFile)) {
      const [port, tls] = readFileSync(portFile, 'utf8').trim().split(/\s+/).map(Number);
      if (port && tls) return { proc, dir, port, tls };
    }
    await sleep(50);
  }
  throw new Error('parleyd did not write its port file');
}

async function api(srv, method, path, token, body) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body) headers['Content-Type'] = 'application/json';
  const r = await fetch(`http://127.0.0.1:${srv.port}${path}`,
    { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
}

async function user(srv, prefix) {
  const name = `${prefix}_${Math.random().toString(16).slice(2, 14)}`;
  const password = 'correct horse battery staple';
  let r = await api(srv, 'POST', '/v1/users', null, { username: name, password });
  if (r.status !== 201) throw new Error(`register: ${r.status}`);
  r = await api(srv, 'POST', '/v1/sessions', null, { username: name, password });
  if (r.status !== 201) throw new Error(`login: ${r.status}`);
  return { id: r.json.user.id, token: r.json.token };
}

// One case: the page at origin holds an EventSource; node sends messages and waits for each.
async function eventSourceCase(browser, srv, name, origin, expectEncoding, expectProtocol) {
  const ann = await user(srv, 'bwa'), ben = await user(srv, 'bwb');
  const conv = await api(srv, 'POST', '/v1/conversations', ann.token, { kind: 'direct', user: ben.id });
  if (conv.status !== 201) throw new Error(`conversation: ${conv.status}`);
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  let streamHeaders = null, streamProtocol = null;
  page.on('response', async (resp) => {
    if (new URL(resp.url()).pathname === '/v1/events') {
      streamHeaders = await resp.allHeaders();
    }
  });
  // CDP tells which protocol the browser used for the stream.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.responseReceived', (e) => {
    if (e.response.url.includes('/v1/events')) streamProtocol = e.response.protocol;
  });
  try {
    const hz = await page.goto(`${origin}/healthz`);
    if (!hz || hz.status() !== 200) throw new Error(`GET /healthz in the browser: ${hz && hz.status()}`);
    await page.evaluate((token) => {
      window.got = [];
      window.errors = 0;
      const es = new EventSource(`/v1/events?access_token=${encodeURIComponent(token)}`);
      es.addEventListener('ready', () => { window.ready = true; });
      es.addEventListener('message.created', (e) => { window.got.push(JSON.parse(e.data).message.text); });
      es.onerror = () => { window.errors++; };
      window.es = es;
    }, ben.token);
    const state = () => page.evaluate(() => JSON.stringify({ ready: window.ready || false,
      readyState: window.es.readyState, errors: window.errors, got: window.got }));
    const wait = async (what, fn, arg) => {
      try {
        await page.waitForFunction(fn, arg, { timeout: 10000 });
      } catch (e) {
        throw new Error(`${what} did not happen within 10 s: ${await state()}`);
      }
    };
    await wait('the ready event', () => window.ready === true, null);
    for (const text of ['first from the browser test', 'second one', 'and a third, with ✓']) {
      const r = await api(srv, 'POST', `/v1/conversations/${conv.json.id}/messages`, ann.token,
        { client_msg_id: `bw-${text.length}-${Math.random()}`, kind: 'text', text });
      if (r.status !== 201) throw new Error(`send: ${r.status}`);
      // Nothing is sent after this message until the page has it: a stream that buffered
      // instead of flushing would time out here.
      await wait(`message "${text}"`, (t) => window.got.includes(t), text);
    }
    const errors = await page.evaluate(() => window.errors);
    if (errors) throw new Error(`EventSource reported ${errors} error(s)`);
    if (!streamHeaders) throw new Error('no response seen for /v1/events');
    const enc = streamHeaders['content-encoding'] || null;
    if (enc !== expectEncoding)
      throw new Error(`Content-Encoding ${enc}, expected ${expectEncoding}`);
    if (streamProtocol !== expectProtocol)
      throw new Error(`the browser used ${streamProtocol}, expected ${expectProtocol}`);
    if (!String(streamHeaders['content-type']).startsWith('text/event-stream'))
      throw new Error(`Content-Type ${streamHeaders['content-type']}`);
    console.log(`ok   ${name} (protocol ${streamProtocol}, content-encoding ${enc})`);
    passed++;
  } finally {
    await context.close();
  }
}

let srv = null, browser = null;
try {
  srv = await startServer();
  browser = await chromium.launch({ executablePath: chromePath, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const cases = [
    ['EventSource over h2 (TLS) with brotli', `https://127.0.0.1:${srv.tls}`, 'br', 'h2'],
    ['EventSource over HTTP/1.1 (cleartext) with brotli', `http://127.0.0.1:${srv.port}`, 'br',
      'http/1.1'],
  ];
  for (const [name, origin, enc, protocol] of cases) {
    try {
      await eventSourceCase(browser, srv, name, origin, enc, protocol);
    } catch (e) {
      console.log(`FAIL ${name}: ${e.message}`);
      failed++;
    }
  }
} catch (e) {
  console.log(`FAIL setup: ${e.message}`);
  failed++;
} finally {
  if (browser) await browser.close();
  if (srv) {
    srv.proc.kill('SIGTERM');
    await new Promise((r) => (srv.proc.exitCode !== null ? r() : srv.proc.on('exit', r)));
    rmSync(srv.dir, { recursive: true, force: true });
  }
}
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
