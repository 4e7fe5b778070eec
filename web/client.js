// client.js: what every page on the bridge needs, as one ES module (no build step), served by
// the bridge at /client.js for pages to import.
//
//   const bridge = new Bridge();
//   bridge.addEventListener('snapshot', (e) => showAll(e.detail.messages));
//   bridge.addEventListener('chat.message', (e) => show(e.detail.data));
//   bridge.load({ conversationId: 'general' }); // the snapshots, then the stream after them
//   await bridge.send('general', 'hello');
//
// load() reads the snapshots (conversations, a conversation's messages, presence, calls), hands
// them over as a 'snapshot' event and then follows the event stream from the first snapshot's
// event_id: every later event arrives once, none twice. The stream is SHARED by every tab of
// the origin (browsers allow six HTTP/1.1 connections per host for all tabs together): a
// SharedWorker holds it where there is one; elsewhere one tab holds it, chosen with a Web Lock,
// and hands the events to the others over a BroadcastChannel; when that tab closes, another
// takes over from the last event it saw. A stream.reset (the resume id is too old, or the
// bridge restarted) is a 'reset' event, and a new 'snapshot' follows.
//
// Events (all CustomEvents, dispatched on the Bridge):
//   <event name>  ('chat.message', 'message.status', ... see StreamEvent in openapi.d.ts):
//                 detail = {id, data}
//   'state'       the stream's state: detail = {state: 'connecting'|'open'|'reconnecting'|'closed', retryAt?}
//   'snapshot'    detail = the Snapshot load() read, before the events that follow it; again
//                 after every 'reset'
//   'reset'       detail = {reason}: forget what the snapshot and the events built; a 'snapshot'
//                 follows
//
// Types come from openapi.yaml (openapi.d.ts, served beside this file).

import { ApiError, newClientMessageId, request } from './api.js';
import { StreamHub, TOPICS, after } from './stream.js';

export { ApiError, newClientMessageId, TOPICS };

/** @typedef {import('./openapi').components['schemas']} Schemas */
/** @typedef {Schemas['ChatMessage']} ChatMessage */
/** @typedef {Schemas['MessageStatus']} MessageStatus */
/** @typedef {Schemas['StreamEvent']} StreamEvent */
/**
 * @typedef {object} Snapshot
 * @property {string} eventId the id the stream follows from
 * @property {Schemas['ConversationsSnapshot']['conversations']} conversations
 * @property {string} conversationId whose messages these are
 * @property {Schemas['MessagesSnapshot']['messages']} messages that conversation's recent messages, oldest first
 * @property {Schemas['PresenceSnapshot']['users']} presence
 * @property {Schemas['CallsSnapshot']['calls']} calls
 * @property {{what: string, error: ApiError}[]} errors the snapshots that could not be read
 */

/**
 * BridgeEventMap is what each event of a Bridge carries: the stream's events by name, with the
 * data openapi.yaml gives them, and the Bridge's own.
 * @typedef {{[K in Exclude<StreamEvent['event'], 'stream.reset' | 'raw'>]: CustomEvent<{id: string, data: Extract<StreamEvent, {event: K}>['data']}>} & {
 *   state: CustomEvent<{state: 'connecting' | 'open' | 'reconnecting' | 'closed', retryAt?: number}>,
 *   reset: CustomEvent<{reason: string}>,
 *   snapshot: CustomEvent<Snapshot>,
 * }} BridgeEventMap
 */

/** HISTORY is how many recent messages load() reads (the bridge keeps 200 per conversation). */
const HISTORY = 50;

const enc = encodeURIComponent;

/** Bridge is a page's connection to the bridge. */
export class Bridge extends EventTarget {
  #base;
  #shared;
  #topics;
  #conversationId = 'general';
  #cursor = ''; // the id of the last event handed to the page
  #link = null; // how this tab follows the shared stream
  #role = '';
  #state = 'connecting';
  #reloading = null;
  #reloadAgain = false;
  #incomplete = false; // a snapshot failed: load again once the stream is open

