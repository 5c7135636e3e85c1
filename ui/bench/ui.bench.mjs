// The web UI's benchmark: figures, not a test. Run by scripts/ui-bench.sh.
//
// It starts a Keel server of its own, fills a namespace with real executions through the
// Python SDK (10,000 runs of which 1,000 are running, and one run with a history of about
// 10,000 events), then opens pages in headless chromium and measures:
//   - the board: time to first render (all six columns filled), JS heap;
//   - a burst of 500 status changes per second for 4 s on the board's live feed: frame times
//     while it lasts, long tasks, and how long after the burst the counts are right;
//   - the timeline of the 10,000-event history: time to render, heap, frame times while
//     scrolling through it.
// The burst is replayed by a small proxy in front of Keel (everything else is passed
// through), so its rate is exact whatever the server's speed: it measures the page.
//
// Environment: KEEL_BIN (the keel binary), KEEL_TEST_PYTHON, KEEL_TEST_CHROMIUM,
// BENCH_RUNS (page loads per figure, default 3), BENCH_CLOSED, BENCH_RUNNING,
// BENCH_ACTIVITIES.

import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CLOSED = Number(process.env.BENCH_CLOSED ?? 9000);
const RUNNING = Number(process.env.BENCH_RUNNING ?? 1000);
const ACTIVITIES = Number(process.env.BENCH_ACTIVITIES ?? 3300);
const BURST_RATE = 500;
const BURST_SECONDS = 4;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const quantile = (values, q) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))];
const ms = (value) => `${value.toFixed(0)} ms`;
const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;

async function startKeel(dataDir) {
  const child = spawn(process.env.KEEL_BIN, ['server', '--data-dir', dataDir, '--grpc-addr', '127.0.0.1:0', '--http-addr', '127.0.0.1:0', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const addresses = {};
  for await (const line of lines) {
    if (line.startsWith('grpc: ')) addresses.grpc = line.slice(6);
    if (line.startsWith('http: ')) {
      addresses.http = line.slice(6);
      break;
    }
  }
  return { child, ...addresses };
}

function populate(grpc, queue) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.env.KEEL_TEST_PYTHON, [path.join(HERE, 'populate.py'), grpc, queue, String(CLOSED), String(RUNNING), String(ACTIVITIES)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let last = '';
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      last = line;
      if (line !== 'bench-long-history') console.error(`  populate: ${line}`);
    });
    child.on('exit', (code) => (code === 0 ? resolve(last) : reject(new Error(`populate.py exited ${code}`))));
  });
}

async function json(base, pathname) {
  const response = await fetch(`${base}${pathname}`);
  if (!response.ok) throw new Error(`${pathname}: ${response.status} ${await response.text()}`);
  return response.json();
}

/**
 * Passes every request through to Keel but the namespace feed, which it serves itself:
 * quiet until `burst()` sends `BURST_RATE` changes a second, made from real running runs
 * (each completes) and then new runs starting.
 */
function startProxy(keel, running) {
  const feeds = new Set();
  const target = new URL(keel);
  const server = http.createServer((request, response) => {
    if (request.url.startsWith('/api/v1/stream/executions')) {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      response.write(': bench feed\n\n');
      feeds.add(response);
      request.on('close', () => feeds.delete(response));
      return;
    }
    const forwarded = http.request({ host: target.hostname, port: target.port, path: request.url, method: request.method, headers: { ...request.headers, host: target.host } }, (answer) => {
      response.writeHead(answer.statusCode, answer.headers);
      answer.pipe(response);
    });
    request.pipe(forwarded);
  });
  let sequence = 0;
  const change = (index) => {
    const now = new Date().toISOString();
    if (index < running.length) {
      const run = running[index];
      return { ...run, status: 'completed', phase: 'completed', close_time: now, duration_ms: Date.now() - Date.parse(run.start_time), doing: null };
    }
    const template = running[index % running.length];
    return { ...template, workflow_id: `bench-new-${index}`, run_id: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`, start_time: now, history_length: 2, doing: { kind: 'workflow_task' } };
  };
  const burst = () => new Promise((resolve) => {
    const total = BURST_RATE * BURST_SECONDS;
    let sent = 0;
    const perTick = BURST_RATE / 50;
    const timer = setInterval(() => {
      for (let i = 0; i < perTick && sent < total; i++, sent++) {
        const data = `id: ${++sequence}\nevent: execution\ndata: ${JSON.stringify(change(sent))}\n\n`;
        for (const feed of feeds) feed.write(data);
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve(total);
      }
    }, 20);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}`, burst, server })));
}

async function heap(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  await cdp.send('HeapProfiler.collectGarbage');
  const { metrics } = await cdp.send('Performance.getMetrics');
  await cdp.detach();
  return metrics.find((m) => m.name === 'JSHeapUsedSize').value;
}

