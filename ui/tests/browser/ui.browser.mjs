// The web UI in a real browser: headless Debian chromium driven by playwright-core, against
// a real Keel server (started by crates/keel/tests/it/ui.rs, which runs this file with
// `node --test`), with workers and clients of the official Python SDK (sdk.py).
//
// Environment: KEEL_GRPC (host:port), KEEL_HTTP (http://host:port), KEEL_TEST_PYTHON,
// KEEL_TEST_CHROMIUM, KEEL_SCREENSHOTS (a directory for the screenshots).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const HERE = path.dirname(fileURLToPath(import.meta.url));
const GRPC = process.env.KEEL_GRPC;
const HTTP = process.env.KEEL_HTTP;
const PYTHON = process.env.KEEL_TEST_PYTHON;
const SHOTS = process.env.KEEL_SCREENSHOTS ?? path.join(HERE, '../../../target/ui-screenshots');
const WAIT = { timeout: 20_000 };

let browser;
let context;
const workers = [];

before(async () => {
  assert.ok(GRPC && HTTP && PYTHON, 'KEEL_GRPC, KEEL_HTTP and KEEL_TEST_PYTHON must be set');
  await mkdir(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: process.env.KEEL_TEST_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
  context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
});

after(async () => {
  for (const worker of workers) worker.kill('SIGKILL');
  await browser?.close();
});

/** Runs sdk.py to completion; answers its stdout. */
function sdk(...args) {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [path.join(HERE, 'sdk.py'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`sdk.py ${args.join(' ')} exited ${code}: ${err}`))));
  });
}

const start = (workflow, id, queue) => sdk('start', GRPC, workflow, id, queue);

/** Starts a worker on `queue` and waits until it polls. */
function startWorker(queue) {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [path.join(HERE, 'sdk.py'), 'worker', GRPC, queue], { stdio: ['ignore', 'pipe', 'pipe'] });
    workers.push(child);
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    child.stdout.on('data', (d) => { if (String(d).includes('ready')) resolve(child); });
    child.on('exit', (code, signal) => { if (signal !== 'SIGKILL') reject(new Error(`worker on ${queue} exited ${code}: ${err}`)); });
  });
}

async function rest(pathname, body) {
  const response = await fetch(`${HTTP}${pathname}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await response.json();
  assert.ok(response.ok, `${pathname}: ${JSON.stringify(json)}`);
  return json;
}

async function until(what, check, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const column = (page, phase) => page.locator(`section[aria-labelledby="col-${phase}"]`);
const card = (page, phase, id) => column(page, phase).locator(`article[data-workflow-id="${id}"]`);
const unique = (prefix) => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;

/** No serious or critical accessibility violations on the page as it is now. */
async function accessible(page, name) {
  // Through the debugging protocol: the page's own policy forbids inline scripts.
  await page.evaluate(await readFile(AXE, 'utf8'));
  const result = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')} ${n.any[0]?.message ?? ''}`).join(', ')})`), [], `axe on ${name}`);
}

/** A screenshot in the light and the dark theme. */
async function screenshots(page, name) {
  for (const theme of ['light', 'dark']) {
    await page.evaluate((t) => { document.documentElement.dataset.theme = t; }, theme);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${theme}.png`) });
  }
  await page.evaluate(() => { document.documentElement.dataset.theme = 'light'; });
}

test('a run waits in Pending saying "no worker", then moves to Completed live when a worker starts', async () => {
  const queue = unique('ui-q');
  const id = unique('ui-simple');
  const page = await context.newPage();
  await page.goto(`${HTTP}/?queue=${queue}`);
  await page.evaluate(() => { window.__sameDocument = true; });
  await start('Simple', id, queue);
  const pending = card(page, 'pending', id);
  await pending.waitFor(WAIT);
  await pending.locator('.why', { hasText: 'no worker' }).waitFor(WAIT);
  assert.equal(await column(page, 'pending').locator('.count').getAttribute('data-count'), '1');
  await accessible(page, 'board');
  await screenshots(page, 'board');

  await startWorker(queue);
  await card(page, 'completed', id).waitFor(WAIT);
  assert.equal(await card(page, 'pending', id).count(), 0, 'the card left Pending');
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no reload happened');
  assert.equal(await column(page, 'completed').locator('.count').getAttribute('data-count'), '1');

  // The same filters opened in a fresh page show the same view.
  const fresh = await context.newPage();
  await fresh.goto(`${HTTP}/?queue=${queue}`);
  await card(fresh, 'completed', id).waitFor(WAIT);
  assert.equal(await fresh.locator('input[name="queue"]').inputValue(), queue);
  assert.equal(await fresh.locator('article.card').count(), 1);
  await fresh.goto(`${HTTP}/executions?queue=${queue}`);
  await fresh.locator('.tr[data-nav]', { hasText: id }).waitFor(WAIT);
  await accessible(fresh, 'executions table');
  await screenshots(fresh, 'executions');
  await fresh.close();
  await page.close();
});

