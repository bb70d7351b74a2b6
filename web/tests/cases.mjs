// SPDX-License-Identifier: MIT
// Parley web tests - the cases, each a function of the shared context (browser, server, pages).
// Copyright (c) 2026 Parley developers
import { uname, signUp, newChat, send, waitTick, openChat, online, expectCount, startServer, stopServer, outDir,
  PASSPHRASE, e2eReady, newE2EChat, safetyDigits } from './lib.mjs';

import { cases as messengerCases } from './cases-messenger.mjs';
import { cases as historyCases } from './cases-history.mjs';

export const cases = [];
const test = (name, fn) => cases.push([name, fn]);

for (const proto of ['h1', 'h2']) {
  test(`${proto}: sign up, 1:1 chat, ticks move sent → delivered → read`, async (ctx) => {
    const origin = ctx.origins[proto]();
    const a = await ctx.newPage(), b = await ctx.newPage();
    const an = uname('ann'), bn = uname('ben');
    await signUp(a, origin, an);
    await signUp(b, origin, bn);
    const hop = await a.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
    if (hop !== (proto === 'h2' ? 'h2' : 'http/1.1')) throw new Error(`page loaded over ${hop}`);
    await b.goto('about:blank'); // Ben goes away
    await newChat(a, bn);
    await send(a, 'hello Ben');
    await waitTick(a, 'sent');
    await b.goto(`${origin}/`); // back: the message reaches his device
    await online(b);
    await waitTick(a, 'delivered');
    await openChat(b, an);
    await b.getByRole('log').getByText('hello Ben', { exact: true }).waitFor();
    await waitTick(a, 'read');
    // And back, live both ways.
    await send(b, 'hi Ann');
    await a.getByRole('log').getByText('hi Ann', { exact: true }).waitFor();
    await waitTick(b, 'read');
  });
}

test('group of three: create, messages to all, add and remove, rename', async (ctx) => {
  const origin = ctx.origins.h2();
  const [a, b, c] = [await ctx.newPage(), await ctx.newPage(), await ctx.newPage()];
  const [an, bn, cn] = [uname('ga'), uname('gb'), uname('gc')];
  await signUp(a, origin, an);
  await signUp(b, origin, bn);
  await signUp(c, origin, cn);
  await a.getByRole('button', { name: 'New group' }).click();
  await a.getByLabel('Group name').fill('Tea club');
  await a.getByLabel('Members (usernames, separated by commas)').fill(bn);
  await a.getByRole('button', { name: 'Create group' }).click();
  await a.getByRole('heading', { name: 'Tea club', exact: true }).waitFor();
  await send(a, 'welcome to tea');
  await openChat(b, 'Tea club');
  await b.getByRole('log').getByText('welcome to tea', { exact: true }).waitFor();
  // Carol is added from the group info.
  await a.getByRole('button', { name: 'Group info' }).click();
  await a.getByLabel('Add member (username)').fill(cn);
  await a.getByRole('button', { name: 'Add', exact: true }).click();
  await a.getByRole('dialog').getByText(`@${cn}`).waitFor();
  await a.keyboard.press('Escape');
  await openChat(c, 'Tea club');
  await send(a, 'hello Carol');
  await c.getByRole('log').getByText('hello Carol', { exact: true }).waitFor();
  await b.getByRole('log').getByText('hello Carol', { exact: true }).waitFor();
  await send(c, 'thanks!');
  await a.getByRole('log').getByText('thanks!', { exact: true }).waitFor();
  await waitTick(a, 'read'); // both others have the group open
  // Carol is removed: her chat goes away; the others go on.
  await a.getByRole('button', { name: 'Group info' }).click();
  await a.getByRole('button', { name: `Remove ${cn}` }).click();
  await a.getByRole('dialog').getByText(`@${cn}`).waitFor({ state: 'detached' });
  await a.keyboard.press('Escape');
  await c.getByRole('navigation', { name: 'Chats' }).getByRole('button', { name: /Tea club/ })
    .waitFor({ state: 'detached' });
  await send(a, 'just us now');
  await b.getByRole('log').getByText('just us now', { exact: true }).waitFor();
});

