// composer.js: the message box, and the typing indicator this page sends.

/** TYPING_EVERY_MS: at most one "is typing" per this interval while the user types. */
const TYPING_EVERY_MS = 2000;
/** TYPING_IDLE_MS: this long without a keystroke means the user stopped typing. */
const TYPING_IDLE_MS = 3000;

/**
 * TypingSender turns keystrokes into POST /typing calls: is_typing true when typing starts and
 * then at most every 2 s (so the others' 5 s timeout does not run out), false after 3 s without
 * a keystroke, on send, or when the user moves to another conversation. The calls go out one
 * after the other, so a false never overtakes the true before it.
 */
export class TypingSender {
  #post;
  #active = null; // the conversation we last said true for, until we say false
  #lastTrue = 0;
  #idle = 0;
  #queue = Promise.resolve();

  /** @param {(conversationId: string, isTyping: boolean) => Promise<unknown>} post */
  constructor(post) {
    this.#post = post;
  }

  /** input reports a keystroke in conversationId; hasText tells whether the box holds text. */
  input(conversationId, hasText) {
    if (this.#active !== null && this.#active !== conversationId) this.stop();
    if (!hasText) {
      this.stop();
      return;
    }
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.stop(), TYPING_IDLE_MS);
    const now = Date.now();
    if (now - this.#lastTrue >= TYPING_EVERY_MS) {
      this.#lastTrue = now;
      this.#active = conversationId;
      this.#send(conversationId, true);
    }
  }

  /** stop says false, if true was said. */
  stop() {
    clearTimeout(this.#idle);
    if (this.#active === null) return;
    const conversationId = this.#active;
    this.#active = null;
    this.#send(conversationId, false);
  }

  // Typing is best effort: the bridge answers 503 while the chat server is down (typing is
  // never queued), and nobody needs to hear about it.
  #send(conversationId, isTyping) {
    this.#queue = this.#queue
      .then(() => this.#post(conversationId, isTyping))
      .catch((err) => console.debug('chatbridge: typing indicator not sent:', err.message));
  }
}

/**
 * bindComposer wires the composer form: Enter sends, Shift+Enter makes a new line (as does
 * Enter while an input method is composing), and every keystroke feeds the TypingSender.
 * @param {{conversationId: () => string, send: (content: string) => void, typing: TypingSender}} opts
 */
export function bindComposer({ conversationId, send, typing }) {
  const form = document.getElementById('composer');
  const input = document.getElementById('composer-input');

  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener('input', () => typing.input(conversationId(), input.value.trim() !== ''));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    // Blank lines around the text (easy to leave with Shift+Enter) are not part of the message.
    const content = input.value.replace(/^[\r\n]+|[\r\n\s]+$/g, '');
    if (content.trim() === '') return; // the bridge refuses blank messages (422)
    typing.stop();
    input.value = '';
    input.focus();
    send(content);
  });
}
