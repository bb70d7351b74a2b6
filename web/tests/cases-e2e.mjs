// SPDX-License-Identifier: MIT
// Parley web tests - end-to-end encrypted chats in the UI: keys made and published on sign-up,
// sealed in IndexedDB, direct chats and groups decrypted in the browser, decrypt-once across a
// reload, the write-ahead outbox, identity pinning, safety numbers and local search.
// Copyright (c) 2026 Parley developers
import { uname, send, openChat, expectCount, signUpE2E, unlock, newE2EChat, safetyDigits,
  PASSWORD, online } from './lib.mjs';
import * as e2e from '../src/e2e/index.js';

export const cases = [];
const test = (name, fn) => cases.push([name, fn]);

const noErrors = async (page) => {
  const n = await page.getByRole('log').getByText(/Could not decrypt|Held:/).count();
  if (n) throw new Error(`${n} message(s) not decrypted: ${await page.getByRole('log').textContent()}`);
};

test('e2e: direct chat, both ways, decrypted once (reload), nothing readable on the server', async (ctx) => {
  const origin = ctx.origins.h2();
  const a = await ctx.newPage(), b = await ctx.newPage();
  const an = uname('ea'), bn = uname('eb');
  await signUpE2E(a, origin, an);
  await signUpE2E(b, origin, bn);
  // Ben's browser published its keys at sign-up.
  const devs = await a.evaluate((u) => fetch(`/v1/users/${u}/devices`).then((r) => r.json()), bn);
  if (!devs.devices.length || !devs.devices[0].identity_key) throw new Error(`no keys: ${JSON.stringify(devs)}`);
  await newE2EChat(a, bn);
  await send(a, 'secret hello');
  await openChat(b, an);
  await b.getByRole('log').getByText('secret hello', { exact: true }).waitFor();
  await send(b, 'secret reply');
  await a.getByRole('log').getByText('secret reply', { exact: true }).waitFor();
  await send(a, 'and a third');
  await b.getByRole('log').getByText('and a third', { exact: true }).waitFor();
  // The server holds ciphertext only.
  const conv = await a.evaluate(() => window.parley.state.open);
  const page = await a.evaluate((c) => fetch(`/v1/conversations/${c}/messages`).then((r) => r.json()), conv);
  if (page.messages.some((m) => m.kind !== 'e2e' || m.text)) throw new Error(`plaintext on the server: ${JSON.stringify(page)}`);
  // Reload: the keys are locked; after the passphrase the history is read from the local
  // store, not decrypted again (a second decryption would fail as a replay).
  await b.reload();
  await online(b);
  await b.getByRole('button', { name: 'Unlock' }).waitFor();
  await unlock(b);
  await openChat(b, an);
  for (const t of ['secret hello', 'secret reply', 'and a third']) await expectCount(b, t, 1);
  await noErrors(b);
  // Still live after the reload, both ways.
  await send(a, 'after the reload');
  await b.getByRole('log').getByText('after the reload', { exact: true }).waitFor();
  await send(b, 'still here');
  await a.getByRole('log').getByText('still here', { exact: true }).waitFor();
  // Local search: the server never indexes e2e text; this browser searches what it decrypted.
  await b.getByRole('button', { name: 'Search messages' }).click();
  await b.getByLabel('Search', { exact: true }).fill('SECRET');
  await b.getByLabel('Search', { exact: true }).press('Enter');
  const hits = b.getByRole('list', { name: 'Results in encrypted chats' });
  await hits.getByRole('button').first().waitFor();
  if ((await hits.getByRole('button').count()) !== 2) throw new Error(`local search: ${await hits.textContent()}`);
  const hello = hits.getByRole('button', { name: /secret hello/ });
  if ((await hello.locator('mark').textContent()) !== 'secret') throw new Error('the match is not marked');
  await hello.click();
  await b.getByRole('log').locator('.msg.focus').getByText('secret hello', { exact: true }).waitFor();
  // A wrong passphrase opens nothing.
  await a.reload();
  await a.getByLabel('Passphrase', { exact: true }).fill('not it');
  await a.getByRole('button', { name: 'Unlock' }).click();
  await a.getByRole('alert').getByText('Wrong passphrase.').waitFor();
  await noErrors(b);
});

