import { test } from 'node:test';
import assert from 'node:assert/strict';

import { layout, scale, idleGaps, visibleRows, ticks } from '../lib/timeline.js';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const ev = (id, ms, type, attributes = {}) => ({ event_id: id, time: new Date(T0 + ms).toISOString(), type, attributes });

// A run whose activity failed twice (retried by the server) and then succeeded, with a
// timer, a signal and a child, as the REST history gives it (ids as protobuf JSON strings).
const history = [
  ev(1, 0, 'WorkflowExecutionStarted'),
  ev(2, 0, 'WorkflowTaskScheduled'),
  ev(3, 10, 'WorkflowTaskStarted', { scheduledEventId: '2', identity: 'w1' }),
  ev(4, 20, 'WorkflowTaskCompleted', { scheduledEventId: '2', startedEventId: '3' }),
  ev(5, 20, 'ActivityTaskScheduled', { activityId: '1', activityType: { name: 'charge' } }),
  ev(6, 20, 'TimerStarted', { timerId: '2', startToFireTimeout: '5s' }),
  ev(7, 3000, 'ActivityTaskStarted', { scheduledEventId: '5', attempt: 3, identity: 'w1', lastFailure: { message: 'boom' } }),
  ev(8, 3100, 'ActivityTaskCompleted', { scheduledEventId: '5', startedEventId: '7' }),
  ev(9, 4000, 'WorkflowExecutionSignaled', { signalName: 'approve' }),
  ev(10, 5020, 'TimerFired', { timerId: '2', startedEventId: '6' }),
  ev(11, 5020, 'StartChildWorkflowExecutionInitiated', { workflowId: 'kid', workflowType: { name: 'Kid' } }),
  ev(12, 5030, 'ChildWorkflowExecutionStarted', { initiatedEventId: '11', workflowExecution: { workflowId: 'kid', runId: 'r2' } }),
  ev(13, 6000, 'ChildWorkflowExecutionCompleted', { initiatedEventId: '11' }),
  ev(14, 6000, 'WorkflowExecutionCompleted'),
];

test('a retried activity shows its earlier attempts and its final one', () => {
  const laid = layout(history, T0 + 999_999);
  assert.equal(laid.closed, true);
  assert.equal(laid.end, T0 + 6000, 'a closed run ends at its close event, not now');
  const activity = laid.rows.find((r) => r.kind === 'activity');
  assert.equal(activity.label, 'charge');
  assert.equal(activity.attempts, 3);
  assert.deepEqual(
    activity.segments.map((s) => [s.state, s.start - T0, s.end - T0, s.attempt]),
    [['retried', 20, 3000, 2], ['completed', 3000, 3100, 3]],
  );
  assert.match(activity.segments[0].title, /2 earlier attempts failed; last: boom/);
});

test('with the attempts Keel keeps, each earlier attempt is drawn: queue wait, failed run, backoff', () => {
  const iso = (ms) => new Date(T0 + ms).toISOString();
  const failure = (message) => ({ message });
  const taskRuns = [{
    scheduled_event_id: 5,
    earlier_attempts: [
      { attempt: 1, scheduled_time: iso(20), started_time: iso(30), end_time: iso(500), retry_time: iso(1500), worker: 'w1', failure: failure('boom 1') },
      { attempt: 2, scheduled_time: iso(1500), started_time: null, end_time: iso(2000), retry_time: iso(2900), worker: null, failure: failure('no worker took it') },
    ],
  }];
  const laid = layout(history, T0 + 999_999, taskRuns);
  const activity = laid.rows.find((r) => r.kind === 'activity');
  assert.equal(activity.attempts, 3);
  assert.deepEqual(
    activity.segments.map((s) => [s.state, s.start - T0, s.end - T0, s.attempt]),
    [
      ['queued', 20, 30, 1], ['failed', 30, 500, 1], ['backoff', 500, 1500, 1],
      ['failed', 1500, 2000, 2], ['backoff', 2000, 2900, 2],
      ['queued', 2900, 3000, 3], ['completed', 3000, 3100, 3],
    ],
  );
  assert.equal(activity.segments[1].title, 'attempt 1 failed: boom 1');
  assert.equal(activity.segments[1].worker, 'w1');
});

test('an activity still retrying waits from the end of its last backoff', () => {
  const iso = (ms) => new Date(T0 + ms).toISOString();
  const running = history.slice(0, 6);
  const taskRuns = [{ scheduled_event_id: '5', earlier_attempts: [{ attempt: 1, scheduled_time: iso(20), started_time: iso(25), end_time: iso(100), retry_time: iso(1100), failure: { message: 'x' } }] }];
  const laid = layout(running, T0 + 2000, taskRuns);
  const activity = laid.rows.find((r) => r.kind === 'activity');
  assert.deepEqual(
    activity.segments.map((s) => [s.state, s.start - T0, s.end - T0, s.open ?? false]),
    [['queued', 20, 25, false], ['failed', 25, 100, false], ['backoff', 100, 1100, false], ['scheduled', 1100, 2000, true]],
  );
});

