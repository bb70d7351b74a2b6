// SPDX-License-Identifier: MIT
// Parley admin - the operator dashboard at /admin: every analytics series as a chart over a
// range and granularity, the retention heat map, group sizes, auto-refresh, and the signed-in
// user's own activity. Uses the web client's session (the parley_token cookie): sign in at /.
import { render } from 'preact';
import { useEffect, useState, useCallback } from 'preact/hooks';
import { html } from '../ui/html.js';
import { get, ApiError } from '../api.js';
import { LineChart, BarChart, HeatMap, short } from './chart.js';

// [metric, title, unit, daily only]
const SECTIONS = [
  ['Active users', [['dau', 'Daily active users'], ['wau', 'Weekly active users'],
    ['mau', 'Monthly active users'], ['stickiness', 'Stickiness (DAU/MAU)', '%'],
    ['registrations', 'New registrations']]],
  ['Messages', [['messages', 'Messages'], ['messages_direct', 'Direct messages'],
    ['messages_group', 'Group messages'], ['messages_media', 'Media messages'],
    ['messages_e2e', 'End-to-end encrypted messages'], ['active_groups', 'Active groups']]],
  ['Delivery', [['delivery_p50_ms', 'Delivery p50', ' ms'], ['delivery_p95_ms', 'Delivery p95', ' ms'],
    ['delivery_p99_ms', 'Delivery p99', ' ms'], ['read_p50_ms', 'Read p50', ' ms'],
    ['read_p95_ms', 'Read p95', ' ms'], ['read_p99_ms', 'Read p99', ' ms']]],
  ['Media', [['media_uploads', 'Media uploads'], ['media_bytes', 'Media bytes', ' B'],
    ['media_downloads', 'Media downloads']]],
  ['Connections', [['peak_streams', 'Peak concurrent streams'], ['stream_opens_h1', 'Streams opened over HTTP/1.1'],
    ['stream_opens_h2c', 'Streams opened over h2c'], ['stream_opens_h2', 'Streams opened over h2'],
    ['reconnects', 'Reconnects']]],
  ['Search', [['searches', 'Searches'], ['search_p50_ms', 'Search p50', ' ms'], ['search_p95_ms', 'Search p95', ' ms']]],
];
const DAILY = new Set(['dau', 'wau', 'mau', 'stickiness', 'active_groups']);
const RANGES = [['7', 'Last 7 days'], ['30', 'Last 30 days'], ['90', 'Last 90 days'], ['365', 'Last 365 days']];
const REFRESH_MS = 60000;

const isoDay = (d) => d.toISOString().slice(0, 10);

function range(days) {
  const to = new Date(Date.now() + 86400000);
  const from = new Date(Date.now() - (Number(days) - 1) * 86400000);
  return { from: isoDay(from), to: isoDay(to) };
}

// One request per chart. Stickiness comes as the ratio DAU / MAU; the chart shows a percentage.
async function series(metric, r, gran) {
  const q = `from=${r.from}&to=${r.to}&granularity=${gran}`;
  const pts = (await get(`/v1/admin/analytics/${metric}?${q}`)).points;
  return metric === 'stickiness' ? pts.map((p) => ({ t: p.t, value: 100 * p.value })) : pts;
}

function Chart({ metric, title, unit, data, hourly }) {
  const pts = data[metric];
  const total = pts && pts.reduce((s, p) => s + p.value, 0);
  return html`
    <figure class="card">
      <figcaption><span>${title}</span>
        ${pts && !unit && !DAILY.has(metric) && metric !== 'peak_streams' && html`<span class="muted">total ${short(total)}</span>`}
      </figcaption>
      ${pts ? html`<${LineChart} points=${pts} label=${title} unit=${unit || ''} hourly=${hourly && !DAILY.has(metric)} />`
        : html`<p class="muted">Loading…</p>`}
    </figure>`;
}

