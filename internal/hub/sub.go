package hub

import (
	"context"
	"slices"
	"sync/atomic"
)

// MaxBatch is the most events one Next or Poll returns.
const MaxBatch = 256

// Sub is one subscription: a cursor into the hub's history and a match function. Next and Poll
// are for one goroutine at a time (the subscription's reader); every other method is safe for
// concurrent use.
type Sub struct {
	h      *Hub
	match  func(*Event) bool
	notify chan struct{} // one slot: "something may have changed"
	done   chan struct{} // closed when the subscription ends
	reset  string
	start  uint64

	// cursor is the seq of the last event examined, as of the reader's last Poll or the end of
	// the subscription; while it lives, its slot's cursor (which Publish also moves past
	// unwanted events) is the current one.
	cursor atomic.Uint64

	// guarded by h.mu: written under Lock, read under RLock or after done is closed
	idx   int    // index in h.slots; -1 once ended
	err   error  // why it ended
	onCut func() // see OnCut
}

// Subscribe starts a subscription to the events for which match returns true (nil matches every
// event). match must be a quick, pure function of the event: it runs in the reader's Next and
// Poll, and also inside Publish, under the hub's lock, possibly at the same time; it must not
// block or call the Hub.
//
// With lastID "", the subscription starts after the newest event. With the id of an event of
// this run such that every later event is still in the history, it starts right after that
// event: Next replays the later matching events, then follows new ones, with no gap and no
// duplicate. Otherwise it starts after the newest event and Reset says why.
//
// A subscription may fall Config.Buffer events behind the newest event, plus the lag it started
// with (at most History-1 in all), before it is cut off. Subscribe is safe for concurrent use;
// the caller must Close the Sub.
func (h *Hub) Subscribe(match func(*Event) bool, lastID string) *Sub {
	return h.subscribe(match, nil, lastID)
}

// Filter selects events by topic and conversation: an event matches when its topic is one of
// Topics and, when Key is not "" and its topic is one of KeyTopics, its Key is Key. Publish
// tests a Filter without calling anything, so many subscriptions cost it little.
type Filter struct {
	Topics    []string
	Key       string
	KeyTopics []string // the topics Key applies to (the conversation-scoped ones)
}

// Matches reports whether f selects ev.
func (f *Filter) Matches(ev *Event) bool {
	return slices.Contains(f.Topics, ev.Topic) && (f.Key == "" || !slices.Contains(f.KeyTopics, ev.Topic) || f.Key == ev.Key)
}

// SubscribeTo is Subscribe to the events f selects.
func (h *Hub) SubscribeTo(f Filter, lastID string) *Sub {
	f.Topics, f.KeyTopics = slices.Clone(f.Topics), slices.Clone(f.KeyTopics)
	return h.subscribe(f.Matches, &f, lastID)
}

