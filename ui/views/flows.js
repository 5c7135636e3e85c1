// Flows: the namespace's flows; one flow's page (?flow=id) with its document (edited with
// the server's checks as you type, each problem on its line), a run form made from its
// typed inputs, and its revisions with what changed between them.

import { html, useEffect, useRef, useState } from '../vendor/preact-htm-3.1.1.js';
import { api, withQuery } from '../lib/api.js';
import { href, navigate, patchQuery } from '../lib/url.js';
import { relative, exact, json } from '../lib/format.js';
import { ErrorBox } from './common.js';

const flowPath = (namespace, id, what = '') =>
  `/api/v1/flows/${encodeURIComponent(namespace || 'default')}/${encodeURIComponent(id)}${what ? `/${what}` : ''}`;

/** An input of the run form, by its type. */
export function InputField({ input }) {
  const label = html`<span>${input.id}${input.required ? ' *' : ''} <span class="dim">${input.type.toLowerCase()}</span></span>`;
  const common = { name: input.id, 'aria-label': input.id, required: input.required };
  const initial = input.default === null || input.default === undefined ? '' : input.default;
  let field;
  switch (input.type) {
    case 'BOOLEAN':
    case 'SELECT': {
      // Uncontrolled, so that a live page re-rendering keeps what a person chose; with no
      // default the person must choose (nothing is preselected for them).
      const choices = input.type === 'BOOLEAN' ? ['true', 'false'] : input.values;
      field = html`<select ...${common}>
        ${initial === '' ? html`<option value="" selected>${input.required ? 'choose…' : '(none)'}</option>` : null}
        ${choices.map((value) => html`<option value=${value} selected=${String(initial) === value}>${value}</option>`)}</select>`;
      break;
    }
    case 'INT':
    case 'FLOAT':
      field = html`<input type="number" ...${common} step=${input.type === 'INT' ? '1' : 'any'}
        min=${input.min ?? undefined} max=${input.max ?? undefined} defaultValue=${initial} />`;
      break;
    case 'JSON':
    case 'ARRAY':
      field = html`<textarea ...${common} rows="3" class="mono" placeholder=${input.type === 'ARRAY' ? '["a", "b"]' : '{"key": "value"}'}
        defaultValue=${initial === '' ? '' : JSON.stringify(initial)}></textarea>`;
      break;
    default:
      field = html`<input ...${common} pattern=${input.pattern ?? undefined}
        placeholder=${input.type === 'DATETIME' ? '2026-01-02T03:04:05Z' : input.type === 'DURATION' ? 'PT5M or 5m' : ''}
        defaultValue=${initial} />`;
  }
  return html`<label class="field input-field">${label}${field}${input.description ? html`<small class="dim">${input.description}</small>` : null}</label>`;
}

/** The form's values as the run's inputs: empty fields left out (defaults apply). */
export function formInputs(inputs, form) {
  const given = {};
  for (const input of inputs) {
    const value = form.get(input.id);
    if (value === null || value === '') continue;
    given[input.id] = value;
  }
  return given;
}

