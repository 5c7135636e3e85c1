// The REST API as the UI calls it: JSON in and out, errors as ApiError with the server's
// own words, so every view can show what went wrong instead of a blank page.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** `path` with the non-empty entries of `params` as its query string. */
export function withQuery(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(name, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

export async function api(path, { method = 'GET', body, signal } = {}) {
  const init = { method, signal, headers: { accept: 'application/json' } };
  if (method !== 'GET') {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body ?? {});
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'unreachable', `cannot reach Keel: ${error.message}`);
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: reported below with the status.
  }
  if (!response.ok) {
    const error = json?.error;
    throw new ApiError(
      response.status,
      error?.code ?? 'http_error',
      error?.message ?? `${method} ${path} answered ${response.status}`,
    );
  }
  return json;
}

/** The path of one execution's sub-resource, e.g. `run('order-1', 'history')`. */
export function runPath(workflowId, what = '') {
  const base = `/api/v1/executions/${encodeURIComponent(workflowId)}`;
  return what ? `${base}/${what}` : base;
}
