// banner.js: the connection banner. It shows two links of the chain:
//   - the bridge's upstream connection to the chat server (connection.state events; the words
//     are the bridge's states: connected, connecting, reconnecting, unauthorized, stopped, idle),
//   - this tab's own event stream to the bridge (the EventSource).
// The words live in a polite status region; the once-a-second countdowns are kept outside it,
// so that a screen reader is not told the time every second.
//
// Hooks for browser tests: data-testid="connection-state" (text: the state word; data-state:
// the same) and data-testid="stream-state" (data-state: connecting|open|reconnecting|closed).

const $ = (id) => document.getElementById(id);

const UPSTREAM_DETAIL = {
  idle: 'The bridge has no access token for the chat server yet (PUT /connection sets one).',
  connecting: 'Connecting to the chat server…',
  connected: '',
  reconnecting: 'The chat server is unreachable; messages you send wait in the outbox.',
  unauthorized: 'The chat server refused the access token. Set a new one (PUT /connection, or update the token file).',
  stopped: 'Disconnected on request (DELETE /connection); PUT /connection reconnects. Messages you send wait in the outbox.',
};

const STREAM_TEXT = {
  connecting: 'Connecting to the bridge…',
  open: 'Live',
  reconnecting: 'Lost the bridge; reconnecting…',
  closed: 'The bridge is unreachable.',
};

/** setText changes an element's text only when it differs: rewriting the same words into a
 * live region may make a screen reader say them again. */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** secondsUntil tells the seconds left until a deadline (ms since the epoch). */
const secondsUntil = (deadline) => Math.max(0, Math.ceil((deadline - Date.now()) / 1000));

/**
 * createBanner binds the banner's elements.
 * @returns {{setUpstream: (state: object|null) => void, setStream: (state: string, retryAt?: number) => void}}
 */
export function createBanner() {
  const banner = $('banner');
  const word = $('connection-state');
  const detail = $('connection-detail');
  const upstreamCountdown = $('connection-countdown');
  const stale = $('connection-stale');
  const stream = $('stream-state');
  const streamCountdown = $('stream-countdown');
  let upstreamRetryAt = 0;
  let streamRetryAt = 0;
  let ticker = 0;
  let shown = '';
  let streamOpen = false;
  let known = false; // whether a connection.state has been seen at all

  // Without the stream the chat server's state may have changed unseen.
  const markStale = () => {
    setText(stale, known && !streamOpen ? '(last known)' : '');
  };

  // tick redraws the countdowns; it runs every second only while one of them is due.
  function tick() {
    upstreamCountdown.textContent = upstreamRetryAt ? `Next try in ${secondsUntil(upstreamRetryAt)} s.` : '';
    streamCountdown.textContent = streamRetryAt ? `Retrying in ${secondsUntil(streamRetryAt)} s.` : '';
    const due = upstreamRetryAt > Date.now() || streamRetryAt > Date.now();
    if (due && !ticker) ticker = setInterval(tick, 1000);
    if (!due && ticker) {
      clearInterval(ticker);
      ticker = 0;
    }
  }

  return {
    setUpstream(conn) {
      if (!conn) return;
      known = true;
      markStale();
      const key = JSON.stringify([conn.state, conn.attempt, conn.next_retry_at, conn.last_error]);
      if (key === shown) return; // rendering again would re-announce the same words
      shown = key;
      word.textContent = conn.state;
      word.dataset.state = conn.state;
      banner.dataset.state = conn.state;
      const parts = [UPSTREAM_DETAIL[conn.state] ?? ''];
      if (conn.state === 'reconnecting' && conn.attempt) parts.push(`Attempt ${conn.attempt}.`);
      if (conn.last_error && conn.state !== 'connected') parts.push(`Last error: ${conn.last_error}.`);
      detail.textContent = parts.filter(Boolean).join(' ');
      upstreamRetryAt = Date.parse(conn.next_retry_at ?? '') || 0;
      tick();
    },

    setStream(state, retryAt = 0) {
      stream.dataset.state = state;
      setText(stream, STREAM_TEXT[state] ?? state);
      banner.dataset.stream = state;
      streamRetryAt = state === 'closed' ? retryAt : 0;
      streamOpen = state === 'open';
      markStale();
      tick();
    },
  };
}
