// Workers and task queues: who polls what, what waits where, and an alert on any queue
// with waiting tasks and nobody polling it. Refreshed every two seconds while visible
// (queues have no stream yet).

import { html, useEffect, useState } from '../vendor/preact-htm-3.1.1.js';
import { api, withQuery } from '../lib/api.js';
import { duration, relative, percent, exact } from '../lib/format.js';
import { href } from '../lib/url.js';
import { ErrorBox } from './common.js';

const REFRESH_MS = 2000;

function QueueKind({ kind }) {
  return html`<td class="num">${kind.pollers}</td><td class="num">${kind.backlog}</td>
    <td class="num">${kind.oldest_task_age_ms === null ? '–' : duration(kind.oldest_task_age_ms)}</td>
    <td class="num">${kind.dispatch_rate_per_s.toFixed(2)}/s</td>`;
}

export function Workers({ query, onLive }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const namespace = query.namespace;
  useEffect(() => {
    onLive('');
    let stopped = false;
    const load = async () => {
      if (document.visibilityState === 'hidden') return;
      try {
        const [queues, workers] = await Promise.all([
          api(withQuery('/api/v1/task-queues', { namespace })),
          api(withQuery('/api/v1/workers', { namespace })),
        ]);
        if (!stopped) {
          setData({ queues: queues.task_queues, workers: workers.workers });
          setError(null);
        }
      } catch (e) {
        if (!stopped) setError(e);
      }
    };
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [namespace]);

  if (!data) return html`<main class="page"><h1>Workers & queues</h1>${error ? html`<${ErrorBox} error=${error} />` : html`<p class="loading">Loading…</p>`}</main>`;
  const focus = query.queue;
  const stuck = data.queues.filter((q) => (q.workflow.backlog > 0 && q.workflow.pollers === 0) || (q.activity.backlog > 0 && q.activity.pollers === 0));
  return html`<main class="page">
    <div class="page-head"><h1>Workers & queues</h1></div>
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    ${stuck.map((q) => html`<div class="notice warn" role="alert">
      <strong>No worker polls <code>${q.name}</code></strong>, and ${q.workflow.backlog + q.activity.backlog} task(s) wait there.
      Start a worker on task queue <code>${q.name}</code>, for example with an SDK's <code>Worker(client, task_queue="${q.name}", …)</code>.
    </div>`)}
    <h2>Task queues</h2>
    ${data.queues.length === 0
      ? html`<p class="empty">No task queues yet. A queue appears when a worker polls it or a workflow is started on it.</p>`
      : html`<table class="grid" aria-label="Task queues">
          <thead><tr><th rowspan="2">Queue</th><th colspan="4">Workflow tasks</th><th colspan="4">Activity tasks</th></tr>
            <tr><th>pollers</th><th>backlog</th><th>oldest</th><th>rate</th><th>pollers</th><th>backlog</th><th>oldest</th><th>rate</th></tr></thead>
          <tbody>${data.queues.map((q) => html`<tr class=${q.name === focus ? 'selected' : ''} data-queue=${q.name} tabindex="0" data-nav=${href('executions', { namespace, queue: q.name })}>
            <th scope="row"><a href=${href('board', { namespace, queue: q.name })}>${q.name}</a></th>
            <${QueueKind} kind=${q.workflow} /><${QueueKind} kind=${q.activity} />
          </tr>`)}</tbody>
        </table>`}
    <h2>Workers</h2>
    ${data.workers.length === 0
      ? html`<p class="empty">No worker is polling in this namespace. Start one with an SDK (Python: <code>temporalio.worker.Worker</code>) pointed at this server's gRPC address.</p>`
      : html`<table class="grid" aria-label="Workers">
          <thead><tr><th>Identity</th><th>Queues</th><th>Last poll</th><th>In flight</th><th>Utilization</th></tr></thead>
          <tbody>${data.workers.map((w) => html`<tr data-worker=${w.identity}>
            <th scope="row" class="mono">${w.identity}</th>
            <td>${w.task_queues.join(', ')}</td>
            <td title=${exact(w.last_seen)}>${relative(w.last_seen)}</td>
            <td class="num">${w.tasks_in_flight}</td>
            <td><span class="meter" role="meter" aria-valuenow=${Math.round(w.utilization * 100)} aria-valuemin="0" aria-valuemax="100" aria-label="utilization"><span style=${`width:${w.utilization * 100}%`}></span></span> ${percent(w.utilization)}</td>
          </tr>`)}</tbody>
        </table>`}
  </main>`;
}