test('a killed worker stops counting within two seconds, and new runs say "no worker"', async () => {
  const queue = unique('ui-kill');
  const worker = await startWorker(queue);
  const page = await context.newPage();
  await page.goto(`${HTTP}/workers?queue=${queue}`);
  const row = page.locator(`tr[data-queue="${queue}"]`);
  await row.waitFor(WAIT);
  await until('the worker polling', async () => (await row.locator('td').nth(0).textContent()) === '1');
  await accessible(page, 'workers');
  await screenshots(page, 'workers');

  worker.kill('SIGKILL');
  const killedAt = Date.now();
  await until('no pollers', async () => (await row.locator('td').nth(0).textContent()) === '0' && (await row.locator('td').nth(4).textContent()) === '0', 5000);
  const took = Date.now() - killedAt;
  assert.ok(took <= 2000 + 2100, `the queue showed no poller ${took} ms after the kill`);
  // The server itself knows at once (the page refreshes every 2 s).
  const queues = await rest(`/api/v1/task-queues/${queue}`);
  assert.equal(queues.workflow.pollers, 0);

  const id = unique('ui-orphan');
  await start('Simple', id, queue);
  const detail = await rest(`/api/v1/executions/${id}`);
  assert.equal(detail.pending_reason.code, 'no_worker', JSON.stringify(detail.pending_reason));
  assert.match(detail.pending_reason.message, /last one, ui-test-worker@.* was seen \d+ s ago/);
  await page.goto(`${HTTP}/?queue=${queue}`);
  await card(page, 'pending', id).locator('.why', { hasText: 'no worker' }).waitFor(WAIT);
  await page.close();
});

test('an activity that fails twice and then succeeds shows three attempts on the timeline', async () => {
  const queue = unique('ui-flaky');
  await startWorker(queue);
  const id = unique('ui-flaky');
  await start('Flaky', id, queue);
  const page = await context.newPage();
  await page.goto(`${HTTP}/executions/${id}`);
  await page.locator('.badge', { hasText: 'Completed' }).waitFor(WAIT);
  const lane = page.locator('.lane-activity');
  await lane.locator('.attempts', { hasText: '×3' }).waitFor(WAIT);
  // Each attempt on its own: two failed runs with their backoffs, then the one that worked.
  const failed = lane.locator('.seg.state-failed');
  assert.equal(await failed.count(), 2);
  assert.deepEqual([await failed.nth(0).getAttribute('data-attempt'), await failed.nth(1).getAttribute('data-attempt')], ['1', '2']);
  assert.match(await failed.nth(0).getAttribute('title'), /attempt 1 failed: flaky failure on attempt 1/);
  assert.match(await failed.nth(1).getAttribute('title'), /attempt 2 failed: flaky failure on attempt 2/);
  assert.equal(await lane.locator('.seg.state-backoff').count(), 2);
  assert.equal(await lane.locator('.seg.state-completed').getAttribute('data-attempt'), '3');
  await accessible(page, 'timeline');
  await screenshots(page, 'timeline');

  // Clicking the bar selects its event in History.
  await lane.locator('.seg.state-completed').click();
  await page.locator('li.event.selected').waitFor(WAIT);
  assert.match(page.url(), /tab=history/);
  await accessible(page, 'history');
  await screenshots(page, 'history');
  await page.close();
});