test('typing both ways and presence', async (ctx) => {
  const origin = ctx.origins.h2();
  const a = await ctx.newPage(), b = await ctx.newPage();
  const an = uname('ta'), bn = uname('tb');
  await signUp(a, origin, an);
  await signUp(b, origin, bn);
  await newChat(a, bn);
  await send(a, 'are you there?');
  await openChat(b, an);
  // Presence: each sees the other online in the header.
  await a.locator('.conv-head .presence').getByText('online', { exact: true }).waitFor();
  await b.locator('.conv-head .presence').getByText('online', { exact: true }).waitFor();
  const bposted = b.waitForResponse((r) => r.url().endsWith('/typing'));
  await b.getByLabel('Message', { exact: true }).pressSequentially('typing a reply');
  const btr = await bposted;
  if (btr.status() !== 204) throw new Error(`typing: ${btr.status()}`);
  await a.locator('.conv-head .presence').getByText('typing…').waitFor();
  const posted = a.waitForResponse((r) => r.url().endsWith('/typing'));
  await a.getByLabel('Message', { exact: true }).pressSequentially('me too');
  const tr = await posted;
  if (tr.status() !== 204) throw new Error(`typing: ${tr.status()}`);
  await b.locator('.conv-head .presence').getByText('typing…').waitFor();
  // Ben leaves: Ann sees him go offline (presence timeout is 5 s in the tests).
  await b.close();
  await a.locator('.conv-head .presence').getByText(/last seen/).waitFor({ timeout: 20000 });
});

test('media: upload with progress and cancel, image inline, download compared byte for byte', async (ctx) => {
  const origin = ctx.origins.h2();
  const a = await ctx.newPage(), b = await ctx.newPage();
  const an = uname('ma'), bn = uname('mb');
  await signUp(a, origin, an);
  await signUp(b, origin, bn);
  await newChat(a, bn);
  await openChat(b, an);
  // Watch for the progress bar: a fast loopback upload may show it only briefly.
  await a.evaluate(() => {
    window.sawProgress = false;
    new MutationObserver(() => {
      if (document.querySelector('progress[aria-label="Upload progress"]')) window.sawProgress = true;
    }).observe(document.body, { childList: true, subtree: true });
  });
  const bytes = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
  // First an upload that is cancelled: the cancel button stops it and nothing is sent.
  await a.route('**/v1/blobs/**', async (route) => {
    await new Promise((r) => setTimeout(r, 1500));
    await route.continue().catch(() => {}); // cancelled meanwhile
  });
  await a.locator('input[type=file]').setInputFiles({ name: 'cancelled.bin', mimeType: 'application/octet-stream', buffer: bytes });
  await a.getByRole('button', { name: 'Cancel upload' }).click();
  await a.getByRole('progressbar', { name: 'Upload progress' }).waitFor({ state: 'detached' });
  await a.unroute('**/v1/blobs/**');
  await a.locator('input[type=file]').setInputFiles({ name: 'data.bin', mimeType: 'application/octet-stream', buffer: bytes });
  await b.getByRole('link', { name: 'Download data.bin' }).waitFor();
  if (!(await a.evaluate(() => window.sawProgress))) throw new Error('no progress bar was shown');
  if (await b.getByText('cancelled.bin').count()) throw new Error('the cancelled upload was sent');
  const [dl] = await Promise.all([b.waitForEvent('download'), b.getByRole('link', { name: 'Download data.bin' }).click()]);
  const got = await (await import('node:fs/promises')).readFile(await dl.path());
  if (!got.equals(bytes)) throw new Error(`downloaded ${got.length} bytes that differ from the ${bytes.length} sent`);
  // A PNG is shown inline.
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAYAAABytg0kAAAAFklEQVR4AWP4z8Dwn4GBgYGJgYEBAB0bAgGm6dFrAAAAAElFTkSuQmCC', 'base64');
  await a.locator('input[type=file]').setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: png });
  const img = b.getByRole('log').getByRole('img', { name: 'dot.png' });
  await img.waitFor();
  await b.waitForFunction(() => [...document.querySelectorAll('img.thumb')].some((i) => i.complete && i.naturalWidth === 2));
});

