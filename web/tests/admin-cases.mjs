// SPDX-License-Identifier: MIT
// Parley web tests - the operator dashboard at /admin: every chart drawn (a screenshot of each),
// the range and granularity pickers, the retention heat map, and the page non-admins get.
// Copyright (c) 2026 Parley developers
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { uname, signUp, newChat, send, startServer, stopServer, outDir, sleep } from './lib.mjs';

export const cases = [];
const test = (name, fn) => cases.push([name, fn]);

// The chart titles the dashboard draws (web/src/admin/main.js).
const CHARTS = ['Daily active users', 'Weekly active users', 'Monthly active users',
  'Stickiness (DAU/MAU)', 'New registrations', 'Messages', 'Direct messages', 'Group messages',
  'Media messages', 'End-to-end encrypted messages', 'Active groups', 'Delivery p50',
  'Delivery p95', 'Delivery p99', 'Read p50', 'Read p95', 'Read p99', 'Media uploads',
  'Media bytes', 'Media downloads', 'Peak concurrent streams', 'Streams opened over HTTP/1.1',
  'Streams opened over h2c', 'Streams opened over h2', 'Reconnects', 'Searches', 'Search p50',
  'Search p95', 'Group sizes', 'Retention cohorts', 'Messages you sent per week',
  'Messages you received per week'];

test('admin: the dashboard draws every chart for an admin, and tells others it is not theirs', async (ctx) => {
  const op = uname('op'), other = uname('ob');
  const srv = await startServer(ctx.webDir, undefined, null,
    { '--admins': op, '--analytics-interval': '200' });
  try {
    const origin = `http://127.0.0.1:${srv.port}`;
    const a = await ctx.newPage(), b = await ctx.newPage();
    await signUp(a, origin, op);
    await signUp(b, origin, other);
    await newChat(a, other);
    await send(a, 'numbers, please');

    await b.goto(`${origin}/admin`);
    await b.getByText('your account is not an admin').waitFor();

    await a.goto(`${origin}/admin`);
    await a.getByRole('heading', { name: 'Parley analytics' }).waitFor();
    const messages = a.getByRole('img', { name: 'Messages chart', exact: true });
    await messages.waitFor();
    // The aggregator catches up within a pass or two: refresh until today's count shows.
    for (let i = 0; ; i++) {
      const t = await messages.locator('title').textContent();
      if (!/latest 0\b/.test(t)) break;
      if (i > 40) throw new Error(`messages never counted: ${t}`);
      await sleep(250);
      await a.getByRole('button', { name: 'Refresh now' }).click();
    }
    await a.getByLabel('Granularity').selectOption('hour');
    await a.getByLabel('Range').selectOption('7');
    await a.getByRole('status').getByText(/^Updated /).waitFor();
    for (const name of CHARTS) {
      const chart = a.getByRole('img', { name: `${name} chart`, exact: true });
      await chart.waitFor();
      await chart.screenshot({ path: join(outDir(), `admin-${name.replace(/\W+/g, '-').toLowerCase()}.png`) });
    }
    await a.getByLabel('Auto-refresh').uncheck();
    await a.screenshot({ path: join(outDir(), 'admin-dashboard.png'), fullPage: true });
  } finally {
    await stopServer(srv);
    rmSync(srv.dir, { recursive: true, force: true });
  }
});
