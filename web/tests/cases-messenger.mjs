// SPDX-License-Identifier: MIT
// Parley web tests - the messenger features of issue 12 in the browser, two (or more) browser
// contexts each: the message menu (edit, react, delete for everyone / for me, forward), message
// requests, blocking, disappearing messages, pin and mute. Each case also runs axe-core on the
// screens it opens and leaves screenshots in the output dir (13-… onwards).
// Copyright (c) 2026 Parley developers
import { readFileSync } from 'node:fs';
import { uname, signUp, newChat, send, openChat, outDir, sleep, signUpE2E, newE2EChat, shot } from './lib.mjs';

export const cases = [];
// Every name starts with "messenger", so PARLEY_WEB_ONLY=messenger runs just these.
const test = (name, fn) => cases.push([`messenger ${name}`, fn]);

const bubble = (page, text) => page.getByRole('log').locator('.msg').filter({ hasText: text });

// Opens a message's menu with the mouse (hover shows the button) and picks an item.
async function menu(page, text, item) {
  const b = bubble(page, text).last();
  await b.hover();
  await b.getByRole('button', { name: 'Message actions' }).click();
  await page.getByRole('menu', { name: 'Message actions' }).getByRole('menuitem', { name: item, exact: true }).click();
}

// Waits until fn() is true (polled), or fails with what.
async function until(fn, what, timeout = 10000) {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > timeout) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

// Opens the chat whose title starts with title (lib's openChat also matches a group whose
// preview names that user).
async function openTitled(page, title) {
  await page.getByRole('navigation', { name: 'Chats' }).getByRole('button', { name: new RegExp(`^${title}`) }).click();
  await page.getByRole('heading', { name: title, exact: true }).waitFor();
}

async function pair(ctx, proto, a = 'ma', b = 'mb') {
  const origin = ctx.origins[proto]();
  const pa = await ctx.newPage(), pb = await ctx.newPage();
  const an = uname(a), bn = uname(b);
  await signUp(pa, origin, an);
  await signUp(pb, origin, bn);
  return { origin, a: pa, b: pb, an, bn };
}

for (const proto of ['h1', 'h2']) {
  test(`${proto}: message menu: edit, react (keyboard too), delete for everyone and for me`, async (ctx) => {
    const { a, b, an, bn } = await pair(ctx, proto);
    await newChat(a, bn);
    await send(a, 'meet at teh station');
    await send(a, 'this one goes away');
    await send(a, 'keep me');
    await openChat(b, an);
    await b.getByRole('log').getByText('keep me', { exact: true }).waitFor();
    await b.getByRole('button', { name: 'Accept' }).click(); // the request banner (own case below)

    // Edit: the composer takes the text; Enter saves; both sides show the new text, "edited".
    await menu(a, 'meet at teh station', 'Edit');
    const box = a.getByLabel('Message', { exact: true });
    await a.getByText('Editing message').waitFor();
    await until(async () => (await box.inputValue()) === 'meet at teh station', 'the composer holds the text to edit');
    await box.fill('meet at the station');
    await box.press('Enter');
    for (const p of [a, b]) {
      await bubble(p, 'meet at the station').getByText('edited', { exact: true }).waitFor();
      if (await p.getByRole('log').getByText('meet at teh station').count()) throw new Error('the old text is still shown');
    }

    // React, Ben by keyboard only: focus the menu button, Enter opens the menu with focus on
    // the first emoji; ArrowRight moves to the second; Enter picks it.
    const target = bubble(b, 'meet at the station');
    await target.getByRole('button', { name: 'Message actions' }).focus();
    await b.keyboard.press('Enter');
    await b.getByRole('menu', { name: 'Message actions' }).waitFor();
    await shot(b, '13-message-menu');
    await b.keyboard.press('ArrowRight');
    await b.keyboard.press('Enter');
    await b.getByRole('menu').waitFor({ state: 'detached' });
    await bubble(a, 'meet at the station').getByRole('button', { name: '❤️ 1' }).waitFor();
    const mineB = target.getByRole('button', { name: '❤️ 1' });
    if ((await mineB.getAttribute('aria-pressed')) !== 'true') throw new Error("Ben's own reaction is not highlighted");
    // Ann adds the same: 2, hers highlighted; Ben clicks his again: it goes, Ann sees 1.
    await bubble(a, 'meet at the station').getByRole('button', { name: '❤️ 1' }).click();
    await target.getByRole('button', { name: '❤️ 2' }).waitFor();
    if ((await target.getByRole('button', { name: '❤️ 2' }).getAttribute('aria-pressed')) !== 'true') throw new Error('mine lost');
    await shot(b, '14-reactions');
    await target.getByRole('button', { name: '❤️ 2' }).click();
    await bubble(a, 'meet at the station').getByRole('button', { name: '❤️ 1' }).waitFor();
    await target.getByRole('button', { name: '❤️ 1' }).waitFor();
    if ((await target.getByRole('button', { name: '❤️ 1' }).getAttribute('aria-pressed')) !== 'false') throw new Error('not mine any more');

    // Delete for everyone: both see the tombstone; Ann's ticks stay.
    await menu(a, 'this one goes away', 'Delete for everyone');
    for (const p of [a, b]) {
      await p.getByRole('log').getByText('This message was deleted').waitFor();
      await p.getByRole('log').getByText('this one goes away').waitFor({ state: 'detached' });
    }
    await bubble(a, 'This message was deleted').getByRole('img', { name: /^(sent|delivered|read)$/ }).waitFor();
    // Only the sender may edit, and Ben has no "Delete for everyone" on Ann's message.
    const other = bubble(b, 'keep me');
    await other.hover();
    await other.getByRole('button', { name: 'Message actions' }).click();
    const items = await b.getByRole('menu').getByRole('menuitem').allTextContents();
    if (items.includes('Edit') || items.includes('Delete for everyone')) throw new Error(`Ben may: ${items}`);
    await b.keyboard.press('Escape');
    await b.getByRole('menu').waitFor({ state: 'detached' });
    // Delete for me: gone on Ben's side only, also after a reload.
    await menu(b, 'keep me', 'Delete for me');
    await b.getByRole('log').getByText('keep me', { exact: true }).waitFor({ state: 'detached' });
    await b.reload();
    await openChat(b, an);
    await b.getByRole('log').getByText('meet at the station').waitFor();
    if (await b.getByRole('log').getByText('keep me', { exact: true }).count()) throw new Error('deleted for me came back');
    await a.getByRole('log').getByText('keep me', { exact: true }).waitFor();
  });
}

