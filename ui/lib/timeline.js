// The Gantt of one run, computed from its history: pure functions, no DOM, so the layout
// is tested in ui/tests/timeline.test.mjs and the view only draws what they return.
//
// Rows: one for the workflow tasks, one per activity, one per timer and one per child
// workflow. An activity shows every attempt: Temporal's history times only the last one,
// and the earlier ones come from what Keel keeps beside it (the run's `task_runs[]
// .earlier_attempts`): each as its wait on the queue, its run (failed) and its backoff.
// Without them (another server's export, say) the earlier attempts are one hatched stretch
// from when the activity was scheduled to when its last attempt started. Signals, updates
// and cancel requests are marks on the time axis.

const num = (value) => (value === undefined || value === null ? 0 : Number(value));
const at = (event) => Date.parse(event.time);

const ACTIVITY_CLOSE = {
  ActivityTaskCompleted: 'completed',
  ActivityTaskFailed: 'failed',
  ActivityTaskTimedOut: 'timed_out',
  ActivityTaskCanceled: 'canceled',
};
const CHILD_CLOSE = {
  ChildWorkflowExecutionCompleted: 'completed',
  ChildWorkflowExecutionFailed: 'failed',
  ChildWorkflowExecutionCanceled: 'canceled',
  ChildWorkflowExecutionTimedOut: 'timed_out',
  ChildWorkflowExecutionTerminated: 'terminated',
};
const WORKFLOW_TASK_CLOSE = {
  WorkflowTaskCompleted: 'completed',
  WorkflowTaskFailed: 'failed',
  WorkflowTaskTimedOut: 'timed_out',
};
const RUN_CLOSE = new Set([
  'WorkflowExecutionCompleted',
  'WorkflowExecutionFailed',
  'WorkflowExecutionCanceled',
  'WorkflowExecutionTerminated',
  'WorkflowExecutionTimedOut',
  'WorkflowExecutionContinuedAsNew',
]);

/**
 * Lays out `events` (the REST history's `Event`s, in order). Open work ends at `now`.
 * `taskRuns` (the run detail's `task_runs`) gives the earlier attempts of activities.
 * Returns `{start, end, rows, marks, closed}`; each row is
 * `{key, kind, label, detail, segments: [{start, end, state, eventId, attempt, title}]}`.
 */
