// The pending tab (what the run waits on) and the interact tab (signals, updates, queries,
// the workflow's own handler list and stack trace).

import { html, useEffect, useState } from '../vendor/preact-htm-3.1.1.js';
import { api, runPath, withQuery } from '../lib/api.js';
import { relative, json } from '../lib/format.js';
import { ErrorBox, parseInput } from './common.js';
import { FailureView } from './detail.js';

export function PendingTab({ run }) {
  if (run.status !== 'running') return html`<p class="empty">This run is closed: nothing is pending.</p>`;
  const { workflow_task: task, activities, timers } = run.pending;
  const reason = run.pending_reason;
  return html`<div class="pending">
    ${run.doing?.kind === 'waiting_for_input'
      ? html`<div class="notice" role="status"><strong>Waiting for input:</strong> nothing this run scheduled is open. Only a signal or an update (see Interact), or a cancellation, moves it on.</div>`
      : null}
    ${reason ? html`<div class="notice warn" role="status"><strong>Waiting for a worker:</strong> ${reason.message}</div>` : null}
    <h3>Workflow task</h3>
    ${task ? html`<p>${task.state}, attempt ${task.attempt}, on <code>${task.task_queue}</code> since ${relative(task.scheduled_time)}${task.worker ? ` · taken by ${task.worker}` : ''}</p>` : html`<p class="dim">none: the workflow waits for activities, timers, signals or children.</p>`}
    <h3>Activities (${activities.length})</h3>
    ${activities.length === 0 ? html`<p class="dim">none open</p>` : null}
    ${activities.map((a) => html`<div class="pending-item">
      <strong>${a.activity_type}</strong> <span class="dim">id ${a.activity_id}</span> · ${a.state.replace('_', ' ')} · attempt ${a.attempt}
      ${a.worker ? ` · on ${a.worker}` : ''} · scheduled ${relative(a.scheduled_time)}
      ${a.last_failure ? html`<div>Last failure: <${FailureView} failure=${a.last_failure} /></div>` : null}
    </div>`)}
    <h3>Timers (${timers.length})</h3>
    ${timers.length === 0 ? html`<p class="dim">none</p>` : null}
    ${timers.map((t) => html`<div class="pending-item">timer <strong>${t.timer_id}</strong> fires ${relative(t.fires_at)}</div>`)}
    <h3>Children</h3>
    ${run.children.filter((c) => c.state === 'running' || c.state === 'starting').map((c) => html`<div class="pending-item">${c.workflow_type} <code>${c.workflow_id}</code> · ${c.state}</div>`)}
    ${run.children.some((c) => c.state === 'running' || c.state === 'starting') ? null : html`<p class="dim">none running</p>`}
  </div>`;
}

