// Preferences of this browser (not view state, so not in the URL): theme and time zone.

const listeners = new Set();

export function pref(name, fallback) {
  try {
    return localStorage.getItem(`keel.${name}`) ?? fallback;
  } catch {
    return fallback;
  }
}

export function setPref(name, value) {
  try {
    localStorage.setItem(`keel.${name}`, value);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
  for (const listener of listeners) listener(name, value);
}

export function onPref(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Applies the theme: `system` follows the operating system. */
export function applyTheme(theme = pref('theme', 'system')) {
  const dark = theme === 'dark' || (theme === 'system' && matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}
