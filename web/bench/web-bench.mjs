// SPDX-License-Identifier: MIT
// Parley web - the web client's numbers in headless Chromium against a real parleyd (loopback):
// first load (bytes transferred, first paint), a long conversation scrolled end to end (message
// nodes in the DOM, long tasks), and send -> rendered on the other browser latency.
// Copyright (c) 2026 Parley developers
//
// Same environment as tests/web.test.mjs; BENCH_MESSAGES (default 10000) and BENCH_SENDS
// (default 200) size the runs; BENCH_WEB_ONLY (load,scroll,send) picks parts; BENCH_PROFILE=FILE
// also writes a CPU profile of the scroll (chrome://inspect or DevTools opens it) and prints the
// functions with the most self time; BENCH_TRACE=FILE a Chromium trace of it, summed by event.
// Prints one line per measurement and a JSON summary.
// One command runs it with everything it needs: ./scripts/bench --only web (bench/web_bench.sh).
// Main-thread CPU comes from the DevTools protocol (Performance.getMetrics: TaskDuration and its
// Script/Layout/RecalcStyle parts), so it can be compared between runs on a busy machine, where
// wall-clock times mostly measure the run queue.
import { chromium } from 'playwright-core';
import { join, dirname } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
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
const only = new Set((env.BENCH_WEB_ONLY || 'load,scroll,send').split(',').filter(Boolean));
// Main-thread time of a page's renderer so far (seconds): all tasks, and script, layout, style.
async function cpuOf(cdp) {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
  return { task: m.TaskDuration, script: m.ScriptDuration, layout: m.LayoutDuration, style: m.RecalcStyleDuration,
    layouts: m.LayoutCount, styles: m.RecalcStyleCount };
}
// CPU time actually used (seconds, from the kernel: not inflated by waiting for a CPU on a busy
// machine, unlike the durations above): every Chromium process, the renderers, and the renderers'
// main threads (/proc/PID/task/PID/stat: a renderer's main thread is its first thread).
let bcdp = null;
function threadCpu(pid) {
  try {
    const st = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in USER_HZ (100 on Linux)
  } catch { return 0; }
}
async function procCpu() {
  bcdp = bcdp || await browser.newBrowserCDPSession();
  const { processInfo } = await bcdp.send('SystemInfo.getProcessInfo');
  const r = { all: 0, renderer: 0, main: 0 };
  for (const p of processInfo) {
    r.all += p.cpuTime;
    if (p.type === 'renderer') { r.renderer += p.cpuTime; r.main += threadCpu(p.id); }
  }
  return r;
}
const cpuDelta = (a, b) => Object.fromEntries(Object.keys(a).map((k) => [k, b[k] - a[k]]));
// The N functions with the most self time in a CDP CPU profile, as "ms name (url:line)".
function topSelf(profile, n) {
  const self = new Map();
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  for (let i = 0; i < profile.samples.length; i++) {
    const nd = byId.get(profile.samples[i]);
    const f = nd.callFrame;
    const key = `${f.functionName || '(anonymous)'} (${(f.url || '').split('/').pop()}:${f.lineNumber + 1}:${f.columnNumber + 1})`;
    self.set(key, (self.get(key) || 0) + (profile.timeDeltas[i] || 0) / 1000);
  }
  return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${v.toFixed(0).padStart(6)} ms  ${k}`);
}
// Self time per trace event name on the renderer's main thread (complete events nest by time).
function traceSelf(file, n) {
  const ev = JSON.parse(readFileSync(file, 'utf8'));
  const list = Array.isArray(ev) ? ev : ev.traceEvents;
  const main = list.find((e) => e.name === 'thread_name' && e.args && e.args.name === 'CrRendererMain' &&
    list.some((x) => x.pid === e.pid && x.name === 'FunctionCall'));
  if (!main) return ['(no renderer main thread in the trace)'];
  // Nesting by wall time (ts, dur); what is summed is thread CPU time (tdur) where the trace has it.
  const xs = list.filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && e.dur != null)
    .sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const self = new Map(), stack = [];
  const cpu = (e) => (e.tdur != null ? e.tdur : e.dur);
  for (const e of xs) {
    while (stack.length && stack[stack.length - 1].ts + stack[stack.length - 1].dur <= e.ts) stack.pop();
    const parent = stack[stack.length - 1];
    if (parent && e.ts + e.dur <= parent.ts + parent.dur) self.set(parent.name, (self.get(parent.name) || 0) - cpu(e));
    self.set(e.name, (self.get(e.name) || 0) + cpu(e));
    stack.push(e);
  }
  return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`);
}
// The main thread's tasks (outermost events) by the CPU time each used: what a long task would
// be on an idle machine, whatever the load while measuring. Returns ms, longest first.
function traceTaskCpu(file) {
  const ev = JSON.parse(readFileSync(file, 'utf8'));
  const list = Array.isArray(ev) ? ev : ev.traceEvents;
  const main = list.find((e) => e.name === 'thread_name' && e.args && e.args.name === 'CrRendererMain' &&
    list.some((x) => x.pid === e.pid && x.name === 'FunctionCall'));
  if (!main) return [];
  const xs = list.filter((e) => e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && e.dur != null)
    .sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const tasks = [];
  let endTs = -1;
  for (const e of xs) {
    if (e.ts >= endTs) { tasks.push((e.tdur != null ? e.tdur : e.dur) / 1000); endTs = e.ts + e.dur; }
  }
  return tasks.sort((a, b) => b - a);
}
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const out = {};

