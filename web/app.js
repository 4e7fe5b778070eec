// app.js: the chat page's entry point. It wires the store, the views and the bridge together:
//
//   1. bridge.load() reads the snapshots (conversations, the open conversation's messages,
//      presence, calls) and then follows the event stream from right after them;
//   2. each event is applied to the store; the views redraw from it;
//   3. a stream.reset (the resume id is too old, or the bridge restarted) clears the store and
//      the 'snapshot' that follows fills it again.
//
// The stream is the one every tab of this origin shares (client.js); ?shared=tab|own in the
// page's address picks how (a test hook, and a way out should a browser's SharedWorker
// misbehave). A reload resumes the stream from the id saved in sessionStorage, with the state
// it built, instead of loading the snapshots again.

import { Bridge, newClientMessageId } from './client.js';
import { bindComposer, TypingSender } from './composer.js';
import { createBanner } from './banner.js';
import { createCallsView } from './calls.js';
import * as persist from './persist.js';
import { Store } from './state.js';
import { announce, createChatView, showError, titleOf } from './ui.js';

const store = new Store();
const banner = createBanner();
const shared = new URLSearchParams(location.search).get('shared') ?? 'auto';
const bridge = new Bridge({ shared });
const typing = new TypingSender((conversationId, isTyping) => bridge.typing(conversationId, isTyping));
const historyLoaded = new Set(); // conversations whose messages snapshot has been merged
let loading = false; // the snapshots are being (re)loaded: the state and the id do not match

// Saved for a reload: the stream's last event id with the state built up to it (persist.js).
const markDirty = persist.autosave(() => ({
  lastEventId: loading ? '' : bridge.lastEventId,
  state: store.toJSON(),
}));

/** EVENT_NAMES are the events this page applies (openapi.yaml, StreamEvent). */
const EVENT_NAMES = ['chat.message', 'message.status', 'typing.indicator', 'user.status', 'conversation.update',
  'call.incoming', 'call.accepted', 'call.rejected', 'call.ended', 'error', 'connection.state'];

for (const name of EVENT_NAMES) {
  bridge.addEventListener(name, (e) => {
    applyEvent(name, e.detail.data);
    markDirty(); // the last event id moved, even when the store did not change
  });
}

bridge.addEventListener('state', (e) => {
  const { state, retryAt } = e.detail;
  banner.setStream(state, retryAt);
  document.documentElement.dataset.streamRole = bridge.role;
  // The browser does not say why a stream was refused; GET /connection does (401 without the
  // API token, ...), and tells the upstream state meanwhile. An unreachable bridge is not an
  // error here: the banner says so.
  if (state === 'closed') {
    bridge.connection().then((c) => store.applyConnection(c), (err) => {
      if (err.status >= 400 && err.status < 500) showError(`The bridge refused the event stream: ${err.message}`);
    });
  }
});

bridge.addEventListener('reset', (e) => {
  console.info(`chatbridge: stream reset (${e.detail.reason}); reloading the snapshots`);
  loading = true;
  persist.clear();
  historyLoaded.clear();
  store.clear();
});

bridge.addEventListener('snapshot', (e) => applySnapshot(e.detail));

// ---- snapshots ----

/** applySnapshot merges what bridge.load() read; the events that follow it are applied on top. */
function applySnapshot(snap) {
  store.applyConversations(snap.conversations);
  store.applyMessages(snap.messages);
  historyLoaded.add(snap.conversationId);
  store.applyPresence(snap.presence);
  store.applyCalls(snap.calls);
  for (const { what, error } of snap.errors) showError(`Could not load the ${what}: ${error.message}`);
  loading = false;
  markDirty();
  loadHistory(store.selected); // after a reset the open conversation may not be the loaded one
}

/** loadHistory merges a conversation's recent messages once, when it is first opened. */
async function loadHistory(conversationId) {
  if (historyLoaded.has(conversationId)) return;
  historyLoaded.add(conversationId);
  try {
    const snapshot = await bridge.messages(conversationId);
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
  const id = newClientMessageId();
  const message = store.addLocal(store.selected, content, id);
  deliver(message);
}

/** deliver posts a message; a retry posts it again with the SAME client_message_id. */
async function deliver(message) {
  const { conversation_id: conversationId, content, client_message_id: id } = message;
  try {
    const answer = await bridge.send(conversationId, content, id);
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
  accept: callAction('accept', (id) => bridge.acceptCall(id)),
  reject: callAction('reject', (id) => bridge.rejectCall(id)),
  end: callAction('end', (id) => bridge.endCall(id)),
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
  bridge.follow(saved.lastEventId);
  return true;
}

/** start loads the snapshots, with the conversation in the address open. */
async function start() {
  store.select(fromHash() || store.selected); // its messages come with the snapshots
  showInAddress(store.selected);
  loading = true;
  await bridge.load({ conversationId: store.selected }); // applySnapshot runs on its 'snapshot'
}

const saved = persist.load();
if (!saved || !resume(saved)) start();
