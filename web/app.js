// app.js: the chat page's entry point. It wires the store, the views and the bridge together:
//
//   1. load the snapshots: GET /conversations, the open conversation's messages, /presence, /calls;
//   2. open ONE event stream for every topic, resuming right after the snapshots;
//   3. apply each event to the store; the views redraw from it.
//
// A reload resumes the stream from the id saved in sessionStorage (with the state it built)
// instead of loading the snapshots again; a stream.reset (that id is too old, or the bridge was
// restarted) loads them again.

import * as api from './api.js';
import { bindComposer, TypingSender } from './composer.js';
import { createBanner } from './banner.js';
import { createCallsView } from './calls.js';
import { EventStream } from './events.js';
import * as persist from './persist.js';
import { Store } from './state.js';
import { announce, createChatView, showError, titleOf } from './ui.js';

const store = new Store();
const banner = createBanner();
const typing = new TypingSender(api.postTyping);
const historyLoaded = new Set(); // conversations whose messages snapshot has been merged
let loading = null; // the running loadSnapshots, if any

// Saved for a reload: the stream's last event id with the state built up to it (persist.js).
const markDirty = persist.autosave(() => ({
  lastEventId: loading ? '' : stream.lastEventId, // mid-reload the id and the state do not match
  state: store.toJSON(),
}));

const stream = new EventStream({
  onEvent: (name, data) => {
    applyEvent(name, data);
    markDirty(); // the last event id moved, even when the store did not change
  },
  onReset: (reason) => {
    console.info(`chatbridge: stream reset (${reason}); reloading the snapshots`);
    store.clear();
    loadSnapshots();
  },
  onState: (state, retryAt) => {
    banner.setStream(state, retryAt);
    // The browser does not say why a stream was refused; GET /connection does (401 without the
    // API token, ...), and tells the upstream state meanwhile. An unreachable bridge is not an
    // error here: the banner says so.
    if (state === 'closed') {
      api.getConnection().then((c) => store.applyConnection(c), (err) => {
        if (err.status >= 400 && err.status < 500) showError(`The bridge refused the event stream: ${err.message}`);
      });
    }
  },
});

// ---- snapshots ----

/**
 * loadSnapshots loads every snapshot, then (re)opens the stream after them.
 *
 * Which event id to resume from: snapshot ids are opaque strings, so the page cannot pick the
 * smallest. The snapshots are therefore loaded one after the other and the stream resumes after
 * the FIRST one's event_id: it is the oldest, so every event after it is replayed, including
 * events that the later snapshots already reflect. The store applies those idempotently
 * (messages by id and client_message_id, conversations, presence and calls by key, in order), so
 * nothing is lost and nothing is shown twice. A snapshot endpoint that answers 404 (an older
 * bridge) is skipped; with none at all the stream starts with the live events.
 */
function loadSnapshots() {
  loading ??= (async () => {
    stream.close();
    persist.clear();
    historyLoaded.clear();
    const conversationId = store.selected;
    const steps = [
      ['conversations', api.getConversations, (s) => store.applyConversations(s.conversations)],
      ['messages', () => api.getMessages(conversationId), (s) => {
        store.applyMessages(s.messages);
        historyLoaded.add(conversationId);
      }],
      ['presence', api.getPresence, (s) => store.applyPresence(s.users)],
      ['calls', api.getCalls, (s) => store.applyCalls(s.calls)],
    ];
    let resumeId = '';
    for (const [what, get, apply] of steps) {
      try {
        const snapshot = await get();
        apply(snapshot);
        resumeId ||= snapshot.event_id ?? '';
      } catch (err) {
        if (!err.notFound) showError(`Could not load the ${what}: ${err.message}`);
      }
    }
    stream.open(resumeId);
    loading = null;
  })();
  return loading;
}

/** loadHistory merges a conversation's recent messages once, when it is first opened. */
async function loadHistory(conversationId) {
  if (historyLoaded.has(conversationId)) return;
  historyLoaded.add(conversationId);
  try {
    const snapshot = await api.getMessages(conversationId);
    store.applyMessages(snapshot.messages);
  } catch (err) {
    if (err.notFound) return; // a conversation the bridge has not seen yet: nothing to load
    historyLoaded.delete(conversationId);
    showError(`Could not load the messages of ${conversationId}: ${err.message}`);
  }
}

// ---- events ----