test('search: highlighted snippet, the hit opens the conversation at the message', async (ctx) => {
  const origin = ctx.origins.h1();
  const a = await ctx.newPage(), b = await ctx.newPage();
  const an = uname('sa'), bn = uname('sb');
  await signUp(a, origin, an);
  await signUp(b, origin, bn);
  await newChat(a, bn);
  const word = `zebra${Math.random().toString(36).slice(2, 8)}`;
  await send(a, `the <b>quick</b> ${word} jumps & runs`);
  for (let i = 0; i < 70; i++) await send(a, `filler ${i}`);
  await b.getByRole('button', { name: 'Search messages' }).click();
  await b.getByLabel('Search', { exact: true }).fill(word);
  await b.getByLabel('Search', { exact: true }).press('Enter');
  const hit = b.getByRole('dialog').getByRole('button', { name: new RegExp(word) });
  await hit.waitFor();
  // The match is a <mark> element, and the user's <b> stayed text.
  if ((await hit.locator('mark').first().textContent()) !== word) throw new Error('no <mark> around the match');
  if (await hit.locator('b').count()) throw new Error('user text became markup');
  await hit.click();
  const msg = b.getByRole('log').getByText(`the <b>quick</b> ${word} jumps & runs`, { exact: true });
  await msg.waitFor();
  await b.locator('.msg.focus').waitFor();
  const box = await msg.boundingBox();
  const vp = b.viewportSize();
  if (!box || box.y < 0 || box.y > vp.height) throw new Error('the hit is not scrolled into view');
});

test('offline user gets everything on return, exactly once', async (ctx) => {
  const origin = ctx.origins.h2();
  const a = await ctx.newPage(), b = await ctx.newPage();
  const an = uname('oa'), bn = uname('ob');
  await signUp(a, origin, an);
  await signUp(b, origin, bn);
  await newChat(a, bn);
  await send(a, 'before you left');
  await openChat(b, an);
  await b.goto('about:blank'); // Ben closes the tab
  for (let i = 1; i <= 5; i++) await send(a, `while away ${i}`);
  await waitTick(a, 'sent');
  await b.goto(`${origin}/`);
  await online(b);
  await waitTick(a, 'delivered'); // his device has them before he looks
  await openChat(b, an);
  for (let i = 1; i <= 5; i++) await expectCount(b, `while away ${i}`, 1, 40000);
  await expectCount(b, 'before you left', 1);
  await waitTick(a, 'read', 20000);
});

test('parleyd restarted mid-conversation: every message arrives exactly once', async (ctx) => {
  const origin = ctx.origins.h1();
  const a = await ctx.newPage(), b = await ctx.newPage();
  const an = uname('ra'), bn = uname('rb');
  await signUp(a, origin, an);
  await signUp(b, origin, bn);
  await newChat(a, bn);
  await openChat(b, an);
  for (let i = 1; i <= 3; i++) await send(a, `before restart ${i}`);
  for (let i = 1; i <= 3; i++) await expectCount(b, `before restart ${i}`, 1);
  const ports = { port: ctx.srv.port, tls: ctx.srv.tls };
  await stopServer(ctx.srv);
  await b.getByRole('status').getByText(/Reconnecting/).waitFor();
  ctx.srv = await startServer(ctx.webDir, ports, ctx.srv.dir);
  await online(a);
  await online(b);
  for (let i = 1; i <= 3; i++) await send(a, `after restart ${i}`);
  for (let i = 1; i <= 3; i++) {
    await expectCount(b, `after restart ${i}`, 1, 40000);
    await expectCount(b, `before restart ${i}`, 1);
  }
  // And the other way.
  await send(b, 'still here');
  await expectCount(a, 'still here', 1, 20000);
});

