// SPDX-License-Identifier: MIT
// Parley admin - charts drawn as SVG by hand (no library, no CDN): a line chart of a series, a
// bar chart of buckets and the retention heat map. Colours come from the style sheet's classes
// (presentation attributes and classes only: the page's CSP allows no inline styles).
import { html } from '../ui/html.js';

const W = 640, H = 220, L = 56, R = 12, T = 12, B = 28;

// 1234567 → "1.2M"; small numbers as they are.
export function short(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return String(Math.round(v * 100) / 100);
}

// A "nice" top for the y axis: 1, 2 or 5 times a power of ten, at least max.
function niceMax(max) {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

const when = (t, hourly) => {
  const d = new Date(t);
  const date = d.toISOString().slice(5, 10);
  return hourly ? `${date} ${d.toISOString().slice(11, 16)}` : date;
};

// points: [{t, value}]. label names the chart for assistive technology.
export function LineChart({ points, label, hourly, unit = '' }) {
  const n = points.length;
  const max = niceMax(Math.max(0, ...points.map((p) => p.value)));
  const x = (i) => L + (n <= 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (n - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join('');
  const area = n ? `${d}L${x(n - 1).toFixed(1)},${y(0)}L${x(0).toFixed(1)},${y(0)}Z` : '';
  const ticks = [0, max / 2, max];
  const last = n ? points[n - 1].value : 0;
  return html`
    <svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label=${`${label} chart`}>
      <title>${label}: ${n} points, latest ${short(last)}${unit}</title>
      ${ticks.map((v) => html`
        <line class="grid" x1=${L} x2=${W - R} y1=${y(v)} y2=${y(v)} />
        <text class="axis" x=${L - 6} y=${y(v) + 4} text-anchor="end">${short(v)}${unit}</text>`)}
      ${n > 0 && html`
        <path class="area" d=${area} />
        <path class="line" d=${d} />
        <text class="axis" x=${L} y=${H - 8}>${when(points[0].t, hourly)}</text>
        <text class="axis" x=${W - R} y=${H - 8} text-anchor="end">${when(points[n - 1].t, hourly)}</text>`}
      ${n === 1 && html`<circle class="dot" cx=${x(0)} cy=${y(points[0].value)} r="4" />`}
    </svg>`;
}

// bars: [{label, value}].
export function BarChart({ bars, label }) {
  const n = bars.length || 1;
  const max = niceMax(Math.max(0, ...bars.map((b) => b.value)));
  const bw = (W - L - R) / n;
  const y = (v) => T + (H - T - B) * (1 - v / max);
  return html`
    <svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label=${`${label} chart`}>
      <title>${label}</title>
      ${[0, max / 2, max].map((v) => html`
        <line class="grid" x1=${L} x2=${W - R} y1=${y(v)} y2=${y(v)} />
        <text class="axis" x=${L - 6} y=${y(v) + 4} text-anchor="end">${short(v)}</text>`)}
      ${bars.map((b, i) => html`
        <rect class="bar" x=${L + i * bw + 4} y=${y(b.value)} width=${Math.max(1, bw - 8)} height=${y(0) - y(b.value)}>
          <title>${b.label}: ${b.value}</title>
        </rect>
        <text class="axis" x=${L + i * bw + bw / 2} y=${H - 8} text-anchor="middle">${b.label}</text>`)}
    </svg>`;
}

// cohorts: [{week, size, suppressed, active: [n, ...]}]: one row per cohort, one cell per week
// after it, shaded by the share of the cohort that was active.
export function HeatMap({ cohorts, label }) {
  const cw = 60, ch = 24, left = 150, top = 24;
  const w = left + 8 * cw + 8, h = top + Math.max(1, cohorts.length) * ch + 4;
  const level = (s) => Math.min(5, Math.ceil(s * 5));
  return html`
    <svg class="chart heat" viewBox="0 0 ${w} ${h}" role="img" aria-label=${`${label} chart`}>
      <title>${label}</title>
      ${Array.from({ length: 8 }, (_, k) => html`
        <text class="axis" x=${left + k * cw + cw / 2} y=${16} text-anchor="middle">W+${k + 1}</text>`)}
      ${cohorts.map((c, r) => html`
        <text class="axis" x=${4} y=${top + r * ch + 16}>${c.week.slice(0, 10)} ${c.suppressed ? '(<min)' : `(${c.size})`}</text>
        ${c.active.map((a, k) => {
          const share = c.size ? a / c.size : 0;
          return html`
            <rect class=${`cell l${level(share)}`} x=${left + k * cw + 1} y=${top + r * ch + 1} width=${cw - 2} height=${ch - 2}>
              <title>${c.week.slice(0, 10)} W+${k + 1}: ${a} of ${c.size}</title>
            </rect>
            <text class="cell-text" x=${left + k * cw + cw / 2} y=${top + r * ch + 16} text-anchor="middle">${Math.round(share * 100)}%</text>`;
        })}`)}
    </svg>`;
}