function applyEvent(name, data) {
  switch (name) {
    case 'chat.message': {
      const { isNew, own } = store.applyChatMessage(data);
      if (isNew && !own) {
        const where = data.conversation_id === store.selected ? '' : ` in ${titleOf(store, data.conversation_id)}`;
        announce(`${data.sender_id}${where}: ${data.content.slice(0, 200)}`);
      }
      break;
    }
    case 'message.status':
      store.setStatus(data.client_message_id, data.status, { error: data.error, conversationId: data.conversation_id });
      break;
    case 'typing.indicator':
      store.applyTyping(data);
      break;
    case 'user.status':
      store.applyUserStatus(data);
      break;
    case 'conversation.update':
      store.applyConversationUpdate(data);
      break;
    case 'call.incoming':
    case 'call.accepted':
    case 'call.rejected':
    case 'call.ended':
      store.applyCallEvent(name, data);
      break;
    case 'error':
      showError(`The chat server refused a request: ${data.message} (${data.code})`);
      if (data.ref) store.setStatus(data.ref, 'failed', { error: data.message });
      break;
    case 'connection.state':
      store.applyConnection(data);
      break;
    default:
      break; // an event this page does not know: ignore it
  }
}

// ---- actions ----

/** send shows the message at once as pending, then posts it. */
function send(content) {
  const id = api.newClientMessageId();
  const message = store.addLocal(store.selected, content, id);
  deliver(message);
}

/** deliver posts a message; a retry posts it again with the SAME client_message_id. */
async function deliver(message) {
  const { conversation_id: conversationId, content, client_message_id: id } = message;
  try {
    const answer = await api.postMessage(conversationId, content, id);
    store.setStatus(id, answer.status, { conversationId, error: 'the chat server refused it' });
  } catch (err) {
    store.setStatus(id, 'failed', { conversationId, error: err.message });
  }
}

function retry(message) {
  store.setStatus(message.client_message_id, 'pending', { conversationId: message.conversation_id, force: true });
  document.getElementById('composer-input').focus();
  deliver(message);
}

function select(conversationId) {
  if (conversationId !== store.selected) {
    typing.stop();
    store.select(conversationId);
  }
  showInAddress(conversationId);
  loadHistory(conversationId);
}

/** callAction runs a call action, reporting a refusal in the error area. */
const callAction = (what, action) => async (callId) => {
  try {
    await action(callId);
  } catch (err) {
    showError(`Could not ${what} the call: ${err.message}`);
  }
};

// ---- views ----

const chat = createChatView(store, { select, retry });
const calls = createCallsView(store, {
  accept: callAction('accept', api.acceptCall),
  reject: callAction('reject', api.rejectCall),
  end: callAction('end', api.endCall),
  announce,
});

// Redraw at most once per task, however many events the task applied.
let renderQueued = false;
function render() {
  renderQueued = false;
  chat.render();
  calls.render();
  banner.setUpstream(store.connection);
  const title = titleOf(store, store.selected);
  document.getElementById('composer-label').textContent = `Message ${title}`;
  document.title = `${title} · chatbridge`;
}

store.addEventListener('change', () => {
  markDirty();
  if (!renderQueued) {
    renderQueued = true;
    setTimeout(render, 0);
  }
});

bindComposer({ conversationId: () => store.selected, send, typing });

document.getElementById('open-conversation').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = e.currentTarget.elements.namedItem('conversation_id');
  const id = input.value.trim();
  if (!id) return;
  input.value = '';
  select(id);
  document.getElementById('composer-input').focus();
});

// The open conversation is in the address (#id), so it can be bookmarked or typed.
function fromHash() {
  try {
    return decodeURIComponent(location.hash.slice(1));
  } catch {
    return ''; // a malformed %-escape
  }
}

function showInAddress(conversationId) {
  const hash = `#${encodeURIComponent(conversationId)}`;
  if (location.hash !== hash) history.replaceState(null, '', hash);
}

window.addEventListener('hashchange', () => {
  if (fromHash()) select(fromHash());
});

// ---- start ----

/** resume restores what the last page of this tab saved and follows the stream from its id. */
function resume(saved) {
  try {
    store.restore(saved.state);
  } catch (err) {
    console.warn('chatbridge: the saved state is unusable; loading afresh:', err);
    store.clear();
    return false;
  }
  for (const id of Object.keys(saved.state.messages)) historyLoaded.add(id);
  select(fromHash() || store.selected);
  stream.open(saved.lastEventId);
  return true;
}

const saved = persist.load();
if (!saved || !resume(saved)) {
  store.select(fromHash() || store.selected); // its messages come with the snapshots
  showInAddress(store.selected);
  loadSnapshots();
}