export function InteractTab({ run, namespace, onSent }) {
  const [handlers, setHandlers] = useState(null);
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState(null);
  const [sent, setSent] = useState(null);
  const base = (what) => withQuery(runPath(run.workflow_id, what), { namespace: namespace === 'default' ? '' : namespace, run_id: run.run_id });

  useEffect(() => {
    // SDKs that publish their handlers answer this built-in query; others fail it quietly.
    api(base('query'), { method: 'POST', body: { name: '__temporal_workflow_metadata', timeout_ms: 3000 } })
      .then((body) => setHandlers(body.result?.[0]?.definition ?? null))
      .catch(() => setHandlers(null));
  }, [run.run_id]);

  const signal = async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    setError(null);
    try {
      const input = parseInput(form.get('input'));
      await api(base('signal'), { method: 'POST', body: input === undefined ? { name: form.get('name') } : { name: form.get('name'), input } });
      setSent(`Signal ${form.get('name')} sent.`);
      onSent();
    } catch (e) {
      setError(e);
    }
  };
  const query = async (name, inputText) => {
    setError(null);
    setAnswer(null);
    try {
      const input = parseInput(inputText);
      const body = await api(base('query'), { method: 'POST', body: input === undefined ? { name } : { name, input } });
      setAnswer({ name, result: body.result });
    } catch (e) {
      setError(e);
    }
  };
  const update = async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    setError(null);
    setAnswer(null);
    try {
      const input = parseInput(form.get('input'));
      const name = form.get('name');
      const body = await api(base('update'), { method: 'POST', body: input === undefined ? { name } : { name, input } });
      setAnswer({ name, update: true, result: body.result, failure: body.failure, stage: body.stage });
      onSent();
    } catch (e) {
      setError(e);
    }
  };
  const onQuery = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    query(form.get('name'), form.get('input'));
  };
  const options = (kind) => (handlers?.[kind] ?? []).filter((h) => h.name && !h.name.startsWith('__'));

  return html`<div class="interact">
    ${run.doing?.kind === 'waiting_for_input'
      ? html`<div class="notice" role="status"><strong>This run is waiting for input.</strong> A signal or an update below moves it on.</div>`
      : null}
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    ${sent ? html`<div class="notice" role="status">${sent}</div>` : null}
    <form class="card-form" onSubmit=${signal} aria-label="Send a signal">
      <h3>Send a signal</h3>
      <label class="stack">Name
        <input name="name" required list="signal-names" disabled=${run.status !== 'running'} />
        <datalist id="signal-names">${options('signalDefinitions').map((h) => html`<option value=${h.name}>${h.description ?? ''}</option>`)}</datalist>
      </label>
      <label class="stack">Input (JSON, optional)<textarea name="input" rows="3" class="mono" placeholder='{"approved": true}'></textarea></label>
      <button type="submit" class="primary" disabled=${run.status !== 'running'}>Send signal</button>
      ${run.status !== 'running' ? html`<p class="dim">The run is closed; it takes no signals.</p>` : null}
    </form>
    <form class="card-form" onSubmit=${update} aria-label="Send an update">
      <h3>Send an update</h3>
      <label class="stack">Name
        <input name="name" required list="update-names" disabled=${run.status !== 'running'} />
        <datalist id="update-names">${options('updateDefinitions').map((h) => html`<option value=${h.name}>${h.description ?? ''}</option>`)}</datalist>
      </label>
      <label class="stack">Input (JSON, optional)<textarea name="input" rows="2" class="mono"></textarea></label>
      <button type="submit" class="primary" disabled=${run.status !== 'running'}>Send update</button>
    </form>
    <form class="card-form" onSubmit=${onQuery} aria-label="Run a query">
      <h3>Run a query</h3>
      <label class="stack">Name
        <input name="name" required list="query-names" />
        <datalist id="query-names">${options('queryDefinitions').map((h) => html`<option value=${h.name}>${h.description ?? ''}</option>`)}</datalist>
      </label>
      <label class="stack">Arguments (JSON, optional)<textarea name="input" rows="2" class="mono"></textarea></label>
      <button type="submit" class="primary">Run query</button>
      <button type="button" onClick=${() => query('__stack_trace')}>Stack trace</button>
    </form>
    ${handlers
      ? html`<div class="handlers"><h3>Handlers this workflow publishes</h3>
          ${['signalDefinitions', 'queryDefinitions', 'updateDefinitions'].map((kind) => options(kind).length
            ? html`<p><strong>${kind.replace('Definitions', 's')}:</strong> ${options(kind).map((h) => html`<code title=${h.description ?? ''}>${h.name}</code> `)}</p>`
            : null)}
        </div>`
      : null}
    ${answer && answer.update
      ? html`<div class="answer" role="status"><h3>Update ${answer.name}: ${answer.failure ? 'failed' : answer.stage}</h3>
          ${answer.failure ? html`<${FailureView} failure=${answer.failure} />` : html`<pre class="mono">${json(answer.result)}</pre>`}</div>`
      : null}
    ${answer && !answer.update
      ? html`<div class="answer" role="status"><h3>${answer.name === '__stack_trace' ? 'Stack trace' : `Result of ${answer.name}`}</h3>
          <pre class="mono">${answer.name === '__stack_trace' && typeof answer.result?.[0] === 'string' ? answer.result[0] : json(answer.result)}</pre></div>`
      : null}
  </div>`;
}

