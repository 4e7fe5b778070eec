// state.js: the page's model, everything the chat screen shows.
//
// Snapshots (GET /conversations, /presence, ...) and stream events both feed it, and they
// overlap: a snapshot may already reflect an event that the stream then replays (see app.js).
// So every apply* method is idempotent:
//   - messages are keyed by their id and by their client_message_id, and merged, never added twice;
//   - conversations, presence and calls are keyed by their ids and overwritten by the newer
//     data, so replaying events in order ends in the same state;
//   - a message's status only moves forward (pending -> queued -> sent -> delivered), except
//     that `failed` may follow anything but `delivered`, and a retry starts again from pending.
//
// Store is an EventTarget: it dispatches 'change' after every update.

/** MAX_MESSAGES bounds the messages kept per conversation (older ones are dropped). */
const MAX_MESSAGES = 500;
/** TYPING_TIMEOUT_MS clears a typing indicator that was not refreshed. */
const TYPING_TIMEOUT_MS = 5000;
/** STATUS_RANK orders the message statuses; `failed` stands apart. */
const STATUS_RANK = { pending: 0, queued: 1, sent: 2, delivered: 3 };

/** time reads an RFC 3339 date as ms since the epoch; 0 when absent or unreadable. */
const time = (s) => {
  const t = Date.parse(s ?? '');
  return Number.isNaN(t) ? 0 : t;
};

/**
 * A message as the store keeps it: the chat.message payload plus
 *   key     stable identity for the DOM (`c:<client_message_id>` for our own, else `m:<id>`),
 *   status  pending | queued | sent | delivered | failed,
 *   error   why it failed,
 *   local   true for messages this tab sent,
 *   seq     arrival order, to keep equal timestamps and unsent messages in order.
 * @typedef {{key: string, id?: string, conversation_id: string, sender_id?: string, content: string,
 *   created_at?: string, client_message_id?: string, status: string, error?: string, local: boolean, seq: number}} Message
 */

export class Store extends EventTarget {
  /** selfId is the user this page speaks for, learnt from the echo of our own first message. */
  selfId = null;
  /** selected is the open conversation. */
  selected = 'general';
  /** connection is the last connection.state payload, null before the first. */
  connection = null;
  /** conversations: conversation_id -> conversation.update payload (all fields kept). */
  conversations = new Map();
  /** presence: user_id -> user.status payload. */
  presence = new Map();
  /** calls: call_id -> call, with `state` incoming | accepted | rejected | ended. */
  calls = new Map();

  #messages = new Map(); // conversation_id -> {entries: Map<key, Message>, index: Map<'m:'id|'c:'cmid, key>}
  #cmidConversation = new Map(); // client_message_id -> conversation_id, for message.status
  #seenUnread = new Map(); // conversation_id -> the server's unread_count when the user last saw it
  #typing = new Map(); // `${conversation_id}\n${user_id}` -> {conversation_id, user_id, timer}
  #seq = 0;

