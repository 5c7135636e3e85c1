import { test } from 'node:test';
import assert from 'node:assert/strict';

import { planBody, inView } from '../views/plans.js';

test('a new plan sends only what was filled in, with the start time in UTC', () => {
  const body = planBody({ id: ' nightly ', workflow_type: 'Report ', task_queue: 'reports', workflow_id: '', input: '{"day": 1}', start_at: '', note: '' });
  assert.deepEqual(body, { id: 'nightly', workflow_type: 'Report', task_queue: 'reports', workflow_id: '', note: '', input: { day: 1 } });
  const timed = planBody({ workflow_type: 'R', task_queue: 'q', start_at: '2026-12-24T18:00', input: '' });
  assert.equal(timed.start_at, new Date('2026-12-24T18:00').toISOString());
  assert.equal('input' in timed, false);
});

test('an edit sends the version read, clears a removed input and start time, and refuses bad JSON', () => {
  const body = planBody({ workflow_type: 'R', task_queue: 'q', workflow_id: 'w', input: '  ', start_at: '', note: 'n' }, { version: 4 });
  assert.deepEqual(body, { workflow_type: 'R', task_queue: 'q', workflow_id: 'w', note: 'n', start_at: null, inputs: [], version: 4 });
  assert.throws(() => planBody({ workflow_type: 'R', task_queue: 'q', input: '{day: 1}' }), /not valid JSON/);
});

test('the board shows the plans of its type and queue filters', () => {
  const plan = { workflow_type: 'Report', task_queue: 'reports' };
  assert.equal(inView(plan, {}), true);
  assert.equal(inView(plan, { queue: 'reports', type: 'Report' }), true);
  assert.equal(inView(plan, { queue: 'other' }), false);
  assert.equal(inView(plan, { type: 'Order' }), false);
});