function Activity({ me }) {
  if (!me) return null;
  const weeks = [...me.weeks].reverse();
  return html`
    <section aria-labelledby="act-h">
      <h2 id="act-h">Your activity</h2>
      <div class="grid">
        <figure class="card"><figcaption>Messages you sent per week</figcaption>
          <${BarChart} label="Messages you sent per week" bars=${weeks.map((w) => ({ label: w.week.slice(5, 10), value: w.sent }))} /></figure>
        <figure class="card"><figcaption>Messages you received per week</figcaption>
          <${BarChart} label="Messages you received per week" bars=${weeks.map((w) => ({ label: w.week.slice(5, 10), value: w.received }))} /></figure>
        <div class="card">
          <p>Replies in the last 30 days: <strong>${me.replies}</strong>${me.avg_reply_s !== null && html`, on average after <strong>${short(me.avg_reply_s)} s</strong>`}</p>
          <h3>Most active conversations</h3>
          <ol>${me.top_conversations.map((c) => html`<li>#${c.conversation_id} (${c.kind}): ${c.messages} messages</li>`)}</ol>
        </div>
      </div>
    </section>`;
}

function Dashboard() {
  const [days, setDays] = useState('30');
  const [gran, setGran] = useState('day');
  const [auto, setAuto] = useState(true);
  const [data, setData] = useState({});
  const [extra, setExtra] = useState({});
  const [err, setErr] = useState(null);
  const [stamp, setStamp] = useState(null);

  const load = useCallback(async () => {
    const r = range(days);
    try {
      const out = {};
      await Promise.all(SECTIONS.flatMap(([, ms]) => ms).map(async ([m]) => {
        out[m] = await series(m, r, DAILY.has(m) ? 'day' : gran);
      }));
      const [ret, sizes, me] = await Promise.all([
        get(`/v1/admin/analytics/retention?from=${isoDay(new Date(Date.now() - 8 * 7 * 86400000))}`),
        get('/v1/admin/analytics/group_sizes'), get('/v1/me/activity')]);
      setData(out);
      setExtra({ ret, sizes, me });
      setErr(null);
      setStamp(new Date());
    } catch (e) {
      setErr(e instanceof ApiError ? e.status : 0);
    }
  }, [days, gran]);

  useEffect(() => { load(); }, [load]);
  useEffect(() => {
    if (!auto) return undefined;
    const t = setInterval(load, REFRESH_MS);
    return () => clearInterval(t);
  }, [auto, load]);

  if (err === 401) return html`<main class="notice"><h1>Parley analytics</h1><p>Sign in first, then come back: <a href="/">open Parley</a>.</p></main>`;
  if (err === 404) return html`<main class="notice"><h1>Parley analytics</h1><p>This page is for operators: your account is not an admin.</p></main>`;
  const hourly = gran === 'hour';
  return html`
    <header class="top">
      <h1>Parley analytics</h1>
      <form class="controls" onSubmit=${(e) => e.preventDefault()}>
        <label>Range <select value=${days} onChange=${(e) => setDays(e.target.value)}>
          ${RANGES.map(([v, t]) => html`<option value=${v}>${t}</option>`)}</select></label>
        <label>Granularity <select value=${gran} onChange=${(e) => setGran(e.target.value)}>
          <option value="day">Day</option><option value="hour">Hour</option></select></label>
        <label class="check"><input type="checkbox" checked=${auto} onChange=${(e) => setAuto(e.target.checked)} /> Auto-refresh</label>
        <button type="button" onClick=${load}>Refresh now</button>
      </form>
      <p class="muted" role="status">${err !== null ? 'Could not load the numbers; retrying on the next refresh.' : stamp ? `Updated ${stamp.toLocaleTimeString()}` : 'Loading…'}</p>
    </header>
    <main>
      ${SECTIONS.map(([name, ms]) => html`
        <section aria-label=${name}>
          <h2>${name}</h2>
          <div class="grid">${ms.map(([m, t, u]) => html`<${Chart} key=${m} metric=${m} title=${t} unit=${u} data=${data} hourly=${hourly} />`)}</div>
        </section>`)}
      <section aria-labelledby="groups-h">
        <h2 id="groups-h">Groups</h2>
        <div class="grid">
          <figure class="card"><figcaption>Group sizes (members)</figcaption>
            ${extra.sizes && html`<${BarChart} label="Group sizes" bars=${extra.sizes.buckets.map((b) => ({
              label: b.max_members ? `${b.min_members}–${b.max_members}` : `${b.min_members}+`, value: b.groups }))} />`}</figure>
        </div>
      </section>
      <section aria-labelledby="ret-h">
        <h2 id="ret-h">Retention</h2>
        <figure class="card wide"><figcaption>Retention by weekly cohort (cohorts under ${extra.ret ? extra.ret.min_cohort : '…'} users are hidden)</figcaption>
          ${extra.ret && html`<${HeatMap} label="Retention cohorts" cohorts=${extra.ret.cohorts} />`}</figure>
      </section>
      <${Activity} me=${extra.me} />
    </main>`;
}

render(html`<${Dashboard} />`, document.getElementById('admin'));
