// The same query as the board, as a table: sortable by start or close time, rows
// virtualized (only those in view are in the DOM), pages fetched as you scroll.

import { html, useEffect, useRef, useState } from '../vendor/preact-htm-3.1.1.js';
import { api, withQuery } from '../lib/api.js';
import { href, listParams, navigate, patchQuery } from '../lib/url.js';
import { visibleRows } from '../lib/timeline.js';
import { Badge } from '../lib/status.js';
import { duration, when, exact, middle } from '../lib/format.js';
import { pref } from '../lib/prefs.js';
import { ErrorBox, Filters } from './common.js';

const ROW = 34;
const PAGE = 200;

export function Table({ query, onLive }) {
  const filters = { namespace: query.namespace, ...listParams(query) };
  const sort = query.sort || '-start_time';
  const key = JSON.stringify([filters, sort]);
  const [rows, setRows] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [total, setTotal] = useState(null);
  const [error, setError] = useState(null);
  const [view, setView] = useState({ top: 0, height: 600 });
  const box = useRef(null);
  const loading = useRef(false);
  const zone = pref('zone', 'relative');

  const load = async (from, replace) => {
    if (loading.current) return;
    loading.current = true;
    try {
      const page = await api(withQuery('/api/v1/executions', { ...filters, sort, limit: PAGE, cursor: from }));
      setRows((old) => (replace ? page.executions : [...old, ...page.executions]));
      setCursor(page.next_cursor);
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      loading.current = false;
    }
  };

  useEffect(() => {
    onLive('');
    setRows([]);
    load(null, true);
    api(withQuery('/api/v1/executions-count', filters)).then((c) => setTotal(c.count)).catch(() => {});
  }, [key]);

  const onScroll = () => {
    const el = box.current;
    setView({ top: el.scrollTop, height: el.clientHeight });
    if (cursor && el.scrollTop + el.clientHeight > rows.length * ROW - 10 * ROW) load(cursor, false);
  };
  useEffect(() => {
    if (box.current) setView({ top: box.current.scrollTop, height: box.current.clientHeight });
  }, [rows.length]);

  const { first, last } = visibleRows(rows.length, ROW, view.top, view.height);
  const sortBy = (field) => {
    const next = sort === `-${field}` ? `+${field}` : `-${field}`;
    navigate(href('executions', patchQuery(query, { sort: next === '-start_time' ? '' : next })), { replace: true });
  };
  const arrow = (field) => (sort === `-${field}` ? ' ↓' : sort === `+${field}` ? ' ↑' : '');
  const ariaSort = (field) => (sort === `-${field}` ? 'descending' : sort === `+${field}` ? 'ascending' : 'none');

  return html`<main class="page">
    <div class="page-head">
      <h1>Executions</h1>
      <${Filters} query=${query} page="executions" />
      <a class="quiet" href=${href('board', patchQuery(query, { sort: '' }))}>Board view</a>
      <span class="dim">${total === null ? '' : `${total.toLocaleString('en-US')} matching`}</span>
    </div>
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    <div class="table" role="table" aria-label="Executions" aria-rowcount=${rows.length + 1}>
      <div class="tr th" role="row">
        <span role="columnheader">Status</span>
        <span role="columnheader">Workflow id</span>
        <span role="columnheader">Type</span>
        <span role="columnheader">Queue</span>
        <span role="columnheader" aria-sort=${ariaSort('start_time')}><button class="link" onClick=${() => sortBy('start_time')}>Started${arrow('start_time')}</button></span>
        <span role="columnheader" aria-sort=${ariaSort('close_time')}><button class="link" onClick=${() => sortBy('close_time')}>Closed${arrow('close_time')}</button></span>
        <span role="columnheader">Duration</span>
      </div>
      <div class="tbody" ref=${box} onScroll=${onScroll}>
        <div style=${`height:${rows.length * ROW}px;position:relative`}>
          ${rows.slice(first, last).map((run, i) => {
            const link = href('detail', { namespace: query.namespace, run_id: run.run_id }, run.workflow_id);
            return html`<div class="tr" role="row" data-nav=${link} tabindex="0" style=${`position:absolute;top:${(first + i) * ROW}px;left:0;right:0`} key=${run.run_id}>
              <span role="cell"><${Badge} run=${run} /></span>
              <span role="cell"><a class="mono" href=${link} title=${run.workflow_id}>${middle(run.workflow_id, 40)}</a></span>
              <span role="cell">${run.workflow_type}</span>
              <span role="cell">${run.task_queue}</span>
              <span role="cell" title=${exact(run.start_time)}>${when(run.start_time, zone)}</span>
              <span role="cell" title=${exact(run.close_time)}>${when(run.close_time, zone)}</span>
              <span role="cell" class="num">${duration(run.duration_ms)}</span>
            </div>`;
          })}
        </div>
        ${rows.length === 0 && !error ? html`<p class="empty">No executions match. Start one with an SDK client, or clear the filter.</p>` : null}
      </div>
    </div>
  </main>`;
}