// Every screen: axe-core finds no serious or critical violation (light and dark), and a
// screenshot per screen at phone and desktop width, light and dark, lands in the output dir.
test('every screen: axe-core clean, screenshots phone/desktop light/dark', async (ctx) => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { createRequire } = await import('node:module');
  const axeSrc = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  const origin = ctx.origins.h2();
  const a = await ctx.newPage(), b = await ctx.newPage();
  const an = uname('xa'), bn = uname('xb');
  const shots = outDir();
  const problems = [];
  const check = async (page, screen) => {
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const [w, h, kind] of [[390, 844, 'phone'], [1280, 800, 'desktop']]) {
        await page.setViewportSize({ width: w, height: h });
        await page.screenshot({ path: join(shots, `${screen}-${kind}-${scheme}.png`) });
        if (kind === 'phone') continue;
        // axe runs in the page through DevTools evaluation, which the CSP does not govern.
        if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(axeSrc);
        const v = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] }))
          .violations.filter((x) => x.impact === 'serious' || x.impact === 'critical')
          .map((x) => `${x.id} (${x.impact}): ${x.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`));
        for (const x of v) problems.push(`${screen} ${scheme}: ${x}`);
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
  };
  await a.goto(`${origin}/`);
  await a.getByRole('button', { name: 'Sign in' }).waitFor();
  await check(a, '01-sign-in');
  await signUp(a, origin, an);
  await check(a, '02-chat-list-empty');
  await signUp(b, origin, bn);
  await newChat(a, bn);
  await send(a, 'Hi! This is what a conversation looks like.');
  await openChat(b, an);
  await send(b, 'And a reply, with ticks on the other side.');
  await a.getByRole('log').getByText('And a reply, with ticks on the other side.').waitFor();
  await waitTick(a, 'read');
  await a.getByRole('button', { name: 'New group' }).click();
  await check(a, '04-new-group');
  await a.getByLabel('Group name').fill('Design review');
  await a.getByLabel('Members (usernames, separated by commas)').fill(bn);
  await a.getByRole('button', { name: 'Create group' }).click();
  await a.getByRole('heading', { name: 'Design review', exact: true }).waitFor();
  await send(a, 'Group chats show who said what.');
  await b.getByRole('navigation', { name: 'Chats' }).getByRole('button', { name: /Design review/ }).waitFor();
  await a.setViewportSize({ width: 1280, height: 800 });
  await openChat(a, bn);
  await check(a, '03-conversation');
  await a.getByRole('button', { name: 'New chat' }).click();
  await check(a, '05-new-chat');
  await a.keyboard.press('Escape');
  await openChat(a, 'Design review');
  await check(a, '06-group-conversation');
  await a.getByRole('button', { name: 'Group info' }).click();
  await a.getByRole('dialog').getByText(`@${bn}`).waitFor();
  await check(a, '07-group-info');
  await a.keyboard.press('Escape');
  await a.getByRole('button', { name: 'Search messages' }).click();
  await a.getByLabel('Search', { exact: true }).fill('conversation');
  await a.getByLabel('Search', { exact: true }).press('Enter');
  await a.getByRole('dialog').locator('mark').first().waitFor();
  await check(a, '08-search');
  await a.keyboard.press('Escape');
  await a.getByRole('button', { name: 'Settings' }).click();
  await check(a, '09-settings');
  await a.keyboard.press('Escape');
  await a.keyboard.press('Escape'); // closes the conversation
  await check(a, '10-chat-list');
  // End-to-end encryption set up afterwards from the side bar, an e2e chat, its safety number.
  for (const p of [a, b]) {
    await p.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
    await p.getByRole('button', { name: 'Set up encryption' }).click();
    await e2eReady(p);
  }
  await newE2EChat(a, bn);
  await send(a, 'This chat is end-to-end encrypted.');
  await check(a, '11-e2e-conversation');
  await a.getByRole('button', { name: 'Safety number' }).click();
  await safetyDigits(a);
  await check(a, '12-safety-number');
  if (problems.length) throw new Error(`axe:\n  ${problems.join('\n  ')}`);
});

test('EventSource blocked: long-polls /v1/sync; reply quoting; unread count in the title', async (ctx) => {
  const origin = ctx.origins.h1();
  const a = await ctx.newPage(), b = await ctx.newPage();
  const an = uname('fa'), bn = uname('fb');
  await signUp(a, origin, an);
  // Ben's network breaks every event stream (a buffering proxy): the app must long-poll.
  await b.route('**/v1/events**', (route) => route.abort());
  await b.goto(`${origin}/`);
  await b.getByLabel('Username', { exact: true }).fill(bn);
  await b.getByLabel('Password', { exact: true }).fill('correct horse battery staple');
  await b.getByRole('button', { name: 'Sign up' }).click();
  await b.waitForFunction(() => window.parley.state.conn.mode === 'sync' && window.parley.state.conn.state === 'online',
    null, { timeout: 30000 });
  await newChat(a, bn);
  await send(a, 'first, over long-polling');
  await send(a, 'second one');
  // Unread count in Ben's title while the chat is closed.
  await b.waitForFunction(() => document.title === '(2) Parley', null, { timeout: 30000 });
  await openChat(b, an);
  await b.getByRole('log').getByText('second one', { exact: true }).waitFor();
  await b.waitForFunction(() => document.title === 'Parley');
  await waitTick(a, 'read', 30000);
  // Ben replies to the first message, quoting it; Esc would drop the quote.
  await b.getByRole('log').getByText('first, over long-polling', { exact: true }).hover();
  await b.getByRole('button', { name: /^Reply to message 1$/ }).click();
  await b.getByText(/^Replying to/).waitFor();
  await b.getByLabel('Message', { exact: true }).fill('quoted reply');
  await b.getByLabel('Message', { exact: true }).press('Enter');
  const mine = a.getByRole('log').locator('.msg', { hasText: 'quoted reply' });
  await mine.waitFor();
  await mine.locator('blockquote').getByText('first, over long-polling').waitFor();
});

