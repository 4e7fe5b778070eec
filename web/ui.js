// ui.js: the chat views: conversation list, message pane, typing line, people, errors and the
// screen-reader announcer. Each render() draws from the store; nothing here talks to the bridge.
//
// Hooks for browser tests (stable, do not rename): data-testid="conversation" (with
// data-conversation-id, data-unread), "message" (data-client-message-id, data-status,
// data-sender, data-message-id), "typing", "person" (data-user-id, data-status), "error".

import { fill, h, listOf, reconcile, setData, timeElement } from './dom.js';

const $ = (id) => document.getElementById(id);

/** titleOf answers the name to show for a conversation. */
export const titleOf = (store, id) => store.conversations.get(id)?.title || id;

/**
 * createChatView binds the views to the page's elements.
 * @param {import('./state.js').Store} store
 * @param {{select: (id: string) => void, retry: (message: object) => void}} actions
 * @returns {{render: () => void}}
 */
export function createChatView(store, actions) {
  const conversations = $('conversation-list');
  const messages = $('message-list');
  const empty = $('messages-empty');
  const title = $('pane-title');
  const typing = $('typing');
  const people = $('people-list');
  let shownConversation = null;

  function renderConversations() {
    reconcile(conversations, store.sortedConversations(), (c) => c.conversation_id, (c) => {
      const button = h('button', {
        type: 'button', class: 'conversation', dataset: { testid: 'conversation', conversationId: c.conversation_id },
        onclick: () => actions.select(c.conversation_id),
      });
      return h('li', {}, button);
    }, (li, c) => {
      const id = c.conversation_id;
      const unread = store.unreadCount(id);
      const last = c.last_message;
      const button = li.firstElementChild;
      if (id === store.selected) button.setAttribute('aria-current', 'true');
      else button.removeAttribute('aria-current');
      button.dataset.unread = String(unread);
      fill(button,
        h('span', { class: 'conversation-title', text: titleOf(store, id) }),
        unread > 0 && h('span', { class: 'badge', 'aria-hidden': 'true', text: unread > 99 ? '99+' : String(unread) }),
        unread > 0 && h('span', { class: 'visually-hidden', text: `, ${unread} unread` }),
        last && h('span', { class: 'conversation-preview', text: `${store.isOwn(last) ? 'You' : last.sender_id}: ${last.content}` }),
      );
    });
  }

  function renderMessages() {
    const switched = shownConversation !== store.selected;
    const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 48;
    const list = store.messagesOf(store.selected);
    const lastBefore = messages.lastElementChild?.dataset.key;

    title.textContent = titleOf(store, store.selected);
    empty.hidden = list.length > 0;
    reconcile(messages, list, (m) => m.key, createMessage, (li, m) => updateMessage(li, m, store, actions));

    // Follow the conversation when the reader is at its end, or just sent something.
    const newLast = list.at(-1);
    if (switched || atBottom || (newLast?.key !== lastBefore && store.isOwn(newLast))) {
      messages.scrollTop = messages.scrollHeight;
    }
    shownConversation = store.selected;
  }

  function renderTyping() {
    const names = store.typingIn(store.selected);
    typing.textContent = names.length === 0 ? ''
      : names.length === 1 ? `${names[0]} is typing…`
        : names.length <= 3 ? `${listOf(names)} are typing…`
          : `${names.length} people are typing…`;
  }

  function renderPeople() {
    const rank = { online: 0, away: 1, offline: 2 };
    const users = [...store.presence.values()]
      .sort((a, b) => (rank[a.status] ?? 3) - (rank[b.status] ?? 3) || a.user_id.localeCompare(b.user_id));
    $('people-empty').hidden = users.length > 0;
    reconcile(people, users, (u) => u.user_id, () => h('li', { class: 'person', dataset: { testid: 'person' } }), (li, u) => {
      li.dataset.userId = u.user_id;
      li.dataset.status = u.status;
      fill(li,
        h('span', { class: 'presence-dot', 'aria-hidden': 'true' }),
        h('span', { class: 'person-name', text: u.user_id === store.selfId ? `${u.user_id} (you)` : u.user_id }),
        h('span', { class: 'person-status', text: u.status }),
      );
    });
  }

  return {
    render() {
      renderConversations();
      renderMessages();
      renderTyping();
      renderPeople();
    },
  };
}

