// Every view's state lives in the URL: the path names the page (and the run), the query
// string holds filters, tabs and options. These functions are pure, so the rules are
// tested without a browser (ui/tests/url.test.mjs); `navigate` is the one that touches
// the history.

export const PAGES = ['board', 'executions', 'detail', 'workers', 'schedules', 'flows', 'analytics'];

/** The page and its state from a path and query string. */
export function parseLocation(pathname, search = '') {
  const query = Object.fromEntries(new URLSearchParams(search));
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: 'board', query };
  if (parts[0] === 'executions' && parts.length >= 2) {
    return { page: 'detail', workflowId: parts.slice(1).join('/'), query };
  }
  if (parts[0] === 'executions') return { page: 'executions', query };
  if (parts[0] === 'workers') return { page: 'workers', query };
  if (parts[0] === 'analytics') return { page: 'analytics', query };
  if (parts[0] === 'schedules') return { page: 'schedules', query };
  if (parts[0] === 'flows') return { page: 'flows', query };
  return { page: 'not_found', query };
}

/** The URL of a page with `query` (empty values left out, names sorted for stable links). */
export function href(page, query = {}, workflowId) {
  const path =
    page === 'board' ? '/'
    : page === 'detail' ? `/executions/${encodeURIComponent(workflowId)}`
    : `/${page}`;
  const params = new URLSearchParams();
  for (const name of Object.keys(query).sort()) {
    const value = query[name];
    if (value !== undefined && value !== null && value !== '' && value !== false) {
      params.set(name, String(value));
    }
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** `query` with `patch` applied: a null, undefined or empty value removes a name. */
export function patchQuery(query, patch) {
  const next = { ...query };
  for (const [name, value] of Object.entries(patch)) {
    if (value === undefined || value === null || value === '' || value === false) delete next[name];
    else next[name] = String(value);
  }
  return next;
}

/** The filters the board and the table share, as REST list parameters. */
export const FILTERS = ['namespace', 'type', 'queue', 'worker', 'search', 'query', 'started_after', 'started_before'];

export function listParams(query) {
  const params = {};
  for (const name of FILTERS) if (query[name]) params[name] = query[name];
  return params;
}

/** Moves to `url`: a new history entry (Back returns), or a replaced one. */
export function navigate(url, { replace = false } = {}) {
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', url);
  else history.pushState({ scroll: 0 }, '', url);
  window.dispatchEvent(new Event('keel:navigate'));
}