test('e2e: the outbox survives a reload and re-sends the same ciphertext once', async (ctx) => {
  const origin = ctx.origins.h1();
  const a = await ctx.newPage(), b = await ctx.newPage();
  const an = uname('oa'), bn = uname('ob');
  await signUpE2E(a, origin, an);
  await signUpE2E(b, origin, bn);
  await newE2EChat(a, bn);
  await send(a, 'before the cut');
  await a.getByRole('log').locator('.msg.mine').last().getByRole('img', { name: /^(sent|delivered|read)$/ }).waitFor();
  // The next send reaches the server, which stores it, but the answer is lost on the way back;
  // later ones go through. Every e2e POST body is recorded.
  const bodies = [];
  let cut;
  const wasCut = new Promise((r) => { cut = r; });
  await a.route('**/v1/conversations/*/messages', async (route) => {
    const rq = route.request();
    if (rq.method() !== 'POST') return route.fallback();
    bodies.push(rq.postData());
    if (bodies.length > 1) return route.continue();
    await route.fetch();
    await route.abort('connectionreset');
    return cut();
  });
  const box = a.getByLabel('Message', { exact: true });
  await box.fill('committed, answer lost');
  await box.press('Enter');
  await wasCut;
  await a.getByRole('log').getByRole('img', { name: 'waiting to send' }).waitFor();
  await a.reload();
  await online(a);
  await unlock(a);
  await openChat(a, bn);
  await a.getByRole('log').getByText('committed, answer lost', { exact: true }).waitFor();
  await a.getByRole('log').getByRole('img', { name: 'waiting to send' }).waitFor({ state: 'detached' });
  if (bodies.length !== 2 || bodies[0] !== bodies[1]) {
    throw new Error(`the retry did not re-send the stored body as it was (${bodies.length} posts)`);
  }
  await openChat(b, an);
  await expectCount(b, 'committed, answer lost', 1, 15000);
  await expectCount(a, 'committed, answer lost', 1);
  await noErrors(b);
});

test('e2e: group of three with sender keys, a removed member and rotation', async (ctx) => {
  const origin = ctx.origins.h2();
  const [a, b, c] = [await ctx.newPage(), await ctx.newPage(), await ctx.newPage()];
  const [an, bn, cn] = [uname('sa'), uname('sb'), uname('sc')];
  await signUpE2E(a, origin, an);
  await signUpE2E(b, origin, bn);
  await signUpE2E(c, origin, cn);
  await a.getByRole('button', { name: 'New group' }).click();
  await a.getByLabel('Group name').fill('Secret club');
  await a.getByLabel('Members (usernames, separated by commas)').fill(`${bn}, ${cn}`);
  await a.getByRole('button', { name: 'Create group' }).click();
  await a.getByRole('heading', { name: 'Secret club', exact: true }).waitFor();
  await a.getByRole('img', { name: 'End-to-end encrypted' }).waitFor();
  await send(a, 'welcome, all');
  await openChat(b, 'Secret club');
  await openChat(c, 'Secret club');
  await b.getByRole('log').getByText('welcome, all', { exact: true }).waitFor();
  await c.getByRole('log').getByText('welcome, all', { exact: true }).waitFor();
  await send(b, 'hi from Ben');
  await a.getByRole('log').getByText('hi from Ben', { exact: true }).waitFor();
  await c.getByRole('log').getByText('hi from Ben', { exact: true }).waitFor();
  // Carol is removed: Ann's next message goes out under a new sender key.
  const keyOf = (p) => p.evaluate(() => window.parley.state.open);
  const conv = await keyOf(a);
  await a.getByRole('button', { name: 'Group info' }).click();
  await a.getByRole('button', { name: `Remove ${cn}` }).click();
  await a.getByRole('dialog').getByText(`@${cn}`).waitFor({ state: 'detached' });
  await a.keyboard.press('Escape');
  await send(a, 'just the two of us');
  await b.getByRole('log').getByText('just the two of us', { exact: true }).waitFor();
  const page = await b.evaluate((id) => fetch(`/v1/conversations/${id}/messages`).then((r) => r.json()), conv);
  const groups = page.messages.filter((m) => m.sender !== undefined && m.e2e && m.e2e.group);
  const keyId = (m) => e2e.get32(e2e.fromB64url(m.e2e.group), 1);
  const first = groups.find((m) => m.seq === 1), last = groups[groups.length - 1];
  if (!first || !last || keyId(first) === keyId(last)) throw new Error('the sender key was not rotated');
  await noErrors(b);
});

