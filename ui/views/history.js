// The history tab: compact (one line per step, in words), full (every event with its
// attributes) or raw JSON, and the download of Temporal's JSON export for replayers.

import { html, useEffect } from '../vendor/preact-htm-3.1.1.js';
import { runPath, withQuery } from '../lib/api.js';
import { href, navigate, patchQuery } from '../lib/url.js';
import { duration, json } from '../lib/format.js';

const STEP_WORDS = {
  WorkflowExecutionStarted: (a) => `started ${a.workflowType?.name ?? ''} on ${a.taskQueue?.name ?? ''}`,
  WorkflowTaskScheduled: () => 'workflow task scheduled',
  WorkflowTaskStarted: (a) => `workflow task taken by ${a.identity ?? 'a worker'}`,
  WorkflowTaskCompleted: () => 'workflow task completed',
  WorkflowTaskFailed: (a) => `workflow task failed: ${a.failure?.message ?? a.cause ?? ''}`,
  WorkflowTaskTimedOut: () => 'workflow task timed out',
  ActivityTaskScheduled: (a) => `activity ${a.activityType?.name ?? ''} scheduled (id ${a.activityId})`,
  ActivityTaskStarted: (a) => `activity started, attempt ${a.attempt ?? 1}, by ${a.identity ?? 'a worker'}`,
  ActivityTaskCompleted: () => 'activity completed',
  ActivityTaskFailed: (a) => `activity failed: ${a.failure?.message ?? ''}`,
  ActivityTaskTimedOut: (a) => `activity timed out (${a.failure?.timeoutFailureInfo?.timeoutType ?? ''})`,
  ActivityTaskCancelRequested: () => 'activity cancellation requested',
  ActivityTaskCanceled: () => 'activity canceled',
  TimerStarted: (a) => `timer ${a.timerId} started for ${a.startToFireTimeout}`,
  TimerFired: (a) => `timer ${a.timerId} fired`,
  TimerCanceled: (a) => `timer ${a.timerId} canceled`,
  WorkflowExecutionSignaled: (a) => `signal ${a.signalName} received`,
  WorkflowExecutionCancelRequested: (a) => `cancellation requested${a.cause ? `: ${a.cause}` : ''}`,
  WorkflowExecutionCompleted: () => 'completed',
  WorkflowExecutionFailed: (a) => `failed: ${a.failure?.message ?? ''}`,
  WorkflowExecutionTerminated: (a) => `terminated${a.reason ? `: ${a.reason}` : ''}`,
  WorkflowExecutionCanceled: () => 'canceled',
  WorkflowExecutionTimedOut: () => 'timed out',
  WorkflowExecutionContinuedAsNew: (a) => `continued as new run ${a.newExecutionRunId ?? ''}`,
  StartChildWorkflowExecutionInitiated: (a) => `child ${a.workflowId} (${a.workflowType?.name ?? ''}) requested`,
  ChildWorkflowExecutionStarted: (a) => `child ${a.workflowExecution?.workflowId ?? ''} started`,
  ChildWorkflowExecutionCompleted: (a) => `child ${a.workflowExecution?.workflowId ?? ''} completed`,
  ChildWorkflowExecutionFailed: (a) => `child ${a.workflowExecution?.workflowId ?? ''} failed`,
  MarkerRecorded: (a) => `marker ${a.markerName}`,
  WorkflowExecutionUpdateAccepted: (a) => `update ${a.acceptedRequest?.input?.name ?? ''} accepted`,
  WorkflowExecutionUpdateCompleted: () => 'update completed',
  UpsertWorkflowSearchAttributes: () => 'search attributes upserted',
};

export function describeEvent(event) {
  const words = STEP_WORDS[event.type];
  return words ? words(event.attributes ?? {}) : event.type;
}

export function HistoryTab({ events, run, query, workflowId }) {
  const mode = query.view || 'compact';
  const selected = Number(query.event || 0);
  const start = events.length ? Date.parse(events[0].time) : 0;
  const setMode = (id) => navigate(href('detail', patchQuery(query, { view: id === 'compact' ? '' : id }), workflowId), { replace: true });
  const select = (id) => navigate(href('detail', patchQuery(query, { event: id }), workflowId), { replace: true });
  const exportHref = withQuery(runPath(workflowId, 'history'), { namespace: query.namespace, run_id: run.run_id, format: 'temporal' });
  useEffect(() => {
    if (selected) document.getElementById(`event-${selected}`)?.scrollIntoView({ block: 'center' });
  }, [selected, mode]);

  return html`<div class="history-tools">
      <div class="segmented" role="group" aria-label="History view">
        ${['compact', 'full', 'json'].map((id) => html`<button aria-pressed=${mode === id} onClick=${() => setMode(id)}>${id === 'json' ? 'Raw JSON' : id[0].toUpperCase() + id.slice(1)}</button>`)}
      </div>
      <a class="button" href=${exportHref} download=${`${workflowId}-${run.run_id}.json`}>Download export (for replayers)</a>
      <span class="dim">${events.length} events</span>
    </div>
    ${mode === 'json'
      ? html`<pre class="mono raw">${json(events)}</pre>`
      : html`<ol class="history">
          ${events.map((event) => html`<li id=${`event-${event.event_id}`} class=${`event${selected === event.event_id ? ' selected' : ''}`}>
            <button class="event-line" onClick=${() => select(event.event_id)} aria-expanded=${mode === 'full' || selected === event.event_id}>
              <span class="event-id num">${event.event_id}</span>
              <span class="event-time num">+${duration(Date.parse(event.time) - start)}</span>
              <span class="event-type">${mode === 'compact' ? describeEvent(event) : event.type}</span>
            </button>
            ${mode === 'full' || selected === event.event_id ? html`<pre class="mono attrs">${json(event.attributes)}</pre>` : null}
          </li>`)}
        </ol>`}`;
}
