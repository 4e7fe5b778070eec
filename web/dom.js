// dom.js: two small DOM helpers, so the views need no framework.
//
// Text always goes in as text nodes (textContent, append of strings), never as HTML: chat
// content comes from other people and must not be able to inject markup.

/**
 * h creates an element. props: `class`, `text` (textContent), `dataset` (object), `on<event>`
 * (listener), anything else an attribute (true means present, false/null/undefined absent).
 * Children may be nodes or strings (appended as text), null and false are skipped.
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name === 'text') el.textContent = value;
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : value);
  }
  if (children.length > 0) fill(el, ...children); // (fill would also wipe a `text`)
  return el;
}

/** fill replaces el's children; like h, it appends strings as text and skips null and false. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

/**
 * reconcile makes container's children show items in order, reusing the element of each key
 * (kept in data-key) so that the DOM is not rebuilt on every change, and focus and scroll
 * positions survive. create(item) makes a new element, update(el, item) refreshes one.
 */
export function reconcile(container, items, keyOf, create, update) {
  const focused = document.activeElement;
  const old = new Map([...container.children].map((el) => [el.dataset.key, el]));
  let prev = null;
  for (const item of items) {
    const key = keyOf(item);
    let el = old.get(key);
    if (el) {
      old.delete(key);
    } else {
      el = create(item);
      el.dataset.key = key;
    }
    update(el, item);
    const want = prev ? prev.nextElementSibling : container.firstElementChild;
    if (want !== el) container.insertBefore(el, want); // moves el if it was elsewhere
    prev = el;
  }
  for (const el of old.values()) el.remove();
  // Moving an element in the DOM blurs it; give the focus back.
  if (focused && focused !== document.activeElement && focused.isConnected) focused.focus({ preventScroll: true });
}

/** setData sets (or, for null/undefined, removes) a data-* attribute. */
export function setData(el, name, value) {
  if (value === null || value === undefined) delete el.dataset[name];
  else el.dataset[name] = value;
}

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayAndClock = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

/** timeElement makes a <time> for an RFC 3339 date: the clock today, the day too before. */
export function timeElement(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('time', { text: '' });
  const today = d.toDateString() === new Date().toDateString();
  return h('time', { datetime: iso, title: full.format(d), text: (today ? clock : dayAndClock).format(d) });
}

const lists = new Intl.ListFormat(undefined, { style: 'long', type: 'conjunction' });

/** listOf joins names the way the reader's language does: "ada, bob and cy". */
export const listOf = (names) => lists.format(names);