test('cancel and terminate from the detail page', async () => {
  const queue = unique('ui-act');
  await startWorker(queue);
  const [a, b] = [unique('ui-cancel'), unique('ui-terminate')];
  await start('Waiter', a, queue);
  await start('Waiter', b, queue);
  const page = await context.newPage();

  await page.goto(`${HTTP}/executions/${a}`);
  await page.locator('.badge', { hasText: 'Running' }).waitFor(WAIT);
  await page.getByRole('button', { name: 'Cancel', exact: true }).click();
  await page.getByRole('button', { name: 'Request cancellation' }).click();
  await page.locator('.badge', { hasText: 'Cancelled' }).waitFor(WAIT);
  assert.equal((await rest(`/api/v1/executions/${a}`)).status, 'canceled');

  await page.goto(`${HTTP}/executions/${b}`);
  await page.locator('.badge', { hasText: 'Running' }).waitFor(WAIT);
  await page.getByRole('button', { name: 'Terminate', exact: true }).click();
  await page.getByLabel('Reason').fill('stuck in test');
  await accessible(page, 'terminate dialog');
  await page.locator('dialog').getByRole('button', { name: 'Terminate' }).click();
  await page.locator('.badge', { hasText: 'Terminated' }).waitFor(WAIT);
  const history = await rest(`/api/v1/executions/${b}/history`);
  assert.equal(history.events.at(-1).attributes.reason, 'stuck in test');
  await page.close();
});

test('a bulk terminate of three selected cards', async () => {
  const queue = unique('ui-bulk');
  await startWorker(queue);
  const ids = [unique('ui-bulk'), unique('ui-bulk'), unique('ui-bulk')];
  const bystander = unique('ui-bulk');
  for (const id of [...ids, bystander]) await start('Waiter', id, queue);
  const page = await context.newPage();
  await page.goto(`${HTTP}/?queue=${queue}`);
  for (const id of ids) await card(page, 'running', id).locator('input[type="checkbox"]').check(WAIT);
  await page.getByRole('region', { name: 'Bulk actions' }).getByRole('button', { name: 'Terminate' }).click();
  await page.getByRole('heading', { name: 'Terminate 3 executions?' }).waitFor(WAIT);
  await page.getByRole('button', { name: 'terminate 3' }).click();
  for (const id of ids) await card(page, 'failed', id).locator('.status-word', { hasText: 'Terminated' }).waitFor(WAIT);
  assert.equal(await card(page, 'running', bystander).count(), 1, 'the unselected run goes on');
  await page.close();
});

test('logs follow live, the history download equals the export, signals, updates and queries work', async () => {
  const queue = unique('ui-talk');
  await startWorker(queue);
  const id = unique('ui-talk');
  await start('Waiter', id, queue);
  const page = await context.newPage();
  // Blocked on its approval signal, the run says so on its card and on its page.
  await page.goto(`${HTTP}/?queue=${queue}`);
  await card(page, 'running', id).locator('.input-badge', { hasText: 'waiting for input' }).waitFor(WAIT);
  await page.goto(`${HTTP}/executions/${id}?tab=logs`);
  await page.locator('.detail-head .input-badge', { hasText: 'waiting for input' }).waitFor(WAIT);
  await page.locator('.log-line', { hasText: 'started' }).first().waitFor(WAIT);
  await rest(`/api/v1/executions/${id}/logs`, { message: 'checking the order by hand', level: 'warn', worker: 'ops' });
  await page.locator('.log-line', { hasText: 'checking the order by hand' }).waitFor(WAIT);
  await accessible(page, 'logs');
  await screenshots(page, 'logs');

  await page.getByRole('tab', { name: 'Interact' }).click();
  await page.getByRole('button', { name: 'Run query' }).waitFor(WAIT);
  await page.locator('form[aria-label="Run a query"] input[name="name"]').fill('state');
  await page.getByRole('button', { name: 'Run query' }).click();
  await page.locator('.answer', { hasText: 'waiting for approval' }).waitFor(WAIT);
  await accessible(page, 'interact');
  await screenshots(page, 'interact');
  const updateForm = page.locator('form[aria-label="Send an update"]');
  await updateForm.locator('input[name="name"]').fill('set_priority');
  await updateForm.locator('textarea').fill('3');
  await page.getByRole('button', { name: 'Send update' }).click();
  await page.locator('.answer', { hasText: 'priority 3' }).waitFor(WAIT);
  await updateForm.locator('textarea').fill('-1');
  await page.getByRole('button', { name: 'Send update' }).click();
  await page.locator('.answer', { hasText: 'priority -1 is below 0' }).waitFor(WAIT);
  const history = await rest(`/api/v1/executions/${id}/history?limit=1000`);
  assert.equal(history.events.filter((e) => e.type === 'WorkflowExecutionUpdateCompleted').length, 1, 'the rejected update left no event');
  await page.locator('form[aria-label="Send a signal"] input[name="name"]').fill('approve');
  await page.locator('form[aria-label="Send a signal"] textarea').fill('{"by": "the ui"}');
  await page.getByRole('button', { name: 'Send signal' }).click();
  await page.locator('.badge', { hasText: 'Completed' }).waitFor(WAIT);
  const detail = await rest(`/api/v1/executions/${id}`);
  assert.deepEqual(detail.output, [`${id} approved by the ui`]);

  await page.getByRole('tab', { name: 'History' }).click();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /Download export/ }).click()]);
  const downloaded = await readFile(await download.path());
  const exported = Buffer.from(await (await fetch(`${HTTP}/api/v1/executions/${id}/history?format=temporal&run_id=${detail.run_id}`)).arrayBuffer());
  assert.ok(downloaded.equals(exported), 'the download is the export, byte for byte');
  await page.close();
});

