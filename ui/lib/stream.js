// Server-sent event streams that survive dropped connections.
//
// A browser's EventSource reconnects by itself after a network error and then sends
// Last-Event-ID, but gives up for good when a reconnect answers with an error status (a
// server restarting, a proxy in the way). This wrapper notices that, waits (backing off up
// to `maxRetryMs`), and opens the stream anew with `last_event_id=` in the query, so a
// run's stream resumes exactly after the last message seen. The EventSource constructor
// and the timers are injectable, which is how ui/tests/stream.test.mjs drives it.

const CLOSED = 2;

export function createStream({
  url,
  events,
  onEvent,
  onState = () => {},
  connect = (target) => new EventSource(target),
  retryMs = 1000,
  maxRetryMs = 15_000,
  setTimer = setTimeout,
  clearTimer = clearTimeout,
}) {
  let source = null;
  let lastEventId = null;
  let delay = retryMs;
  let timer = null;
  let closed = false;

  const target = () => {
    if (!lastEventId) return url;
    const separator = url.includes('?') ? '&' : '?';
    return `${url}${separator}last_event_id=${encodeURIComponent(lastEventId)}`;
  };

  const open = () => {
    timer = null;
    if (closed) return;
    source = connect(target());
    onState('connecting');
    source.onopen = () => {
      delay = retryMs;
      onState('live');
    };
    source.onerror = () => {
      if (closed) return;
      if (source.readyState === CLOSED) {
        onState('reconnecting');
        source.close();
        timer = setTimer(open, delay);
        delay = Math.min(delay * 2, maxRetryMs);
      } else {
        onState('reconnecting');
      }
    };
    for (const name of events) {
      source.addEventListener(name, (message) => {
        if (message.lastEventId) lastEventId = message.lastEventId;
        let data = null;
        try {
          data = message.data ? JSON.parse(message.data) : null;
        } catch {
          data = message.data;
        }
        onEvent(name, data, message.lastEventId);
      });
    }
  };

  open();
  return {
    close() {
      closed = true;
      if (timer !== null) clearTimer(timer);
      source?.close();
      onState('closed');
    },
    get lastEventId() {
      return lastEventId;
    },
  };
}

/**
 * Collects items and hands them over in batches at most every `intervalMs`, so a burst
 * of hundreds of changes a second costs a few repaints, not hundreds.
 */
export function coalesce(flush, intervalMs = 250, setTimer = setTimeout) {
  let pending = [];
  let scheduled = false;
  return (item) => {
    pending.push(item);
    if (scheduled) return;
    scheduled = true;
    setTimer(() => {
      scheduled = false;
      const batch = pending;
      pending = [];
      flush(batch);
    }, intervalMs);
  };
}