test('e2e: a changed identity blocks sending until the new safety number is accepted', async (ctx) => {
  const origin = ctx.origins.h2();
  const a = await ctx.newPage(), b = await ctx.newPage();
  const an = uname('pa'), bn = uname('pb');
  await signUpE2E(a, origin, an);
  await signUpE2E(b, origin, bn);
  await newE2EChat(a, bn);
  await send(a, 'pinned hello');
  await openChat(b, an);
  await b.getByRole('log').getByText('pinned hello', { exact: true }).waitFor();
  // Ben's device gets a new identity key (as a server substituting one would present it).
  const dev = await b.evaluate(() => window.parley.state.me.device_id);
  const id = e2e.identityNew(), spk = e2e.signedPrekeyGenerate(id, 7);
  const r = await b.evaluate(([d, body]) => fetch(`/v1/devices/${d}/keys`, { method: 'PUT',
    headers: { 'Content-Type': 'application/json', 'X-Parley-CSRF': '1' }, body: JSON.stringify(body) }).then((x) => x.status),
  [dev, { identity_key: e2e.toB64url(id.pub), signed_prekey: { id: 7, public_key: e2e.toB64url(spk.pub), signature: e2e.toB64url(spk.sig) } }]);
  if (r !== 200) throw new Error(`key change refused: ${r}`);
  const alert = a.getByRole('alert').filter({ hasText: `Safety number with ${bn} changed` }).first();
  await alert.waitFor({ timeout: 15000 });
  const box = a.getByLabel('Message', { exact: true });
  await box.fill('must not go out');
  await box.press('Enter');
  await a.getByRole('alert').filter({ hasText: /Not sent: safety number with/ }).waitFor();
  // Compare, accept: sending works again (to the new key).
  await alert.getByRole('button', { name: 'Compare safety number' }).click();
  const digits = await safetyDigits(a);
  if (digits.length !== 60) throw new Error(`safety number has ${digits.length} digits`);
  await a.getByRole('dialog').getByRole('img', { name: 'QR code of the safety number' }).waitFor();
  await a.getByRole('button', { name: 'Accept new safety number' }).click();
  await a.getByRole('button', { name: 'Accept new safety number' }).waitFor({ state: 'detached' });
  await a.keyboard.press('Escape');
  await send(a, 'accepted, sent');
  const pageA = await a.evaluate(() => fetch(`/v1/conversations/${window.parley.state.open}/messages`).then((x) => x.json()));
  if (pageA.messages.filter((m) => m.kind === 'e2e').length !== 2) throw new Error('the blocked message was sent');
});

// ---- with the C CLI (build/client/parley) ----

async function cliHome(origin) {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const home = mkdtempSync(join(tmpdir(), 'pt-web-cli-'));
  const env = { ...process.env, PARLEY_HOME: home, PARLEY_SERVER: origin, PARLEY_PASSWORD: PASSWORD,
    PARLEY_PASSPHRASE: 'cli passphrase', PARLEY_VAULT_COST: 'low' };
  const cli = process.env.PARLEY_TEST_CLI;
  if (!cli) throw new Error('PARLEY_TEST_CLI is not set (run through ./scripts/test)');
  const run = (...args) => promisify(execFile)(cli, args, { env, timeout: 60000 }).catch((x) => {
    throw new Error(`parley ${args.join(' ')}: ${x.message} ${x.stdout || ''} ${x.stderr || ''}`);
  });
  return { home, run };
}

