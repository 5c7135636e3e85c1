// Small SVG charts for analytics: stacked bars over time and horizontal bars. Plain
// functions of data to markup, sized by a viewBox so they scale with the page.

import { html } from '../vendor/preact-htm-3.1.1.js';

/** Stacked bars, one per bucket: `series` = [{key, label, cls}] read from each bucket. */
export function StackedBars({ buckets, series, label, formatTick }) {
  const width = 720;
  const height = 180;
  const pad = { left: 36, bottom: 22, top: 8 };
  const totals = buckets.map((b) => series.reduce((sum, s) => sum + (b[s.key] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const barWidth = (width - pad.left) / Math.max(1, buckets.length);
  const y = (value) => ((height - pad.bottom - pad.top) * value) / max;
  const every = Math.max(1, Math.ceil(buckets.length / 8));
  return html`<figure class="chart"><svg viewBox=${`0 0 ${width} ${height}`} role="img" aria-label=${label}>
    <text x="0" y="12" class="axis-label">${max}</text>
    <line x1=${pad.left} x2=${width} y1=${height - pad.bottom} y2=${height - pad.bottom} class="axis-line" />
    ${buckets.map((bucket, i) => {
      let base = height - pad.bottom;
      return html`<g>
        ${series.map((s) => {
          const h = y(bucket[s.key] ?? 0);
          base -= h;
          return h > 0 ? html`<rect class=${s.cls} x=${pad.left + i * barWidth + 1} y=${base} width=${Math.max(1, barWidth - 2)} height=${h}><title>${formatTick(bucket)}: ${bucket[s.key]} ${s.label}</title></rect>` : null;
        })}
        ${i % every === 0 ? html`<text class="axis-label" x=${pad.left + i * barWidth} y=${height - 6}>${formatTick(bucket)}</text>` : null}
      </g>`;
    })}
  </svg>
  <figcaption>${label} · ${series.map((s) => html`<span class="key ${s.cls}"></span>${s.label} `)}</figcaption></figure>`;
}

/** Horizontal bars: `rows` = [{label, value, text}]. */
export function HBars({ rows, label, cls = 'bar-main' }) {
  const max = Math.max(1, ...rows.map((r) => r.value ?? 0));
  const height = rows.length * 24 + 4;
  return html`<figure class="chart"><svg viewBox=${`0 0 720 ${height}`} role="img" aria-label=${label}>
    ${rows.map((row, i) => html`<g>
      <text class="axis-label" x="0" y=${i * 24 + 16}>${row.label}</text>
      <rect class=${cls} x="200" y=${i * 24 + 4} width=${(340 * (row.value ?? 0)) / max} height="16"><title>${row.label}: ${row.text}</title></rect>
      <text class="axis-label" x=${206 + (340 * (row.value ?? 0)) / max} y=${i * 24 + 16}>${row.text}</text>
    </g>`)}
  </svg><figcaption>${label}</figcaption></figure>`;
}
