// One status language everywhere: the same word, icon and colour class for a phase or a
// status on cards, rows, badges and timeline bars (never colour alone).

import { html } from '../vendor/preact-htm-3.1.1.js';

export const PHASES = [
  { id: 'pending', label: 'Pending', icon: '◷' },
  { id: 'running', label: 'Running', icon: '●' },
  { id: 'completed', label: 'Completed', icon: '✓' },
  { id: 'failed', label: 'Failed', icon: '✕' },
  { id: 'cancelled', label: 'Cancelled', icon: '⊘' },
];

const STATUS_WORDS = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  canceled: 'Cancelled',
  terminated: 'Terminated',
  timed_out: 'Timed out',
  continued_as_new: 'Continued as new',
};

/** The word for a run: its phase while running, its own status once closed. */
export function statusWord(run) {
  if (run.status === 'running') return run.phase === 'pending' ? 'Pending' : 'Running';
  return STATUS_WORDS[run.status] ?? run.status;
}

export function phaseOf(run) {
  return PHASES.find((p) => p.id === run.phase) ?? PHASES[1];
}

export function Badge({ run }) {
  const phase = phaseOf(run);
  return html`<span class="badge phase-${phase.id}"><span class="icon" aria-hidden="true">${phase.icon}</span>${statusWord(run)}</span>`;
}
