// persist.js: what survives a page reload, in sessionStorage (one tab, this origin).
//
// A reload should resume the event stream where it stopped instead of loading every snapshot
// again. That needs two things saved together: the id of the last event applied, and the state
// those events built. They are written in one go (sessionStorage is synchronous, so no event can
// slip in between), at most once a second and when the page is hidden or unloaded. Restoring a
// state that is a little NEWER than its id is harmless (the replayed events are applied
// idempotently); never the reverse, which is why the id is not written on every event alone.

const PREFIX = `chatbridge:${location.origin}:`;
const ID_KEY = `${PREFIX}last-event-id`;
const STATE_KEY = `${PREFIX}state`;
const VERSION = 1;
const SAVE_EVERY_MS = 1000;

/**
 * load answers the saved {lastEventId, state}, or null when there is nothing usable.
 * @returns {{lastEventId: string, state: object} | null}
 */
export function load() {
  try {
    const lastEventId = sessionStorage.getItem(ID_KEY);
    const saved = JSON.parse(sessionStorage.getItem(STATE_KEY) ?? 'null');
    if (!lastEventId || saved?.version !== VERSION) return null;
    return { lastEventId, state: saved.state };
  } catch {
    return null; // storage disabled, or a corrupt entry: start afresh
  }
}

/** clear forgets the saved state, e.g. after stream.reset. */
export function clear() {
  try {
    sessionStorage.removeItem(ID_KEY);
    sessionStorage.removeItem(STATE_KEY);
  } catch {
    // storage disabled: nothing to clear
  }
}

/**
 * autosave saves snapshot() whenever markDirty has been called, throttled, and on page hide.
 * @param {() => {lastEventId: string, state: object}} snapshot
 * @returns {() => void} markDirty
 */
export function autosave(snapshot) {
  let timer = 0;
  const save = () => {
    clearTimeout(timer);
    timer = 0;
    const { lastEventId, state } = snapshot();
    if (!lastEventId) return; // nothing to resume from yet
    try {
      sessionStorage.setItem(STATE_KEY, JSON.stringify({ version: VERSION, state }));
      sessionStorage.setItem(ID_KEY, lastEventId);
    } catch (err) {
      console.warn('chatbridge: cannot save the state for a reload:', err.message);
    }
  };
  // pagehide fires on reload and navigation, visibilitychange on tab switches (and on mobile
  // where pagehide may never come).
  window.addEventListener('pagehide', save);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') save();
  });
  return () => {
    if (!timer) timer = setTimeout(save, SAVE_EVERY_MS);
  };
}