test('schedules: the next firing is planned on the board; pause, trigger and delete from the UI', async () => {
  const queue = unique('ui-sched');
  await startWorker(queue);
  const id = unique('ui-schedule');
  await sdk('schedule', GRPC, id, queue);
  const page = await context.newPage();
  await page.goto(`${HTTP}/`);
  await column(page, 'planning').locator(`article[data-schedule-id="${id}"]`, { hasText: 'every 1h' }).waitFor(WAIT);

  await page.goto(`${HTTP}/schedules`);
  const row = page.locator(`tr[data-schedule="${id}"]`);
  await row.locator('td', { hasText: 'every 1h' }).waitFor(WAIT);
  await row.getByRole('link', { name: id }).click();
  const detail = page.getByRole('region', { name: `Schedule ${id}` });
  await detail.waitFor(WAIT);
  assert.match(page.url(), new RegExp(`schedule=${id}`));
  await accessible(page, 'schedules');
  await screenshots(page, 'schedules');

  await detail.getByRole('button', { name: 'Pause…' }).click();
  await page.getByLabel('Note (shown on the schedule)').fill('quiet hours');
  await page.locator('dialog').getByRole('button', { name: 'Pause' }).click();
  await detail.locator('.badge', { hasText: 'Paused' }).waitFor(WAIT);
  const paused = await rest(`/api/v1/schedules/${id}`);
  assert.deepEqual([paused.paused, paused.notes, paused.next_action_times], [true, 'quiet hours', []]);
  await detail.getByRole('button', { name: 'Unpause…' }).click();
  await page.locator('dialog').getByRole('button', { name: 'Unpause' }).click();
  await detail.locator('.badge', { hasText: 'Active' }).waitFor(WAIT);

  await detail.getByRole('button', { name: 'Trigger now' }).click();
  const started = await until('the triggered run', async () => (await rest(`/api/v1/executions?search=${id}-wf`)).executions[0]);
  await until('the triggered run to complete', async () => (await rest(`/api/v1/executions/${started.workflow_id}`)).status === 'completed');

  await detail.getByRole('button', { name: 'Delete…' }).click();
  await page.locator('dialog').getByRole('button', { name: 'Delete' }).click();
  await until('the schedule to be gone', async () => (await page.locator(`tr[data-schedule="${id}"]`).count()) === 0);
  const gone = await fetch(`${HTTP}/api/v1/schedules/${id}`);
  assert.equal(gone.status, 404);
  await page.close();
});

