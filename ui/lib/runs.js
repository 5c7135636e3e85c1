// The board's model of executions, kept up to date from the namespace feed: pure
// functions over plain objects, tested in ui/tests/runs.test.mjs.

/** The fewest cards a column keeps when live changes push runs off its end. */
export const PAGE_CAP = 50;

/** The key of one run. */
export const runKey = (run) => `${run.workflow_id}\u0000${run.run_id}`;

/**
 * Whether a run matches the filters the client can judge itself. A raw list `query` cannot
 * be judged here: `undefined` says "ask the server".
 */
export function matches(run, filters) {
  if (filters.query) return undefined;
  if (filters.type && run.workflow_type !== filters.type) return false;
  if (filters.queue && run.task_queue !== filters.queue) return false;
  if (filters.worker && run.worker !== filters.worker) return false;
  if (filters.search && !(run.workflow_id.startsWith(filters.search) || run.run_id === filters.search)) return false;
  if (filters.started_after && Date.parse(run.start_time) < Date.parse(filters.started_after)) return false;
  if (filters.started_before && Date.parse(run.start_time) >= Date.parse(filters.started_before)) return false;
  return true;
}

/**
 * Applies a batch of changed runs to `columns` (`{phase: {runs, count}}`): each run leaves
 * the column it was in and, if it still matches, goes to the top of its phase's column.
 * Answers the new columns and whether the server must be asked again (a filter the client
 * cannot judge). Runs the user holds (`pinned` keys) keep their place in their column.
 */
export function applyChanges(columns, changes, filters) {
  const next = {};
  for (const [phase, column] of Object.entries(columns)) next[phase] = { ...column, runs: [...column.runs] };
  let refetch = false;
  // Only the newest state of each run in the batch counts.
  const latest = new Map();
  for (const run of changes) latest.set(runKey(run), run);
  for (const run of latest.values()) {
    const verdict = matches(run, filters);
    if (verdict === undefined) {
      refetch = true;
      continue;
    }
    const key = runKey(run);
    let wasIn = null;
    for (const [phase, column] of Object.entries(next)) {
      const index = column.runs.findIndex((r) => runKey(r) === key);
      if (index >= 0) {
        wasIn = phase;
        if (phase === run.phase && verdict) {
          column.runs[index] = run;
        } else {
          column.runs.splice(index, 1);
          column.count = Math.max(0, column.count - 1);
        }
      }
    }
    if (!verdict || wasIn === run.phase) continue;
    const target = next[run.phase];
    if (!target) continue;
    // A new run (never seen in any column) counts once; a move counts in its new column.
    target.runs.unshift(run);
    target.count += 1;
  }
  // A column shows at most what it showed when loaded (a page, or more after "Show more"):
  // a burst of new runs must not grow the page without bound. What falls off the end is
  // still counted, and "Show more" reads it again.
  for (const column of Object.values(next)) {
    const cap = Math.max(column.shown ?? PAGE_CAP, PAGE_CAP);
    if (column.runs.length > cap) {
      column.runs.length = cap;
      column.trimmed = true;
    }
  }
  return { columns: next, refetch };
}
