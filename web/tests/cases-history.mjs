// SPDX-License-Identifier: MIT
// Parley web tests - a long conversation in the windowed log: scrolled by wheel from the newest
// message to the first and back, the DOM stays bounded, every message is shown once and in order,
// "Load earlier messages" is offered until the start, and the log follows new messages again at
// the bottom. Over HTTP/1.1 and h2.
// Copyright (c) 2026 Parley developers
import { uname, signUp, openChat, PASSWORD } from './lib.mjs';

export const cases = [];
const test = (name, fn) => cases.push([name, fn]);

const HISTORY = 500;

async function api(ctx, method, path, token, body) {
  const r = await fetch(`http://127.0.0.1:${ctx.srv.port}${path}`, { method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
}

// The rows in the log now: their seqs in DOM order, and whether the log shows its start.
const rows = (page) => page.evaluate(() => {
  const log = document.querySelector('[role=log]');
  return { seqs: [...log.querySelectorAll('.msg')].map((e) => Number(e.dataset.seq)),
    start: !!log.querySelector('.start'),
    earlier: [...log.querySelectorAll('button')].some((b) => b.textContent === 'Load earlier messages') };
});

function check(r, where) {
  if (r.seqs.length >= 1000) throw new Error(`${where}: ${r.seqs.length} message nodes in the DOM`);
  for (let i = 1; i < r.seqs.length; i++)
    if (r.seqs[i] !== r.seqs[i - 1] + 1) throw new Error(`${where}: rows out of order or missing: ${r.seqs[i - 1]} then ${r.seqs[i]}`);
  if (!r.start && !r.earlier) throw new Error(`${where}: neither the start nor "Load earlier messages"`);
}

for (const proto of ['h1', 'h2']) {
  test(`${proto}: a ${HISTORY}-message history scrolls to the first message and back, DOM bounded, each message once`, async (ctx) => {
    const an = uname('hist_a'), bn = uname('hist_b');
    const b = await ctx.newPage();
    await signUp(b, ctx.origins[proto](), bn);
    await api(ctx, 'POST', '/v1/users', null, { username: an, password: PASSWORD });
    const ta = (await api(ctx, 'POST', '/v1/sessions', null, { username: an, password: PASSWORD })).token;
    const conv = await api(ctx, 'POST', '/v1/conversations', ta, { kind: 'direct', user: bn });
    const seqs = [];
    for (let i = 0; i < HISTORY; i += 25) {
      const page = await Promise.all(Array.from({ length: Math.min(25, HISTORY - i) }, (_, k) =>
        api(ctx, 'POST', `/v1/conversations/${conv.id}/messages`, ta,
          { client_msg_id: `h${i + k}`, kind: 'text', text: `history ${i + k}: ${'word '.repeat(1 + ((i + k) % 9))}` })));
      for (const m of page) seqs.push(m.seq);
    }
    seqs.sort((x, y) => x - y);
    const first = seqs[0], last = seqs[seqs.length - 1];
    await openChat(b, an);
    const log = b.getByRole('log');
    await log.locator(`[data-seq="${last}"]`).waitFor();
    const seen = new Set();
    let maxNodes = 0;
    const look = async (where) => {
      const r = await rows(b);
      check(r, where);
      for (const s of r.seqs) seen.add(s);
      maxNodes = Math.max(maxNodes, r.seqs.length);
      return r;
    };
    let r = await look('at the newest');
    if (!r.earlier) throw new Error('no "Load earlier messages" under a long history');
    await b.mouse.move(700, 400);
    const t0 = Date.now();
    while (!r.start || r.seqs[0] !== first) {
      if (Date.now() - t0 > 120000) throw new Error(`did not reach the first message (rows ${r.seqs[0]}..${r.seqs.at(-1)})`);
      await b.mouse.wheel(0, -1500);
      await b.waitForTimeout(30);
      r = await look('scrolling up');
    }
    await log.getByText('This is the start of the conversation.').waitFor();
    if (r.earlier) throw new Error('"Load earlier messages" offered at the start');
    for (const s of seqs) if (!seen.has(s)) throw new Error(`message ${s} was never shown on the way up`);
    const t1 = Date.now();
    while (r.seqs.at(-1) !== last) {
      if (Date.now() - t1 > 120000) throw new Error(`did not get back to the newest (rows ${r.seqs[0]}..${r.seqs.at(-1)})`);
      await b.mouse.wheel(0, 1500);
      await b.waitForTimeout(30);
      r = await look('scrolling down');
    }
    if (maxNodes >= HISTORY) throw new Error(`the log held ${maxNodes} message nodes: not windowed`);
    // At the bottom again, the log follows a new message.
    await b.mouse.wheel(0, 5000);
    const m = await api(ctx, 'POST', `/v1/conversations/${conv.id}/messages`, ta,
      { client_msg_id: 'h-new', kind: 'text', text: 'after the scroll' });
    await log.locator(`[data-seq="${m.seq}"]`).getByText('after the scroll').waitFor();
    await b.waitForFunction(() => {
      const l = document.querySelector('[role=log]');
      return l.scrollHeight - l.scrollTop - l.clientHeight < 40;
    }, null, { timeout: 10000 });
    check(await rows(b), 'after a new message');
  });
}