test('forward: a text and a file to another chat, marked "Forwarded", the media re-used', async (ctx) => {
  const { a, b, an, bn } = await pair(ctx, 'h2', 'fa', 'fb');
  await newChat(a, bn);
  await send(a, 'worth sharing');
  await a.locator('input[type=file]').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('forward me\n') });
  await a.getByRole('log').getByRole('link', { name: 'Download notes.txt' }).waitFor();
  await a.getByRole('button', { name: 'New group' }).click();
  await a.getByLabel('Group name').fill('Forward club');
  await a.getByLabel('Members (usernames, separated by commas)').fill(bn);
  await a.getByRole('button', { name: 'Create group' }).click();
  await a.getByRole('heading', { name: 'Forward club', exact: true }).waitFor();
  await openTitled(a, bn);
  await menu(a, 'worth sharing', 'Forward');
  const dlg = a.getByRole('dialog', { name: 'Forward message' });
  await dlg.getByRole('button', { name: 'Forward to Forward club' }).click();
  await dlg.getByRole('status').getByText('Forwarded').waitFor();
  await shot(a, '15-forward');
  await dlg.getByRole('button', { name: 'Done' }).click();
  await menu(a, 'notes.txt', 'Forward');
  await a.getByRole('dialog', { name: 'Forward message' }).getByRole('button', { name: 'Forward to Forward club' }).click();
  await a.getByRole('dialog').getByRole('status').waitFor();
  await a.keyboard.press('Escape');
  await a.getByRole('dialog').waitFor({ state: 'detached' });
  // E2E or not, no forward into an e2e chat is offered; and Ben sees both copies as forwarded.
  await openChat(b, 'Forward club');
  await bubble(b, 'worth sharing').getByText('Forwarded', { exact: true }).waitFor();
  const file = bubble(b, 'notes.txt');
  await file.getByText('Forwarded', { exact: true }).waitFor();
  const hrefGroup = await file.getByRole('link', { name: 'Download notes.txt' }).getAttribute('href');
  await openTitled(b, an);
  const hrefDirect = await bubble(b, 'notes.txt').getByRole('link', { name: 'Download notes.txt' }).getAttribute('href');
  if (hrefGroup !== hrefDirect) throw new Error(`media not re-used: ${hrefGroup} vs ${hrefDirect}`);
  const body = await b.evaluate((u) => fetch(u).then((r) => r.text()), hrefGroup);
  if (body !== 'forward me\n') throw new Error(`forwarded file reads ${JSON.stringify(body)}`);
});

