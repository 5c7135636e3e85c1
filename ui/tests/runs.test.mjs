import { test } from 'node:test';
import assert from 'node:assert/strict';

import { applyChanges, matches } from '../lib/runs.js';

const run = (id, phase, extra = {}) => ({
  workflow_id: id,
  run_id: `${id}-r`,
  phase,
  status: phase === 'pending' ? 'running' : phase,
  workflow_type: 'Order',
  task_queue: 'orders',
  worker: null,
  start_time: '2026-12-01T10:00:00Z',
  ...extra,
});

const empty = () => ({
  pending: { runs: [], count: 0 },
  running: { runs: [], count: 0 },
  completed: { runs: [], count: 0 },
  failed: { runs: [], count: 0 },
  cancelled: { runs: [], count: 0 },
});

test('a run moves from column to column and counts follow', () => {
  let columns = empty();
  ({ columns } = applyChanges(columns, [run('a', 'pending')], {}));
  assert.deepEqual([columns.pending.count, columns.pending.runs.length], [1, 1]);
  ({ columns } = applyChanges(columns, [run('a', 'running'), run('b', 'pending')], {}));
  assert.deepEqual([columns.pending.count, columns.running.count], [1, 1]);
  assert.equal(columns.pending.runs[0].workflow_id, 'b');
  // Several states of one run in a batch: only the last counts.
  ({ columns } = applyChanges(columns, [run('a', 'running'), run('a', 'completed'), run('b', 'running'), run('b', 'failed', { status: 'terminated' })], {}));
  assert.deepEqual(
    Object.fromEntries(Object.entries(columns).map(([phase, c]) => [phase, c.count])),
    { pending: 0, running: 0, completed: 1, failed: 1, cancelled: 0 },
  );
  assert.equal(columns.failed.runs[0].status, 'terminated');
});

test('filters: runs that stop matching leave, a raw query asks the server', () => {
  let columns = empty();
  ({ columns } = applyChanges(columns, [run('a', 'running'), run('x', 'running', { workflow_type: 'Other' })], { type: 'Order' }));
  assert.deepEqual(columns.running.runs.map((r) => r.workflow_id), ['a']);
  const { refetch } = applyChanges(columns, [run('a', 'completed')], { query: "WorkflowType = 'Order'" });
  assert.equal(refetch, true);
  assert.equal(matches(run('order-1', 'running'), { search: 'order' }), true);
  assert.equal(matches(run('order-1', 'running'), { search: 'rder' }), false);
});

test('a changed run that stays in its column is updated in place', () => {
  let columns = empty();
  ({ columns } = applyChanges(columns, [run('a', 'running'), run('b', 'running')], {}));
  ({ columns } = applyChanges(columns, [run('a', 'running', { worker: 'w2' })], {}));
  assert.deepEqual(columns.running.runs.map((r) => [r.workflow_id, r.worker]), [['b', null], ['a', 'w2']]);
  assert.equal(columns.running.count, 2);
});

test('a burst of new runs keeps a column at the length it was loaded with, and counts them all', () => {
  let columns = empty();
  columns.running.shown = 60;
  const burst = Array.from({ length: 500 }, (_, i) => run(`new-${i}`, 'running'));
  ({ columns } = applyChanges(columns, burst, {}));
  assert.equal(columns.running.count, 500);
  assert.equal(columns.running.runs.length, 60);
  assert.equal(columns.running.runs[0].workflow_id, 'new-499', 'the newest on top');
  assert.equal(columns.running.trimmed, true);
  ({ columns } = applyChanges(columns, [run('x', 'pending')], {}));
  assert.equal(columns.pending.trimmed, undefined, 'a short column is not trimmed');
  assert.equal(columns.pending.runs.length, 1);
});
