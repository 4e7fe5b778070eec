// stream.js: ONE Server-Sent Events stream, shared by every tab of this origin.
//
// Browsers allow about six HTTP/1.1 connections per host for all tabs together; a tab that held
// an EventSource of its own would leave the seventh tab without a connection. StreamHub holds the
// one EventSource (in a SharedWorker, see client-worker.js, or in the one tab that holds a Web
// Lock, see client.js) and hands each tab the events after the point it asked for:
//
//   - the hub keeps the last BUFFER events; a tab joins with `since`, the id of its snapshot (or
//     of the last event it saw), and gets every buffered event after it, then the live ones;
//   - the bridge's event ids are "<run>-<16 hex digits>": within one run they order as strings.
//     A tab whose `since` is from another run, or older than what the buffer holds, is told to
//     reset (reload its snapshots);
//   - when the EventSource drops, the browser reconnects it with Last-Event-ID and the bridge
//     replays what was missed; when the bridge refuses it, the hub opens a new one itself, with
//     backoff, from the last id it saw;
//   - the last connection.state (which has no id) is kept and given to every tab that joins.

/** TOPICS is what the shared stream carries: every built-in topic but raw. */
export const TOPICS = ['messages', 'typing', 'presence', 'conversations', 'calls', 'errors', 'connection'];

/** BUFFER is how many events the hub keeps for tabs that join behind the live edge. */
export const BUFFER = 2000;

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

/** runOf is the run part of an event id ("" for none). */
export const runOf = (id) => (id ? id.slice(0, id.lastIndexOf('-')) : '');

/**
 * after reports whether id a comes after id b in one run of the bridge; false when they are of
 * different runs or a is empty, true when only b is empty.
 */
export function after(a, b) {
  if (!a) return false;
  if (!b) return true;
  return runOf(a) === runOf(b) && a > b;
}

/**
 * StreamHub holds the EventSource and the peers (tabs) that follow it. A peer is
 * {id, deliver(msg)}; messages are {t: 'event', id, name, data} (data is the JSON text),
 * {t: 'state', state, retryAt}, and {t: 'reset', reason}.
 */
export class StreamHub {
  #url;
  #source = null;
  #buffer = []; // {id, name, data}
  #coverFrom = ''; // every event after this id is in the buffer ('' until the stream started)
  #lastId = '';
  #connection = null; // the last connection.state event
  #state = { t: 'state', state: 'connecting' };
  #peers = new Map(); // peer id -> {deliver, since}
  #failures = 0;
  #retryTimer = 0;

  /** @param {string} url the stream's URL without a resume id, e.g. "events?topics=..." */
  constructor(url) {
    this.#url = url;
  }

  /** lastId is the id of the newest event the hub has seen. */
  get lastId() {
    return this.#lastId;
  }

