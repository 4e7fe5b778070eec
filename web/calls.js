// calls.js: call notices. An incoming call is an alertdialog that takes the focus (so keyboard
// and screen-reader users learn of it at once) with Accept and Reject; an accepted call shows
// End; a rejected or ended call shows its outcome for a while, then goes away.
//
// Hooks for browser tests: data-testid="call-notice" (data-call-id, data-state =
// incoming|outgoing|accepted|rejected|ended) with buttons "call-accept", "call-reject",
// "call-end" and "call-dismiss".

import { fill, h, reconcile } from './dom.js';
import { titleOf } from './ui.js';

/** OUTCOME_MS is how long a rejected or ended call stays on screen. */
const OUTCOME_MS = 15_000;
/**
 * FOCUS_DELAY_MS: a replay after a reload may bring a call.incoming immediately followed by
 * its call.ended; waiting a moment before taking the focus avoids stealing it for a call that
 * is already over.
 */
const FOCUS_DELAY_MS = 150;

/**
 * createCallsView binds the calls area.
 * @param {import('./state.js').Store} store
 * @param {{accept: (id: string) => Promise<void>, reject: (id: string) => Promise<void>,
 *   end: (id: string) => Promise<void>, announce: (text: string) => void}} actions
 * @returns {{render: () => void}}
 */
export function createCallsView(store, actions) {
  const area = document.getElementById('calls');
  const returnFocus = new Map(); // call_id -> the element focused when the call came in
  const expiry = new Map(); // call_id -> timer removing an outcome

  // Whether the call is our own outgoing call (the caller is this page's user).
  const outgoing = (c) => c.state === 'incoming' && store.selfId !== null && c.caller_id === store.selfId;
  const stateOf = (c) => (outgoing(c) ? 'outgoing' : c.state);

  function create(c) {
    return h('section', { class: 'call-notice', tabindex: '-1', dataset: { testid: 'call-notice', callId: c.call_id } });
  }

  function update(el, c) {
    const state = stateOf(c);
    if (el.dataset.state === state) return;
    const previous = el.dataset.state;
    const hadFocus = el.contains(document.activeElement);
    el.dataset.state = state;

    const who = c.caller_id ?? 'someone';
    const media = c.media === 'video' ? 'video' : 'audio';
    const where = c.conversation_id ? ` in ${titleOf(store, c.conversation_id)}` : '';
    const titleId = `call-${c.call_id}-title`;
    const descId = `call-${c.call_id}-desc`;
    const button = (testid, text, onclick, cls = '') =>
      h('button', { type: 'button', class: cls, dataset: { testid }, onclick: busy(onclick) }, text);

    let heading;
    let text;
    let buttons;
    switch (state) {
      case 'incoming':
        heading = `Incoming ${media} call`;
        text = `${who} is calling${where}.`;
        buttons = [
          button('call-accept', 'Accept', () => actions.accept(c.call_id), 'accept'),
          button('call-reject', 'Reject', () => actions.reject(c.call_id), 'reject'),
        ];
        break;
      case 'outgoing':
        heading = `Calling${where}`;
        text = `Your ${media} call is ringing.`;
        buttons = [button('call-end', 'End call', () => actions.end(c.call_id), 'reject')];
        break;
      case 'accepted':
        heading = `${media === 'video' ? 'Video' : 'Audio'} call with ${who}`;
        text = c.user_id ? `In progress (accepted by ${c.user_id}).` : 'In progress.';
        buttons = [button('call-end', 'End call', () => actions.end(c.call_id), 'reject')];
        break;
      default: // rejected, ended
        heading = `Call with ${who} ${state}`;
        text = [c.user_id && `By ${c.user_id}.`, c.reason && `Reason: ${c.reason}.`].filter(Boolean).join(' ');
        buttons = [button('call-dismiss', 'Dismiss', () => store.dismissCall(c.call_id))];
        expiry.set(c.call_id, setTimeout(() => store.dismissCall(c.call_id), OUTCOME_MS));
        actions.announce(`${heading}.`);
    }

    // Only a ringing call is a dialog asking for an answer; the others are plain regions.
    if (state === 'incoming') el.setAttribute('role', 'alertdialog');
    else el.setAttribute('role', 'region');
    el.setAttribute('aria-labelledby', titleId);
    el.setAttribute('aria-describedby', descId);
    fill(el,
      h('h2', { id: titleId, class: 'call-title', text: heading }),
      h('p', { id: descId, class: 'call-text', text }),
      h('div', { class: 'call-actions' }, buttons),
    );

    if (state === 'incoming' && previous === undefined) {
      returnFocus.set(c.call_id, document.activeElement);
      setTimeout(() => {
        if (el.isConnected && el.dataset.state === 'incoming') el.focus();
      }, FOCUS_DELAY_MS);
    } else if (hadFocus) {
      // The buttons under the keyboard were replaced: keep the focus in the notice.
      el.querySelector('button')?.focus();
    }
  }

  // Leaving: give the focus back to where it was before the call came in.
  function restoreFocus(el) {
    const id = el.dataset.callId;
    const back = returnFocus.get(id);
    returnFocus.delete(id);
    clearTimeout(expiry.get(id));
    expiry.delete(id);
    if (el.contains(document.activeElement)) {
      (back?.isConnected ? back : document.getElementById('composer-input')).focus();
    }
  }

  return {
    render() {
      for (const el of area.children) {
        if (!store.calls.has(el.dataset.callId)) restoreFocus(el);
      }
      const calls = [...store.calls.values()].sort((a, b) => (a.created_at ?? '').localeCompare(b.created_at ?? ''));
      reconcile(area, calls, (c) => c.call_id, create, update);
    },
  };
}

// busy wraps a button's action so that a second click while the first is on its way does
// nothing; the button itself stays enabled (disabling it would drop the keyboard focus).
function busy(action) {
  return async (e) => {
    const button = e.currentTarget;
    if (button.getAttribute('aria-busy') === 'true') return;
    button.setAttribute('aria-busy', 'true');
    try {
      await action();
    } finally {
      button.setAttribute('aria-busy', 'false');
    }
  };
}