try {
  // ---- 1. first load: a fresh context (empty cache), over h2 with br ----
  if (only.has('load')) {
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
  if (only.has('load')) {
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
  if (only.has('scroll')) {
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
      window.bench = { maxNodes: 0, longTasks: [], frames: [] };
      const count = () => { window.bench.maxNodes = Math.max(window.bench.maxNodes, document.querySelectorAll('.msg').length); };
      new MutationObserver(count).observe(document.querySelector('[role=log]'), { childList: true });
      new PerformanceObserver((l) => { for (const e of l.getEntries()) window.bench.longTasks.push(e.duration); })
        .observe({ type: 'longtask', buffered: false });
      // Long animation frames with their scripts: what ran (event handler, promise, timer), in
      // which function, and how much of it was forced style and layout.
      try {
        new PerformanceObserver((l) => {
          for (const e of l.getEntries()) {
            if (e.duration < 100) continue;
            window.bench.frames.push({ duration: Math.round(e.duration), blocking: Math.round(e.blockingDuration || 0),
              render: Math.round(e.renderStart ? e.startTime + e.duration - e.renderStart : 0),
              styleLayout: Math.round(e.styleAndLayoutStart ? e.startTime + e.duration - e.styleAndLayoutStart : 0),
              scripts: (e.scripts || []).map((x) => ({ invoker: x.invoker, fn: x.sourceFunctionName, at: x.sourceCharPosition,
                ms: Math.round(x.duration), forced: Math.round(x.forcedStyleAndLayoutDuration) })) });
          }
        }).observe({ type: 'long-animation-frame', buffered: false });
      } catch { /* older Chromium: long tasks only */ }
      count();
    });
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Performance.enable');
    if (env.BENCH_PROFILE) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
      await cdp.send('Profiler.start');
    }
    const cpu0 = await cpuOf(cdp), proc0 = await procCpu();
    let wheels = 0;
    const up0 = Date.now();
    // Scroll up the way a wheel would, a screen at a time, until the first message is there.
    // Cheap checks between wheel steps (Playwright's text engine would walk the whole log on the
    // page's main thread every step and show up in its long tasks).
    const atStart = () => page.evaluate(() => !!document.querySelector('[role=log] .start'));
    // (Messages were stored 50 at a time concurrently: text order is not seq order within 50.)
    const atEnd = (n) => page.evaluate((t) => [...document.querySelectorAll('[role=log] .msg .text')]
      .some((x) => x.textContent.startsWith(t)), `message ${n}:`);
    if (env.BENCH_TRACE) await browser.startTracing(page, { path: env.BENCH_TRACE, screenshots: false,
      categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8.execute', 'blink', 'cc', 'toplevel'] });
    while (!(await atStart())) {
      await page.mouse.move(800, 400);
      await page.mouse.wheel(0, -4000);
      wheels++;
      await page.waitForTimeout(16);
      if (Date.now() - up0 > (Number(env.BENCH_SCROLL_LIMIT_S) || 600) * 1000) throw new Error('did not reach the start in 10 minutes');
    }
    await page.getByRole('log').getByText('message 1: lorem', { exact: false }).waitFor();
    const upMs = Date.now() - up0;
    const dn0 = Date.now();
    while (!(await atEnd(N))) {
      await page.mouse.wheel(0, 4000);
      wheels++;
      await page.waitForTimeout(16);
      if (Date.now() - dn0 > (Number(env.BENCH_SCROLL_LIMIT_S) || 600) * 1000) throw new Error(`did not reach the end in 10 minutes (last shown: ${await page.evaluate(() => { const l = document.querySelector('[role=log]'); return JSON.stringify({ last: [...l.querySelectorAll('.msg .text')].pop()?.textContent, first: l.querySelector('.msg .text')?.textContent, n: l.querySelectorAll('.msg').length, top: l.scrollTop, h: l.scrollHeight, ch: l.clientHeight }); })})`);
    }
    const cpu = cpuDelta(cpu0, await cpuOf(cdp)), proc = cpuDelta(proc0, await procCpu());
    if (env.BENCH_TRACE) {
      await browser.stopTracing();
      console.log(`trace of the scroll in ${env.BENCH_TRACE}; renderer main thread, self CPU time by event:\n${traceSelf(env.BENCH_TRACE, 20).join('\n')}`);
      const t = traceTaskCpu(env.BENCH_TRACE);
      out.scroll_trace_tasks = t.length;
      out.scroll_trace_task_cpu_max_ms = Math.round(t[0] || 0);
      out.scroll_trace_task_cpu_over_50ms = t.filter((x) => x > 50).length;
      out.scroll_trace_task_cpu_p99_ms = Math.round((t[Math.floor(t.length / 100)] || 0) * 10) / 10;
      console.log(`main-thread tasks by their own CPU time: ${t.length} tasks, longest ${t.slice(0, 5).map((x) => x.toFixed(1)).join(', ')} ms; ${out.scroll_trace_task_cpu_over_50ms} over 50 ms`);
    }
    if (env.BENCH_PROFILE) {
      const { profile } = await cdp.send('Profiler.stop');
      writeFileSync(env.BENCH_PROFILE, JSON.stringify(profile));
      console.log(`CPU profile of the scroll in ${env.BENCH_PROFILE}; most self time:\n${topSelf(profile, 25).join('\n')}`);
    }
    const b = await page.evaluate(() => window.bench);
    out.scroll_wheel_steps = wheels;
    out.scroll_main_thread_ms = Math.round(cpu.task * 1000);
    out.scroll_script_ms = Math.round(cpu.script * 1000);
    out.scroll_layout_ms = Math.round(cpu.layout * 1000);
    out.scroll_style_ms = Math.round(cpu.style * 1000);
    out.scroll_layouts = cpu.layouts;
    out.scroll_main_thread_ms_per_1000_msgs = Math.round(cpu.task * 1000 / (2 * N / 1000) * 10) / 10;
    const per1k = (x) => Math.round(x * 1000 / (2 * N / 1000) * 10) / 10;
    out.scroll_cpu_renderer_main_ms_per_1000_msgs = per1k(proc.main);
    out.scroll_cpu_renderer_ms_per_1000_msgs = per1k(proc.renderer);
    out.scroll_cpu_chromium_ms_per_1000_msgs = per1k(proc.all);
    console.log(`scroll CPU per 1,000 messages scrolled (kernel utime+stime): renderer main thread ${out.scroll_cpu_renderer_main_ms_per_1000_msgs} ms, renderer ${out.scroll_cpu_renderer_ms_per_1000_msgs} ms, all Chromium processes ${out.scroll_cpu_chromium_ms_per_1000_msgs} ms`);
    console.log(`scroll main thread busy (task durations, include waiting for a CPU): ${out.scroll_main_thread_ms} ms (script ${out.scroll_script_ms}, layout ${out.scroll_layout_ms} in ${cpu.layouts} layouts, style ${out.scroll_style_ms}) over ${wheels} wheel steps: ${out.scroll_main_thread_ms_per_1000_msgs} ms per 1,000 messages scrolled`);
    for (const f of b.frames.sort((x, y) => y.duration - x.duration).slice(0, 5))
      console.log(`  long frame ${f.duration} ms (style+layout ${f.styleLayout} ms): ${f.scripts.map((x) => `${x.invoker} ${x.fn}@${x.at} ${x.ms} ms (forced layout ${x.forced} ms)`).join('; ')}`);
    out.scroll_long_frames = b.frames.length;
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
  // Where a send's time goes: the sender's Enter (keydown) -> its POST starts -> the 201 is back;
  // the receiver's EventSource hands over the message.created event -> the row is in the log
  // (MutationObserver, after the render). One clock: both pages are in one browser on one host.
  const SSE_PROBE = () => {
    const add = EventSource.prototype.addEventListener;
    EventSource.prototype.addEventListener = function (type, fn, o) {
      if (type !== 'message.created') return add.call(this, type, fn, o);
      return add.call(this, type, function (e) {
        const t = performance.timeOrigin + performance.now();
        fn.call(this, e);
        const m = /"text":"lat (\d+)"/.exec(e.data);
        if (m) (window.sseAt ||= {})[m[1]] = [t, performance.timeOrigin + performance.now()];
      }, o);
    };
  };
  for (const kind of only.has('send') ? ['plain', 'e2e'] : []) {
    const a = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
    const bctx = await browser.newContext({ ignoreHTTPSErrors: true });
    await bctx.addInitScript(SSE_PROBE);
    const b = await bctx.newPage();
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
    await a.evaluate(() => {
      performance.setResourceTimingBufferSize(100000);
      window.keyAt = null;
      document.addEventListener('keydown', (e) => { if (e.key === 'Enter') window.keyAt = performance.now(); }, true);
    });
    const cdpA = await a.context().newCDPSession(a), cdpB = await bctx.newCDPSession(b);
    await cdpA.send('Performance.enable');
    await cdpB.send('Performance.enable');
    const a0 = await cpuOf(cdpA), b0 = await cpuOf(cdpB), p0 = await procCpu();
    const lat = [], pre = [], req = [], deliver = [], handle = [];
    const box = a.getByLabel('Message', { exact: true });
    for (let i = 0; i < SENDS; i++) {
      await box.fill(`lat ${i}`);
      await box.press('Enter');
      await b.waitForFunction((k) => k in window.seen, String(i));
      const ka = await a.evaluate(() => {
        const r = performance.getEntriesByType('resource').filter((x) => /\/messages$/.test(x.name) && x.startTime >= window.keyAt);
        return { key: performance.timeOrigin + window.keyAt, start: r.length ? performance.timeOrigin + r[0].startTime : null,
          end: r.length ? performance.timeOrigin + r[0].responseEnd : null };
      });
      const kb = await b.evaluate((k) => ({ seen: window.seen[k], sse: (window.sseAt || {})[k] }), String(i));
      lat.push(kb.seen - ka.key);
      if (ka.start) { pre.push(ka.start - ka.key); req.push(ka.end - ka.start); }
      if (kb.sse) { deliver.push(kb.sse[0] - ka.key); handle.push(kb.seen - kb.sse[0]); }
    }
    const ca = cpuDelta(a0, await cpuOf(cdpA)), cb = cpuDelta(b0, await cpuOf(cdpB)), pc = cpuDelta(p0, await procCpu());
    const k = kind === 'plain' ? 'send_render' : 'e2e_send_render';
    const r1 = (x) => Math.round(x * 10) / 10;
    out[`${k}_n`] = SENDS;
    out[`${k}_p50_ms`] = r1(pct(lat, 0.5));
    out[`${k}_p95_ms`] = r1(pct(lat, 0.95));
    out[`${k}_max_ms`] = r1(Math.max(...lat));
    out[`${k}_sender_cpu_ms_per_send`] = r1(ca.task * 1000 / SENDS);
    out[`${k}_receiver_cpu_ms_per_msg`] = r1(cb.task * 1000 / SENDS);
    out[`${k}_cpu_renderers_main_ms_per_msg`] = r1(pc.main * 1000 / SENDS);
    out[`${k}_cpu_renderers_ms_per_msg`] = r1(pc.renderer * 1000 / SENDS);
    out[`${k}_cpu_chromium_ms_per_msg`] = r1(pc.all * 1000 / SENDS);
    console.log(`${kind} send -> rendered on the other browser (${SENDS}, from the sender's Enter keydown): p50 ${out[`${k}_p50_ms`]} ms, p95 ${out[`${k}_p95_ms`]} ms, max ${out[`${k}_max_ms`]} ms; CPU per message (kernel): both renderers' main threads ${out[`${k}_cpu_renderers_main_ms_per_msg`]} ms, renderers ${out[`${k}_cpu_renderers_ms_per_msg`]} ms, all Chromium ${out[`${k}_cpu_chromium_ms_per_msg`]} ms; main thread busy per message: sender ${out[`${k}_sender_cpu_ms_per_send`]} ms, receiver ${out[`${k}_receiver_cpu_ms_per_msg`]} ms (script ${r1(cb.script * 1000 / SENDS)}, layout ${r1(cb.layout * 1000 / SENDS)}, style ${r1(cb.style * 1000 / SENDS)})`);
    const parts = [['enter_to_post', pre], ['post_rtt', req], ['enter_to_sse', deliver], ['sse_to_rendered', handle]];
    for (const [name, xs] of parts) {
      if (!xs.length) continue;
      out[`${k}_${name}_p50_ms`] = r1(pct(xs, 0.5));
      out[`${k}_${name}_p95_ms`] = r1(pct(xs, 0.95));
    }
    console.log(`  ${parts.filter(([, xs]) => xs.length).map(([n, xs]) => `${n} p50 ${r1(pct(xs, 0.5))} / p95 ${r1(pct(xs, 0.95))} ms`).join('; ')}`);
    await a.context().close();
    await bctx.close();
  }
} finally {
  await browser.close();
  await stopServer(srv);
}
console.log(JSON.stringify(out));
