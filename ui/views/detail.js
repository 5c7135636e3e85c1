// One run: the header (ids, status, timings, the error in words) and tabs for its
// timeline, history, logs, pending work and interaction. History and log lines come from
// the run's SSE stream (which starts at the beginning and follows live), so every tab
// updates while the run goes on.

import { html, useEffect, useRef, useState } from '../vendor/preact-htm-3.1.1.js';
import { api, runPath, withQuery } from '../lib/api.js';
import { href, navigate, patchQuery } from '../lib/url.js';
import { createStream, coalesce } from '../lib/stream.js';
import { Badge, waitsForInput } from '../lib/status.js';
import { duration, when, exact, json } from '../lib/format.js';
import { pref } from '../lib/prefs.js';
import { ErrorBox, Confirm, Copy } from './common.js';
import { TimelineTab } from './timeline.js';
import { HistoryTab } from './history.js';
import { FlowActions, FlowTopology } from './flows.js';
import { LogsTab } from './logs.js';
import { PendingTab, InteractTab } from './interact.js';

const TABS = [
  ['timeline', 'Timeline'],
  ['history', 'History'],
  ['logs', 'Logs'],
  ['pending', 'Pending'],
  ['interact', 'Interact'],
];

export function FailureView({ failure, depth = 0 }) {
  if (!failure) return null;
  return html`<div class="failure">
    <div><strong>${failure.type || failure.kind}</strong>${failure.non_retryable ? ' (non-retryable)' : ''}: ${failure.message}</div>
    ${failure.cause ? html`<div class="cause">caused by <${FailureView} failure=${failure.cause} depth=${depth + 1} /></div>` : null}
    ${failure.stack_trace ? html`<details><summary>Stack trace</summary><pre class="mono">${failure.stack_trace}</pre></details>` : null}
  </div>`;
}

/** The deepest cause of a failure: usually what a person needs to read first. */
function rootCause(failure) {
  let current = failure;
  while (current?.cause) current = current.cause;
  return current;
}

function Header({ run, namespace, onAction }) {
  const zone = pref('zone', 'relative');
  const root = rootCause(run.error);
  const fact = (label, value, title) => html`<div class="fact"><dt>${label}</dt><dd title=${title ?? ''}>${value || '–'}</dd></div>`;
  return html`<section class="detail-head">
    <div class="title-row">
      <${Badge} run=${run} />
      ${waitsForInput(run) ? html`<span class="input-badge">waiting for input</span>` : null}
      <h1 class="mono">${run.workflow_id}</h1>
      <${Copy} text=${run.workflow_id} label="Copy id" />
      <span class="spacer"></span>
      ${run.status === 'running'
        ? html`<button onClick=${() => onAction('cancel')}>Cancel</button>
               <button class="danger" onClick=${() => onAction('terminate')}>Terminate</button>`
        : null}
      <button onClick=${() => onAction('reset')}>Reset…</button>
      ${run.task_queue === 'keel-flows' ? html`<${FlowActions} run=${run} namespace=${namespace} />` : null}
    </div>
    ${run.error
      ? html`<div class="error-summary" role="alert">
          <strong>${run.status === 'terminated' ? 'Terminated' : run.status === 'timed_out' ? 'Timed out' : 'Failed'}:</strong> ${run.error.message}
          ${root && root !== run.error ? html`<div>Root cause: <strong>${root.type || root.kind}</strong>: ${root.message}</div>` : null}
        </div>`
      : null}
    <dl class="facts">
      ${fact('Run id', html`<span class="mono">${run.run_id}</span> <${Copy} text=${run.run_id} label="Copy" />`)}
      ${fact('Type', run.workflow_type)}
      ${fact('Queue', html`<a href=${href('workers', { namespace: run.namespace === 'default' ? '' : run.namespace, queue: run.task_queue })}>${run.task_queue}</a>`)}
      ${fact('Worker', run.worker && html`<span class="mono">${run.worker}</span>`)}
      ${fact('Created', when(run.start_time, zone), exact(run.start_time))}
      ${fact('Started', when(run.started_time, zone), exact(run.started_time))}
      ${fact('Closed', when(run.close_time, zone), exact(run.close_time))}
      ${fact('Queue wait', duration(run.queue_wait_ms))}
      ${fact('Duration', run.duration_ms !== null ? duration(run.duration_ms) : `${duration(Date.now() - Date.parse(run.start_time))} so far`)}
      ${fact('History', `${run.history_length} events`)}
      ${run.parent ? fact('Parent', html`<a class="mono" href=${href('detail', { namespace: namespace === 'default' ? '' : namespace, run_id: run.parent.run_id }, run.parent.workflow_id)}>${run.parent.workflow_id}</a>`) : null}
      ${run.children?.length
        ? fact('Children', run.children.map((child) => html`<a class="mono child-link" href=${href('detail', { namespace: namespace === 'default' ? '' : namespace, run_id: child.run_id }, child.workflow_id)}>${child.workflow_id} (${child.state})</a> `))
        : null}
    </dl>
    <div class="io">
      <details open=${!!run.input}><summary>Input</summary><pre class="mono payload">${run.input ? json(run.input) : 'none'}</pre></details>
      <details open=${!!run.output}><summary>Output</summary><pre class="mono payload">${run.output ? json(run.output) : run.status === 'running' ? 'not yet' : 'none'}</pre></details>
      ${run.error ? html`<details><summary>Error and causes</summary><${FailureView} failure=${run.error} /></details>` : null}
    </div>
  </section>`;
}