test('requests: entry with count, banner until accepted, decline, block from a request', async (ctx) => {
  const origin = ctx.origins.h2();
  const [b, a, c, d] = [await ctx.newPage(), await ctx.newPage(), await ctx.newPage(), await ctx.newPage()];
  const [bn, an, cn, dn] = [uname('rb'), uname('ra'), uname('rc'), uname('rd')];
  for (const [p, n] of [[b, bn], [a, an], [c, cn], [d, dn]]) await signUp(p, origin, n);
  for (const [p, n] of [[a, an], [c, cn], [d, dn]]) {
    await newChat(p, bn);
    await send(p, `hello from ${n}`);
  }
  const entry = b.getByRole('button', { name: 'Requests 3' });
  await entry.waitFor();
  await entry.click();
  const dlg = b.getByRole('dialog', { name: 'Message requests' });
  await dlg.getByText(`hello from ${cn}`).waitFor();
  await shot(b, '16-requests');
  // Carol's is declined from the list: her chat leaves Ben's list.
  await dlg.getByRole('listitem').filter({ hasText: cn }).getByRole('button', { name: 'Decline' }).click();
  await b.getByRole('button', { name: 'Requests 2' }).waitFor();
  await dlg.getByRole('listitem').filter({ hasText: cn }).waitFor({ state: 'detached' });
  // Ann's is opened: the banner shows until Accept.
  await dlg.getByRole('button', { name: an, exact: true }).click();
  await b.getByRole('heading', { name: an, exact: true }).waitFor();
  const banner = b.getByRole('region', { name: 'Message request' });
  await banner.getByText(`${an} wants to chat with you.`, { exact: false }).waitFor();
  await shot(b, '17-request-banner');
  await banner.getByRole('button', { name: 'Accept' }).click();
  await banner.waitFor({ state: 'detached' });
  await b.getByRole('button', { name: 'Requests 1' }).waitFor();
  const nav = b.getByRole('navigation', { name: 'Chats' });
  if (await nav.getByRole('button', { name: new RegExp(cn) }).count()) throw new Error('the declined chat is still listed');
  // Dave's is blocked from its banner: gone from the list, and what Dave sends after does not
  // reach Ben (Ann's message after it does).
  await openChat(b, dn);
  await b.getByRole('region', { name: 'Message request' }).getByRole('button', { name: `Block ${dn}` }).click();
  await nav.getByRole('button', { name: new RegExp(dn) }).waitFor({ state: 'detached' });
  await b.getByRole('button', { name: /^Requests/ }).waitFor({ state: 'detached' });
  await send(d, 'are you there?');
  await send(a, 'after Dave');
  await nav.getByRole('button', { name: new RegExp(an) }).getByText('after Dave').waitFor();
  if (await nav.getByRole('button', { name: new RegExp(dn) }).count()) throw new Error("Dave's chat came back");
  // Ben's settings list Dave as blocked; unblocking there takes him off.
  await b.getByRole('button', { name: 'Settings' }).click();
  const blocked = b.getByRole('list', { name: 'Blocked users' });
  await blocked.getByText(`@${dn}`).waitFor();
  await shot(b, '18-settings-blocked');
  await blocked.getByRole('button', { name: `Unblock ${dn}` }).click();
  await blocked.getByText(`@${dn}`).waitFor({ state: 'detached' });
  await b.getByRole('dialog').getByText('Nobody is blocked.').waitFor();
});

test('block and unblock from the chat header; the blocked side cannot send', async (ctx) => {
  const { a, b, an, bn } = await pair(ctx, 'h1', 'ka', 'kb');
  await newChat(a, bn);
  await send(a, 'hi there');
  await openChat(b, an);
  await send(b, 'hello'); // replying accepts the request
  await b.getByRole('region', { name: 'Message request' }).waitFor({ state: 'detached' });
  await a.getByRole('button', { name: 'Chat info' }).click();
  const dlg = a.getByRole('dialog', { name: 'Chat info' });
  await dlg.getByRole('button', { name: `Block ${bn}` }).click();
  await dlg.getByRole('button', { name: `Unblock ${bn}` }).waitFor();
  await shot(a, '19-chat-info');
  await a.keyboard.press('Escape');
  const banner = a.getByRole('region', { name: 'Blocked contact' });
  await banner.waitFor();
  if (await a.getByLabel('Message', { exact: true }).count()) throw new Error('a composer for a blocked contact');
  const box = b.getByLabel('Message', { exact: true });
  await box.fill('blocked?');
  await box.press('Enter');
  await b.getByRole('alert').getByText(/blocked/).waitFor();
  await banner.getByRole('button', { name: 'Unblock' }).click();
  await banner.waitFor({ state: 'detached' });
  await b.getByRole('button', { name: 'Send' }).click(); // the text stayed in Ben's box
  await a.getByRole('log').getByText('blocked?', { exact: true }).waitFor();
});