test('flows: the run form refuses a bad input, runs the flow, a pause is resumed from its page, and the editor shows problems', async () => {
  const id = unique('ui-flow');
  const source = `id: ${id}
inputs:
  - {id: name, type: STRING, pattern: "[A-Za-z]+"}
  - {id: mode, type: SELECT, values: [fast, careful], defaults: fast}
tasks:
  - id: approve
    type: Pause
    onResume:
      - {id: approved, type: BOOLEAN}
  - {id: greet, type: return, value: "hi {{ inputs.name }}"}
outputs:
  - {id: said, value: "{{ outputs.greet }}"}
`;
  await rest('/api/v1/flows', { source });
  const page = await context.newPage();
  await page.goto(`${HTTP}/flows`);
  await page.locator(`tr[data-flow="${id}"]`).getByRole('link', { name: id }).click();
  await page.getByRole('region', { name: `Flow ${id}` }).waitFor(WAIT);
  const form = page.getByRole('form', { name: 'Run the flow' });
  await form.getByLabel('name', { exact: true }).fill('R2D2');
  await form.getByRole('button', { name: 'Run revision 1' }).click();
  await form.locator('.error-box', { hasText: "input 'name'" }).waitFor(WAIT);
  assert.equal((await rest(`/api/v1/executions?type=${id}`)).executions.length, 0, 'a refused input starts nothing');
  await accessible(page, 'flows');
  await screenshots(page, 'flows');

  await form.getByLabel('name', { exact: true }).fill('Ada');
  await form.getByLabel('mode', { exact: true }).selectOption('careful');
  await form.getByRole('button', { name: 'Run revision 1' }).click();
  await page.waitForURL(/\/executions\//, WAIT);
  const workflowId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
  const started = await rest(`/api/v1/executions/${workflowId}`);
  assert.deepEqual(started.input[0].inputs, { name: 'Ada', mode: 'careful' });
  const resume = page.getByRole('button', { name: 'Resume approve…' });
  await resume.waitFor(WAIT);
  await page.getByRole('tab', { name: 'Topology' }).click();
  const topology = page.getByLabel('Topology');
  await topology.locator('li[data-task="approve"][data-state="waiting"]').waitFor(WAIT);
  await topology.locator('li[data-task="greet"][data-state="not reached"]').waitFor(WAIT);
  await screenshots(page, 'flow-topology');
  await resume.click();
  const dialog = page.getByRole('dialog', { name: 'Resume approve' });
  await dialog.getByLabel('approved', { exact: true }).selectOption('true');
  await accessible(page, 'flow execution');
  await screenshots(page, 'flow-resume');
  await dialog.getByRole('button', { name: 'Resume' }).click();
  await until('the flow to complete', async () => (await rest(`/api/v1/executions/${workflowId}`)).status === 'completed');
  // The topology follows the run live.
  await topology.locator('li[data-task="greet"][data-state="completed"]').waitFor(WAIT);
  await topology.locator('li[data-task="approve"][data-state="completed"]').waitFor(WAIT);
  assert.deepEqual((await rest(`/api/v1/executions/${workflowId}`)).output, [{ outputs: { said: 'hi Ada' } }]);
  // What each task run gave, in the order they ran.
  const taskRuns = page.getByRole('table', { name: 'Task runs' });
  await taskRuns.locator('tr[data-task-run="greet"][data-state="completed"]', { hasText: '"hi Ada"' }).waitFor(WAIT);
  await taskRuns.locator('tr[data-task-run="approve"][data-state="completed"]', { hasText: '"approved": true' }).waitFor(WAIT);
  assert.deepEqual(await taskRuns.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.dataset.taskRun)), ['approve', 'greet']);
  // Nothing waits in a completed execution.
  await page.getByRole('button', { name: 'Resume approve…' }).waitFor({ ...WAIT, state: 'detached' });
  await accessible(page, 'flow task runs');
  await screenshots(page, 'flow-task-runs');

  // A subflow opens in place in its parent's topology, coloured by its own execution.
  const child = unique('ui-child');
  await rest('/api/v1/flows', { source: `id: ${child}\ntasks:\n  - {id: inner, type: return, value: 1}\n` });
  await rest('/api/v1/flows', { source: `id: ${child}-parent\ntasks:\n  - {id: call, type: Subflow, flowId: ${child}}\n` });
  const parent = await rest(`/api/v1/flows/default/${child}-parent/run`, {});
  await until('the parent to complete', async () => (await rest(`/api/v1/executions/${parent.workflow_id}`)).status === 'completed');
  await page.goto(`${HTTP}/executions/${encodeURIComponent(parent.workflow_id)}`);
  await page.getByRole('tab', { name: 'Topology' }).click();
  await page.getByRole('button', { name: `▸ ${child}` }).click();
  await page.getByLabel('Topology').locator('.subflow li[data-task="inner"][data-state="completed"]').waitFor(WAIT);
  await accessible(page, 'subflow topology');
  await screenshots(page, 'flow-subflow');

  // Failed flow executions replayed in bulk from the board, on a fixed revision.
  const fixed = `${child}-fixed`;
  await rest('/api/v1/flows', { source: `id: ${fixed}\ntasks:\n  - {id: boom, type: Fail, message: not yet}\n` });
  for (let i = 0; i < 2; i++) {
    const failed = await rest(`/api/v1/flows/default/${fixed}/run`, {});
    await until('the run to fail', async () => (await rest(`/api/v1/executions/${failed.workflow_id}`)).status === 'failed');
  }
  await rest('/api/v1/flows', { source: `id: ${fixed}\ntasks:\n  - {id: fine, type: return, value: 1}\n` });
  await page.goto(`${HTTP}/?type=${fixed}`);
  await page.getByRole('region', { name: 'Bulk actions' }).getByRole('button', { name: 'Replay…' }).click();
  await page.getByRole('heading', { name: 'Replay 2 executions?' }).waitFor(WAIT);
  await accessible(page, 'bulk replay');
  await screenshots(page, 'bulk-replay');
  await page.getByRole('button', { name: 'replay 2' }).click();
  await until('two replays to complete', async () =>
    (await rest(`/api/v1/executions?type=${fixed}&status=completed`)).executions.length === 2);

  await page.goto(`${HTTP}/flows?flow=${id}&tab=source`);
  const editor = page.getByLabel('Flow document');
  await editor.waitFor(WAIT);
  await editor.fill(`id: ${id}\ntasks:\n  - {id: a, type: lgo}\n`);
  await page.getByRole('list', { name: 'Problems' }).locator('li', { hasText: 'line 3' }).waitFor(WAIT);
  assert.equal(await page.getByRole('button', { name: 'Save' }).isDisabled(), true, 'a document with problems is not saved');
  await accessible(page, 'flow editor');
  await screenshots(page, 'flow-editor');
  await page.close();
});

