// Numbers and times as people read them: durations in the largest sensible units, times
// relative by default, UTC or local on request, long ids shortened in the middle.

const UNITS = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/** "850 ms", "1.2 s", "3 m 4 s", "3 h 4 m", "2 d 5 h". */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '';
  const sign = ms < 0 ? '-' : '';
  ms = Math.abs(ms);
  if (ms < 1000) return `${sign}${Math.round(ms)} ms`;
  if (ms < 10_000) return `${sign}${(ms / 1000).toFixed(1)} s`;
  for (let i = 0; i < UNITS.length - 1; i++) {
    const [unit, size] = UNITS[i];
    if (ms >= size) {
      const [nextUnit, nextSize] = UNITS[i + 1];
      const whole = Math.floor(ms / size);
      const rest = Math.floor((ms - whole * size) / nextSize);
      return rest ? `${sign}${whole} ${unit} ${rest} ${nextUnit}` : `${sign}${whole} ${unit}`;
    }
  }
  return `${sign}${Math.floor(ms / 1000)} s`;
}

/** "12 s ago", "in 3 m", "just now". */
export function relative(time, now = Date.now()) {
  if (!time) return '';
  const ms = now - Date.parse(time);
  if (Math.abs(ms) < 1000) return 'just now';
  return ms > 0 ? `${duration(ms)} ago` : `in ${duration(-ms)}`;
}

/** A time as `zone` asks: "relative", "utc" or "local". */
export function when(time, zone = 'relative', now = Date.now()) {
  if (!time) return '';
  if (zone === 'relative') return relative(time, now);
  const date = new Date(Date.parse(time));
  if (zone === 'utc') return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** The exact time, for a hover title. */
export function exact(time) {
  return time ? new Date(Date.parse(time)).toISOString() : '';
}

/** Shortens `text` to `max` characters by cutting its middle. */
export function middle(text, max = 28) {
  if (!text || text.length <= max) return text ?? '';
  const keep = max - 1;
  const head = Math.ceil(keep / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (keep - head))}`;
}

export function count(n) {
  return n === null || n === undefined ? '' : Number(n).toLocaleString('en-US');
}

export function percent(ratio) {
  return ratio === null || ratio === undefined ? '–' : `${(ratio * 100).toFixed(1)} %`;
}

/** JSON for display: pretty, and a plain string as itself. */
export function json(value) {
  if (value === undefined) return '';
  return JSON.stringify(value, null, 2);
}