function ActionDialog({ action, resetTo, run, namespace, onClose, onDone }) {
  const target = withQuery(runPath(run.workflow_id, action), { namespace: namespace === 'default' ? '' : namespace, run_id: run.run_id });
  if (action === 'reset') {
    return html`<${Confirm}
      title="Reset this run?"
      message="A new run of this workflow id picks up the history at the chosen workflow task; a running run is terminated. 'last_failed_task' goes back to the task that scheduled the last failed activity."
      confirmLabel="Reset"
      fields=${[
        { name: 'to', label: 'Reset to (last_failed_task, last_task, first_task or an event id)', value: resetTo ? String(resetTo) : 'last_failed_task' },
        { name: 'reason', label: 'Reason', placeholder: 'reset from the web UI' },
      ]}
      onConfirm=${async (values) => {
        const to = /^\d+$/.test(values.to) ? Number(values.to) : values.to;
        const answer = await api(target, { method: 'POST', body: { to, reason: values.reason || 'reset from the web UI' } });
        onDone(`Reset: new run ${answer.run_id}`, answer.run_id);
      }}
      onClose=${onClose} />`;
  }
  return html`<${Confirm}
    title=${action === 'cancel' ? 'Cancel this run?' : 'Terminate this run?'}
    message=${action === 'cancel'
      ? 'The workflow is asked to cancel; its code decides how to wind down.'
      : 'The run ends at once: no more workflow code runs, open activities are abandoned.'}
    confirmLabel=${action === 'cancel' ? 'Request cancellation' : 'Terminate'}
    danger=${action === 'terminate'}
    fields=${[{ name: 'reason', label: 'Reason', placeholder: `${action} from the web UI` }]}
    onConfirm=${async (values) => {
      await api(target, { method: 'POST', body: { reason: values.reason || `${action} from the web UI` } });
      onDone(action === 'cancel' ? 'Cancellation requested' : 'Terminated');
    }}
    onClose=${onClose} />`;
}