test('disappearing messages: timer picker, announcement and timer icon on both sides', async (ctx) => {
  const { a, b, an, bn } = await pair(ctx, 'h2', 'da', 'db');
  await newChat(a, bn);
  await send(a, 'before the timer');
  await openChat(b, an);
  await a.getByRole('button', { name: 'Chat info' }).click();
  await a.getByLabel('Disappearing messages', { exact: true }).selectOption({ label: '1 hour' });
  const v = await a.getByRole('dialog').getByLabel('Disappearing messages', { exact: true }).inputValue();
  if (v !== '3600') throw new Error(`picker shows ${v}`);
  await a.keyboard.press('Escape');
  await a.getByRole('log').getByText('You set disappearing messages to 1 hour').waitFor();
  await b.getByRole('log').getByText(`${an} set disappearing messages to 1 hour`).waitFor();
  for (const p of [a, b]) await p.getByRole('img', { name: 'Disappearing messages: 1 hour' }).waitFor();
  await shot(b, '20-disappearing');
  await send(b, 'this one will disappear');
  // Ben turns it off (either member may, in a direct chat).
  await b.getByRole('button', { name: 'Chat info' }).click();
  await b.getByLabel('Disappearing messages', { exact: true }).selectOption({ label: 'Off' });
  await b.keyboard.press('Escape');
  await a.getByRole('log').getByText(`${bn} turned off disappearing messages`).waitFor();
  for (const p of [a, b]) await p.getByRole('img', { name: /^Disappearing messages/ }).waitFor({ state: 'detached' });
  // The order: the announcement after the message before it, the off notice last.
  const order = await a.getByRole('log').locator('.msg .text, .notice').allTextContents();
  const i1 = order.findIndex((t) => t.includes('set disappearing')), i2 = order.indexOf('this one will disappear');
  const i3 = order.findIndex((t) => t.includes('turned off'));
  if (!(order.indexOf('before the timer') < i1 && i1 < i2 && i2 < i3)) throw new Error(`order: ${JSON.stringify(order)}`);
  // The timer is the conversation's: after a reload the picker shows it (set again to 7 days).
  await a.getByRole('button', { name: 'Chat info' }).click();
  await a.getByLabel('Disappearing messages', { exact: true }).selectOption({ label: '7 days' });
  await a.keyboard.press('Escape');
  await b.reload();
  await openChat(b, an);
  await b.getByRole('img', { name: 'Disappearing messages: 7 days' }).waitFor();
});

test('pin and mute from the chat list menu: pinned first, muted shows an icon and notifies nothing', async (ctx) => {
  const origin = ctx.origins.h2();
  const [a, b, c] = [await ctx.newPage(), await ctx.newPage(), await ctx.newPage()];
  const [an, bn, cn] = [uname('pa'), uname('pb'), uname('pc')];
  // Ann's page counts notifications, and claims to be hidden when told to (another tab).
  await a.addInitScript(() => {
    window.__notes = [];
    window.__hidden = false;
    class N { constructor(title) { window.__notes.push(title); } }
    N.permission = 'granted';
    N.requestPermission = () => Promise.resolve('granted');
    window.Notification = N;
    Object.defineProperty(Document.prototype, 'hidden', { get: () => window.__hidden, configurable: true });
  });
  for (const [p, n] of [[a, an], [b, bn], [c, cn]]) await signUp(p, origin, n);
  await newChat(b, an);
  await send(b, 'from Ben');
  await newChat(c, an);
  await send(c, 'from Carol');
  const nav = a.getByRole('navigation', { name: 'Chats' });
  const rows = () => nav.getByRole('listitem').allTextContents();
  await until(async () => (await rows()).length === 2 && (await rows())[0].includes(cn), 'Carol first');
  // Pin Ben's chat: it goes first, with the pin icon.
  const ben = nav.getByRole('listitem').filter({ hasText: bn });
  await ben.getByRole('button', { name: 'Chat options' }).click();
  await shot(a, '21-chat-menu');
  await a.getByRole('menuitem', { name: 'Pin chat' }).click();
  await ben.getByRole('img', { name: 'Pinned' }).waitFor();
  await until(async () => (await rows())[0].includes(bn), 'pinned Ben first');
  // Mute Carol's by keyboard.
  const carol = nav.getByRole('listitem').filter({ hasText: cn });
  await carol.getByRole('button', { name: 'Chat options' }).focus();
  await a.keyboard.press('Enter');
  await a.getByRole('menu').waitFor();
  await a.keyboard.press('ArrowDown'); // Pin chat → Mute for 8 hours
  await a.keyboard.press('Enter');
  await carol.getByRole('img', { name: 'Muted' }).waitFor();
  // Both survive a reload (the server keeps them).
  await a.reload();
  await ben.getByRole('img', { name: 'Pinned' }).waitFor();
  await carol.getByRole('img', { name: 'Muted' }).waitFor();
  await a.evaluate(() => { window.__hidden = true; });
  await send(c, 'muted news');
  await send(b, 'loud news');
  await until(() => a.evaluate(() => window.__notes.length >= 1), 'a notification for Ben');
  await until(async () => (await carol.textContent()).includes('muted news'), 'Carol’s message listed');
  const notes = await a.evaluate(() => window.__notes);
  if (notes.length !== 1 || notes[0] !== bn) throw new Error(`notifications: ${JSON.stringify(notes)}`);
  // Unpin and unmute again.
  await ben.getByRole('button', { name: 'Chat options' }).click();
  await a.getByRole('menuitem', { name: 'Unpin chat' }).click();
  await ben.getByRole('img', { name: 'Pinned' }).waitFor({ state: 'detached' });
  await carol.getByRole('button', { name: 'Chat options' }).click();
  await a.getByRole('menuitem', { name: 'Unmute' }).click();
  await carol.getByRole('img', { name: 'Muted' }).waitFor({ state: 'detached' });
});

