// Pieces every page uses: errors in words, the filter bar, confirmation dialogs, the bulk
// action bar, copy buttons.

import { html, useState, useRef, useEffect } from '../vendor/preact-htm-3.1.1.js';
import { api, runPath, withQuery } from '../lib/api.js';
import { href, navigate, patchQuery } from '../lib/url.js';

export function ErrorBox({ error }) {
  const what = error.status === 0 ? 'Keel cannot be reached' : `The server answered ${error.status || ''} ${error.code || ''}`;
  return html`<div class="error-box" role="alert"><strong>${what}.</strong> ${error.message}</div>`;
}

/** The filters beside the search field: type, queue, worker and a start-time range. */
export function Filters({ query, page }) {
  const apply = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const since = form.get('since');
    const patch = {
      type: form.get('type'),
      queue: form.get('queue'),
      worker: form.get('worker'),
      since,
      started_after: since ? new Date(Date.now() - Number(since) * 3_600_000).toISOString() : '',
    };
    navigate(href(page, patchQuery(query, patch)));
  };
  const clear = () => navigate(href(page, query.namespace ? { namespace: query.namespace } : {}));
  const any = ['type', 'queue', 'worker', 'since', 'search', 'query'].some((name) => query[name]);
  return html`<form class="filters" onSubmit=${apply} key=${JSON.stringify(query)}>
    <input name="type" aria-label="Workflow type" placeholder="type" defaultValue=${query.type ?? ''} />
    <input name="queue" aria-label="Task queue" placeholder="queue" defaultValue=${query.queue ?? ''} />
    <input name="worker" aria-label="Worker identity" placeholder="worker" defaultValue=${query.worker ?? ''} />
    <select name="since" aria-label="Started within" value=${query.since ?? ''} onChange=${(e) => e.target.form.requestSubmit()}>
      <option value="">any time</option>
      <option value="1">last hour</option>
      <option value="24">last 24 h</option>
      <option value="168">last 7 days</option>
    </select>
    <button type="submit">Apply</button>
    ${any ? html`<button type="button" class="quiet" onClick=${clear}>Clear</button>` : null}
  </form>`;
}

/** A modal asking to confirm an action, with an optional reason or JSON input. */
export function Confirm({ title, message, confirmLabel = 'Confirm', danger = false, fields = [], onConfirm, onClose }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const dialog = useRef(null);
  useEffect(() => {
    dialog.current?.showModal?.();
    return () => dialog.current?.close?.();
  }, []);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const values = Object.fromEntries(new FormData(event.target));
      await onConfirm(values);
      onClose();
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return html`<dialog ref=${dialog} class="dialog" aria-labelledby="dialog-title" onCancel=${onClose}>
    <form method="dialog" onSubmit=${submit}>
      <h2 id="dialog-title">${title}</h2>
      <p>${message}</p>
      ${fields.map(
        (field) => html`<label class="stack">${field.label}
          ${field.multiline
            ? html`<textarea name=${field.name} rows="4" class="mono" placeholder=${field.placeholder ?? ''} defaultValue=${field.value ?? ''}></textarea>`
            : html`<input name=${field.name} type=${field.type ?? 'text'} placeholder=${field.placeholder ?? ''} defaultValue=${field.value ?? ''} required=${field.required} />`}
        </label>`,
      )}
      ${error ? html`<${ErrorBox} error=${error} />` : null}
      <div class="dialog-actions">
        <button type="button" class="quiet" onClick=${onClose}>Keep as is</button>
        <button type="submit" class=${danger ? 'danger' : 'primary'} disabled=${busy}>${busy ? 'Working…' : confirmLabel}</button>
      </div>
    </form>
  </dialog>`;
}

/** Parses the JSON a person typed; empty is "no input". */
export function parseInput(text) {
  const trimmed = (text ?? '').trim();
  if (!trimmed) return undefined;
  try {
    return JSON.parse(trimmed);
  } catch (e) {
    throw new Error(`the input is not valid JSON: ${e.message}`);
  }
}

/**
 * Actions on the selected cards (one request per run, so exactly those runs), or on every
 * running execution the filter matches (the bulk API, after a dry run counted them).
 */