export function Detail({ workflowId, query, onLive }) {
  const namespace = query.namespace || 'default';
  const tab = query.tab || 'timeline';
  const [run, setRun] = useState(null);
  const [error, setError] = useState(null);
  const [events, setEvents] = useState([]);
  const [logs, setLogs] = useState([]);
  const [action, setAction] = useState(null);
  const [notice, setNotice] = useState(null);
  const eventsRef = useRef([]);
  const logsRef = useRef([]);

  const refresh = async () => {
    try {
      setRun(await api(withQuery(runPath(workflowId), { namespace: query.namespace, run_id: query.run_id })));
      setError(null);
    } catch (e) {
      setError(e);
    }
  };

  useEffect(() => {
    eventsRef.current = [];
    logsRef.current = [];
    setEvents([]);
    setLogs([]);
    refresh();
    const refreshSoon = coalesce(() => refresh(), 300);
    const flush = coalesce((batch) => {
      for (const [name, data] of batch) {
        if (name === 'history') eventsRef.current.push(data);
        else logsRef.current.push(data);
      }
      setEvents([...eventsRef.current]);
      setLogs([...logsRef.current]);
    }, 200);
    let stream = null;
    stream = createStream({
      url: withQuery(runPath(workflowId, 'stream'), { namespace: query.namespace, run_id: query.run_id }),
      events: ['history', 'log', 'execution', 'closed', 'error'],
      onEvent: (name, data) => {
        if (name === 'history' || name === 'log') flush([name, data]);
        else if (name === 'execution') refreshSoon();
        else if (name === 'closed') {
          refreshSoon();
          stream.close();
          onLive('');
        }
      },
      onState: (state) => onLive(state === 'closed' ? '' : state),
    });
    return () => stream.close();
  }, [workflowId, query.run_id, query.namespace]);

  if (error) {
    return html`<main class="page"><${ErrorBox} error=${error} /><p><a href=${href('board', query.namespace ? { namespace: query.namespace } : {})}>Back to the board</a></p></main>`;
  }
  if (!run) return html`<main class="page"><p class="loading">Loading…</p></main>`;
  const setTab = (id) => navigate(href('detail', patchQuery(query, { tab: id === 'timeline' ? '' : id }), workflowId), { replace: true });
  const keyedQuery = { ...query, run_id: run.run_id };
  return html`<main class="page detail-page">
    <${Header} run=${run} namespace=${namespace} onAction=${setAction} />
    ${notice ? html`<div class="notice" role="status">${notice}</div>` : null}
    <div class="tabs" role="tablist" aria-label="Run views">
      ${(run.task_queue === 'keel-flows' ? [...TABS, ['topology', 'Topology']] : TABS).map(([id, label]) => html`<button role="tab" id=${`tab-${id}`} aria-selected=${tab === id} aria-controls="tab-panel" onClick=${() => setTab(id)}>${label}${id === 'pending' && run.status === 'running' ? ` (${run.pending.activities.length + run.pending.timers.length + (run.pending.workflow_task ? 1 : 0)})` : ''}</button>`)}
    </div>
    <section id="tab-panel" role="tabpanel" aria-labelledby=${`tab-${tab}`}>
      ${tab === 'timeline' ? html`<${TimelineTab} events=${events} run=${run} query=${keyedQuery} workflowId=${workflowId} onReset=${(eventId) => setAction({ reset: eventId })} />` : null}
      ${tab === 'history' ? html`<${HistoryTab} events=${events} run=${run} query=${keyedQuery} workflowId=${workflowId} />` : null}
      ${tab === 'logs' ? html`<${LogsTab} lines=${logs} run=${run} query=${keyedQuery} workflowId=${workflowId} />` : null}
      ${tab === 'pending' ? html`<${PendingTab} run=${run} namespace=${namespace} />` : null}
      ${tab === 'interact' ? html`<${InteractTab} run=${run} namespace=${namespace} onSent=${refresh} />` : null}
      ${tab === 'topology' ? html`<${FlowTopology} run=${run} namespace=${namespace} />` : null}
    </section>
    ${action
      ? html`<${ActionDialog}
          action=${typeof action === 'string' ? action : 'reset'}
          resetTo=${typeof action === 'string' ? null : action.reset}
          run=${run}
          namespace=${namespace}
          onClose=${() => setAction(null)}
          onDone=${(message, newRunId) => {
            setNotice(message);
            if (newRunId) navigate(href('detail', patchQuery(query, { run_id: newRunId }), workflowId));
            else refresh();
          }} />`
      : null}
  </main>`;
}