export function layout(events, now = Date.now(), taskRuns = []) {
  const rows = [];
  const byKey = new Map();
  const marks = [];
  let start = events.length ? at(events[0]) : now;
  let end = start;
  let closed = false;
  const workflowTasks = { key: 'workflow-tasks', kind: 'workflow', label: 'Workflow tasks', detail: '', segments: [] };
  const openTasks = new Map();

  const row = (key, make) => {
    let found = byKey.get(key);
    if (!found) {
      found = make();
      byKey.set(key, found);
      rows.push(found);
    }
    return found;
  };

  for (const event of events) {
    const time = at(event);
    const attrs = event.attributes ?? {};
    end = Math.max(end, time);
    switch (event.type) {
      case 'WorkflowTaskScheduled': {
        const segment = { start: time, end: null, state: 'scheduled', eventId: event.event_id, attempt: num(attrs.attempt) || 1, title: 'workflow task' };
        openTasks.set(event.event_id, segment);
        workflowTasks.segments.push(segment);
        break;
      }
      case 'WorkflowTaskStarted': {
        const segment = openTasks.get(num(attrs.scheduledEventId));
        if (segment) {
          segment.state = 'running';
          segment.startedAt = time;
          segment.worker = attrs.identity ?? '';
        }
        break;
      }
      case 'WorkflowTaskCompleted':
      case 'WorkflowTaskFailed':
      case 'WorkflowTaskTimedOut': {
        const segment = openTasks.get(num(attrs.scheduledEventId));
        if (segment) {
          segment.state = WORKFLOW_TASK_CLOSE[event.type];
          segment.end = time;
          segment.closeEventId = event.event_id;
          openTasks.delete(num(attrs.scheduledEventId));
        }
        break;
      }
      case 'ActivityTaskScheduled': {
        const type = attrs.activityType?.name ?? 'activity';
        row(`activity-${event.event_id}`, () => ({
          key: `activity-${event.event_id}`,
          kind: 'activity',
          label: type,
          detail: `activity ${attrs.activityId ?? ''}`.trim(),
          scheduledEventId: event.event_id,
          segments: [{ start: time, end: null, state: 'scheduled', eventId: event.event_id, attempt: 1, title: `${type} scheduled` }],
        }));
        break;
      }
      case 'ActivityTaskStarted': {
        const found = byKey.get(`activity-${num(attrs.scheduledEventId)}`);
        if (!found) break;
        const attempt = num(attrs.attempt) || 1;
        const waiting = found.segments[0];
        if (attempt > 1) {
          // Earlier attempts ran and failed between scheduling and this start.
          waiting.state = 'retried';
          waiting.end = time;
          waiting.attempt = attempt - 1;
          waiting.title = `${attempt - 1} earlier attempt${attempt > 2 ? 's' : ''} failed` + (attrs.lastFailure?.message ? `; last: ${attrs.lastFailure.message}` : '');
          waiting.lastFailure = attrs.lastFailure ?? null;
        } else {
          waiting.state = 'queued';
          waiting.end = time;
          waiting.title = 'waiting on the queue';
        }
        found.segments.push({ start: time, end: null, state: 'running', eventId: event.event_id, attempt, title: `attempt ${attempt}`, worker: attrs.identity ?? '' });
        found.attempts = attempt;
        break;
      }
      case 'ActivityTaskCompleted':
      case 'ActivityTaskFailed':
      case 'ActivityTaskTimedOut':
      case 'ActivityTaskCanceled': {
        const found = byKey.get(`activity-${num(attrs.scheduledEventId)}`);
        if (!found) break;
        const last = found.segments[found.segments.length - 1];
        if (last.state === 'scheduled') last.state = 'queued';
        last.end = time;
        if (last.state === 'running' || last.state === 'queued') last.state = ACTIVITY_CLOSE[event.type];
        last.closeEventId = event.event_id;
        found.state = ACTIVITY_CLOSE[event.type];
        if (attrs.failure?.message) last.title += `: ${attrs.failure.message}`;
        break;
      }
      case 'TimerStarted':
        row(`timer-${event.event_id}`, () => ({
          key: `timer-${event.event_id}`,
          kind: 'timer',
          label: `timer ${attrs.timerId ?? ''}`.trim(),
          detail: attrs.startToFireTimeout ?? '',
          segments: [{ start: time, end: null, state: 'waiting', eventId: event.event_id, title: `timer ${attrs.startToFireTimeout ?? ''}` }],
        }));
        break;
      case 'TimerFired':
      case 'TimerCanceled': {
        const found = byKey.get(`timer-${num(attrs.startedEventId)}`);
        if (!found) break;
        found.segments[0].end = time;
        found.segments[0].state = event.type === 'TimerFired' ? 'fired' : 'canceled';
        found.segments[0].closeEventId = event.event_id;
        break;
      }
      case 'StartChildWorkflowExecutionInitiated':
        row(`child-${event.event_id}`, () => ({
          key: `child-${event.event_id}`,
          kind: 'child',
          label: attrs.workflowType?.name ?? 'child workflow',
          detail: attrs.workflowId ?? '',
          workflowId: attrs.workflowId ?? '',
          runId: '',
          segments: [{ start: time, end: null, state: 'scheduled', eventId: event.event_id, title: `child ${attrs.workflowId ?? ''}` }],
        }));
        break;
      case 'ChildWorkflowExecutionStarted': {
        const found = byKey.get(`child-${num(attrs.initiatedEventId)}`);
        if (!found) break;
        found.runId = attrs.workflowExecution?.runId ?? '';
        found.segments[0].state = 'running';
        break;
      }
      case 'StartChildWorkflowExecutionFailed': {
        const found = byKey.get(`child-${num(attrs.initiatedEventId)}`);
        if (!found) break;
        found.segments[0].end = time;
        found.segments[0].state = 'failed';
        break;
      }
      default:
        if (CHILD_CLOSE[event.type]) {
          const found = byKey.get(`child-${num(attrs.initiatedEventId)}`);
          if (found) {
            found.segments[0].end = time;
            found.segments[0].state = CHILD_CLOSE[event.type];
            found.segments[0].closeEventId = event.event_id;
          }
        } else if (event.type === 'WorkflowExecutionSignaled') {
          marks.push({ time, kind: 'signal', label: `signal ${attrs.signalName ?? ''}`.trim(), eventId: event.event_id });
        } else if (event.type === 'WorkflowExecutionUpdateAccepted') {
          marks.push({ time, kind: 'update', label: `update ${attrs.acceptedRequest?.input?.name ?? ''}`.trim(), eventId: event.event_id });
        } else if (event.type === 'WorkflowExecutionCancelRequested') {
          marks.push({ time, kind: 'cancel', label: 'cancel requested', eventId: event.event_id });
        } else if (RUN_CLOSE.has(event.type)) {
          closed = true;
        }
    }
  }

  const earlierBy = new Map(taskRuns.filter((t) => t.earlier_attempts?.length).map((t) => [num(t.scheduled_event_id), t.earlier_attempts]));
  for (const r of rows) {
    const earlier = r.kind === 'activity' ? earlierBy.get(r.scheduledEventId) : undefined;
    if (earlier) r.segments = withEarlierAttempts(r, earlier);
  }

  if (!closed) end = Math.max(end, now);
  const all = [workflowTasks, ...rows];
  for (const r of all) {
    for (const segment of r.segments) {
      if (segment.end === null) {
        segment.open = true;
        segment.end = closed ? end : Math.max(now, segment.start);
      }
    }
  }
  return { start, end, rows: all.filter((r) => r.segments.length > 0), marks, closed };
}

