import { test } from 'node:test';
import assert from 'node:assert/strict';

import { parseLocation, href, patchQuery, listParams } from '../lib/url.js';

test('paths name pages and runs', () => {
  assert.deepEqual(parseLocation('/', ''), { page: 'board', query: {} });
  assert.deepEqual(parseLocation('/executions', '?type=Order&sort=-start_time'), {
    page: 'executions',
    query: { type: 'Order', sort: '-start_time' },
  });
  assert.deepEqual(parseLocation('/executions/order%2F17%20a', '?tab=history&run_id=r1'), {
    page: 'detail',
    workflowId: 'order/17 a',
    query: { tab: 'history', run_id: 'r1' },
  });
  assert.equal(parseLocation('/workers').page, 'workers');
  assert.equal(parseLocation('/nowhere').page, 'not_found');
});

test('links round-trip and leave empty values out', () => {
  const link = href('detail', { tab: 'logs', run_id: 'r1', level: '' }, "it's a/b");
  assert.equal(link, '/executions/it\'s%20a%2Fb?run_id=r1&tab=logs');
  const [path, search] = link.split('?');
  assert.deepEqual(parseLocation(path, `?${search}`), {
    page: 'detail',
    workflowId: "it's a/b",
    query: { run_id: 'r1', tab: 'logs' },
  });
  assert.equal(href('board', { queue: 'orders', type: 'A B' }), '/?queue=orders&type=A+B');
  assert.equal(href('board', {}), '/');
});

test('patching the query adds, changes and removes', () => {
  const query = { type: 'Order', queue: 'q' };
  assert.deepEqual(patchQuery(query, { queue: '', search: 'ord', live: false }), { type: 'Order', search: 'ord' });
  assert.deepEqual(query, { type: 'Order', queue: 'q' }, 'the original is untouched');
  assert.deepEqual(listParams({ type: 'Order', tab: 'x', query: "WorkflowId = 'a'" }), {
    type: 'Order',
    query: "WorkflowId = 'a'",
  });
});
