// The logs tab: the run's log lines and history milestones, live from the run's stream,
// filtered by level, following the end while the run goes on, and downloadable.

import { html, useEffect, useRef } from '../vendor/preact-htm-3.1.1.js';
import { href, navigate, patchQuery } from '../lib/url.js';
import { when } from '../lib/format.js';
import { pref } from '../lib/prefs.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

export function visibleLines(lines, minLevel) {
  const floor = LEVELS.indexOf(minLevel);
  return floor <= 0 ? lines : lines.filter((line) => LEVELS.indexOf(line.level) >= floor);
}

export function LogsTab({ lines, run, query, workflowId }) {
  const level = query.level || 'trace';
  const follow = query.follow !== '0';
  const zone = pref('zone', 'relative') === 'relative' ? 'utc' : pref('zone', 'utc');
  const box = useRef(null);
  const shown = visibleLines(lines, level);
  const set = (patch) => navigate(href('detail', patchQuery(query, patch), workflowId), { replace: true });
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [shown.length, follow]);
  const text = shown.map((line) => `${line.time} ${line.level.toUpperCase().padEnd(5)} ${line.source === 'history' ? '[history]' : `[${line.worker || 'worker'}]`} ${line.message}`).join('\n');
  const download = () => {
    const url = URL.createObjectURL(new Blob([`${text}\n`], { type: 'text/plain' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = `${workflowId}-${run.run_id}.log`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return html`<div class="logs-tools">
      <label>Level <select aria-label="Lowest level shown" value=${level} onChange=${(e) => set({ level: e.target.value === 'trace' ? '' : e.target.value })}>
        ${LEVELS.map((l) => html`<option value=${l}>${l}${l === 'trace' ? ' (all)' : ' and above'}</option>`)}
      </select></label>
      <label><input type="checkbox" checked=${follow} onChange=${(e) => set({ follow: e.target.checked ? '' : '0' })} /> Follow</label>
      <button onClick=${download}>Download</button>
      <span class="dim">${shown.length} of ${lines.length} lines${run.status === 'running' ? ' · live' : ''}</span>
    </div>
    <div class="logs mono" ref=${box} role="log" aria-live="polite">
      ${shown.length === 0 ? html`<p class="empty">No lines yet. Workers add lines with <code>POST /api/v1/executions/{id}/logs</code>; milestones appear as the run moves.</p>` : null}
      ${shown.map((line) => html`<div class=${`log-line level-${line.level} source-${line.source}`}>
        <span class="log-time">${when(line.time, zone)}</span>
        <span class="log-level">${line.level}</span>
        <span class="log-source">${line.source === 'history' ? 'history' : line.worker || 'worker'}</span>
        <span class="log-message">${line.message}</span>
      </div>`)}
    </div>`;
}
