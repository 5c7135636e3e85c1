// The timeline tab: a Gantt drawn from lib/timeline.js's layout. Rows are virtualized, the
// axis zooms (buttons or Ctrl+wheel) and pans (scroll), and "collapse idle" squeezes long
// waits. Clicking a bar selects its event in the History tab.

import { html, useEffect, useRef, useState, useMemo } from '../vendor/preact-htm-3.1.1.js';
import { layout, scale, visibleRows, ticks } from '../lib/timeline.js';
import { href, navigate, patchQuery } from '../lib/url.js';
import { duration } from '../lib/format.js';

const ROW = 26;
const LABEL = 220;

export function TimelineTab({ events, run, query, workflowId, onReset }) {
  const [now, setNow] = useState(Date.now());
  const [zoom, setZoom] = useState(1);
  const [view, setView] = useState({ top: 0, height: 480, width: 900 });
  const box = useRef(null);
  const collapse = query.collapse === '1';

  useEffect(() => {
    if (run.status !== 'running') return undefined;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [run.status]);
  const ready = events.length > 0;
  useEffect(() => {
    if (!box.current) return undefined;
    const measure = () => box.current && setView((v) => ({ ...v, width: box.current.clientWidth, height: box.current.clientHeight || 480 }));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(box.current);
    return () => observer.disconnect();
  }, [ready]);

  const laid = useMemo(() => layout(events, now, run.task_runs ?? []), [events, now, run.task_runs]);
  const plotWidth = Math.max(200, (view.width - LABEL - 16) * zoom);
  const axis = useMemo(() => scale(laid, plotWidth, { collapseIdle: collapse }), [laid, plotWidth, collapse]);
  const { first, last } = visibleRows(laid.rows.length, ROW, view.top, view.height);
  const open = (eventId) => navigate(href('detail', patchQuery(query, { tab: 'history', event: eventId }), workflowId));
  const setCollapse = (on) => navigate(href('detail', patchQuery(query, { collapse: on ? '1' : '' }), workflowId), { replace: true });
  const onWheel = (event) => {
    if (!event.ctrlKey) return;
    event.preventDefault();
    setZoom((z) => Math.min(64, Math.max(1, z * (event.deltaY < 0 ? 1.25 : 0.8))));
  };

  if (events.length === 0) return html`<p class="loading">Reading the history…</p>`;
  // Ticks at round offsets from the run's start, which is what the labels show.
  const { times } = ticks(0, laid.end - laid.start, Math.max(2, Math.round(plotWidth / 140)));
  return html`<div class="timeline-tools">
      <button onClick=${() => setZoom((z) => Math.min(64, z * 2))}>Zoom in</button>
      <button onClick=${() => setZoom((z) => Math.max(1, z / 2))} disabled=${zoom <= 1}>Zoom out</button>
      <label><input type="checkbox" checked=${collapse} onChange=${(e) => setCollapse(e.target.checked)} /> Collapse idle</label>
      <span class="dim">${laid.rows.length} rows · ${duration(laid.end - laid.start)}${run.status === 'running' ? ' so far' : ''}</span>
      <span class="legend"><span class="seg state-completed"></span>completed <span class="seg state-failed"></span>failed <span class="seg state-backoff"></span>backoff <span class="seg state-retried"></span>earlier attempts (untimed) <span class="seg state-running"></span>running <span class="seg state-queued"></span>queued</span>
    </div>
    <div class="timeline" ref=${box} onScroll=${(e) => setView((v) => ({ ...v, top: e.target.scrollTop }))} onWheel=${onWheel}>
      <div class="axis" style=${`width:${plotWidth + LABEL}px`}>
        ${times.map((t) => html`<span class="tick" style=${`left:${LABEL + axis.x(laid.start + t)}px`}>${duration(t)}</span>`)}
        ${axis.gaps.map((gap) => html`<span class="gap" style=${`left:${LABEL + gap.x}px`} title=${`idle ${duration(gap.end - gap.start)}`}>⋯</span>`)}
      </div>
      <div class="lanes" style=${`height:${laid.rows.length * ROW + 8}px;width:${plotWidth + LABEL}px`}>
        ${laid.marks.map((mark) => html`<button class="mark mark-${mark.kind}" style=${`left:${LABEL + axis.x(mark.time)}px`} title=${`${mark.label} (event ${mark.eventId})`} aria-label=${mark.label} onClick=${() => open(mark.eventId)}></button>`)}
        ${laid.rows.slice(first, last).map((row, i) => html`<div class="lane lane-${row.kind}" style=${`top:${(first + i) * ROW}px`} key=${row.key}>
          <div class="lane-label" title=${`${row.label} ${row.detail}`}>
            ${row.kind === 'child' && row.runId
              ? html`<a href=${href('detail', { namespace: query.namespace, run_id: row.runId }, row.workflowId)}>${row.label}</a>`
              : row.label}
            ${row.attempts > 1 ? html` <span class="attempts">×${row.attempts}</span>` : null}
            <span class="dim"> ${row.detail}</span>
          </div>
          ${row.segments.map((segment) => {
            const left = LABEL + axis.x(segment.start);
            const width = Math.max(2, axis.x(segment.end) - axis.x(segment.start));
            return html`<button class="seg state-${segment.state}${segment.open ? ' open' : ''}" style=${`left:${left}px;width:${width}px`}
              data-attempt=${segment.attempt ?? ''}
              title=${`${segment.title} · ${segment.state} · ${duration(segment.end - segment.start)}${segment.worker ? ` · ${segment.worker}` : ''}`}
              aria-label=${`${row.label}: ${segment.title}, ${segment.state}`}
              onClick=${() => open(segment.closeEventId ?? segment.eventId)}
              onContextMenu=${row.kind === 'workflow' && segment.closeEventId ? (e) => { e.preventDefault(); onReset(segment.closeEventId); } : undefined}></button>`;
          })}
        </div>`)}
      </div>
    </div>
    <p class="hint dim">Click a bar to see its event in History; right-click a completed workflow task to reset the run to it.</p>`;
}
