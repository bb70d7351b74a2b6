// SPDX-License-Identifier: MIT
// Parley web tests - the cases, each a function of the shared context (browser, server, pages).
// Copyright (c) 2026 Parley developers
import { uname, signUp, newChat, send, waitTick, openChat, online } from './lib.mjs';

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
  await a.getByRole('log').waitFor();
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