// E2E chats: no plaintext edit or reaction ever goes to the server. With e2ectl.js's
// e2eEdit / e2eReact (encrypted envelopes) the menu offers them and both browsers show the
// result; without them Edit and the reactions are not offered. Delete for everyone carries no
// content and works either way.
test('e2e chat: edit and react through encrypted envelopes (or not offered), delete for everyone', async (ctx) => {
  const src = readFileSync(new URL('../src/e2ectl.js', import.meta.url), 'utf8');
  const has = /export (async )?function e2eEdit\b/.test(src) && /export (async )?function e2eReact\b/.test(src);
  const origin = ctx.origins.h2();
  const a = await ctx.newPage(), b = await ctx.newPage();
  const an = uname('ea'), bn = uname('eb');
  await signUpE2E(a, origin, an);
  await signUpE2E(b, origin, bn);
  await newE2EChat(a, bn);
  await send(a, 'secret typo');
  await send(a, 'secret to delete');
  await openChat(b, an);
  await b.getByRole('log').getByText('secret to delete', { exact: true }).waitFor({ timeout: 30000 });
  const target = bubble(a, 'secret typo');
  await target.hover();
  await target.getByRole('button', { name: 'Message actions' }).click();
  const items = await a.getByRole('menu').getByRole('menuitem').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') || e.textContent));
  if (items.includes('Forward')) throw new Error('forward offered in an e2e chat');
  if (has !== items.includes('Edit') || has !== items.includes('React with 👍'))
    throw new Error(`e2eEdit/e2eReact ${has ? 'exported' : 'absent'}, menu: ${items}`);
  await a.keyboard.press('Escape');
  if (has) {
    await menu(a, 'secret typo', 'Edit');
    const box = a.getByLabel('Message', { exact: true });
    await until(async () => (await box.inputValue()) === 'secret typo', 'the composer holds the text');
    await box.fill('secret fixed');
    await box.press('Enter');
    for (const p of [a, b]) await bubble(p, 'secret fixed').getByText('edited', { exact: true }).waitFor({ timeout: 30000 });
    const t = bubble(b, 'secret fixed');
    await t.hover();
    await t.getByRole('button', { name: 'Message actions' }).click();
    await b.getByRole('menuitem', { name: 'React with 👍' }).click();
    await bubble(a, 'secret fixed').getByRole('button', { name: '👍 1' }).waitFor({ timeout: 30000 });
  }
  await menu(a, 'secret to delete', 'Delete for everyone');
  for (const p of [a, b]) {
    await p.getByRole('log').getByText('This message was deleted').waitFor();
    await p.getByRole('log').getByText('secret to delete').waitFor({ state: 'detached' });
  }
  // Nothing readable reached the server: every message it holds for Ben is ciphertext.
  const msgs = await b.evaluate(async (id) => (await (await fetch(`/v1/conversations/${id}/messages`)).json()).messages,
    await b.evaluate(() => window.parley.state.open));
  for (const m of msgs) if (m.text || (m.kind !== 'e2e' && m.kind !== 'deleted')) throw new Error(`plaintext on the server: ${JSON.stringify(m)}`);
});
