// Schedules: every schedule with its spec in words, next runs and recent actions; one
// schedule's page (?schedule=id) with pause/unpause (with a note), trigger now and delete.

import { html, useEffect, useState } from '../vendor/preact-htm-3.1.1.js';
import { api, withQuery } from '../lib/api.js';
import { href, navigate, patchQuery } from '../lib/url.js';
import { relative, exact } from '../lib/format.js';
import { ErrorBox, Confirm } from './common.js';

const schedulePath = (id, what = '') => `/api/v1/schedules/${encodeURIComponent(id)}${what ? `/${what}` : ''}`;

function ActionLink({ action, namespace }) {
  return html`<a class="mono" href=${href('detail', { namespace, run_id: action.run_id }, action.workflow_id)}>${action.workflow_id}</a> <span class="dim">(${action.status.replace('_', ' ')})</span>`;
}

function ScheduleDetail({ id, query, onChanged }) {
  const namespace = query.namespace;
  const [schedule, setSchedule] = useState(null);
  const [error, setError] = useState(null);
  const [asking, setAsking] = useState(null);
  const [notice, setNotice] = useState(null);
  const load = () => api(withQuery(schedulePath(id), { namespace })).then(setSchedule, setError);
  useEffect(() => { load(); }, [id, namespace]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!schedule) return html`<p class="loading">Loading…</p>`;
  const act = async (verb, body = {}) => {
    await api(withQuery(schedulePath(id, verb), { namespace }), { method: 'POST', body });
    setNotice(verb === 'trigger' ? 'Triggered: the action runs now.' : `${verb === 'pause' ? 'Paused' : 'Unpaused'}.`);
    await load();
    onChanged();
  };
  return html`<section class="detail-head schedule-detail" aria-label=${`Schedule ${id}`}>
    <div class="title-row">
      <span class=${`badge ${schedule.paused ? 'phase-cancelled' : 'phase-running'}`}>${schedule.paused ? '❚❚ Paused' : '● Active'}</span>
      <h2 class="mono">${schedule.schedule_id}</h2>
      <span class="spacer"></span>
      <button onClick=${() => act('trigger')}>Trigger now</button>
      ${schedule.paused
        ? html`<button onClick=${() => setAsking('unpause')}>Unpause…</button>`
        : html`<button onClick=${() => setAsking('pause')}>Pause…</button>`}
      <button class="danger" onClick=${() => setAsking('delete')}>Delete…</button>
    </div>
    ${notice ? html`<div class="notice" role="status">${notice}</div>` : null}
    <dl class="facts">
      <div class="fact"><dt>When</dt><dd>${schedule.spec}</dd></div>
      <div class="fact"><dt>Starts</dt><dd>${schedule.workflow_type} on <code>${schedule.task_queue}</code> as <code>${schedule.workflow_id}-…</code></dd></div>
      <div class="fact"><dt>Overlap</dt><dd>${schedule.policies.overlap.replace('_', ' ')}${schedule.policies.pause_on_failure ? ', pauses on failure' : ''}</dd></div>
      <div class="fact"><dt>Actions taken</dt><dd>${schedule.action_count}${schedule.remaining_actions !== null ? `, ${schedule.remaining_actions} left` : ''}</dd></div>
      ${schedule.notes ? html`<div class="fact"><dt>Note</dt><dd>${schedule.notes}</dd></div>` : null}
    </dl>
    <h3>Next runs</h3>
    ${schedule.next_action_times.length
      ? html`<ol class="times">${schedule.next_action_times.map((t) => html`<li title=${exact(t)}>${relative(t)} <span class="dim">${exact(t)}</span></li>`)}</ol>`
      : html`<p class="dim">${schedule.paused ? 'None while paused.' : 'None: the spec has ended.'}</p>`}
    <h3>Recent actions</h3>
    ${schedule.recent_actions.length
      ? html`<ul class="times">${schedule.recent_actions.map((a) => html`<li>${relative(a.actual_time)}: <${ActionLink} action=${a} namespace=${namespace} /></li>`)}</ul>`
      : html`<p class="dim">None yet.</p>`}
    ${asking === 'delete'
      ? html`<${Confirm} title=${`Delete schedule ${id}?`} message="It takes no more actions; the workflows it started go on." confirmLabel="Delete" danger=${true}
          onConfirm=${async () => {
            await api(withQuery(schedulePath(id), { namespace }), { method: 'DELETE' });
            onChanged();
            navigate(href('schedules', patchQuery(query, { schedule: '' })));
          }}
          onClose=${() => setAsking(null)} />`
      : asking
        ? html`<${Confirm} title=${`${asking === 'pause' ? 'Pause' : 'Unpause'} schedule ${id}?`} message=${asking === 'pause' ? 'It takes no actions until unpaused; times missed meanwhile are skipped.' : 'It takes its actions again from now on.'}
            confirmLabel=${asking === 'pause' ? 'Pause' : 'Unpause'} fields=${[{ name: 'note', label: 'Note (shown on the schedule)', placeholder: 'why' }]}
            onConfirm=${(values) => act(asking, { note: values.note })} onClose=${() => setAsking(null)} />`
        : null}
  </section>`;
}

export function Schedules({ query, onLive }) {
  const namespace = query.namespace;
  const [schedules, setSchedules] = useState(null);
  const [error, setError] = useState(null);
  const load = () => api(withQuery('/api/v1/schedules', { namespace })).then((b) => { setSchedules(b.schedules); setError(null); }, setError);
  useEffect(() => { onLive(''); load(); }, [namespace]);
  return html`<main class="page">
    <div class="page-head"><h1>Schedules</h1></div>
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    ${query.schedule ? html`<${ScheduleDetail} id=${query.schedule} query=${query} onChanged=${load} key=${query.schedule} />` : null}
    ${schedules && schedules.length === 0
      ? html`<p class="empty">No schedules in this namespace. Create one with an SDK's schedule client (Python: <code>client.create_schedule(…)</code>) or <code>temporal schedule create</code>.</p>`
      : null}
    ${schedules && schedules.length
      ? html`<table class="grid" aria-label="Schedules">
          <thead><tr><th>Schedule</th><th>When</th><th>Starts</th><th>Next run</th><th>Last action</th></tr></thead>
          <tbody>${schedules.map((s) => {
            const link = href('schedules', patchQuery(query, { schedule: s.schedule_id }));
            return html`<tr data-schedule=${s.schedule_id} tabindex="0" data-nav=${link} class=${query.schedule === s.schedule_id ? 'selected' : ''}>
              <th scope="row"><a class="mono" href=${link}>${s.schedule_id}</a>${s.paused ? html` <span class="badge phase-cancelled">❚❚ paused</span>` : null}</th>
              <td>${s.spec}</td>
              <td>${s.workflow_type} <span class="dim">on</span> ${s.task_queue}</td>
              <td title=${exact(s.next_action_times[0])}>${s.next_action_times.length ? relative(s.next_action_times[0]) : '–'}</td>
              <td>${s.recent_actions[0] ? html`<${ActionLink} action=${s.recent_actions[0]} namespace=${namespace} />` : '–'}</td>
            </tr>`;
          })}</tbody>
        </table>`
      : null}
  </main>`;
}
