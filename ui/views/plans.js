// The Planning column: work that is not an execution yet. Planned runs (saved starts, made
// here or with `keel plan`) with Start, Edit and Delete, and the next firing of each active
// schedule. A planned card dragged onto Pending starts, as its Start button does; the card
// then is the execution, and comes back through the live feed in Pending or Running.

import { html, useState } from '../vendor/preact-htm-3.1.1.js';
import { api, withQuery } from '../lib/api.js';
import { href } from '../lib/url.js';
import { middle, relative, exact, when as at } from '../lib/format.js';
import { Confirm, ErrorBox, parseInput } from './common.js';

/** The drag payload type of a planned card. */
export const PLAN_DRAG = 'application/x-keel-plan';

const planPath = (id, what = '') => `/api/v1/plans/${encodeURIComponent(id)}${what ? `/${what}` : ''}`;

export function startPlan(namespace, id) {
  return api(withQuery(planPath(id, 'start'), { namespace }), { method: 'POST' });
}

/** `datetime-local` works in local time without a zone; the API takes RFC 3339. */
function toLocalInput(time) {
  if (!time) return '';
  const date = new Date(time);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** The create/edit form's fields as the API's body; `editing` sends only what changed. */
export function planBody(values, editing) {
  const body = {
    workflow_type: values.workflow_type?.trim(),
    task_queue: values.task_queue?.trim(),
    workflow_id: values.workflow_id?.trim() ?? '',
    note: values.note ?? '',
    start_at: values.start_at ? new Date(values.start_at).toISOString() : null,
  };
  const input = parseInput(values.input);
  if (input !== undefined) body.input = input;
  else if (editing) body.inputs = [];
  if (editing) body.version = editing.version;
  else {
    if (values.id?.trim()) body.id = values.id.trim();
    if (!body.start_at) delete body.start_at;
  }
  return body;
}

function PlanForm({ namespace, plan, onClose, onDone }) {
  const input = plan?.input?.length ? JSON.stringify(plan.input[0], null, 2) : '';
  const fields = [
    ...(plan ? [] : [{ name: 'id', label: 'Plan id (optional)', placeholder: 'generated when empty' }]),
    { name: 'workflow_type', label: 'Workflow type', value: plan?.workflow_type, required: true },
    { name: 'task_queue', label: 'Task queue', value: plan?.task_queue, required: true },
    { name: 'workflow_id', label: 'Workflow id (optional)', value: plan?.workflow_id, placeholder: 'the plan id' },
    { name: 'input', label: 'Input (JSON, optional)', value: input, multiline: true, placeholder: '{"order": 42}' },
    { name: 'start_at', label: 'Start by itself at (optional, local time)', value: toLocalInput(plan?.start_at), type: 'datetime-local' },
    { name: 'note', label: 'Note', value: plan?.note },
  ];
  const save = async (values) => {
    const body = planBody(values, plan);
    const saved = plan
      ? await api(withQuery(planPath(plan.id), { namespace }), { method: 'PATCH', body })
      : await api(withQuery('/api/v1/plans', { namespace }), { method: 'POST', body });
    onDone(saved);
  };
  return html`<${Confirm}
    title=${plan ? `Edit planned run ${plan.id}` : 'New planned run'}
    message="Saved here, it starts when you start it (button, or drag onto Pending), or by itself at its start time."
    confirmLabel=${plan ? 'Save' : 'Plan it'}
    fields=${fields}
    onConfirm=${save}
    onClose=${onClose}
  />`;
}

function PlanCard({ plan, namespace, onChanged, onEdit, onError }) {
  const [busy, setBusy] = useState(false);
  const act = async (what) => {
    setBusy(true);
    try {
      if (what === 'start') await startPlan(namespace, plan.id);
      else await api(withQuery(planPath(plan.id), { namespace, version: plan.version }), { method: 'DELETE' });
      onChanged();
    } catch (e) {
      onError(e);
      setBusy(false);
    }
  };
  const when = !plan.start_at
    ? 'starts when started'
    : Math.abs(Date.parse(plan.start_at) - Date.now()) < 2 * 86_400_000
      ? `starts ${relative(plan.start_at)}`
      : `starts ${at(plan.start_at, 'local')}`;
  return html`<article class="card planned plan" tabindex="0" draggable="true" data-plan-id=${plan.id}
      aria-label=${`planned run ${plan.id}: ${plan.workflow_type}, ${when}`}
      onDragStart=${(e) => { e.dataTransfer.setData(PLAN_DRAG, plan.id); e.dataTransfer.effectAllowed = 'move'; }}>
    <div class="card-top"><span class="mono id" title=${plan.id}>${middle(plan.id, 30)}</span></div>
    <div class="card-meta"><span>${plan.workflow_type}</span>${' '}<span class="dim">on</span>${' '}<span>${plan.task_queue}</span></div>
    <div class="card-meta dim" title=${plan.start_at ? exact(plan.start_at) : 'no start time: start it by hand'}>${when}</div>
    ${plan.note ? html`<div class="card-meta dim" title=${plan.note}>${plan.note}</div>` : null}
    ${plan.start_error ? html`<div class="why" role="status">could not start: ${plan.start_error}</div>` : null}
    <div class="card-actions">
      <button class="small primary" disabled=${busy} onClick=${() => act('start')} aria-label=${`start ${plan.id}`}>Start</button>
      <button class="small quiet" disabled=${busy} onClick=${() => onEdit(plan)} aria-label=${`edit ${plan.id}`}>Edit</button>
      <button class="small quiet" disabled=${busy} onClick=${() => act('delete')} aria-label=${`delete ${plan.id}`}>Delete</button>
    </div>
  </article>`;
}

function ScheduleCard({ schedule, namespace }) {
  const link = href('schedules', { namespace, schedule: schedule.schedule_id });
  const next = schedule.next_action_times[0];
  return html`<article class="card planned" data-nav=${link} tabindex="0" data-schedule-id=${schedule.schedule_id} aria-label=${`schedule ${schedule.schedule_id}: next ${relative(next)}`}>
    <div class="card-top"><a class="mono id" href=${link} title=${schedule.schedule_id}>${middle(schedule.schedule_id, 30)}</a></div>
    <div class="card-meta"><span>${schedule.workflow_type}</span>${' '}<span class="dim">on</span>${' '}<span>${schedule.task_queue}</span></div>
    <div class="card-meta dim" title=${exact(next)}>schedule · next ${relative(next)} · ${schedule.spec}</div>
  </article>`;
}

/** Whether a plan or schedule belongs in a board filtered by type and queue. */
export function inView(item, filters) {
  return (!filters.type || item.workflow_type === filters.type) && (!filters.queue || item.task_queue === filters.queue);
}

export function PlanningColumn({ plans, schedules, namespace, filters, onChanged }) {
  const [form, setForm] = useState(null);
  const [error, setError] = useState(null);
  const firings = (schedules ?? []).filter((s) => !s.paused && s.next_action_times.length && inView(s, filters));
  firings.sort((a, b) => Date.parse(a.next_action_times[0]) - Date.parse(b.next_action_times[0]));
  const planned = (plans ?? []).filter((plan) => inView(plan, filters));
  const count = planned.length + firings.length;
  const changed = () => {
    setError(null);
    onChanged();
  };
  return html`<section class="column" aria-labelledby="col-planning">
    <h2 id="col-planning" class="column-head phase-planning">
      <span class="icon" aria-hidden="true">○</span> Planning
      <button class="small quiet new-plan" onClick=${() => setForm({ plan: null })} title="Save a run to start later">+ Plan</button>
      <span class="count" data-count=${count}>${count}</span>
    </h2>
    <div class="column-body">
      ${error ? html`<${ErrorBox} error=${error} />` : null}
      ${planned.map((plan) => html`<${PlanCard} key=${plan.id} plan=${plan} namespace=${namespace} onChanged=${changed} onEdit=${(p) => setForm({ plan: p })} onError=${setError} />`)}
      ${firings.map((s) => html`<${ScheduleCard} key=${`s:${s.schedule_id}`} schedule=${s} namespace=${namespace} />`)}
      ${count === 0
        ? html`<p class="empty">Nothing planned. <button class="link" onClick=${() => setForm({ plan: null })}>Plan a run</button> to start later, or see <a href=${href('schedules', { namespace })}>Schedules</a>.</p>`
        : null}
    </div>
    ${form ? html`<${PlanForm} namespace=${namespace} plan=${form.plan} onClose=${() => setForm(null)} onDone=${changed} />` : null}
  </section>`;
}
