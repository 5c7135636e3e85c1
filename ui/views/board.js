// The board: one column per phase, live from the namespace feed. Cards move the moment a
// run changes; bursts are coalesced; counts are the server's.

import { html, useEffect, useRef, useState, useCallback } from '../vendor/preact-htm-3.1.1.js';
import { api, withQuery, runPath } from '../lib/api.js';
import { href, listParams } from '../lib/url.js';
import { createStream, coalesce } from '../lib/stream.js';
import { applyChanges, runKey } from '../lib/runs.js';
import { PHASES, statusWord, doingText, waitsForInput } from '../lib/status.js';
import { duration, middle, relative, exact } from '../lib/format.js';
import { ErrorBox, Filters, BulkBar } from './common.js';
import { PlanningColumn, PLAN_DRAG, startPlan } from './plans.js';

const PAGE = 50;
/** How often plans and schedules are read again (a plan made elsewhere, a schedule's next firing). */
const PLANNING_REFRESH_MS = 10_000;

async function loadColumn(phase, filters, cursor, limit = PAGE) {
  const [page, counted] = await Promise.all([
    api(withQuery('/api/v1/executions', { ...filters, phase, limit, cursor })),
    cursor ? Promise.resolve(null) : api(withQuery('/api/v1/executions-count', { ...filters, phase })),
  ]);
  return { runs: page.executions, cursor: page.next_cursor, count: counted?.count, shown: page.executions.length };
}

/** Why a Pending run waits, asked of the server once per card. */
function PendingWhy({ run, namespace }) {
  const [reason, setReason] = useState(null);
  useEffect(() => {
    let gone = false;
    api(withQuery(runPath(run.workflow_id), { namespace, run_id: run.run_id, view: 'summary' }))
      .then((detail) => !gone && setReason(detail.pending_reason))
      .catch(() => {});
    return () => { gone = true; };
  }, [run.run_id, run.history_length]);
  if (!reason) return null;
  return html`<div class="why" title=${reason.message}>
    ${reason.message}${' '}<a href=${href('workers', { namespace, queue: reason.task_queue })}>queue ${reason.task_queue}</a>
  </div>`;
}

function Card({ run, namespace, selected, onSelect }) {
  const link = href('detail', { namespace, run_id: run.run_id }, run.workflow_id);
  const closed = run.status !== 'running';
  const age = closed ? duration(run.duration_ms) : relative(run.start_time).replace(' ago', '');
  return html`<article class="card phase-${run.phase}" data-nav=${link} tabindex="0" data-workflow-id=${run.workflow_id} aria-label=${`${run.workflow_id}: ${statusWord(run)}`}>
    <div class="card-top">
      <input type="checkbox" aria-label=${`select ${run.workflow_id}`} checked=${selected} onChange=${(e) => onSelect(run, e.target.checked)} />
      <a class="mono id" href=${link} title=${run.workflow_id}>${middle(run.workflow_id, 30)}</a>
    </div>
    <div class="card-meta">
      <span>${run.workflow_type}</span>${' '}<span class="dim">on</span>${' '}<span>${run.task_queue}</span>
    </div>
    <div class="card-meta dim">
      ${closed && run.phase === 'failed' ? html`<span class="status-word">${statusWord(run)}</span> · ` : null}
      <span title=${exact(run.start_time)}>${closed ? `took ${age}` : `for ${age}`}</span>
      ${run.worker ? html` · <span class="mono" title=${run.worker}>${middle(run.worker, 22)}</span>` : null}
    </div>
    ${waitsForInput(run)
      ? html`<div class="card-meta"><span class="input-badge">waiting for input</span></div>`
      : run.status === 'running' && run.doing
        ? html`<div class="card-meta doing" title=${doingText(run.doing)}>${doingText(run.doing)}</div>`
        : null}
    ${run.phase === 'pending' ? html`<${PendingWhy} run=${run} namespace=${namespace} />` : null}
  </article>`;
}

