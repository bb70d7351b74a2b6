// SPDX-License-Identifier: MIT
// Parley web tests - a real parleyd serving the built client, Debian's Chromium driven by
// playwright-core, and helpers that find things the way a person does (labels, roles, names).
// Copyright (c) 2026 Parley developers
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export const env = process.env;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const PASSWORD = 'correct horse battery staple';

// Starts parleyd on the given ports (0: any) and waits for its port file.
// settings: flag → value pairs that replace the defaults below (e.g. a quota a case needs on).
export async function startServer(webDir, ports = { port: 0, tls: 0 }, dir = null, settings = {}) {
  dir = dir || mkdtempSync(join(tmpdir(), 'pt-web-'));
  const portFile = join(dir, 'ports');
  rmSync(portFile, { force: true });
  const args = ['--bind', '127.0.0.1', '--port', String(ports.port), '--tls-port', String(ports.tls),
    '--port-file', portFile, '--tls-cert', env.PARLEY_TEST_TLS_CERT, '--tls-key', env.PARLEY_TEST_TLS_KEY,
    '--pg', env.PARLEY_TEST_PG, '--redis', env.PARLEY_TEST_REDIS, '--data-dir', dir,
    '--web-dir', webDir, '--pwhash-opslimit', '1', '--pwhash-memlimit', '8192', '--log', 'warn',
    '--presence-timeout', '5', '--conn-rate', '0',
    // Per-user quotas off, as in the integration harness: tests act faster than people.
    '--quota-streams', '0', '--quota-sends-per-s', '0', '--quota-searches-per-s', '0',
    '--quota-groups-per-hour', '0', '--quota-media-bytes-per-day', '0',
    '--keys-fetch-per-min', '0', '--keys-target-per-min', '0',
    // One typing event per second per user would hide the second one a fast test sends.
    '--typing-interval-ms', '0'];
  for (const [flag, value] of Object.entries(settings)) {
    const i = args.indexOf(flag);
    if (i >= 0) args[i + 1] = String(value);
    else args.push(flag, String(value));
  }
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

export async function stopServer(srv) {
  if (srv.proc.exitCode !== null) return;
  srv.proc.kill('SIGTERM');
  await new Promise((r) => (srv.proc.exitCode !== null ? r() : srv.proc.on('exit', r)));
}

let seq = 0;
export function uname(prefix) {
  seq++;
  return `${prefix}${seq}_${Math.random().toString(16).slice(2, 10)}`;
}

export async function signUp(page, origin, name) {
  await page.goto(`${origin}/`);
  await page.getByLabel('Username', { exact: true }).fill(name);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('button', { name: 'New chat' }).waitFor();
  await online(page);
}

export async function online(page) {
  await page.waitForFunction(() => window.parley && window.parley.state.conn.state === 'online',
    null, { timeout: 15000 });
}

export async function newChat(page, other) {
  await page.getByRole('button', { name: 'New chat' }).click();
  await page.getByLabel('Username of the person').fill(other);
  await page.getByRole('button', { name: 'Start chat' }).click();
  await page.getByRole('heading', { name: other, exact: true }).waitFor();
  await page.getByRole('log').waitFor();
}

export async function send(page, text) {
  const box = page.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
  // Shown as sent (an e2e message waiting in the outbox shows at once, as "waiting to send").
  await page.getByRole('log').locator('.msg:not(.pending)').getByText(text, { exact: true }).first().waitFor();
}

export function myLast(page) {
  return page.getByRole('log').locator('.msg.mine').last();
}

export async function waitTick(page, name, timeout = 10000) {
  await myLast(page).getByRole('img', { name, exact: true }).waitFor({ timeout });
}

export async function openChat(page, title) {
  await page.getByRole('navigation', { name: 'Chats' }).getByRole('button', { name: new RegExp(title) }).click();
  await page.getByRole('heading', { name: title, exact: true }).waitFor();
  await page.getByRole('log').waitFor();
}

export function outDir() {
  const d = env.PARLEY_WEB_TEST_OUT || join(process.cwd(), 'test-output');
  mkdirSync(d, { recursive: true });
  return d;
}

export async function expectCount(page, text, n, timeout = 10000) {
  const loc = page.getByRole('log').getByText(text, { exact: true });
  const t0 = Date.now();
  for (;;) {
    const c = await loc.count();
    if (c === n) return;
    if (Date.now() - t0 > timeout) throw new Error(`"${text}" shown ${c} times, expected ${n}`);
    await sleep(100);
  }
}

export const PASSPHRASE = 'browser passphrase';

// Signs up with a passphrase: the browser makes and publishes its E2E keys on sign-up.
export async function signUpE2E(page, origin, name) {
  await page.goto(`${origin}/`);
  await page.getByLabel('Username', { exact: true }).fill(name);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('button', { name: 'New chat' }).waitFor();
  await e2eReady(page);
  await online(page);
}

export async function e2eReady(page) {
  await page.getByRole('status').getByText('End-to-end encryption is on in this browser.').waitFor({ timeout: 30000 });
}

// After a reload: the keys are locked until the passphrase is typed again.
export async function unlock(page) {
  await page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
  await page.getByRole('button', { name: 'Unlock' }).click();
  await e2eReady(page);
}

// A direct chat; e2e unless plain (the checkbox is on by default once the keys are unlocked).
export async function newE2EChat(page, other) {
  await page.getByRole('button', { name: 'New chat' }).click();
  const box = page.getByLabel(/^End-to-end encrypted/);
  if (!(await box.isChecked())) throw new Error('new chats are not end-to-end encrypted by default');
  await page.getByLabel('Username of the person').fill(other);
  await page.getByRole('button', { name: 'Start chat' }).click();
  await page.getByRole('heading', { name: other, exact: true }).waitFor();
  await page.getByRole('img', { name: 'End-to-end encrypted' }).waitFor();
}

export async function safetyDigits(page) {
  const d = page.getByRole('dialog').getByLabel('Safety number digits');
  await d.waitFor({ timeout: 30000 });
  return (await d.textContent()).replace(/\D/g, '');
}

let axeSrc = null;
// Screenshots at desktop width (light and dark) and phone width (light), and no serious or
// critical axe-core violation on the page in either scheme.
export async function shot(page, name) {
  axeSrc = axeSrc || readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  for (const [scheme, w, h, kind] of [['light', 1280, 800, 'desktop'], ['dark', 1280, 800, 'desktop'], ['light', 390, 844, 'phone']]) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.setViewportSize({ width: w, height: h });
    await page.screenshot({ path: join(outDir(), `${name}-${kind}-${scheme}.png`) });
    if (kind === 'phone') continue;
    if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(axeSrc);
    const v = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] }))
      .violations.filter((x) => x.impact === 'serious' || x.impact === 'critical')
      .map((x) => `${x.id} (${x.impact}): ${x.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`));
    if (v.length) throw new Error(`axe on ${name} (${scheme}):\n  ${v.join('\n  ')}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 800 });
}
