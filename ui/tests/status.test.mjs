import { test } from 'node:test';
import assert from 'node:assert/strict';

import { doingText, waitsForInput } from '../lib/status.js';

test('what a running run is on reads as words', () => {
  const now = Date.parse('2026-12-05T10:00:00Z');
  assert.equal(doingText({ kind: 'activity', name: 'charge', attempt: 1, backing_off: false, others: 0 }, now), 'activity charge');
  assert.equal(
    doingText({ kind: 'activity', name: 'charge', attempt: 3, backing_off: true, others: 2 }, now),
    'activity charge · attempt 3, retrying soon (+2 more)',
  );
  assert.equal(doingText({ kind: 'timer', fires_at: '2026-12-05T10:05:00Z', others: 0 }, now), 'timer, fires in 5 m');
  assert.equal(doingText({ kind: 'starting', at: '2026-12-05T10:05:00Z' }, now), 'starts in 5 m');
  assert.equal(doingText({ kind: 'child', name: 'Ship', others: 1 }, now), 'child Ship (+1 more)');
  assert.equal(doingText({ kind: 'workflow_task' }, now), 'workflow deciding');
  assert.equal(doingText(null), '');
});

test('only a running run waits for input', () => {
  assert.equal(waitsForInput({ status: 'running', doing: { kind: 'waiting_for_input' } }), true);
  assert.equal(waitsForInput({ status: 'completed', doing: { kind: 'waiting_for_input' } }), false);
  assert.equal(waitsForInput({ status: 'running', doing: { kind: 'timer' } }), false);
});