// subscribe starts a subscription by match, which f (when not nil) says as masks for Publish.
func (h *Hub) subscribe(match func(*Event) bool, f *Filter, lastID string) *Sub {
	s := &Sub{h: h, match: match, notify: make(chan struct{}, 1), done: make(chan struct{}), idx: -1}
	var seq uint64
	if lastID != "" {
		seq, s.reset = h.classify(lastID)
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	start := h.head
	switch {
	case lastID == "" || s.reset != "":
	case seq > h.head:
		s.reset = ResetInvalid
	case seq+1 < h.oldest: // some event after seq has left the history
		s.reset = ResetExpired
	default:
		start = seq
	}
	if s.reset != "" {
		h.resets.Add(1)
	}
	s.start = start
	s.cursor.Store(start)
	if h.closed {
		s.finishLocked(ErrClosed)
		return s
	}
	lag := h.head - start
	s.idx = len(h.slots)
	sl := slot{cursor: start, maxLag: min(lag+h.buffer, h.history-1), notify: s.notify, sub: s, match: match,
		all: match == nil}
	if f != nil && h.masksLocked(&sl, f) {
		sl.match = nil
	}
	h.slots = append(h.slots, sl)
	h.subscribers.Add(1)
	return s
}

// masksLocked sets sl's masks from f, and reports false when a topic of f got no bit (then sl
// keeps its match function). h.mu must be held for writing.
func (h *Hub) masksLocked(sl *slot, f *Filter) bool {
	for _, t := range f.Topics {
		b := h.bitLocked(t)
		if b == 0 {
			return false
		}
		sl.topics |= b
	}
	for _, t := range f.KeyTopics {
		b := h.bitLocked(t)
		if b == 0 {
			return false
		}
		sl.keyed |= b
	}
	sl.key = f.Key
	return true
}

// finishLocked marks the subscription ended with err and wakes its reader. h.mu must be held
// for writing and the slot already removed.
func (s *Sub) finishLocked(err error) {
	s.idx = -1
	s.err = err
	close(s.done)
	if err == ErrCut && s.onCut != nil {
		s.onCut()
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// OnCut registers f to run once if the subscription is cut off for falling behind: at once if it
// already was. f runs inside Publish, under the hub's lock, so it must return at once and must not
// call the Hub; its use is to unblock a reader stuck outside Next (for example in a network write
// to a client that stopped reading) by setting a deadline. OnCut is safe for concurrent use.
func (s *Sub) OnCut(f func()) {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	if s.idx == -1 && s.err == ErrCut {
		f()
		return
	}
	s.onCut = f
}

// Reset returns "" when the subscription started where Subscribe was asked to resume (or at
// the newest event when asked to), else why it could not: ResetExpired, ResetUnknownRun or
// ResetInvalid.
func (s *Sub) Reset() string { return s.reset }

// StartID returns the id of the event the subscription started after: lastID when it resumed,
// else the newest event's id at Subscribe. A stream that reports a Reset can give this id to
// its reset notice so that the client resumes from a valid position next time.
func (s *Sub) StartID() string { return formatID(s.h.prefix, s.start) }

// LastID returns the id of the last event the subscription examined, delivered or skipped by
// match. Resuming from it loses nothing and repeats nothing. It is the right id to resume with
// after ErrCut, and a stream may send it in an "id:" line without data so that the browser's
// Last-Event-ID moves past skipped events.
func (s *Sub) LastID() string {
	h := s.h
	h.mu.RLock()
	cur := s.cursor.Load() // the cursor as the subscription ended
	if s.idx >= 0 {
		cur = h.slots[s.idx].cursor
	}
	h.mu.RUnlock()
	return formatID(h.prefix, cur)
}

// Done returns a channel that is closed when the subscription ends: cut off, closed, or its hub
// closed.
func (s *Sub) Done() <-chan struct{} { return s.done }

// Ready returns a channel that receives a value when Poll may have something new: a new event,
// or the end of the subscription. Wake-ups may be spurious. A reader that waits on Ready must
// have called Poll first and got nothing.
func (s *Sub) Ready() <-chan struct{} { return s.notify }

// Close ends the subscription: Next and Poll return ErrClosed (unless it had already ended
// otherwise). Close is idempotent and may be called from any goroutine, also to stop a Next
// that is waiting.
func (s *Sub) Close() {
	h := s.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.idx >= 0 {
		h.endLocked(s.idx, ErrClosed)
	}
}

// Next waits until at least one matching event follows the cursor and appends up to MaxBatch
// of them to dst, oldest first. It returns ctx.Err() when ctx is done, ErrCut when the
// subscription fell too far behind, and ErrClosed when it or its hub was closed; dst comes back
// unchanged then. Next is for one goroutine at a time. With dst reused (dst[:0]) it allocates
// nothing.
func (s *Sub) Next(ctx context.Context, dst []*Event) ([]*Event, error) {
	start := len(dst)
	for {
		var err error
		if dst, err = s.Poll(dst); err != nil || len(dst) > start {
			return dst, err
		}
		// The end of the subscription also sends on notify (finishLocked), so done need not
		// be watched here.
		if ctxDone := ctx.Done(); ctxDone == nil {
			<-s.notify
		} else {
			select {
			case <-s.notify:
			case <-ctxDone:
				return dst, ctx.Err()
			}
		}
	}
}

// Poll is Next without the wait: it appends up to MaxBatch matching events after the cursor to
// dst and returns at once. It returns no events only when the cursor has reached the newest
// event; the reader may then wait on Ready. Poll is for one goroutine at a time.
func (s *Sub) Poll(dst []*Event) ([]*Event, error) {
	h := s.h
	start := len(dst)
	for {
		h.mu.RLock()
		if s.idx < 0 {
			err := s.err
			h.mu.RUnlock()
			return dst[:start], err
		}
		cur := h.slots[s.idx].cursor
		n := min(h.head-cur, MaxBatch)
		if room := uint64(cap(dst) - len(dst)); n > room {
			if room == 0 {
				h.mu.RUnlock()
				dst = slices.Grow(dst, int(n)) // outside the lock; kept by the caller for next time
				continue
			}
			n = room
		}
		if n == 0 {
			h.mu.RUnlock()
			return dst, nil
		}
		dst = h.appendRange(dst, cur, n)
		cur += n
		s.cursor.Store(cur)
		h.slots[s.idx].cursor = cur
		h.mu.RUnlock()

		dst = s.filter(dst, start)
		if len(dst) > start {
			return dst, nil
		}
	}
}

// filter keeps the events of dst[start:] that match, in order, and clears the rest of the
// slice so that it holds no event longer than the ring does.
func (s *Sub) filter(dst []*Event, start int) []*Event {
	if s.match == nil {
		return dst
	}
	k := start
	for _, ev := range dst[start:] {
		if s.match(ev) {
			dst[k] = ev
			k++
		}
	}
	clear(dst[k:])
	return dst[:k]
}
