// Keel's web UI: the shell (left rail, top bar) and the router. Every page is a client of
// the public REST API and its SSE streams; the URL holds each view's state.

import { html, render, useEffect, useState, useCallback } from './vendor/preact-htm-3.1.1.js';
import { parseLocation, navigate, href, patchQuery } from './lib/url.js';
import { api } from './lib/api.js';
import { pref, setPref, applyTheme, onPref } from './lib/prefs.js';
import { Board } from './views/board.js';
import { Table } from './views/table.js';
import { Detail } from './views/detail.js';
import { Workers } from './views/workers.js';
import { Analytics } from './views/analytics.js';
import { Schedules } from './views/schedules.js';
import { Flows } from './views/flows.js';
import { installKeys } from './lib/keys.js';

function useLocation() {
  const read = () => parseLocation(location.pathname, location.search);
  const [where, setWhere] = useState(read);
  useEffect(() => {
    const update = () => setWhere(read());
    window.addEventListener('popstate', update);
    window.addEventListener('keel:navigate', update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener('keel:navigate', update);
    };
  }, []);
  return where;
}

/** Links inside the app move through the history instead of reloading the page. */
function onLinkClick(event) {
  const link = event.target.closest?.('a[href^="/"]');
  if (!link || link.target || link.hasAttribute('download') || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (link.getAttribute('href').startsWith('/api/')) return;
  event.preventDefault();
  navigate(link.getAttribute('href'));
}

const RAIL = [
  { page: 'board', label: 'Board' },
  { page: 'executions', label: 'Executions' },
  { page: 'workers', label: 'Workers & queues' },
  { page: 'schedules', label: 'Schedules' },
  { page: 'flows', label: 'Flows' },
  { page: 'analytics', label: 'Analytics' },
];

function Rail({ page, query }) {
  const keep = query.namespace ? { namespace: query.namespace } : {};
  return html`<nav class="rail" aria-label="Pages">
    <a class="brand" href=${href('board', keep)}>⚓ Keel</a>
    ${RAIL.map(
      (item) => html`<a href=${href(item.page, keep)} aria-current=${page === item.page ? 'page' : null}>${item.label}</a>`,
    )}
  </nav>`;
}

function NamespaceSwitcher({ where }) {
  const [names, setNames] = useState(['default']);
  useEffect(() => {
    api('/api/v1/namespaces')
      .then((body) => setNames(body.namespaces.map((n) => n.name)))
      .catch(() => {});
  }, []);
  const current = where.query.namespace || 'default';
  const change = (event) => {
    const page = where.page === 'detail' ? 'board' : where.page;
    navigate(href(page, { namespace: event.target.value === 'default' ? '' : event.target.value }));
  };
  return html`<label class="field"><span class="sr-only">Namespace</span>
    <select aria-label="Namespace" onChange=${change} value=${current}>
      ${names.map((name) => html`<option value=${name}>${name}</option>`)}
    </select></label>`;
}

/** Plain words search ids; text with an operator is a Temporal list filter. */
export function searchPatch(text) {
  const trimmed = text.trim();
  if (!trimmed) return { search: '', query: '' };
  if (/[=<>]|\b(AND|OR|IN|BETWEEN|STARTS_WITH|IS)\b/.test(trimmed)) return { search: '', query: trimmed };
  return { search: trimmed, query: '' };
}

function SearchField({ where }) {
  const listPage = where.page === 'board' || where.page === 'executions';
  const value = where.query.query || where.query.search || '';
  const submit = (event) => {
    event.preventDefault();
    const text = new FormData(event.target).get('q') ?? '';
    const page = listPage ? where.page : 'board';
    const base = listPage ? where.query : { namespace: where.query.namespace };
    navigate(href(page, patchQuery(base, searchPatch(String(text)))));
  };
  return html`<form class="search" role="search" onSubmit=${submit}>
    <input id="filter" name="q" type="search" aria-label="Filter executions: words search ids, or a list filter such as WorkflowType = 'Order'"
      placeholder="Filter: an id, or WorkflowType = 'Order' AND …  ( / )" defaultValue=${value} key=${value} />
  </form>`;
}

function TopBar({ where, live }) {
  const [theme, setTheme] = useState(pref('theme', 'system'));
  const [zone, setZone] = useState(pref('zone', 'relative'));
  const nextTheme = { system: 'light', light: 'dark', dark: 'system' };
  const nextZone = { relative: 'utc', utc: 'local', local: 'relative' };
  return html`<header class="topbar">
    <${NamespaceSwitcher} where=${where} />
    <${SearchField} where=${where} />
    <span class="live-state state-${live}" role="status" aria-live="polite">${live === 'live' ? '● live' : live === 'paused' ? '❚❚ paused' : live === 'reconnecting' ? '○ reconnecting' : ''}</span>
    <button class="quiet" title="Times: relative, UTC or local" onClick=${() => { setZone(nextZone[zone]); setPref('zone', nextZone[zone]); }}>Times: ${zone}</button>
    <button class="quiet" title="Theme: system, light or dark" onClick=${() => { setTheme(nextTheme[theme]); setPref('theme', nextTheme[theme]); applyTheme(nextTheme[theme]); }}>Theme: ${theme}</button>
  </header>`;
}

function NotFound() {
  return html`<main class="page"><h1>No such page</h1><p>Go to the <a href="/">board</a>.</p></main>`;
}

function App() {
  const where = useLocation();
  const [live, setLive] = useState('');
  const [, redraw] = useState(0);
  useEffect(() => onPref(() => redraw((n) => n + 1)), []);
  const onLive = useCallback((state) => setLive(state), []);
  let page;
  switch (where.page) {
    case 'board':
      page = html`<${Board} query=${where.query} onLive=${onLive} />`;
      break;
    case 'executions':
      page = html`<${Table} query=${where.query} onLive=${onLive} />`;
      break;
    case 'detail':
      page = html`<${Detail} workflowId=${where.workflowId} query=${where.query} onLive=${onLive} key=${where.workflowId + (where.query.run_id ?? '')} />`;
      break;
    case 'workers':
      page = html`<${Workers} query=${where.query} onLive=${onLive} />`;
      break;
    case 'schedules':
      page = html`<${Schedules} query=${where.query} onLive=${onLive} />`;
      break;
    case 'flows':
      page = html`<${Flows} query=${where.query} onLive=${onLive} />`;
      break;
    case 'analytics':
      page = html`<${Analytics} query=${where.query} onLive=${onLive} />`;
      break;
    default:
      page = html`<${NotFound} />`;
  }
  return html`<div class="shell">
    <${Rail} page=${where.page} query=${where.query} />
    <div class="main">
      <${TopBar} where=${where} live=${live} />
      ${page}
    </div>
  </div>`;
}

applyTheme();
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => applyTheme());
document.addEventListener('click', onLinkClick);
installKeys();
render(html`<${App} />`, document.getElementById('app'));