test('settings: display name, last-seen privacy, devices with one ended', async (ctx) => {
  const origin = ctx.origins.h2();
  const a = await ctx.newPage(), a2 = await ctx.newPage();
  const an = uname('da');
  await signUp(a, origin, an);
  // The same account signs in from a second browser.
  await a2.goto(`${origin}/`);
  await a2.getByLabel('Username', { exact: true }).fill(an);
  await a2.getByLabel('Password', { exact: true }).fill('correct horse battery staple');
  await a2.getByRole('button', { name: 'Sign in' }).click();
  await online(a2);
  await a.getByRole('button', { name: 'Settings' }).click();
  await a.getByLabel('Display name').fill('Ann Example');
  await a.getByLabel('Who sees my last seen').selectOption('nobody');
  await a.getByRole('button', { name: 'Save' }).click();
  await a.getByRole('dialog').getByText('Saved.').waitFor();
  const devices = a.getByRole('list', { name: 'Devices' });
  await devices.getByRole('listitem').nth(1).waitFor();
  await devices.getByRole('button', { name: /^End session/ }).click();
  await devices.getByRole('listitem').nth(1).waitFor({ state: 'detached' });
  // The ended browser is signed out: its next request is refused.
  const r = await a2.evaluate(() => fetch('/v1/me').then((x) => x.status));
  if (r !== 401) throw new Error(`the ended session still works: ${r}`);
  const me = await a.evaluate(() => fetch('/v1/me').then((x) => x.json()));
  if (me.display_name !== 'Ann Example' || me.last_seen_visibility !== 'nobody') throw new Error(JSON.stringify(me));
});

// An overloaded server says 503 or 429 with Retry-After; the client asks again after that wait
// instead of failing the send (issue 9). A server of its own with a send quota of 1 per second
// refuses the second and third of three quick sends once each.
test('sends refused with 429 + Retry-After are sent again after the wait', async (ctx) => {
  const srv = await startServer(ctx.webDir, { port: 0, tls: 0 }, null, { '--quota-sends-per-s': 1 });
  try {
    const origin = `http://127.0.0.1:${srv.port}`;
    const a = await ctx.newPage(), b = await ctx.newPage();
    const an = uname('qa'), bn = uname('qb');
    await signUp(a, origin, an);
    await signUp(b, origin, bn);
    await newChat(a, bn);
    const refused = [];
    a.on('response', (r) => { if (r.status() === 429) refused.push(r.url()); });
    for (const t of ['quota one', 'quota two', 'quota three']) await send(a, t);
    await openChat(b, an);
    for (const t of ['quota one', 'quota two', 'quota three']) await expectCount(b, t, 1, 15000);
    await expectCount(a, 'quota three', 1, 15000);
    if (refused.length === 0) throw new Error('no send was refused: the quota did not apply');
  } finally {
    await stopServer(srv);
  }
});

// The "Loading…" that stayed: the answer to /v1/me came before the app's first effects had
// subscribed to the state, so the change to "signed out" reached nobody. Here the answer comes
// at once (fetch wrapped to resolve in a microtask), which loses that race every time.
test('sign-in page appears even when /v1/me answers before the first render subscribed', async (ctx) => {
  const origin = ctx.origins.h1();
  const a = await ctx.newPage();
  await a.addInitScript(() => {
    const f = window.fetch;
    window.fetch = (u, o) => (String(u).endsWith('/v1/me')
      ? Promise.resolve(new Response('{"status":401}', { status: 401, headers: { 'Content-Type': 'application/problem+json' } }))
      : f(u, o));
  });
  await a.goto(`${origin}/`);
  await a.getByLabel('Username', { exact: true }).waitFor({ timeout: 5000 });
});

// Issue 12's messenger features (cases-messenger.mjs).
cases.push(...messengerCases);
cases.push(...historyCases);