test('workflow tasks, timers, children and marks', () => {
  const laid = layout(history, T0 + 999_999);
  const tasks = laid.rows.find((r) => r.kind === 'workflow');
  assert.deepEqual(tasks.segments.map((s) => [s.state, s.start - T0, s.end - T0]), [['completed', 0, 20]]);
  const timer = laid.rows.find((r) => r.kind === 'timer');
  assert.deepEqual([timer.segments[0].state, timer.segments[0].end - T0], ['fired', 5020]);
  const child = laid.rows.find((r) => r.kind === 'child');
  assert.equal(child.workflowId, 'kid');
  assert.equal(child.runId, 'r2');
  assert.equal(child.segments[0].state, 'completed');
  assert.deepEqual(laid.marks.map((m) => [m.kind, m.label, m.eventId]), [['signal', 'signal approve', 9]]);
});

test('open work of a running run reaches now', () => {
  const running = history.slice(0, 7);
  const laid = layout(running, T0 + 10_000);
  assert.equal(laid.closed, false);
  assert.equal(laid.end, T0 + 10_000);
  const activity = laid.rows.find((r) => r.kind === 'activity');
  const last = activity.segments.at(-1);
  assert.equal(last.state, 'running');
  assert.equal(last.open, true);
  assert.equal(last.end, T0 + 10_000);
});

test('collapsing idle stretches squeezes only time where nothing happens', () => {
  const events = [
    ev(1, 0, 'WorkflowExecutionStarted'),
    ev(2, 0, 'WorkflowTaskScheduled'),
    ev(3, 100, 'WorkflowTaskStarted', { scheduledEventId: '2' }),
    ev(4, 200, 'WorkflowTaskCompleted', { scheduledEventId: '2' }),
    ev(5, 3_600_200, 'WorkflowExecutionSignaled', { signalName: 's' }),
    ev(6, 3_600_200, 'WorkflowTaskScheduled'),
    ev(7, 3_600_300, 'WorkflowTaskStarted', { scheduledEventId: '6' }),
    ev(8, 3_600_400, 'WorkflowTaskCompleted', { scheduledEventId: '6' }),
    ev(9, 3_600_400, 'WorkflowExecutionCompleted'),
  ];
  const laid = layout(events);
  assert.deepEqual(idleGaps(laid, 60_000).map((g) => [g.start - T0, g.end - T0]), [[200, 3_600_200]]);
  const plain = scale(laid, 1000);
  assert.ok(plain.x(T0 + 200) < 1, 'without collapsing, the first task is a sliver');
  const squeezed = scale(laid, 1000, { collapseIdle: true, gapPx: 20 });
  assert.equal(squeezed.gaps.length, 1);
  assert.ok(Math.abs(squeezed.x(T0 + 200) - 490) < 1, `the first task takes half: ${squeezed.x(T0 + 200)}`);
  assert.ok(Math.abs(squeezed.x(T0 + 3_600_400) - 1000) < 1e-6, 'the end stays at the edge');
});

test('only the rows in view are drawn, and ticks are round', () => {
  assert.deepEqual(visibleRows(10_000, 24, 24 * 500, 240, 2), { first: 498, last: 512 });
  assert.deepEqual(visibleRows(3, 24, 0, 240, 2), { first: 0, last: 3 });
  const { step, times } = ticks(T0, T0 + 60_000, 6);
  assert.equal(step, 10_000);
  assert.equal(times.length, 7);
});

test('a 10,000-event history lays out quickly', () => {
  const events = [ev(1, 0, 'WorkflowExecutionStarted')];
  let id = 2;
  for (let i = 0; i < 2500; i++) {
    const scheduled = id;
    events.push(ev(id++, i * 10, 'ActivityTaskScheduled', { activityType: { name: 'step' }, activityId: String(i) }));
    events.push(ev(id++, i * 10 + 1, 'ActivityTaskStarted', { scheduledEventId: String(scheduled), attempt: 1 }));
    events.push(ev(id++, i * 10 + 5, 'ActivityTaskCompleted', { scheduledEventId: String(scheduled) }));
    events.push(ev(id++, i * 10 + 6, 'WorkflowExecutionSignaled', { signalName: 'tick' }));
  }
  const laid = layout(events, T0 + 30_000);
  assert.equal(laid.rows.filter((r) => r.kind === 'activity').length, 2500);
  assert.equal(laid.marks.length, 2500);
});
