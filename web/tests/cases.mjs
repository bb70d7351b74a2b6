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
