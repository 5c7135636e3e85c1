// Analytics: throughput per hour or day, success rate, duration and queue-wait
// percentiles, per workflow type, and worker utilization, over a chosen period.

import { html, useEffect, useState } from '../vendor/preact-htm-3.1.1.js';
import { api, withQuery } from '../lib/api.js';
import { href, navigate, patchQuery } from '../lib/url.js';
import { duration, percent, count } from '../lib/format.js';
import { StackedBars, HBars } from '../lib/charts.js';
import { ErrorBox } from './common.js';

const PERIODS = { '24h': ['hour', 24], '7d': ['day', 7], '30d': ['day', 30] };

export function Analytics({ query, onLive }) {
  const period = PERIODS[query.period] ? query.period : '24h';
  const [bucket, units] = PERIODS[period];
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    onLive('');
    const to = new Date();
    const from = new Date(to - units * (bucket === 'hour' ? 3_600_000 : 86_400_000));
    setData(null);
    api(withQuery('/api/v1/analytics', { namespace: query.namespace, bucket, from: from.toISOString(), to: to.toISOString(), type: query.type }))
      .then((body) => { setData(body); setError(null); })
      .catch(setError);
  }, [period, query.namespace, query.type]);
  const set = (patch) => navigate(href('analytics', patchQuery(query, patch)), { replace: true });
  const tick = (b) => {
    const d = new Date(Date.parse(b.start));
    return bucket === 'hour' ? `${String(d.getUTCHours()).padStart(2, '0')}:00` : `${d.getUTCMonth() + 1}/${d.getUTCDate()}`;
  };
  const types = data ? Object.entries(data.by_type) : [];
  return html`<main class="page">
    <div class="page-head">
      <h1>Analytics</h1>
      <div class="segmented" role="group" aria-label="Period">
        ${Object.keys(PERIODS).map((p) => html`<button aria-pressed=${p === period} onClick=${() => set({ period: p === '24h' ? '' : p })}>${p}</button>`)}
      </div>
      <form onSubmit=${(e) => { e.preventDefault(); set({ type: new FormData(e.target).get('type') }); }}>
        <input name="type" aria-label="Workflow type" placeholder="all workflow types" defaultValue=${query.type ?? ''} />
      </form>
    </div>
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    ${!data && !error ? html`<p class="loading">Computing…</p>` : null}
    ${data
      ? html`<div class="kpis">
          <div class="kpi"><span>Started</span><strong>${count(data.executions.started)}</strong></div>
          <div class="kpi"><span>Running</span><strong>${count(data.executions.running)}</strong></div>
          <div class="kpi"><span>Success rate</span><strong>${percent(data.success_rate)}</strong></div>
          <div class="kpi"><span>Duration p50 / p95</span><strong>${duration(data.duration_ms.p50)} / ${duration(data.duration_ms.p95)}</strong></div>
          <div class="kpi"><span>Queue wait p50 / p95</span><strong>${duration(data.queue_wait_ms.p50)} / ${duration(data.queue_wait_ms.p95)}</strong></div>
        </div>
        ${data.executions.started === 0 ? html`<p class="empty">No executions started in this period. Run some workflows and come back.</p>` : null}
        <${StackedBars} buckets=${data.throughput} label=${`Closed executions per ${bucket}`} formatTick=${tick}
          series=${[{ key: 'completed', label: 'completed', cls: 'bar-ok' }, { key: 'failed', label: 'failed', cls: 'bar-bad' }, { key: 'canceled', label: 'cancelled', cls: 'bar-muted' }]} />
        ${types.length
          ? html`<${HBars} label="Duration p95 per workflow type" rows=${types.map(([name, t]) => ({ label: name, value: t.duration_ms.p95, text: `p50 ${duration(t.duration_ms.p50)}, p95 ${duration(t.duration_ms.p95)}` }))} />
             <${HBars} label="Success rate per workflow type" cls="bar-ok" rows=${types.map(([name, t]) => ({ label: name, value: t.success_rate ?? 0, text: `${percent(t.success_rate)} of ${count(t.executions.started)}` }))} />
             <${HBars} label="Queue wait p95 per workflow type" cls="bar-muted" rows=${types.map(([name, t]) => ({ label: name, value: t.queue_wait_ms.p95, text: duration(t.queue_wait_ms.p95) }))} />`
          : null}
        ${data.workers.length
          ? html`<${HBars} label="Worker utilization now" rows=${data.workers.map((w) => ({ label: w.identity.slice(0, 28), value: w.utilization, text: percent(w.utilization) }))} />`
          : null}
        ${data.truncated ? html`<p class="dim">Computed over the first 100,000 runs of the period.</p>` : null}`
      : null}
  </main>`;
}