export function BulkBar({ selection, filters, namespace, onDone }) {
  const [asking, setAsking] = useState(null);
  const [report, setReport] = useState(null);
  const selected = [...selection.values()].filter((run) => run.status === 'running');

  const askSelected = (action) => setAsking({ action, scope: 'selected', count: selected.length });
  const askMatching = async (action) => {
    const filter = { ...filters };
    delete filter.namespace;
    const counted = await api(withQuery('/api/v1/executions/bulk', { namespace: filters.namespace }), {
      method: 'POST',
      body: { action, filter, dry_run: true, ...(action === 'signal' ? { signal: { name: 'dry-run' } } : {}) },
    }).catch((e) => ({ error: e }));
    if (counted.error) setReport({ error: counted.error });
    else setAsking({ action, scope: 'matching', count: counted.matched, filter });
  };

  const run = async (values) => {
    const { action, scope, filter } = asking;
    const body = action === 'signal'
      ? { name: values.name, input: parseInput(values.input) }
      : { reason: values.reason || `${action} from the web UI` };
    if (scope === 'selected') {
      let succeeded = 0;
      const failed = [];
      for (const target of selected) {
        try {
          await api(withQuery(runPath(target.workflow_id, action), { namespace, run_id: target.run_id }), { method: 'POST', body });
          succeeded += 1;
        } catch (e) {
          failed.push(`${target.workflow_id}: ${e.message}`);
        }
      }
      setReport({ action, succeeded, failed });
    } else {
      const bulk = { action, filter };
      if (action === 'signal') bulk.signal = body;
      else if (action !== 'restart' && action !== 'replay') bulk.reason = body.reason;
      const answer = await api(withQuery('/api/v1/executions/bulk', { namespace: filters.namespace }), { method: 'POST', body: bulk });
      setReport({ action, succeeded: answer.succeeded, failed: answer.failed.map((f) => `${f.workflow_id}: ${f.error}`) });
    }
    onDone();
  };

  const rerun = asking?.action === 'restart' || asking?.action === 'replay';
  const fields = asking?.action === 'signal'
    ? [{ name: 'name', label: 'Signal name', required: true }, { name: 'input', label: 'Input (JSON, optional)', multiline: true }]
    : rerun ? [] : [{ name: 'reason', label: 'Reason', placeholder: `${asking?.action} from the web UI` }];

  return html`<div class="bulk-bar" role="region" aria-label="Bulk actions">
    ${selected.length > 0
      ? html`<span><strong>${selected.length}</strong> running selected:</span>
          <button onClick=${() => askSelected('cancel')}>Cancel</button>
          <button onClick=${() => askSelected('signal')}>Signal</button>
          <button class="danger" onClick=${() => askSelected('terminate')}>Terminate</button>`
      : html`<span>All running executions this filter matches:</span>
          <button onClick=${() => askMatching('cancel')}>Cancel…</button>
          <button onClick=${() => askMatching('signal')}>Signal…</button>
          <button class="danger" onClick=${() => askMatching('terminate')}>Terminate…</button>
          <span>Failed flow executions:</span>
          <button onClick=${() => askMatching('restart')}>Restart…</button>
          <button onClick=${() => askMatching('replay')}>Replay…</button>`}
    ${report
      ? html`<span class="report" role="status">${report.error
          ? report.error.message
          : `${report.action}: ${report.succeeded} done${report.failed.length ? `, ${report.failed.length} failed (${report.failed.join('; ')})` : ''}`}</span>`
      : null}
    ${asking
      ? html`<${Confirm}
          title=${`${asking.action[0].toUpperCase()}${asking.action.slice(1)} ${asking.count} execution${asking.count === 1 ? '' : 's'}?`}
          message=${asking.scope === 'selected' ? 'The selected running executions.'
            : asking.action === 'restart' ? 'Every flow execution the current filter matches that failed, timed out, was cancelled or terminated, counted just now: each goes on in a new run that re-runs only what failed.'
            : asking.action === 'replay' ? 'Every flow execution the current filter matches that failed, timed out, was cancelled or terminated, counted just now: each is replayed as a new execution on its flow\'s latest revision, from the task run that failed.'
            : 'Every running execution the current filter matches, counted just now.'}
          confirmLabel=${`${asking.action} ${asking.count}`}
          danger=${asking.action === 'terminate'}
          fields=${fields}
          onConfirm=${run}
          onClose=${() => setAsking(null)} />`
      : null}
  </div>`;
}

export function Copy({ text, label = 'Copy' }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone(true);
      setTimeout(() => setDone(false), 1200);
    } catch {
      // No clipboard permission: the text is selectable anyway.
    }
  };
  return html`<button class="copy quiet" onClick=${copy} aria-label=${`${label} ${text}`}>${done ? 'Copied' : label}</button>`;
}