  #changed() {
    this.dispatchEvent(new Event('change'));
  }

  // ---- conversations ----

  /** applyConversations replaces the conversation list with a snapshot. */
  applyConversations(list) {
    this.conversations = new Map(list.map((c) => [c.conversation_id, { ...c }]));
    this.#markSeen();
    this.#changed();
  }

  /** applyConversationUpdate merges a conversation.update: fields it carries win. */
  applyConversationUpdate(update) {
    const old = this.conversations.get(update.conversation_id) ?? {};
    this.conversations.set(update.conversation_id, { ...old, ...update });
    this.#markSeen();
    this.#changed();
  }

  /** sortedConversations answers the conversations, most recently updated first. */
  sortedConversations() {
    const list = [...this.conversations.values()];
    if (!this.conversations.has(this.selected)) {
      list.push({ conversation_id: this.selected, title: this.selected });
    }
    const updated = (c) => Math.max(time(c.updated_at), time(c.last_message?.created_at));
    return list.sort((a, b) => updated(b) - updated(a) || a.conversation_id.localeCompare(b.conversation_id));
  }

  /**
   * unreadCount is the badge of a conversation: the server's unread_count minus what the user
   * has already seen in this tab (the open conversation counts as seen).
   */
  unreadCount(conversationId) {
    if (conversationId === this.selected) return 0;
    const unread = this.conversations.get(conversationId)?.unread_count ?? 0;
    return Math.max(0, unread - (this.#seenUnread.get(conversationId) ?? 0));
  }

  // #markSeen keeps the open conversation's badge at zero, and follows a server count that went
  // down (the demo server resets it when the user posts).
  #markSeen() {
    for (const [id, c] of this.conversations) {
      const unread = c.unread_count ?? 0;
      if (id === this.selected || unread < (this.#seenUnread.get(id) ?? 0)) this.#seenUnread.set(id, unread);
    }
  }

  /** select opens a conversation. */
  select(conversationId) {
    this.selected = conversationId;
    this.#markSeen();
    this.#changed();
  }

  // ---- messages ----

  #bucket(conversationId) {
    let b = this.#messages.get(conversationId);
    if (!b) {
      b = { entries: new Map(), index: new Map() };
      this.#messages.set(conversationId, b);
    }
    return b;
  }

  /** messagesOf answers a conversation's messages, oldest first, unsent ones last. */
  messagesOf(conversationId) {
    const entries = [...(this.#messages.get(conversationId)?.entries.values() ?? [])];
    const at = (m) => (m.created_at ? time(m.created_at) : Infinity);
    return entries.sort((a, b) => at(a) - at(b) || a.seq - b.seq);
  }

  /** isOwn tells whether a message was sent by this page's user (from any tab). */
  isOwn(m) {
    return m.local || (this.selfId !== null && m.sender_id === this.selfId);
  }

  /**
   * #upsertMessage merges a chat.message into its conversation: the same message (by id, or by
   * client_message_id for the echo of our own) updates the entry it already has.
   * @returns {{message: Message, isNew: boolean}}
   */
  #upsertMessage(msg) {
    const b = this.#bucket(msg.conversation_id);
    const key = b.index.get(`m:${msg.id}`) ?? (msg.client_message_id && b.index.get(`c:${msg.client_message_id}`));
    let m = key && b.entries.get(key);
    const isNew = !m;
    if (m) {
      if (m.local && msg.sender_id) this.selfId = msg.sender_id; // the echo of our own message names us
      Object.assign(m, msg, { status: 'delivered', error: undefined });
    } else {
      m = { ...msg, key: `m:${msg.id}`, status: 'delivered', local: false, seq: ++this.#seq };
      b.entries.set(m.key, m);
    }
    b.index.set(`m:${msg.id}`, m.key);
    if (msg.client_message_id) {
      b.index.set(`c:${msg.client_message_id}`, m.key);
      this.#cmidConversation.set(msg.client_message_id, msg.conversation_id);
    }
    if (isNew) this.#trim(msg.conversation_id, b);
    return { message: m, isNew };
  }

  // #trim drops the oldest messages beyond MAX_MESSAGES, never one still on its way.
  #trim(conversationId, b) {
    if (b.entries.size <= MAX_MESSAGES) return;
    for (const m of this.messagesOf(conversationId)) {
      if (b.entries.size <= MAX_MESSAGES) break;
      if (m.local && m.status !== 'delivered') continue;
      b.entries.delete(m.key);
      b.index.delete(`m:${m.id}`);
      if (m.client_message_id) b.index.delete(`c:${m.client_message_id}`);
    }
  }

  /** applyMessages merges a conversation's messages snapshot. */
  applyMessages(list) {
    for (const msg of list) this.#upsertMessage(msg);
    this.#changed();
  }

  /**
   * applyChatMessage merges a live chat.message and updates its conversation's preview.
   * @returns {{message: Message, isNew: boolean, own: boolean}}
   */
  applyChatMessage(msg) {
    const { message, isNew } = this.#upsertMessage(msg);
    const own = this.isOwn(message);
    const conv = this.conversations.get(msg.conversation_id) ?? { conversation_id: msg.conversation_id, title: msg.conversation_id };
    if (time(msg.created_at) >= time(conv.last_message?.created_at)) {
      conv.last_message = msg;
      if (time(msg.created_at) > time(conv.updated_at)) conv.updated_at = msg.created_at;
    }
    // Provisional: the conversation.update that follows (when the upstream sends one) has the
    // authoritative count.
    if (isNew && !own) conv.unread_count = (conv.unread_count ?? 0) + 1;
    this.conversations.set(msg.conversation_id, conv);
    this.#markSeen();
    this.#clearTyping(msg.conversation_id, msg.sender_id); // they sent what they were typing
    this.#changed();
    return { message, isNew, own };
  }

  /** addLocal adds a message this tab is about to send, as pending. */
  addLocal(conversationId, content, clientMessageId) {
    const b = this.#bucket(conversationId);
    const m = {
      key: `c:${clientMessageId}`, conversation_id: conversationId, content, client_message_id: clientMessageId,
      sender_id: this.selfId ?? undefined, status: 'pending', local: true, seq: ++this.#seq,
    };
    b.entries.set(m.key, m);
    b.index.set(m.key, m.key);
    this.#cmidConversation.set(clientMessageId, conversationId);
    this.#changed();
    return m;
  }

  /** findByClientId answers the message with this client_message_id, if the store has it. */
  findByClientId(clientMessageId, conversationId) {
    const conv = conversationId ?? this.#cmidConversation.get(clientMessageId);
    const b = this.#messages.get(conv);
    return b?.entries.get(b.index.get(`c:${clientMessageId}`));
  }

  /**
   * setStatus moves a message's status forward (see the file comment); force (a retry) sets it
   * whatever it was. It serves message.status events and the answers of POST /messages.
   */
  setStatus(clientMessageId, status, { error, conversationId, force = false } = {}) {
    const m = this.findByClientId(clientMessageId, conversationId);
    if (!m || m.status === 'delivered') return;
    const forward = status === 'failed' || m.status === 'failed' || STATUS_RANK[status] > STATUS_RANK[m.status];
    if (!force && !forward) return;
    m.status = status;
    m.error = status === 'failed' ? (error ?? 'not delivered') : undefined;
    this.#changed();
  }

  // ---- typing ----

  /** applyTyping shows or clears a typing.indicator; an indicator not refreshed within 5 s ends. */
  applyTyping({ conversation_id: conv, user_id: user, is_typing: typing }) {
    if (user === this.selfId) return;
    this.#clearTyping(conv, user);
    if (typing) {
      const key = `${conv}\n${user}`;
      const timer = setTimeout(() => {
        this.#typing.delete(key);
        this.#changed();
      }, TYPING_TIMEOUT_MS);
      this.#typing.set(key, { conversation_id: conv, user_id: user, timer });
    }
    this.#changed();
  }

  #clearTyping(conv, user) {
    const key = `${conv}\n${user}`;
    clearTimeout(this.#typing.get(key)?.timer);
    this.#typing.delete(key);
  }

  /** typingIn answers who is typing in a conversation, sorted. */
  typingIn(conversationId) {
    return [...this.#typing.values()].filter((t) => t.conversation_id === conversationId).map((t) => t.user_id).sort();
  }

  // ---- presence, calls, connection ----

  /** applyPresence replaces the presence list with a snapshot. */
  applyPresence(users) {
    this.presence = new Map(users.map((u) => [u.user_id, u]));
    this.#changed();
  }

  /** applyUserStatus records a user.status. */
  applyUserStatus(u) {
    this.presence.set(u.user_id, { ...this.presence.get(u.user_id), ...u });
    this.#changed();
  }

  /** applyCalls replaces the open calls with a snapshot (state incoming or accepted). */
  applyCalls(calls) {
    this.calls = new Map(calls.map((c) => [c.call_id, { ...c }]));
    this.#changed();
  }

  /**
   * applyCallEvent records call.incoming, call.accepted, call.rejected or call.ended. An ended
   * or rejected call stays (to show the outcome) until dismissCall.
   */
  applyCallEvent(name, payload) {
    const state = { 'call.incoming': 'incoming', 'call.accepted': 'accepted', 'call.rejected': 'rejected', 'call.ended': 'ended' }[name];
    const old = this.calls.get(payload.call_id);
    // The end of a call this page never saw is no news (an accepted one is: it can be ended).
    if (!old && (state === 'rejected' || state === 'ended')) return;
    this.calls.set(payload.call_id, { ...old, ...payload, state });
    this.#changed();
  }

  /** dismissCall forgets a call. */
  dismissCall(callId) {
    if (this.calls.delete(callId)) this.#changed();
  }

  /** applyConnection records a connection.state (or GET /connection) payload. */
  applyConnection(state) {
    this.connection = state;
    this.#changed();
  }

  /**
   * clear forgets what the snapshots bring back (after stream.reset: a restarted bridge may even
   * front another chat server, whose message ids mean other messages). It keeps the user, the
   * open conversation, what was seen, and this tab's messages not yet delivered.
   */
  clear() {
    const unsent = [...this.#messages.values()].flatMap((b) => [...b.entries.values()])
      .filter((m) => m.local && m.status !== 'delivered');
    this.conversations = new Map();
    this.presence = new Map();
    this.calls = new Map();
    this.#messages = new Map();
    this.#cmidConversation = new Map();
    for (const t of this.#typing.values()) clearTimeout(t.timer);
    this.#typing = new Map();
    for (const m of unsent) {
      const b = this.#bucket(m.conversation_id);
      b.entries.set(m.key, m);
      b.index.set(m.key, m.key);
      this.#cmidConversation.set(m.client_message_id, m.conversation_id);
    }
    this.#changed();
  }

  // ---- persistence (see persist.js) ----

  /** toJSON answers what a reload needs to resume without the snapshots. */
  toJSON() {
    const messages = {};
    for (const [conv] of this.#messages) {
      messages[conv] = this.messagesOf(conv).slice(-100);
    }
    return {
      selfId: this.selfId,
      selected: this.selected,
      conversations: [...this.conversations.values()],
      seenUnread: [...this.#seenUnread],
      messages,
      presence: [...this.presence.values()],
      calls: [...this.calls.values()].filter((c) => c.state === 'incoming' || c.state === 'accepted'),
    };
  }

  /** restore loads what toJSON saved. */
  restore(saved) {
    this.selfId = saved.selfId ?? null;
    this.selected = saved.selected ?? this.selected;
    this.conversations = new Map(saved.conversations.map((c) => [c.conversation_id, c]));
    this.#seenUnread = new Map(saved.seenUnread);
    this.presence = new Map(saved.presence.map((u) => [u.user_id, u]));
    this.calls = new Map(saved.calls.map((c) => [c.call_id, c]));
    for (const [conv, list] of Object.entries(saved.messages)) {
      const b = this.#bucket(conv);
      for (const m of list) {
        m.seq = ++this.#seq;
        if (m.status === 'pending') {
          // The page went away before the bridge answered the POST: offer a retry, which is safe
          // (same client_message_id). If the POST did arrive, the replayed events move it on.
          m.status = 'failed';
          m.error = 'the page was reloaded before the bridge answered';
        }
        b.entries.set(m.key, m);
        if (m.id) b.index.set(`m:${m.id}`, m.key);
        if (m.client_message_id) {
          b.index.set(`c:${m.client_message_id}`, m.key);
          this.#cmidConversation.set(m.client_message_id, conv);
        }
      }
    }
    this.#changed();
  }
}