  /**
   * @param {object} [options]
   * @param {string} [options.base] the bridge's URL when it did not serve the page ('' = the page's own
   *   origin); the page's origin must then be one the bridge allows (--allow-origin).
   * @param {'auto'|'worker'|'tab'|'own'} [options.shared] how the stream is shared: a SharedWorker,
   *   a tab chosen by a Web Lock, or not at all; 'auto' takes the first the browser offers.
   * @param {string[]} [options.topics] the topics this page follows (default: every one but raw).
   */
  constructor({ base = '', shared = 'auto', topics = TOPICS } = {}) {
    super();
    this.#base = base && !base.endsWith('/') ? `${base}/` : base;
    this.#shared = shared;
    this.#topics = new Set(topics);
    addEventListener('online', () => this.#link?.online());
    addEventListener('pagehide', () => this.close());
    // A page restored from the back-forward cache follows on from where it stopped.
    addEventListener('pageshow', (e) => e.persisted && this.#role && this.follow(this.#cursor));
  }

  /**
   * addEventListener is EventTarget's, typed by the event's name.
   * @template {keyof BridgeEventMap} K
   * @param {K} type
   * @param {(e: BridgeEventMap[K]) => void} listener
   * @param {boolean | AddEventListenerOptions} [options]
   */
  addEventListener(type, listener, options) {
    super.addEventListener(type, /** @type {EventListener} */ (listener), options);
  }

  /** lastEventId is the id of the last event handed to the page ('' before the first). */
  get lastEventId() {
    return this.#cursor;
  }

  /** role says who holds the stream for this tab: 'worker', 'leader', 'follower' or 'own'. */
  get role() {
    return this.#role;
  }

  /** state is the stream's state as this tab sees it. */
  get state() {
    return this.#state;
  }

  /**
   * load reads the snapshots, one after the other, hands them to the page as a 'snapshot' event
   * and then follows the stream from the first one's event_id (the oldest: the events the later
   * snapshots already reflect are replayed too, and a page applies them idempotently). The
   * 'snapshot' event always comes before the events that follow it. A snapshot the bridge does
   * not serve (404) is left empty; one that fails is left empty too and named in `errors`, and
   * the snapshots are loaded again (a 'reset', then a 'snapshot') once the stream is open again.
   * @param {{conversationId?: string}} [options]
   * @returns {Promise<Snapshot>}
   */
  async load({ conversationId = this.#conversationId } = {}) {
    this.#conversationId = conversationId;
    const snap = await this.#read();
    this.#announce(snap);
    return snap;
  }

  // #read reads every snapshot.
  async #read() {
    const conversationId = this.#conversationId;
    /** @type {Snapshot} */
    const snap = { eventId: '', conversationId, conversations: [], messages: [], presence: [], calls: [], errors: [] };
    /** @type {[string, string, (s: any) => void][]} */
    const steps = [
      ['conversations', 'conversations', (s) => (snap.conversations = s.conversations)],
      ['messages', `conversations/${enc(conversationId)}/messages?limit=${HISTORY}`, (s) => (snap.messages = s.messages)],
      ['presence', 'presence', (s) => (snap.presence = s.users)],
      ['calls', 'calls', (s) => (snap.calls = s.calls)],
    ];
    for (const [what, path, apply] of steps) {
      try {
        const s = await this.#get(path);
        apply(s);
        snap.eventId ||= s.event_id ?? '';
      } catch (err) {
        if (!err.notFound) snap.errors.push({ what, error: err });
      }
    }
    return snap;
  }

  // #announce hands the page a snapshot and follows the stream from it.
  #announce(snap) {
    this.#incomplete = snap.errors.some(({ error }) => error.status === 0 || error.status >= 500);
    this.dispatchEvent(new CustomEvent('snapshot', { detail: snap }));
    this.follow(snap.eventId);
  }

  /**
   * messages reads one conversation's recent messages (404: a conversation never seen).
   * @returns {Promise<Schemas['MessagesSnapshot']>}
   */
  messages(conversationId, limit = HISTORY) {
    return this.#get(`conversations/${enc(conversationId)}/messages?limit=${limit}`);
  }

  /**
   * follow follows the stream from the event after since ('' for the live edge), without
   * loading snapshots: for a page that restores the state it saved with lastEventId.
   */
  follow(since = '') {
    this.#cursor = since;
    if (this.#link) {
      this.#link.rejoin(since);
      return;
    }
    // Absolute, so that the worker (whose own URL is the base of its relative ones) and every
    // tab name the same stream.
    const url = new URL(`${this.#base}events?topics=${TOPICS.join(',')}`, location.href).href;
    const onMessage = (msg) => this.#receive(msg);
    const sameOrigin = !this.#base || new URL(this.#base, location.href).origin === location.origin;
    const mode = this.#shared === 'auto'
      ? (typeof SharedWorker === 'function' && sameOrigin ? 'worker' : navigator.locks && typeof BroadcastChannel === 'function' ? 'tab' : 'own')
      : this.#shared;
    if (mode === 'worker') {
      this.#link = new WorkerLink(url, onMessage, new URL('./client-worker.js', import.meta.url));
      this.#role = 'worker';
    } else if (mode === 'tab') {
      this.#link = new TabLink(url, onMessage, (role) => (this.#role = role));
      this.#role = 'follower';
    } else {
      this.#link = new OwnLink(url, onMessage);
      this.#role = 'own';
    }
    this.#link.rejoin(since);
  }

  /** close stops following the stream (the shared one goes on for the other tabs). */
  close() {
    this.#link?.close();
    this.#link = null;
  }

  /**
   * send posts a chat message; its progress comes as message.status events. The same
   * clientMessageId sent again (a retry) is never delivered twice.
   * @returns {Promise<Schemas['MessageAccepted']>}
   */
  send(conversationId, content, clientMessageId = newClientMessageId()) {
    return this.#call('POST', 'messages', { conversation_id: conversationId, content, client_message_id: clientMessageId });
  }

  /**
   * cancel takes a message that waits for the upstream out of the outbox (409 once it no longer
   * waits: delivered, or failed).
   * @returns {Promise<null>}
   */
  cancel(clientMessageId) {
    return this.#call('DELETE', `messages/${enc(clientMessageId)}`);
  }

  /**
   * typing says whether the user is typing in a conversation (never queued: 503 while down).
   * @returns {Promise<null>}
   */
  typing(conversationId, isTyping) {
    return this.#call('POST', 'typing', { conversation_id: conversationId, is_typing: isTyping });
  }

  /**
   * acceptCall, rejectCall and endCall ask the chat server; the outcome is a call.* event.
   * @returns {Promise<Schemas['CallActionAccepted']>}
   */
  acceptCall(callId) {
    return this.#call('POST', `calls/${enc(callId)}/accept`, {});
  }

  /** @returns {Promise<Schemas['CallActionAccepted']>} */
  rejectCall(callId, reason) {
    return this.#call('POST', `calls/${enc(callId)}/reject`, reason ? { reason } : {});
  }

  /** @returns {Promise<Schemas['CallActionAccepted']>} */
  endCall(callId, reason) {
    return this.#call('POST', `calls/${enc(callId)}/end`, reason ? { reason } : {});
  }

  /**
   * connection reads the upstream connection's state and the outbox's depth.
   * @returns {Promise<Schemas['Connection']>}
   */
  connection() {
    return this.#get('connection');
  }

  #get(path) {
    return request('GET', this.#base + path);
  }

  #call(method, path, body) {
    return request(method, this.#base + path, body);
  }

  #receive(msg) {
    switch (msg.t) {
      case 'state':
        this.#state = msg.state;
        this.dispatchEvent(new CustomEvent('state', { detail: { state: msg.state, retryAt: msg.retryAt } }));
        if (msg.state === 'open' && this.#incomplete) this.#reset('incomplete');
        break;
      case 'reset':
        this.#reset(msg.reason);
        break;
      case 'event': {
        if (msg.id && !after(msg.id, this.#cursor)) return; // seen already
        if (msg.id) this.#cursor = msg.id;
        if (!this.#topics.has(TOPIC_OF[msg.name] ?? '')) return;
        let data;
        try {
          data = JSON.parse(msg.data);
        } catch {
          return;
        }
        this.dispatchEvent(new CustomEvent(msg.name, { detail: { id: msg.id, data } }));
        break;
      }
    }
  }

  // #reset tells the page to forget its state and loads the snapshots again; a reset that comes
  // while they load (the stream reset again) loads them once more before the 'snapshot' event.
  #reset(reason) {
    this.dispatchEvent(new CustomEvent('reset', { detail: { reason } }));
    if (this.#reloading) {
      this.#reloadAgain = true;
      return;
    }
    this.#reloading = (async () => {
      let snap;
      do {
        this.#reloadAgain = false;
        snap = await this.#read();
      } while (this.#reloadAgain);
      this.#announce(snap);
    })().catch((err) => console.error('chatbridge: reloading the snapshots failed', err))
      .finally(() => (this.#reloading = null));
  }
}

/** TOPIC_OF is the topic of each event name of the built-in topics. */
const TOPIC_OF = {
  'chat.message': 'messages', 'message.status': 'messages', 'typing.indicator': 'typing', 'user.status': 'presence',
  'conversation.update': 'conversations', 'call.incoming': 'calls', 'call.accepted': 'calls', 'call.rejected': 'calls',
  'call.ended': 'calls', error: 'errors', 'connection.state': 'connection',
};

/** OwnLink is a stream of the tab's own. */
class OwnLink {
  #hub;
  #onMessage;

  constructor(url, onMessage) {
    this.#hub = new StreamHub(url);
    this.#onMessage = onMessage;
  }

  rejoin(since) {
    this.#hub.join('self', this.#onMessage, since);
  }

  online() {
    this.#hub.reconnectNow();
  }

  close() {
    this.#hub.close();
  }
}

/** WorkerLink follows the stream the SharedWorker holds. */
class WorkerLink {
  #port;
  #url;

  constructor(url, onMessage, script) {
    const worker = new SharedWorker(script, { type: 'module', name: 'chatbridge' });
    this.#port = worker.port;
    this.#url = url;
    this.#port.addEventListener('message', (m) => onMessage(m.data));
    this.#port.start();
  }

  rejoin(since) {
    this.#port.postMessage({ t: 'join', url: this.#url, since });
  }

  online() {
    this.#port.postMessage({ t: 'online' });
  }

  close() {
    this.#port.postMessage({ t: 'leave' });
    this.#port.close();
  }
}

/**
 * TabLink follows the stream one tab of the origin holds. Every tab asks for the same Web Lock;
 * the one that gets it opens the stream and broadcasts its events on a BroadcastChannel; the
 * others follow them. When the holder goes, the lock passes to the next tab, which resumes the
 * stream after the last event it saw.
 *   follower -> all: {t: 'join', tab, since}          (the holder answers with what it missed)
 *   holder -> all:   {t: 'event' | 'state' | 'reset', to?, ...} (to: one tab only)
 *                    {t: 'hello'}                     (a new holder: followers join again)
 */
class TabLink {
  #channel;
  #url;
  #tab = Math.random().toString(36).slice(2);
  #onMessage;
  #setRole;
  #hub = null; // while this tab holds the stream
  #since = '';
  #release = null;

  constructor(url, onMessage, setRole) {
    this.#url = url;
    this.#onMessage = onMessage;
    this.#setRole = setRole;
    this.#channel = new BroadcastChannel(`chatbridge:${new URL(url, location.href).href}`);
    this.#channel.addEventListener('message', (m) => this.#heard(m.data ?? {}));
    navigator.locks.request(`chatbridge-stream:${new URL(url, location.href).href}`, () =>
      new Promise((resolve) => {
        this.#release = resolve;
        this.#lead();
      }));
  }

  rejoin(since) {
    this.#since = since;
    if (this.#hub) {
      this.#hub.replay(since, (msg) => this.#local(msg));
    } else {
      this.#channel.postMessage({ t: 'join', tab: this.#tab, since });
    }
  }

  online() {
    this.#hub?.reconnectNow();
  }

  close() {
    this.#hub?.close();
    this.#hub = null;
    this.#release?.();
    this.#channel.close();
  }

  // #local hands a message to this tab's page, keeping the cursor a new holder resumes from.
  #local(msg) {
    if (msg.t === 'event' && msg.id) {
      if (!after(msg.id, this.#since)) return;
      this.#since = msg.id;
    }
    this.#onMessage(msg);
  }

  // #lead makes this tab the holder: the stream resumes after the last event it saw.
  #lead() {
    this.#setRole('leader');
    this.#hub = new StreamHub(this.#url);
    this.#hub.join('holder', (msg) => {
      this.#local(msg);
      this.#channel.postMessage(msg); // every follower; each skips what it saw already
    }, this.#since, this.#since);
    this.#channel.postMessage({ t: 'hello' });
  }

  #heard(msg) {
    if (this.#hub) { // the holder answers joins
      if (msg.t === 'join') this.#hub.catchUp(msg.since ?? '', (out) => this.#channel.postMessage({ ...out, to: msg.tab }));
      return;
    }
    if (msg.to && msg.to !== this.#tab) return;
    if (msg.t === 'hello') {
      this.#channel.postMessage({ t: 'join', tab: this.#tab, since: this.#since });
      return;
    }
    if (msg.t === 'event' || msg.t === 'state' || msg.t === 'reset') this.#local(msg);
  }
}