/** An activity's segments with each earlier attempt drawn from its recorded times. */
function withEarlierAttempts(row, earlier) {
  const segments = [];
  for (const attempt of earlier) {
    const queued = Date.parse(attempt.scheduled_time);
    const started = attempt.started_time ? Date.parse(attempt.started_time) : null;
    const ended = Date.parse(attempt.end_time);
    const retry = Date.parse(attempt.retry_time);
    const message = attempt.failure?.message ?? '';
    const n = attempt.attempt;
    if (started !== null && started > queued) {
      segments.push({ start: queued, end: started, state: 'queued', eventId: row.scheduledEventId, attempt: n, title: `attempt ${n} waiting on the queue` });
    }
    segments.push({
      start: started ?? queued, end: ended, state: 'failed', eventId: row.scheduledEventId, attempt: n,
      title: `attempt ${n} failed${message ? `: ${message}` : ''}`, worker: attempt.worker ?? '',
    });
    if (retry > ended) {
      segments.push({ start: ended, end: retry, state: 'backoff', eventId: row.scheduledEventId, attempt: n, title: `backoff before attempt ${n + 1}` });
    }
  }
  // The history's own part: the last attempt's wait (from the end of the last backoff) and run.
  const lastRetry = Date.parse(earlier[earlier.length - 1].retry_time);
  const [wait, ...rest] = row.segments;
  wait.start = wait.end === null ? lastRetry : Math.min(lastRetry, wait.end);
  if (wait.state === 'retried') {
    wait.state = 'queued';
    wait.title = 'waiting on the queue';
    wait.attempt = earlier[earlier.length - 1].attempt + 1;
  }
  row.attempts = Math.max(row.attempts ?? 1, earlier[earlier.length - 1].attempt + 1);
  return [...segments, wait, ...rest];
}

/**
 * A time axis that can squeeze idle stretches: every gap longer than `minGapMs` in which no
 * segment is active is drawn `gapPx` wide. Returns `{x(t), width, gaps}` for `width` pixels.
 */
export function scale(laid, width, { collapseIdle = false, minGapMs = 60_000, gapPx = 16 } = {}) {
  const span = Math.max(1, laid.end - laid.start);
  let gaps = [];
  if (collapseIdle) gaps = idleGaps(laid, minGapMs);
  const idle = gaps.reduce((sum, gap) => sum + (gap.end - gap.start), 0);
  const usable = Math.max(1, width - gaps.length * gapPx);
  const perMs = usable / Math.max(1, span - idle);
  const x = (t) => {
    let skipped = 0;
    let squeezed = 0;
    for (const gap of gaps) {
      if (t >= gap.end) {
        skipped += gap.end - gap.start;
        squeezed += gapPx;
      } else if (t > gap.start) {
        return (gap.start - laid.start - skipped) * perMs + squeezed + ((t - gap.start) / (gap.end - gap.start)) * gapPx;
      }
    }
    return (t - laid.start - skipped) * perMs + squeezed;
  };
  return { x, width, gaps: gaps.map((gap) => ({ ...gap, x: x(gap.start) })) };
}

/** Stretches longer than `minGapMs` where no segment of any row is active. */
export function idleGaps(laid, minGapMs) {
  const spans = laid.rows
    .flatMap((r) => r.segments.map((s) => [s.start, s.end]))
    .concat(laid.marks.map((m) => [m.time, m.time]))
    .sort((a, b) => a[0] - b[0]);
  const gaps = [];
  let reach = laid.start;
  for (const [start, end] of spans) {
    if (start - reach > minGapMs) gaps.push({ start: reach, end: start });
    reach = Math.max(reach, end);
  }
  return gaps;
}

/** The rows to draw for a viewport: those from `scrollTop` to `scrollTop + height`. */
export function visibleRows(rowCount, rowHeight, scrollTop, height, overscan = 5) {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(rowCount, Math.ceil((scrollTop + height) / rowHeight) + overscan);
  return { first, last };
}

/** Tick marks for an axis over `[start, end]`: about `target` round times. */
export function ticks(start, end, target = 6) {
  const span = Math.max(1, end - start);
  const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000];
  const step = steps.find((s) => span / s <= target) ?? 86_400_000 * Math.ceil(span / target / 86_400_000);
  const out = [];
  for (let t = Math.ceil(start / step) * step; t <= end; t += step) out.push(t);
  return { step, times: out };
}