// Every JSON line `parley listen --json` printed.
const lines = (out) => out.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

test('e2e with the CLI: 1:1 both ways, safety numbers equal, a file each way', async (ctx) => {
  const origin = ctx.origins.h1();
  const { run, home } = await cliHome(origin);
  const fs = await import('node:fs/promises');
  const { join } = await import('node:path');
  const a = await ctx.newPage();
  const cn = uname('cli'), an = uname('web');
  await run('register', cn);
  await signUpE2E(a, origin, an);
  await newE2EChat(a, cn);
  await send(a, 'hello CLI, from the browser');
  let got = lines(await run('listen', '--json', '--count', '1', '--timeout', '30'));
  if (!got.some((m) => m.text === 'hello CLI, from the browser' && m.e2e)) throw new Error(`CLI heard ${JSON.stringify(got)}`);
  await run('send', an, 'hello browser, from the CLI');
  await a.getByRole('log').getByText('hello browser, from the CLI', { exact: true }).waitFor();
  // The same 60 digits on both sides.
  const v = await run('verify', an);
  await a.getByRole('button', { name: 'Safety number' }).click();
  const digits = await safetyDigits(a);
  if (digits.length !== 60 || !v.stdout.replace(/\D/g, '').includes(digits)) {
    throw new Error(`safety numbers differ: browser ${digits}, CLI ${v.stdout}`);
  }
  await a.getByRole('dialog').getByRole('img', { name: 'QR code of the safety number' }).waitFor();
  await a.keyboard.press('Escape');
  // A file from the browser, encrypted before its upload; the CLI decrypts it byte for byte.
  const bytes = Buffer.alloc(200 * 1024 + 5);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 9)) & 0xff;
  await a.locator('input[type=file]').setInputFiles({ name: 'notes.bin', mimeType: 'application/octet-stream', buffer: bytes });
  await a.getByRole('log').getByRole('button', { name: 'Download notes.bin' }).waitFor();
  // What the server stored is the "PLF1" ciphertext, declared as octets with no name.
  const stored = await a.evaluate(async () => {
    const p = [...window.parley.state.plain.values()].find((x) => x.file);
    const r = await fetch(`/v1/media/${p.file.media_id}`);
    return { type: r.headers.get('content-type'), body: [...new Uint8Array(await r.arrayBuffer())] };
  });
  const up = Buffer.from(stored.body);
  if (up.subarray(0, 4).toString() !== 'PLF1' || up.includes(bytes.subarray(0, 64)) || up.length <= bytes.length) {
    throw new Error(`the server holds no ciphertext (${up.length} bytes, ${stored.type})`);
  }
  const outDir = join(home, 'in');
  await fs.mkdir(outDir);
  const heard = await run('listen', '--json', '--count', '1', '--timeout', '30', '--out-dir', outDir);
  const f = lines(heard).find((m) => m.file);
  if (!f) throw new Error(`CLI got no file: ${heard.stdout} ${heard.stderr}`);
  if (!(await fs.readFile(f.file)).equals(bytes)) throw new Error('the CLI decrypted other bytes');
  // And one from the CLI, decrypted in the browser.
  const back = Buffer.from(bytes.subarray(0, 70000).map((x) => x ^ 0x5a));
  const path = join(home, 'reply.bin');
  await fs.writeFile(path, back);
  await run('send', '--file', path, an);
  const btn = a.getByRole('log').getByRole('button', { name: 'Download reply.bin' });
  await btn.waitFor();
  const [dl] = await Promise.all([a.waitForEvent('download'), btn.click()]);
  const mine = await fs.readFile(await dl.path());
  if (!mine.equals(back)) throw new Error(`the browser decrypted ${mine.length} bytes that differ from the ${back.length} sent`);
  await fs.rm(home, { recursive: true, force: true });
});