/** Frame intervals and long tasks while `during` runs. */
async function frames(page, during) {
  await page.evaluate(() => {
    window.__frames = [];
    window.__long = 0;
    let last = performance.now();
    const tick = (t) => {
      window.__frames.push(t - last);
      last = t;
      if (window.__recording) requestAnimationFrame(tick);
    };
    window.__recording = true;
    requestAnimationFrame(tick);
    new PerformanceObserver((list) => { for (const entry of list.getEntries()) window.__long += entry.duration; }).observe({ type: 'longtask' });
  });
  await during();
  await page.evaluate(() => { window.__recording = false; });
  return page.evaluate(() => ({ frames: window.__frames.slice(1), long: window.__long }));
}

async function openBoard(context, base) {
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.waitForFunction(() => document.querySelectorAll('.board .column').length === 6 && document.querySelectorAll('.board .card').length > 0 && !document.querySelector('.loading'), null, { timeout: 60_000 });
  const rendered = await page.evaluate(() => performance.now());
  return { page, rendered };
}

async function main() {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'keel-ui-bench-'));
  const keel = await startKeel(dataDir);
  const base = keel.http.startsWith('http') ? keel.http : `http://${keel.http}`;
  const browser = await chromium.launch({ executablePath: process.env.KEEL_TEST_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--enable-precise-memory-info'] });
  try {
    console.error(`keel ${process.env.KEEL_BIN} on ${keel.http}; filling the namespace…`);
    const filled = Date.now();
    const longRun = await populate(keel.grpc, 'ui-bench');
    console.error(`  filled in ${((Date.now() - filled) / 1000).toFixed(0)} s`);
    const total = (await json(base, '/api/v1/executions-count')).count;
    const running = (await json(base, '/api/v1/executions?phase=running&limit=1000')).executions;
    const long = await json(base, `/api/v1/executions/${longRun}`);
    const proxy = await startProxy(base, running);
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });

    const board = { rendered: [], heap: [] };
    for (let i = 0; i < RUNS; i++) {
      const { page, rendered } = await openBoard(context, proxy.url);
      board.rendered.push(rendered);
      board.heap.push(await heap(page));
      await page.close();
    }

    const { page } = await openBoard(context, proxy.url);
    const countOf = (phase) => page.evaluate((p) => Number(document.querySelector(`#col-${p} .count`).dataset.count), phase);
    const completedBefore = await countOf('completed');
    let burstEnded = 0;
    const recorded = await frames(page, async () => {
      await proxy.burst();
      burstEnded = performance.now();
      await page.waitForFunction((expected) => Number(document.querySelector('#col-completed .count').dataset.count) >= expected, completedBefore + running.length, { timeout: 30_000, polling: 'raf' });
    });
    const settled = performance.now() - burstEnded;
    const burstHeap = await heap(page);
    await page.close();

    const timeline = { rendered: [], heap: [], scroll: null };
    for (let i = 0; i < RUNS; i++) {
      const tab = await context.newPage();
      const began = Date.now();
      await tab.goto(`${proxy.url}/executions/${longRun}?tab=timeline`);
      await tab.locator('.lane').first().waitFor({ timeout: 120_000 });
      timeline.rendered.push(Date.now() - began);
      timeline.heap.push(await heap(tab));
      if (i === RUNS - 1) {
        timeline.scroll = await frames(tab, () => tab.evaluate(() => new Promise((resolve) => {
          const box = document.querySelector('.timeline');
          const step = () => {
            box.scrollTop += 120;
            if (box.scrollTop + box.clientHeight >= box.scrollHeight - 1) resolve();
            else requestAnimationFrame(step);
          };
          requestAnimationFrame(step);
        })));
      }
      await tab.close();
    }

    const burstFrames = recorded.frames;
    const scrollFrames = timeline.scroll.frames;
    console.log(`
Keel web UI benchmark (${RUNS} page loads per figure; medians)
namespace: ${total.toLocaleString('en-US')} executions, ${running.length.toLocaleString('en-US')} running; long run: ${long.history_length.toLocaleString('en-US')} events

board, first render (all columns filled)   ${ms(median(board.rendered))}
board, JS heap after load                  ${mib(median(board.heap))}
burst, ${BURST_RATE} changes/s for ${BURST_SECONDS} s:
  frames                                   ${burstFrames.length} (median ${ms(median(burstFrames))}, p95 ${ms(quantile(burstFrames, 0.95))}, longest ${ms(Math.max(...burstFrames))})
  long tasks, total                        ${ms(recorded.long)}
  counts right after the burst ended in    ${ms(settled)}
  JS heap after                            ${mib(burstHeap)}
timeline, ${long.history_length.toLocaleString('en-US')} events, first render        ${ms(median(timeline.rendered))}
timeline, JS heap                          ${mib(median(timeline.heap))}
timeline, scrolling top to bottom:
  frames                                   ${scrollFrames.length} (median ${ms(median(scrollFrames))}, p95 ${ms(quantile(scrollFrames, 0.95))}, longest ${ms(Math.max(...scrollFrames))})
  long tasks, total                        ${ms(timeline.scroll.long)}
`);
    proxy.server.close();
  } finally {
    await browser.close();
    keel.child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
