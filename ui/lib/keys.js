// Keyboard navigation: j/k move through the list in view (cards or rows marked
// `data-nav`), Enter opens the one selected, / goes to the filter field, Escape leaves it.

import { navigate } from './url.js';

export function installKeys() {
  document.addEventListener('keydown', (event) => {
    const typing = event.target.closest?.('input, textarea, select, [contenteditable]');
    if (event.key === 'Escape' && typing) {
      event.target.blur();
      return;
    }
    if (typing || event.metaKey || event.ctrlKey || event.altKey) return;
    if (event.key === '/') {
      event.preventDefault();
      document.getElementById('filter')?.focus();
      return;
    }
    if (event.key !== 'j' && event.key !== 'k' && event.key !== 'Enter') return;
    const items = [...document.querySelectorAll('[data-nav]')];
    if (items.length === 0) return;
    const current = items.indexOf(document.activeElement?.closest?.('[data-nav]'));
    if (event.key === 'Enter') {
      if (current >= 0 && items[current].dataset.nav.startsWith('/')) {
        event.preventDefault();
        navigate(items[current].dataset.nav);
      }
      return;
    }
    event.preventDefault();
    const next = event.key === 'j' ? Math.min(items.length - 1, current + 1) : Math.max(0, current - 1);
    items[next].focus();
    items[next].scrollIntoView({ block: 'nearest' });
  });
}