test('e2e with the CLI: a group with sender keys both ways, a member removed (rotation)', async (ctx) => {
  const origin = ctx.origins.h1();
  const { run, home } = await cliHome(origin);
  const a = await ctx.newPage(), b = await ctx.newPage();
  const cn = uname('gcli'), an = uname('gwa'), bn = uname('gwb');
  await run('register', cn);
  await signUpE2E(a, origin, an);
  await signUpE2E(b, origin, bn);
  await a.getByRole('button', { name: 'New group' }).click();
  await a.getByLabel('Group name').fill('Mixed');
  await a.getByLabel('Members (usernames, separated by commas)').fill(`${cn}, ${bn}`);
  await a.getByRole('button', { name: 'Create group' }).click();
  await a.getByRole('heading', { name: 'Mixed', exact: true }).waitFor();
  const gid = await a.evaluate(() => window.parley.state.open);
  await send(a, 'group hello from the browser');
  let got = lines(await run('listen', '--json', '--count', '1', '--timeout', '30'));
  if (!got.some((m) => m.text === 'group hello from the browser')) throw new Error(`CLI heard ${JSON.stringify(got)}`);
  await run('send', `#${gid}`, 'group hello from the CLI');
  await a.getByRole('log').getByText('group hello from the CLI', { exact: true }).waitFor();
  await openChat(b, 'Mixed');
  await b.getByRole('log').getByText('group hello from the CLI', { exact: true }).waitFor();
  await b.getByRole('log').getByText('group hello from the browser', { exact: true }).waitFor();
  // Ben is removed: the CLI's next group message uses a new sender key, which Ann gets.
  await a.getByRole('button', { name: 'Group info' }).click();
  await a.getByRole('button', { name: `Remove ${bn}` }).click();
  await a.getByRole('dialog').getByText(`@${bn}`).waitFor({ state: 'detached' });
  await a.keyboard.press('Escape');
  await run('send', `#${gid}`, 'without Ben, from the CLI');
  await a.getByRole('log').getByText('without Ben, from the CLI', { exact: true }).waitFor();
  await send(a, 'without Ben, from the browser');
  got = lines(await run('listen', '--json', '--count', '1', '--timeout', '30'));
  if (!got.some((m) => m.text === 'without Ben, from the browser')) throw new Error(`CLI heard ${JSON.stringify(got)}`);
  const page = await a.evaluate((id) => fetch(`/v1/conversations/${id}/messages`).then((r) => r.json()), gid);
  const fromCli = page.messages.filter((m) => m.e2e && m.e2e.group && m.sender !== page.messages[0].sender);
  const keyId = (m) => e2e.get32(e2e.fromB64url(m.e2e.group), 1);
  if (fromCli.length < 2 || keyId(fromCli[0]) === keyId(fromCli[fromCli.length - 1])) throw new Error('the CLI did not rotate its sender key');
  await noErrors(a);
  const { rm } = await import('node:fs/promises');
  await rm(home, { recursive: true, force: true });
});

test('e2e: two tabs of one browser (one device) decrypt each message once and both send', async (ctx) => {
  const origin = ctx.origins.h2();
  const a = await ctx.newPage(), b = await ctx.newPage();
  const an = uname('ta'), bn = uname('tb');
  await signUpE2E(a, origin, an);
  await signUpE2E(b, origin, bn);
  await newE2EChat(a, bn);
  await send(a, 'from the first tab');
  // A second tab of Ann's browser: the same device, the same sealed store.
  const a2 = await a.context().newPage();
  await a2.goto(`${origin}/`);
  await online(a2);
  await unlock(a2);
  await openChat(a2, bn);
  await a2.getByRole('log').getByText('from the first tab', { exact: true }).waitFor();
  await openChat(b, an);
  for (const t of ['one', 'two', 'three']) await send(b, `to both tabs ${t}`);
  for (const p of [a, a2]) for (const t of ['one', 'two', 'three']) await expectCount(p, `to both tabs ${t}`, 1, 15000);
  await send(a2, 'from the second tab');
  await send(a, 'and the first again');
  for (const t of ['from the second tab', 'and the first again']) await expectCount(b, t, 1, 15000);
  for (const p of [a, a2, b]) await noErrors(p);
});