function createMessage() {
  return h('li', { class: 'message', dataset: { testid: 'message' } });
}

const STATUS_TEXT = {
  pending: 'Sending…',
  queued: 'Queued: waits for the chat server',
  sent: '✓ Sent',
  delivered: '✓✓ Delivered',
};

// Each element remembers what it shows, so an update that changes nothing touches nothing
// (and a focused Retry button is not replaced under the keyboard).
const shown = new WeakMap();

function updateMessage(li, m, store, actions) {
  const own = store.isOwn(m);
  const sender = m.sender_id ?? store.selfId ?? '';
  const signature = JSON.stringify([own, sender, m.id, m.created_at, m.content, m.status, m.error]);
  if (shown.get(li) === signature) return;
  shown.set(li, signature);

  li.classList.toggle('own', own);
  li.dataset.status = m.status;
  li.dataset.sender = sender;
  setData(li, 'clientMessageId', m.client_message_id);
  setData(li, 'messageId', m.id);

  const status = !own ? null
    : m.status === 'failed'
      ? h('p', { class: 'message-status failed' },
        h('span', { text: `Not sent: ${m.error}` }), ' ',
        h('button', { type: 'button', class: 'retry', dataset: { testid: 'retry' }, onclick: () => actions.retry(m) }, 'Retry'))
      : h('p', { class: 'message-status', text: STATUS_TEXT[m.status] ?? m.status });

  fill(li,
    h('p', { class: 'message-meta' },
      h('span', { class: 'sender', text: own ? 'You' : sender }),
      m.created_at ? ' ' : null,
      m.created_at ? timeElement(m.created_at) : null),
    h('p', { class: 'message-content', text: m.content }),
    status,
  );
}

// ---- errors ----

const MAX_ERRORS = 5;

/**
 * showError adds a message to the dismissible error area (role=alert). The same text twice in
 * a row is counted instead of repeated.
 */
export function showError(text) {
  const list = $('error-list');
  const newest = list.lastElementChild;
  if (newest?.dataset.text === text) {
    const n = Number(newest.dataset.count) + 1;
    newest.dataset.count = String(n);
    newest.querySelector('.error-count').textContent = ` (×${n})`;
    return;
  }
  const item = h('li', { class: 'error', dataset: { testid: 'error', text, count: '1' } },
    h('span', { class: 'error-text', text }),
    h('span', { class: 'error-count' }),
    h('button', {
      type: 'button', class: 'dismiss', 'aria-label': 'Dismiss this error',
      onclick: () => dismiss(item),
    }, '×'));
  list.append(item);
  while (list.children.length > MAX_ERRORS) list.firstElementChild.remove();
}

// The live region itself always stays in the page (a region that appears together with its
// text is often not announced); an empty list is hidden by CSS.
function dismiss(item) {
  const next = item.nextElementSibling ?? item.previousElementSibling;
  item.remove();
  // Keep the keyboard user in the area, or send them back to the composer.
  (next?.querySelector('button') ?? $('composer-input')).focus();
}

// ---- announcements for screen readers ----

let pending = [];
let timer = 0;

/**
 * announce speaks text through the visually hidden polite live region. Announcements within
 * half a second are spoken together, so that a burst of messages is one announcement.
 */
export function announce(text) {
  pending.push(text);
  if (timer) return;
  timer = setTimeout(() => {
    const region = $('announcer');
    const texts = pending;
    pending = [];
    timer = 0;
    region.textContent = texts.length <= 3 ? texts.join('. ') : `${texts.length} new messages. Last: ${texts.at(-1)}`;
  }, 500);
}