function Column({ phase, column, namespace, selection, onSelect, onMore, onDropPlan }) {
  const [over, setOver] = useState(false);
  const drops = phase.id === 'pending' && onDropPlan;
  const dragOver = (e) => {
    if (!e.dataTransfer.types.includes(PLAN_DRAG)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
    setOver(true);
  };
  const drop = (e) => {
    const id = e.dataTransfer.getData(PLAN_DRAG);
    setOver(false);
    if (!id) return;
    e.preventDefault();
    onDropPlan(id);
  };
  return html`<section class=${`column${over ? ' drop-target' : ''}`} aria-labelledby=${`col-${phase.id}`}
      onDragOver=${drops ? dragOver : undefined} onDragLeave=${drops ? () => setOver(false) : undefined} onDrop=${drops ? drop : undefined}>
    <h2 id=${`col-${phase.id}`} class="column-head phase-${phase.id}">
      <span class="icon" aria-hidden="true">${phase.icon}</span> ${phase.label}
      <span class="count" data-count=${column.count}>${column.count.toLocaleString('en-US')}</span>
    </h2>
    <div class="column-body">
      ${column.runs.map(
        (run) => html`<${Card} key=${runKey(run)} run=${run} namespace=${namespace} selected=${selection.has(runKey(run))} onSelect=${onSelect} />`,
      )}
      ${column.runs.length === 0 ? html`<p class="empty">${emptyText(phase.id)}</p>` : null}
      ${column.cursor || column.trimmed ? html`<button class="more" onClick=${() => onMore(phase.id)}>Show more</button>` : null}
    </div>
  </section>`;
}

function emptyText(phase) {
  switch (phase) {
    case 'pending': return 'Nothing waits for a worker.';
    case 'running': return 'Nothing is running. Start a workflow with an SDK client or `temporal workflow start`.';
    case 'failed': return 'No failures in this view.';
    default: return 'None in this view.';
  }
}

export function Board({ query, onLive }) {
  const namespace = query.namespace || 'default';
  const filters = { namespace: query.namespace, ...listParams(query) };
  const filterKey = JSON.stringify(filters);
  const [columns, setColumns] = useState(null);
  const [error, setError] = useState(null);
  const [paused, setPaused] = useState(false);
  const [selection, setSelection] = useState(new Map());
  const [schedules, setSchedules] = useState(null);
  const [plans, setPlans] = useState(null);
  const columnsRef = useRef(null);
  const pausedRef = useRef(false);
  const reload = useRef(() => {});
  const reloadPlanning = useRef(() => {});
  reloadPlanning.current = () => {
    api(withQuery('/api/v1/plans', { namespace: query.namespace })).then((b) => setPlans(b.plans), setError);
    api(withQuery('/api/v1/schedules', { namespace: query.namespace })).then((b) => setSchedules(b.schedules), () => {});
  };

  const set = (next) => {
    columnsRef.current = next;
    setColumns(next);
  };

  reload.current = async () => {
    try {
      const loaded = await Promise.all(PHASES.map((p) => loadColumn(p.id, filters)));
      set(Object.fromEntries(PHASES.map((p, i) => [p.id, loaded[i]])));
      setError(null);
      reloadPlanning.current();
    } catch (e) {
      setError(e);
    }
  };

  useEffect(() => {
    set(null);
    reload.current();
    const apply = coalesce((batch) => {
      if (!columnsRef.current || pausedRef.current) return;
      const { columns: next, refetch } = applyChanges(columnsRef.current, batch, listParams(query));
      set(next);
      if (refetch) reload.current();
      // A run that just started may be a plan that started by itself.
      if (batch.some((run) => run.status === 'running' && run.history_length <= 3)) reloadPlanning.current();
    }, 250);
    const planning = setInterval(() => !pausedRef.current && reloadPlanning.current(), PLANNING_REFRESH_MS);
    const stream = createStream({
      url: withQuery('/api/v1/stream/executions', { namespace: query.namespace }),
      events: ['execution', 'resync'],
      onEvent: (name, data) => {
        if (name === 'resync') reload.current();
        else apply(data);
      },
      onState: (state) => onLive(pausedRef.current ? 'paused' : state),
    });
    return () => {
      stream.close();
      clearInterval(planning);
    };
  }, [filterKey]);

  const onDropPlan = async (id) => {
    try {
      await startPlan(query.namespace, id);
      reloadPlanning.current();
    } catch (e) {
      setError(e);
    }
  };

  const togglePause = () => {
    pausedRef.current = !pausedRef.current;
    setPaused(pausedRef.current);
    onLive(pausedRef.current ? 'paused' : 'live');
    if (!pausedRef.current) reload.current();
  };

  const onSelect = useCallback((run, on) => {
    setSelection((old) => {
      const next = new Map(old);
      if (on) next.set(runKey(run), run);
      else next.delete(runKey(run));
      return next;
    });
  }, []);

  const onMore = async (phase) => {
    const column = columnsRef.current[phase];
    try {
      if (column.trimmed) {
        // Live changes pushed cards off the end: read the column again, a page longer.
        const fresh = await loadColumn(phase, filters, undefined, Math.min(1000, column.runs.length + PAGE));
        set({ ...columnsRef.current, [phase]: fresh });
        return;
      }
      const page = await loadColumn(phase, filters, column.cursor);
      const runs = [...column.runs, ...page.runs];
      set({ ...columnsRef.current, [phase]: { ...column, runs, cursor: page.cursor, shown: runs.length } });
    } catch (e) {
      setError(e);
    }
  };

  return html`<main class="page board-page">
    <div class="page-head">
      <h1>Board</h1>
      <${Filters} query=${query} page="board" />
      <button class="quiet" onClick=${togglePause} aria-pressed=${paused}>${paused ? 'Resume live' : 'Pause live'}</button>
      <a class="quiet" href=${href('executions', query)}>Table view</a>
    </div>
    ${selection.size > 0 || query.query || query.search || query.type || query.queue
      ? html`<${BulkBar} selection=${selection} filters=${filters} namespace=${namespace} onDone=${() => { setSelection(new Map()); reload.current(); }} />`
      : null}
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    ${columns === null && !error ? html`<p class="loading">Loading…</p>` : null}
    ${columns
      ? html`<div class="board">
          <${PlanningColumn} plans=${plans} schedules=${schedules} namespace=${query.namespace} filters=${query} onChanged=${() => reloadPlanning.current()} />
          ${PHASES.map((phase) => html`<${Column} key=${phase.id} phase=${phase} column=${columns[phase.id]} namespace=${namespace} selection=${selection} onSelect=${onSelect} onMore=${onMore} onDropPlan=${onDropPlan} />`)}
        </div>`
      : null}
  </main>`;
}