test('e2e: an edit and a reaction are encrypted messages, folded into the message they act on', async (ctx) => {
  const origin = ctx.origins.h2();
  const a = await ctx.newPage(), b = await ctx.newPage();
  const an = uname('xa'), bn = uname('xb');
  await signUpE2E(a, origin, an);
  await signUpE2E(b, origin, bn);
  await newE2EChat(a, bn);
  await send(a, 'meet at teh station');
  await openChat(b, an);
  await b.getByRole('log').getByText('meet at teh station', { exact: true }).waitFor();
  const conv = await a.evaluate(() => window.parley.state.open);
  const seq = await a.evaluate((c) => [...window.parley.state.msgs.get(c).bySeq.values()]
    .find((m) => m.sender === window.parley.state.me.id).seq, conv);
  // Ann edits through the E2E layer's API; Ben's bubble shows the new text, and only it.
  await a.evaluate(([c, s]) => window.parleyE2E.e2eEdit(c, s, 'meet at the station'), [conv, seq]);
  await b.getByRole('log').getByText('meet at the station', { exact: true }).waitFor();
  await expectCount(b, 'meet at teh station', 0);
  await b.waitForFunction(([c, s]) => !!window.parley.state.msgs.get(c).bySeq.get(s).edited_at, [conv, seq]);
  // Ben reacts; Ann's copy of the message carries the aggregate in the plain chats' shape.
  await b.evaluate(([c, s]) => window.parleyE2E.e2eReact(c, s, '🎉', true), [conv, seq]);
  await a.waitForFunction(([c, s]) => {
    const r = window.parley.state.msgs.get(c).bySeq.get(s).reactions || [];
    return r.length === 1 && r[0].emoji === '🎉' && r[0].count === 1 && r[0].mine === false;
  }, [conv, seq]);
  const mine = await b.evaluate(([c, s]) => window.parley.state.msgs.get(c).bySeq.get(s).reactions, [conv, seq]);
  if (!(mine.length === 1 && mine[0].mine)) throw new Error(`Ben's own reaction: ${JSON.stringify(mine)}`);
  // The server: seq marked edited, two action messages, neither text nor emoji readable.
  const page = await a.evaluate((c) => fetch(`/v1/conversations/${c}/messages`).then((r) => r.text()), conv);
  const j = JSON.parse(page);
  if (!j.messages.find((m) => m.seq === seq).edited_at) throw new Error('not marked edited on the server');
  const acts = j.messages.filter((m) => m.e2e && m.e2e.action).map((m) => `${m.e2e.action}:${m.e2e.refers_to}`);
  if (acts.join(',') !== `edit:${seq},reaction:${seq}`) throw new Error(`actions on the server: ${acts}`);
  if (page.includes('the station') || page.includes('🎉')) throw new Error('plaintext on the server');
  // Ben cannot edit Ann's message: the server refuses the envelope (403).
  const st = await b.evaluate(([c, s]) => window.parleyE2E.e2eEdit(c, s, 'not yours').then(() => 0, (e) => e.status || e.message), [conv, seq]);
  if (st !== 403) throw new Error(`someone else's edit: ${st}`);
  await expectCount(a, 'not yours', 0);
  // Taking the reaction back empties Ann's aggregate.
  await b.evaluate(([c, s]) => window.parleyE2E.e2eReact(c, s, '🎉', false), [conv, seq]);
  await a.waitForFunction(([c, s]) => (window.parley.state.msgs.get(c).bySeq.get(s).reactions || []).length === 0, [conv, seq]);
});