  /**
   * join adds (or moves) a peer: it gets the events after since, then the live ones. The
   * stream starts with the first peer, from its since (or from start, when the hub takes over
   * a stream another holder followed up to there).
   */
  join(peerId, deliver, since, start = '') {
    this.#peers.set(peerId, { deliver, since });
    if (!this.#source && !this.#retryTimer) {
      deliver(this.#state);
      this.#buffer = [];
      this.#coverFrom = start || since;
      this.#lastId = this.#coverFrom;
      this.#open();
      return;
    }
    this.catchUp(since, (msg) => this.#peers.get(peerId) && deliver(msg));
    // From here on the peer gets the live events after what it has (its since may be newer than
    // the hub's last event: a snapshot read while the hub's stream lagged).
    const p = this.#peers.get(peerId);
    if (p) p.since = after(since, this.#lastId) ? since : this.#lastId;
  }

  /**
   * catchUp hands deliver what a peer that follows from since needs: the stream's state, the
   * last connection.state, and the buffered events after since (see replay).
   */
  catchUp(since, deliver) {
    deliver(this.#state);
    if (this.#connection) deliver(this.#connection);
    this.replay(since, deliver);
  }

  /**
   * replay hands deliver the buffered events after since, or a reset when the buffer does not
   * reach back that far (since is of another run, or older than the oldest event kept).
   */
  replay(since, deliver) {
    if (since && since !== this.#coverFrom && !after(since, this.#coverFrom)) {
      deliver({ t: 'reset', reason: runOf(since) === runOf(this.#coverFrom) ? 'expired' : 'unknown_run' });
      return;
    }
    for (const e of this.#buffer) {
      if (after(e.id, since)) deliver({ t: 'event', id: e.id, name: e.name, data: e.data });
    }
  }

  /** leave forgets a peer; the last one to leave closes the stream. */
  leave(peerId) {
    this.#peers.delete(peerId);
    if (this.#peers.size === 0) this.close();
  }

  /** close ends the stream. */
  close() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = 0;
    this.#source?.close();
    this.#source = null;
  }

  /** reconnectNow skips a pending backoff (the browser is back online, say). */
  reconnectNow() {
    if (!this.#retryTimer) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = 0;
    this.#open();
  }

  #send(p, e) {
    p.deliver({ t: 'event', id: e.id, name: e.name, data: e.data });
    if (e.id) p.since = e.id;
  }

  #setState(state, retryAt) {
    this.#state = { t: 'state', state, retryAt };
    for (const p of this.#peers.values()) p.deliver(this.#state);
  }

  #open() {
    let url = this.#url;
    if (this.#lastId) url += `&last_event_id=${encodeURIComponent(this.#lastId)}`;
    const source = new EventSource(url, { withCredentials: true });
    this.#source = source;
    this.#setState('connecting');
    source.addEventListener('open', () => {
      this.#failures = 0;
      this.#setState('open');
    });
    const names = ['chat.message', 'message.status', 'typing.indicator', 'user.status', 'conversation.update',
      'call.incoming', 'call.accepted', 'call.rejected', 'call.ended', 'connection.state', 'stream.reset'];
    for (const name of names) source.addEventListener(name, (e) => this.#receive(e));
    // `error` is both the bridge's event (a MessageEvent) and EventSource's own failure (an Event).
    source.addEventListener('error', (e) => {
      if (e instanceof MessageEvent) {
        this.#receive(e);
      } else if (source.readyState === EventSource.CONNECTING) {
        this.#setState('reconnecting'); // the browser retries by itself, with Last-Event-ID
      } else {
        this.#scheduleRetry(); // CLOSED: refused; the browser gave up on this EventSource
      }
    });
  }

  #receive(e) {
    const ev = { id: e.lastEventId && e.lastEventId !== this.#lastId ? e.lastEventId : '', name: e.type, data: e.data };
    if (ev.name === 'stream.reset') {
      // The bridge could not honour the hub's resume id: every peer reloads, and the buffer
      // starts over from here.
      this.#buffer = [];
      this.#lastId = this.#coverFrom = e.lastEventId;
      let reason = 'unknown';
      try {
        reason = JSON.parse(e.data).reason ?? reason;
      } catch {
        // keep 'unknown'
      }
      for (const p of this.#peers.values()) {
        p.deliver({ t: 'reset', reason });
        p.since = this.#lastId;
      }
      return;
    }
    if (!ev.id && ev.name === 'connection.state') {
      this.#connection = { t: 'event', id: '', name: ev.name, data: ev.data };
      for (const p of this.#peers.values()) p.deliver(this.#connection);
      return;
    }
    if (ev.name === 'connection.state') this.#connection = { t: 'event', id: '', name: ev.name, data: ev.data };
    if (ev.id) {
      this.#lastId = ev.id;
      this.#buffer.push(ev);
      if (this.#buffer.length > BUFFER) this.#coverFrom = this.#buffer.shift().id;
    }
    for (const p of this.#peers.values()) {
      if (!ev.id || after(ev.id, p.since)) this.#send(p, ev);
    }
  }

  // #scheduleRetry waits a random time in [d/2, d], d doubling from RETRY_MIN_MS up to
  // RETRY_MAX_MS, so that many browsers of a restarted bridge do not all come back at once.
  #scheduleRetry() {
    this.#source?.close();
    this.#source = null;
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.#failures);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.#failures++;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = 0;
      this.#open();
    }, delay);
    this.#setState('closed', Date.now() + delay);
  }
}
