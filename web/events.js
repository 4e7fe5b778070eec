// events.js: the tab's one Server-Sent Events stream.
//
// Browsers allow about six connections per host over HTTP/1.1, so a tab opens ONE multi-topic
// EventSource (/events?topics=...) instead of one per topic. The bridge gives every event an
// opaque id; EventStream remembers the last one, so that
//   - when the connection drops, the browser reconnects by itself sending Last-Event-ID and the
//     bridge replays what was missed (exactly once);
//   - when the bridge refuses the stream (401, 503 too many streams, ...) the browser gives up
//     for good (readyState CLOSED); EventStream then opens a new EventSource itself, with backoff,
//     passing the id as ?last_event_id= (a new EventSource cannot send the header);
//   - app.js can save the id and resume from it after a page reload.

/** TOPICS is what the chat screen follows; `raw` (every upstream frame) is left out. */
export const TOPICS = ['messages', 'typing', 'presence', 'conversations', 'calls', 'errors', 'connection'];

// Event names of those topics (openapi.yaml, x-topics). `error` is handled apart: see #connect.
const EVENT_NAMES = [
  'chat.message', 'message.status', 'typing.indicator', 'user.status', 'conversation.update',
  'call.incoming', 'call.accepted', 'call.rejected', 'call.ended', 'connection.state', 'stream.reset',
];

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

/**
 * EventStream wraps the EventSource: it decodes events, tracks the last event id and reports
 * its own state. Handlers run synchronously on the page's event loop.
 */
export class EventStream {
  #source = null;
  #lastEventId = '';
  #failures = 0;
  #retryTimer = 0;
  #handlers;

  /**
   * @param {object} handlers
   * @param {(name: string, data: object) => void} handlers.onEvent every event but stream.reset,
   *   called after lastEventId has moved past it.
   * @param {(reason: string) => void} handlers.onReset the resume id was too old or from another
   *   run of the bridge: the page must reload its snapshots.
   * @param {(state: 'connecting'|'open'|'reconnecting'|'closed', retryAt?: number) => void} handlers.onState
   *   the browser's side of the stream; retryAt (ms since the epoch) comes with 'closed'.
   */
  constructor(handlers) {
    this.#handlers = handlers;
    // Back online after a network outage: do not wait for the backoff timer.
    window.addEventListener('online', () => {
      if (this.#retryTimer) this.#reconnectNow();
    });
  }

  /** lastEventId is the id of the last event received ('' before the first). */
  get lastEventId() {
    return this.#lastEventId;
  }

  /** open (re)starts the stream after lastEventId; '' starts with the live events. */
  open(lastEventId = '') {
    this.close();
    this.#lastEventId = lastEventId;
    this.#failures = 0;
    this.#connect();
  }

  /** close stops the stream and any scheduled reconnect. */
  close() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = 0;
    this.#source?.close();
    this.#source = null;
  }

  #connect() {
    let url = `events?topics=${TOPICS.join(',')}`;
    if (this.#lastEventId) url += `&last_event_id=${encodeURIComponent(this.#lastEventId)}`;
    const source = new EventSource(url);
    this.#source = source;
    this.#handlers.onState('connecting');

    source.addEventListener('open', () => {
      this.#failures = 0;
      this.#handlers.onState('open');
    });
    for (const name of EVENT_NAMES) {
      source.addEventListener(name, (e) => this.#dispatch(e));
    }
    // The name `error` is shared: the bridge's `error` events (the upstream refused something)
    // arrive as MessageEvents, while EventSource's own connection errors are plain Events.
    source.addEventListener('error', (e) => {
      if (e instanceof MessageEvent) {
        this.#dispatch(e);
      } else if (source.readyState === EventSource.CONNECTING) {
        this.#handlers.onState('reconnecting'); // the browser retries by itself, with Last-Event-ID
      } else {
        this.#scheduleRetry(); // CLOSED: the browser gave up on this EventSource
      }
    });
  }

  #dispatch(e) {
    let data;
    try {
      data = JSON.parse(e.data);
    } catch {
      console.warn('chatbridge: undecodable event', e.type);
      return;
    }
    // An event without an id: line (the first connection.state) leaves the id as it was.
    if (e.lastEventId) this.#lastEventId = e.lastEventId;
    if (e.type === 'stream.reset') {
      this.#handlers.onReset(data.reason ?? 'unknown');
    } else {
      this.#handlers.onEvent(e.type, data);
    }
  }

  // #scheduleRetry waits a random time in [d/2, d], d doubling from RETRY_MIN_MS up to
  // RETRY_MAX_MS, so that many tabs of a restarted bridge do not all come back at once.
  #scheduleRetry() {
    this.#source?.close();
    this.#source = null;
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.#failures);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.#failures++;
    this.#retryTimer = setTimeout(() => this.#reconnectNow(), delay);
    this.#handlers.onState('closed', Date.now() + delay);
  }

  #reconnectNow() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = 0;
    this.#connect();
  }
}
