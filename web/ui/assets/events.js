// The review event stream (GET /api/v1/events, Server-Sent Events). The
// server keeps no history, so after every (re)connect the page re-reads
// its list: onReset runs on each open, the first one included, which
// also closes the gap between the first read and the stream's start.

import { get, toLogin } from './api.js';

const TYPES = ['review.created', 'review.voted', 'review.decided', 'review.ended', 'review.executed'];

export function subscribe({ onEvent, onReset, onState = () => {} }) {
  let es = null;
  let retry = 1000;
  let stopped = false;

  function open() {
    if (stopped) return;
    es = new EventSource('/api/v1/events');
    es.addEventListener('open', () => {
      retry = 1000;
      onState('live');
      onReset();
    });
    for (const t of TYPES) {
      es.addEventListener(t, (e) => {
        let review;
        try { review = JSON.parse(e.data); } catch { return; }
        onEvent(t, review);
      });
    }
    es.addEventListener('error', async () => {
      onState('reconnecting');
      if (es.readyState !== EventSource.CLOSED) return; // the browser retries by itself
      // The server refused the stream: signed out, or it is restarting.
      es.close();
      try {
        await get('/api/v1/me');
      } catch (err) {
        if (err.status === 401) { toLogin(); return; }
      }
      setTimeout(open, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }

  open();
  const stop = () => { stopped = true; if (es) es.close(); };
  addEventListener('pagehide', stop, { once: true });
  return stop;
}
