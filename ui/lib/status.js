// One status language everywhere: the same word, icon and colour class for a phase or a
// status on cards, rows, badges and timeline bars (never colour alone).

import { html } from '../vendor/preact-htm-3.1.1.js';
import { relative } from './format.js';

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

/** What a running run is on now (the API's `doing`), in words; '' when nothing is known. */
export function doingText(doing, now = Date.now()) {
  if (!doing) return '';
  const more = doing.others ? ` (+${doing.others} more)` : '';
  switch (doing.kind) {
    case 'activity': {
      const attempt = doing.attempt > 1 ? ` · attempt ${doing.attempt}` : '';
      return `activity ${doing.name}${attempt}${doing.backing_off ? ', retrying soon' : ''}${more}`;
    }
    case 'child': return `child ${doing.name}${more}`;
    case 'timer': return `timer, fires ${relative(doing.fires_at, now)}${more}`;
    case 'workflow_task': return 'workflow deciding';
    case 'starting': return `starts ${relative(doing.at, now)}`;
    case 'waiting_for_input': return 'waiting for input';
    default: return '';
  }
}

/** The run waits for a signal, an update or a cancellation from outside. */
export const waitsForInput = (run) => run.status === 'running' && run.doing?.kind === 'waiting_for_input';