function RunForm({ flow, namespace }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const inputs = formInputs(flow.inputs, new FormData(event.target));
      const started = await api(flowPath(namespace, flow.id, 'run'), { method: 'POST', body: { inputs } });
      navigate(href('detail', { namespace: namespace === 'default' ? '' : namespace }, started.workflow_id));
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="run-form" aria-label="Run the flow" onSubmit=${submit} novalidate>
    ${flow.inputs.length ? flow.inputs.map((input) => html`<${InputField} input=${input} />`) : html`<p class="dim">This flow takes no inputs.</p>`}
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    <div><button type="submit" class="primary" disabled=${busy}>Run revision ${flow.revision}</button></div>
  </form>`;
}

/** The document, checked by the server as it is edited; Save makes a revision. */
function Editor({ source, onSaved }) {
  const [text, setText] = useState(source);
  const [problems, setProblems] = useState([]);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const timer = useRef(null);
  useEffect(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => {
      api('/api/v1/flows/validate', { method: 'POST', body: { source: text } })
        .then((answer) => setProblems(answer.problems), () => {});
    }, 300);
    return () => clearTimeout(timer.current);
  }, [text]);
  const save = async () => {
    setError(null);
    try {
      const saved = await api('/api/v1/flows', { method: 'POST', body: { source: text } });
      setNotice(saved.created ? `Saved as revision ${saved.revision}.` : 'Unchanged: no new revision.');
      onSaved(saved);
    } catch (problem) {
      setError(problem);
    }
  };
  const lines = text.split('\n').length;
  return html`<div class="flow-editor">
    <textarea class="mono source" aria-label="Flow document" spellcheck="false" rows=${Math.min(Math.max(lines + 1, 12), 40)}
      value=${text} onInput=${(e) => { setText(e.target.value); setNotice(null); }}></textarea>
    ${problems.length
      ? html`<ul class="problems" aria-label="Problems" aria-live="polite">${problems.map((p) => html`<li>
          ${p.line ? html`<span class="mono">line ${p.line}, column ${p.column}</span>: ` : null}${p.message}</li>`)}</ul>`
      : html`<p class="ok dim" role="status">✓ The document is valid.</p>`}
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    ${notice ? html`<div class="notice" role="status">${notice}</div>` : null}
    <div><button class="primary" onClick=${save} disabled=${problems.length > 0}>Save</button></div>
  </div>`;
}

function Revisions({ namespace, id, latest }) {
  const [revisions, setRevisions] = useState(null);
  const [diff, setDiff] = useState(null);
  useEffect(() => {
    api(flowPath(namespace, id, 'revisions')).then((answer) => setRevisions(answer.revisions), () => {});
  }, [namespace, id, latest]);
  const show = (revision) =>
    api(withQuery(flowPath(namespace, id, 'diff'), { to: revision })).then(setDiff, () => {});
  if (!revisions) return html`<p class="loading">Loading…</p>`;
  return html`<div class="revisions">
    <ul class="times">${[...revisions].reverse().map((r) => html`<li>
      <strong>revision ${r.revision}</strong> <span class="dim" title=${exact(r.created)}>${relative(r.created)}</span>
      ${r.revision > 1 ? html` <button class="quiet" onClick=${() => show(r.revision)}>What changed</button>` : null}</li>`)}</ul>
    ${diff
      ? html`<pre class="mono diff" aria-label=${`Changes from revision ${diff.from} to ${diff.to}`}>${diff.diff
          .split('\n')
          .map((line) => html`<span class=${line.startsWith('+') && !line.startsWith('+++') ? 'added' : line.startsWith('-') && !line.startsWith('---') ? 'removed' : ''}>${line}\n</span>`)}</pre>`
      : null}
  </div>`;
}

function FlowDetail({ id, query, onChanged }) {
  const namespace = query.namespace || 'default';
  const [flow, setFlow] = useState(null);
  const [error, setError] = useState(null);
  const tab = query.tab || 'run';
  const load = () => api(flowPath(namespace, id)).then(setFlow, setError);
  useEffect(() => { load(); }, [id, namespace]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!flow) return html`<p class="loading">Loading…</p>`;
  const tabLink = (name, label) => html`<a role="tab" aria-selected=${tab === name} href=${href('flows', patchQuery(query, { tab: name === 'run' ? '' : name }))}>${label}</a>`;
  const runs = href('executions', { namespace: query.namespace, type: flow.id });
  return html`<section class="detail-head flow-detail" aria-label=${`Flow ${id}`}>
    <div class="title-row">
      <h2 class="mono">${flow.id}</h2>
      <span class="badge">revision ${flow.revision}</span>
      <span class="spacer"></span>
      <a href=${runs}>Executions of this flow →</a>
    </div>
    ${flow.description ? html`<p>${flow.description}</p>` : null}
    <nav class="tabs" role="tablist">${tabLink('run', 'Run')}${tabLink('topology', 'Topology')}${tabLink('source', 'Document')}${tabLink('revisions', 'Revisions')}</nav>
    ${tab === 'run' ? html`<${RunForm} flow=${flow} namespace=${namespace} />` : null}
    ${tab === 'topology' ? html`<${Topology} topology=${flow.topology} />` : null}
    ${tab === 'source' ? html`<${Editor} source=${flow.source} onSaved=${() => { load(); onChanged(); }} />` : null}
    ${tab === 'revisions' ? html`<${Revisions} namespace=${namespace} id=${id} latest=${flow.revision} />` : null}
  </section>`;
}

const NEW_FLOW = `id: my-flow
namespace: default
inputs:
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: hello
    type: log
    message: "Hello, {{ inputs.name }}!"
`;

export function Flows({ query, onLive }) {
  const namespace = query.namespace;
  const [flows, setFlows] = useState(null);
  const [error, setError] = useState(null);
  const load = () => api(withQuery('/api/v1/flows', { namespace })).then((b) => { setFlows(b.flows); setError(null); }, setError);
  useEffect(() => { onLive(''); load(); }, [namespace]);
  const creating = query.new === '1';
  return html`<main class="page">
    <div class="page-head"><h1>Flows</h1><span class="spacer"></span>
      <a class="button" href=${href('flows', patchQuery(query, { new: creating ? '' : '1', flow: '' }))}>${creating ? 'Cancel' : 'New flow'}</a></div>
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    ${creating
      ? html`<section class="detail-head" aria-label="New flow"><${Editor} source=${NEW_FLOW} onSaved=${(saved) => {
          load();
          navigate(href('flows', patchQuery(query, { new: '', flow: saved.id, tab: 'source' })));
        }} /></section>`
      : null}
    ${query.flow ? html`<${FlowDetail} id=${query.flow} query=${query} onChanged=${load} key=${query.flow} />` : null}
    ${flows && flows.length === 0 && !creating
      ? html`<p class="empty">No flows in this namespace. Write one with <a href=${href('flows', patchQuery(query, { new: '1' }))}>New flow</a>, or save a file with <code>keel flow apply flow.yaml</code>.</p>`
      : null}
    ${flows && flows.length
      ? html`<table class="grid" aria-label="Flows">
          <thead><tr><th>Flow</th><th>Revision</th><th>Tasks</th><th>Inputs</th><th>Updated</th><th>Description</th></tr></thead>
          <tbody>${flows.map((f) => {
            const link = href('flows', patchQuery(query, { flow: f.id, tab: '', new: '' }));
            return html`<tr data-flow=${f.id} tabindex="0" data-nav=${link} class=${query.flow === f.id ? 'selected' : ''}>
              <th scope="row"><a class="mono" href=${link}>${f.id}</a></th>
              <td>${f.revision}</td>
              <td>${f.task_count}</td>
              <td>${f.inputs.map((i) => html`<code>${i.id}</code> `)}</td>
              <td title=${exact(f.updated)}>${relative(f.updated)}</td>
              <td>${f.description}</td>
            </tr>`;
          })}</tbody>
        </table>`
      : null}
  </main>`;
}

/** A flow execution's own actions on its page: Resume a waiting pause (with its typed
 * inputs), Restart a failed run, Replay it on the latest revision. */
export function FlowActions({ run, namespace, onDone }) {
  const [waiting, setWaiting] = useState([]);
  const [open, setOpen] = useState(null);
  const [error, setError] = useState(null);
  const ns = namespace || 'default';
  const path = (what) => withQuery(`/api/v1/executions/${encodeURIComponent(run.workflow_id)}/${what}`, { namespace: ns, run_id: run.run_id });
  useEffect(() => {
    if (run.status !== 'running') {
      setWaiting([]);
      return;
    }
    api(path('resume')).then((answer) => setWaiting(answer.waiting), () => setWaiting([]));
  }, [run.run_id, run.status, run.history_length]);
  const closedBadly = ['failed', 'timed_out', 'canceled', 'terminated'].includes(run.status);
  const go = (answer) => {
    const keep = ns === 'default' ? {} : { namespace: ns };
    navigate(href('detail', keep, answer.workflow_id));
    onDone?.();
  };
  const act = async (what, body) => {
    setError(null);
    try {
      const answer = await api(path(what), { method: 'POST', body });
      setOpen(null);
      if (what === 'resume') onDone?.();
      else go(answer);
    } catch (problem) {
      setError(problem);
    }
  };
  const pause = open?.startsWith('resume:') ? waiting.find((w) => w.task_run === open.slice(7)) : null;
  return html`<span class="flow-actions">
    ${waiting.map((w) => html`<button class="primary" onClick=${() => setOpen(`resume:${w.task_run}`)}>Resume ${w.task_run}…</button>`)}
    ${closedBadly ? html`<button onClick=${() => act('restart', {})} title="Run again what failed, keeping what completed">Restart</button>` : null}
    ${run.status !== 'running' ? html`<button onClick=${() => setOpen('replay')} title="A new execution on the latest revision">Replay…</button>` : null}
    ${pause
      ? html`<div class="inline-dialog" role="dialog" aria-label=${`Resume ${pause.task_run}`}>
          <form onSubmit=${(event) => { event.preventDefault(); act('resume', { task_run: pause.task_run, inputs: formInputs(pause.inputs, new FormData(event.target)) }); }} novalidate>
            <h3>Resume ${pause.task_run}</h3>
            ${pause.inputs.map((input) => html`<${InputField} input=${input} />`)}
            ${error ? html`<${ErrorBox} error=${error} />` : null}
            <button type="submit" class="primary">Resume</button> <button type="button" class="quiet" onClick=${() => setOpen(null)}>Cancel</button>
          </form></div>`
      : null}
    ${open === 'replay'
      ? html`<div class="inline-dialog" role="dialog" aria-label="Replay">
          <form onSubmit=${(event) => {
            event.preventDefault();
            const form = new FormData(event.target);
            const body = {};
            if (form.get('from_task_run')) body.from_task_run = form.get('from_task_run');
            if (form.get('revision')) body.revision = Number(form.get('revision'));
            act('replay', body);
          }}>
            <h3>Replay as a new execution</h3>
            <label class="field"><span>From task run <span class="dim">(default: the first that failed)</span></span><input name="from_task_run" aria-label="From task run" /></label>
            <label class="field"><span>Revision <span class="dim">(default: the latest)</span></span><input name="revision" type="number" min="1" aria-label="Revision" /></label>
            ${error ? html`<${ErrorBox} error=${error} />` : null}
            <button type="submit" class="primary">Replay</button> <button type="button" class="quiet" onClick=${() => setOpen(null)}>Cancel</button>
          </form></div>`
      : null}
    ${error && !open ? html`<${ErrorBox} error=${error} />` : null}
  </span>`;
}

const STATE_WORD = { completed: '✓ completed', running: '● running', waiting: '◐ waiting for input', failed: '✗ failed' };

/** A subflow's own topology, coloured by its execution when the parent's has started it. */
function SubflowTopology({ subflow, context }) {
  const [namespace, flowId] = subflow.split('/');
  const [flow, setFlow] = useState(null);
  const [states, setStates] = useState({});
  const [error, setError] = useState(null);
  const childId = context ? `${context.workflowId}:${context.taskRun}` : null;
  useEffect(() => {
    (async () => {
      let revision;
      if (childId) {
        try {
          const child = await api(withQuery(`/api/v1/executions/${encodeURIComponent(childId)}`, { namespace, view: 'full' }));
          revision = child.input?.[0]?.revision;
          const answer = await api(withQuery(`/api/v1/executions/${encodeURIComponent(childId)}/tasks`, { namespace }));
          setStates(answer.tasks);
        } catch {
          // Not started yet: the flow's latest revision, uncoloured.
        }
      }
      setFlow(await api(withQuery(flowPath(namespace, flowId), { revision })));
    })().catch(setError);
  }, [subflow, childId, context?.version]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!flow) return html`<p class="loading">Loading…</p>`;
  return html`<div class="subflow">
    <${Branch} branch=${flow.topology[0]} states=${states} label=${false} context=${null} />
  </div>`;
}

function Node({ node, states, context }) {
  const state = states[node.id];
  const [open, setOpen] = useState(false);
  const kind = node.parallel ? 'parallel' : node.each ? 'each' : node.branches.length > 1 ? 'choice' : 'seq';
  return html`<li class=${`node ${state ? `state-${state}` : 'state-none'}`} data-task=${node.id} data-state=${state ?? 'not reached'}>
    <div class="node-label"><span class="mono">${node.id}</span> <span class="dim">${node.type}</span>
      ${state ? html` <span class="node-state">${STATE_WORD[state]}</span>` : null}
      ${node.subflow
        ? html` <button class="quiet small" aria-expanded=${open} onClick=${() => setOpen(!open)}>${open ? '▾' : '▸'} ${node.subflow.split('/')[1]}</button>`
        : null}</div>
    ${open ? html`<${SubflowTopology} subflow=${node.subflow} context=${context && { ...context, taskRun: node.id }} />` : null}
    ${node.branches.length
      ? html`<div class=${`branches ${kind}`}>${node.branches.map((branch) => html`<${Branch} branch=${branch} states=${states} label=${node.branches.length > 1 || node.each} context=${context} />`)}</div>`
      : null}
  </li>`;
}

function Branch({ branch, states, label, context }) {
  return html`<div class="branch">
    ${label ? html`<span class="branch-name dim">${branch.name}</span>` : null}
    <ol class="flow-lane">${branch.tasks.map((node) => html`<${Node} node=${node} states=${states} context=${context} />`)}</ol>
  </div>`;
}

/** A flow's tasks as a graph: one after another left to right, branches stacked; each
 * task coloured (and named: never colour alone) by its state in `run` when given. */
export function Topology({ topology, states = {}, context = null }) {
  return html`<div class="topology" aria-label="Topology">
    ${topology.map((branch) => html`<div class="topology-part"><h3>${branch.name === 'tasks' ? 'Tasks' : branch.name === 'errors' ? 'On failure' : 'Finally'}</h3>
      <${Branch} branch=${branch} states=${states} label=${false} context=${context} /></div>`)}
  </div>`;
}

/** The Topology tab of a flow execution's page: the revision it runs, coloured live. */
export function FlowTopology({ run, namespace }) {
  const [flow, setFlow] = useState(null);
  const [error, setError] = useState(null);
  const start = run.input?.[0] ?? {};
  useEffect(() => {
    if (!start.flow) return;
    api(withQuery(flowPath(namespace, start.flow), { revision: start.revision })).then(setFlow, setError);
  }, [start.flow, start.revision]);
  const [states, setStates] = useState({});
  const [taskRuns, setTaskRuns] = useState([]);
  useEffect(() => {
    if (!start.flow) return;
    const path = withQuery(`/api/v1/executions/${encodeURIComponent(run.workflow_id)}/tasks`, { namespace, run_id: run.run_id });
    api(path).then((answer) => { setStates(answer.tasks); setTaskRuns(answer.task_runs ?? []); }, () => {});
  }, [run.run_id, run.history_length, run.status]);
  if (!start.flow) return html`<p class="dim">This execution was not started as a flow.</p>`;
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!flow) return html`<p class="loading">Loading…</p>`;
  return html`<p class="dim">Flow <a href=${href('flows', { namespace: namespace === 'default' ? '' : namespace, flow: flow.id })}>${flow.id}</a>, revision ${flow.revision}.</p>
    <${Topology} topology=${flow.topology} states=${states}
      context=${{ workflowId: run.workflow_id, namespace, version: run.history_length }} />
    <${TaskRuns} taskRuns=${taskRuns} />`;
}

const RUN_STATE_WORD = { ...STATE_WORD, running: '● running or waiting', reused: '↺ reused' };

/** Each task run with what it gave (its outputs) or why it failed, in the order they ran. */
function TaskRuns({ taskRuns }) {
  if (!taskRuns.length) return null;
  return html`<h3>Task runs</h3>
    <table class="grid task-runs" aria-label="Task runs">
      <thead><tr><th>Task run</th><th>State</th><th class="num">Starts</th><th>Outputs</th></tr></thead>
      <tbody>${taskRuns.map((taskRun) => html`<tr data-task-run=${taskRun.task_run} data-state=${taskRun.state}>
        <td class="mono">${taskRun.task_run}</td>
        <td class=${`run-state state-${taskRun.state}`}>${RUN_STATE_WORD[taskRun.state] ?? taskRun.state}</td>
        <td class="num">${taskRun.starts}</td>
        <td>${taskRun.error
          ? html`<span class="error-text">${taskRun.error}</span>`
          : taskRun.outputs === null || taskRun.outputs === undefined
            ? html`<span class="dim">–</span>`
            : html`<pre class="mono payload">${json(taskRun.outputs)}</pre>`}</td>
      </tr>`)}</tbody>
    </table>`;
}
