import { test } from 'node:test';
import assert from 'node:assert/strict';

import { createStream, coalesce } from '../lib/stream.js';

/** A stand-in for the browser's EventSource that the test drives by hand. */
class FakeSource {
  static opened = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.listeners = {};
    this.closed = false;
    FakeSource.opened.push(this);
  }
  addEventListener(name, listener) {
    (this.listeners[name] ??= []).push(listener);
  }
  emit(name, data, lastEventId = '') {
    for (const listener of this.listeners[name] ?? []) listener({ data: JSON.stringify(data), lastEventId });
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
}

function fakeTimers() {
  const waiting = [];
  return {
    waiting,
    setTimer: (fn, ms) => waiting.push({ fn, ms }) - 1,
    clearTimer: (id) => { waiting[id].fn = () => {}; },
    fire: () => waiting.shift().fn(),
  };
}

test('a stream that broke off reopens after the last message seen, backing off', () => {
  FakeSource.opened = [];
  const timers = fakeTimers();
  const seen = [];
  const states = [];
  const stream = createStream({
    url: '/api/v1/executions/a/stream?namespace=default',
    events: ['history', 'log'],
    onEvent: (name, data, id) => seen.push([name, data.n, id]),
    onState: (state) => states.push(state),
    connect: (url) => new FakeSource(url),
    setTimer: timers.setTimer,
    clearTimer: timers.clearTimer,
  });
  const first = FakeSource.opened[0];
  assert.equal(first.url, '/api/v1/executions/a/stream?namespace=default');
  first.onopen();
  first.emit('history', { n: 1 }, '1:0');
  first.emit('log', { n: 2 }, '1:5');

  // The browser's own retry is still under way: nothing to do yet.
  first.readyState = 0;
  first.onerror();
  assert.equal(timers.waiting.length, 0);
  // It gave up (an error status on reconnect): the wrapper reopens after a delay.
  first.readyState = 2;
  first.onerror();
  assert.deepEqual(timers.waiting.map((t) => t.ms), [1000]);
  timers.fire();
  const second = FakeSource.opened[1];
  assert.equal(second.url, '/api/v1/executions/a/stream?namespace=default&last_event_id=1%3A5');
  second.readyState = 2;
  second.onerror();
  assert.deepEqual(timers.waiting.map((t) => t.ms), [2000], 'the second wait is longer');
  timers.fire();
  const third = FakeSource.opened[2];
  third.onopen();
  third.emit('history', { n: 3 }, '2:5');
  assert.deepEqual(seen, [['history', 1, '1:0'], ['log', 2, '1:5'], ['history', 3, '2:5']]);
  assert.equal(stream.lastEventId, '2:5');
  assert.deepEqual(states, ['connecting', 'live', 'reconnecting', 'reconnecting', 'connecting', 'reconnecting', 'connecting', 'live']);

  // After a successful open the delay starts small again; close stops everything.
  third.readyState = 2;
  third.onerror();
  assert.deepEqual(timers.waiting.map((t) => t.ms), [1000]);
  stream.close();
  timers.fire();
  assert.equal(FakeSource.opened.length, 3, 'a closed stream never reopens');
  assert.equal(third.closed, true);
});

test('bursts are coalesced into batches', () => {
  const timers = fakeTimers();
  const batches = [];
  const push = coalesce((batch) => batches.push(batch), 250, timers.setTimer);
  for (let i = 0; i < 500; i++) push(i);
  assert.equal(timers.waiting.length, 1, 'one repaint scheduled for the whole burst');
  timers.fire();
  push(500);
  timers.fire();
  assert.deepEqual(batches.map((b) => b.length), [500, 1]);
});