test('a planned run is made and edited in the UI, started by dragging it onto Pending, and completes', async () => {
  const queue = unique('ui-plan');
  const planId = unique('ui-plan');
  const page = await context.newPage();
  await page.goto(`${HTTP}/?queue=${queue}`);
  await page.getByRole('button', { name: '+ Plan' }).click();
  const dialog = page.locator('dialog');
  await dialog.getByLabel('Plan id (optional)').fill(planId);
  await dialog.getByLabel('Workflow type').fill('Simple');
  await dialog.getByLabel('Task queue').fill(queue);
  await dialog.getByLabel('Input (JSON, optional)').fill('"not yet valid');
  await dialog.getByRole('button', { name: 'Plan it' }).click();
  await dialog.locator('.error-box', { hasText: 'not valid JSON' }).waitFor(WAIT);
  await dialog.getByLabel('Input (JSON, optional)').fill('"planner"');
  await dialog.getByRole('button', { name: 'Plan it' }).click();
  const planned = column(page, 'planning').locator(`article[data-plan-id="${planId}"]`);
  await planned.waitFor(WAIT);
  assert.match(await planned.textContent(), /starts when started/);

  // Edited: a note and a start time a day away (it must not start by itself during the test).
  await planned.getByRole('button', { name: `edit ${planId}` }).click();
  await dialog.getByLabel('Note').fill('after the review');
  await dialog.getByLabel('Start by itself at (optional, local time)').fill('2099-01-01T09:00');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await planned.locator('.card-meta', { hasText: 'after the review' }).waitFor(WAIT);
  const stored = await rest(`/api/v1/plans/${planId}`);
  assert.deepEqual([stored.note, stored.version, stored.input], ['after the review', 2, ['planner']]);
  assert.equal(new Date(stored.start_at).getFullYear(), 2099);
  await accessible(page, 'board with a planned run');
  await screenshots(page, 'planning');

  await planned.dragTo(column(page, 'pending'));
  await planned.waitFor({ state: 'detached', ...WAIT });
  await card(page, 'pending', planId).locator('.why', { hasText: 'no worker' }).waitFor(WAIT);
  const gone = await fetch(`${HTTP}/api/v1/plans/${planId}`);
  assert.equal(gone.status, 404);
  await startWorker(queue);
  await card(page, 'completed', planId).waitFor(WAIT);
  const run = await rest(`/api/v1/executions/${planId}`);
  assert.deepEqual(run.output, ['hello, planner']);
  await page.close();
});

test('analytics and the pending tab render without violations', async () => {
  const page = await context.newPage();
  await page.goto(`${HTTP}/analytics`);
  await page.locator('.kpi').first().waitFor(WAIT);
  await page.locator('figure.chart').first().waitFor(WAIT);
  await accessible(page, 'analytics');
  await screenshots(page, 'analytics');
  await page.close();
});
