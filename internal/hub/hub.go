// Package hub fans published events out to many subscribers through one bounded history.
//
// Every event, whatever its topic, takes the next number of one sequence and is encoded once,
// at Publish, as a ready-to-write SSE frame (Event.Wire). The last Config.History events stay in
// a ring shared by everyone. A subscriber (Sub) is only a cursor into that ring plus a match
// function: it has no queue of its own and the hub runs no goroutine for it. Publish appends to
// the ring and wakes each subscriber that wants the event with a non-blocking send on a
// one-slot channel, so it never waits for a subscriber. A subscriber that falls more than Config.Buffer events behind is cut
// off (Next and Poll return ErrCut); it may subscribe again with its last id and loses nothing
// as long as the history still holds the events after that id.
//
// Resuming is exact: Subscribe takes its cursor under the lock Publish holds, so replaying the
// history after an id and then following live events has no gap and no duplicate.
//
// The hub starts no goroutines.
package hub

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultHistory  = 10000
	DefaultBuffer   = 1024
	DefaultMaxBytes = 64 << 20
)

var (
	// ErrClosed is returned by Next and Poll once the Sub or the whole Hub is closed.
	ErrClosed = errors.New("hub: closed")
	// ErrCut is returned by Next and Poll once the Sub fell too far behind and was cut off. The
	// subscriber may Subscribe again with the id of the last event it handled.
	ErrCut = errors.New("hub: subscriber cut off: too far behind")
)

// Config configures a Hub. The zero value is ready to use.
type Config struct {
	// History is how many of the newest events (of all topics together) are kept for resuming.
	// Zero or less means DefaultHistory (10000); 1 is raised to 2.
	History int
	// Buffer is how many events (of all topics) a subscriber may fall behind the newest one,
	// beyond the lag it started with, before it is cut off. Zero or less means DefaultBuffer
	// (1024); anything at or above History becomes History-1, so that a cut subscriber can
	// still resume from where it stood.
	Buffer int
	// MaxBytes bounds the encoded size of the history: beyond it the oldest events leave it
	// before History is reached (an upstream that sends 1 MiB frames must not make the history
	// hold 10000 of them). Zero or less means DefaultMaxBytes (64 MiB). The newest event is
	// always kept, whatever its size.
	MaxBytes int
}

// Hub is the fan-out. All its methods are safe for concurrent use.
type Hub struct {
	prefix  string // "<run>-"
	history uint64
	buffer  uint64

	mu     sync.RWMutex
	ring   []*Event          // event seq lives at ring[seq%history]; nil once it left the history
	head   uint64            // seq of the newest event; 0 before the first
	oldest uint64            // seq of the oldest event still kept (head+1 when none)
	bytes  int64             // encoded size of the events kept
	max    int64             // Config.MaxBytes
	slots  []slot            // the live subscriptions, in no order
	bits   map[string]uint64 // topic -> its bit in the slots' masks (at most 64 topics get one)
	closed bool

	published, cut, resets atomic.Uint64
	subscribers            atomic.Int64
}

// slot is the hub's view of one live subscription, kept in a flat slice so that Publish walks
// contiguous memory.
type slot struct {
	cursor uint64 // the subscription's cursor: written by its reader under mu.RLock or by Publish
	maxLag uint64
	// A Filter's subscription is matched here without a call: topics and keyed are masks of
	// topic bits, key the conversation (see Filter). match is set instead for a subscription
	// by function, or a Filter naming a topic that got no bit.
	topics, keyed uint64
	key           string
	match         func(*Event) bool
	all           bool // subscribed with a nil match: every event
	notify        chan struct{}
	sub           *Sub
}

// wants reports whether the slot's subscription wants ev, whose topic has the bit given.
func (sl *slot) wants(ev *Event, bit uint64) bool {
	if sl.all {
		return true
	}
	if sl.match != nil {
		return sl.match(ev)
	}
	return sl.topics&bit != 0 && (sl.key == "" || sl.keyed&bit == 0 || sl.key == ev.Key)
}

// bitLocked returns topic's bit, giving it the next free one; 0 once 64 topics have one.
// h.mu must be held for writing.
func (h *Hub) bitLocked(topic string) uint64 {
	if b, ok := h.bits[topic]; ok {
		return b
	}
	if len(h.bits) == 64 {
		return 0
	}
	if h.bits == nil {
		h.bits = make(map[string]uint64)
	}
	b := uint64(1) << len(h.bits)
	h.bits[topic] = b
	return b
}

// New returns a Hub with cfg's defaults filled in.
func New(cfg Config) *Hub {
	if cfg.History <= 0 {
		cfg.History = DefaultHistory
	}
	cfg.History = max(cfg.History, 2)
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultBuffer
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	cfg.Buffer = min(cfg.Buffer, cfg.History-1)
	return &Hub{
		prefix:  newRun() + "-",
		history: uint64(cfg.History),
		oldest:  1,
		max:     int64(cfg.MaxBytes),
		buffer:  uint64(cfg.Buffer),
		ring:    make([]*Event, cfg.History),
	}
}

// Publish records one event and wakes the subscribers that want it; it returns the event,
// which nobody may modify. It is safe for concurrent use and never waits for a subscriber: its
// work per subscriber is a comparison and, for one that has read everything before, a test of
// its filter (two mask tests and a string comparison, or a call of its match function for one
// subscribed by function) and at most one non-blocking channel send.
//
// data must be one line of JSON (json.Marshal and json.Compact produce that). Publish copies
// it, drops trailing line breaks, and turns any other line break into a new data field, which a
// browser reads back as "\n". A CR or LF in typ becomes a space. After Close, Publish still
// records events (LastID follows them) but nobody receives them.
func (h *Hub) Publish(topic, typ, key string, data []byte) *Event {
	typ = oneLine(typ)
	data = bytes.TrimRight(data, "\r\n")
	idLen := len(h.prefix) + seqDigits
	wire, body := frame(idLen, typ, data)
	id := wire[len(idField) : len(idField)+idLen]
	copy(id, h.prefix)
	ev := &Event{Topic: topic, Type: typ, Key: key, Data: body, Wire: wire}

	h.mu.Lock()
	defer h.mu.Unlock()
	seq := h.head + 1
	putSeq(id[len(h.prefix):], seq)
	ev.Seq, ev.ID, ev.At = seq, string(id), time.Now()
	bit := h.bitLocked(topic)
	h.keepLocked(seq, ev)
	h.published.Add(1)
	for i := 0; i < len(h.slots); {
		sl := &h.slots[i]
		lag := seq - sl.cursor
		if lag > sl.maxLag || sl.cursor+1 < h.oldest { // too far behind, or its next events left the history
			h.endLocked(i, ErrCut)
			h.cut.Add(1)
			continue // slot i now holds another subscription
		}
		// A reader only waits after it saw no event after its cursor, so one whose cursor is
		// older than seq-1 already got a wake-up for seq-1 or earlier that it has not acted on,
		// or is reading. One that has caught up is woken only for an event it wants; else its
		// cursor moves past the event here, as its Poll would, so that an idle stream is
		// neither woken nor cut by traffic it filters out.
		if lag == 1 {
			if sl.wants(ev, bit) {
				select {
				case sl.notify <- struct{}{}:
				default:
				}
			} else {
				sl.cursor = seq // only here: the Sub's own copy would cost a cache miss per slot
			}
		}
		i++
	}
	return ev
}

// keepLocked puts event seq in the history and lets the oldest events go: the one whose ring
// slot it takes, and then as many as the byte budget needs (never seq itself). h.mu must be held
// for writing.
func (h *Hub) keepLocked(seq uint64, ev *Event) {
	slot := seq % h.history
	if old := h.ring[slot]; old != nil {
		h.bytes -= int64(len(old.Wire))
	}
	h.ring[slot] = ev
	h.bytes += int64(len(ev.Wire))
	h.head = seq
	if seq >= h.history {
		h.oldest = max(h.oldest, seq-h.history+1)
	}
	for h.bytes > h.max && h.oldest < seq {
		i := h.oldest % h.history
		if old := h.ring[i]; old != nil {
			h.bytes -= int64(len(old.Wire))
			h.ring[i] = nil
		}
		h.oldest++
	}
}

// endLocked ends the subscription in slot i with err and removes the slot. h.mu must be held
// for writing.
func (h *Hub) endLocked(i int, err error) {
	s := h.slots[i].sub
	s.cursor.Store(h.slots[i].cursor)
	last := len(h.slots) - 1
	h.slots[i] = h.slots[last]
	h.slots[i].sub.idx = i
	h.slots[last] = slot{}
	h.slots = h.slots[:last]
	h.subscribers.Add(-1)
	s.finishLocked(err)
}

// Close ends every subscription: their Next and Poll return ErrClosed from now on, and so do
// those of later Subscribes. Close is idempotent and safe for concurrent use.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for len(h.slots) > 0 {
		h.endLocked(len(h.slots)-1, ErrClosed)
	}
	h.slots = nil
}

// LastID returns the id of the newest event, "<run>-0000000000000000" before the first. A
// subscription resumed from it receives exactly the events published after this call.
// LastID is safe for concurrent use.
func (h *Hub) LastID() string {
	h.mu.RLock()
	head := h.head
	h.mu.RUnlock()
	return formatID(h.prefix, head)
}

// Subscribers returns the number of live subscriptions. It is safe for concurrent use.
func (h *Hub) Subscribers() int {
	return int(h.subscribers.Load())
}

// Stats are counters since New, for metrics.
type Stats struct {
	Published   uint64 // events published
	Cut         uint64 // subscriptions cut off for falling behind
	Resets      uint64 // subscriptions that could not resume from their id (see Sub.Reset)
	Subscribers int    // live subscriptions now
}

// Stats returns the counters. It is safe for concurrent use and takes no lock; the counters are
// read one by one, not as one snapshot.
func (h *Hub) Stats() Stats {
	return Stats{
		Published:   h.published.Load(),
		Cut:         h.cut.Load(),
		Resets:      h.resets.Load(),
		Subscribers: h.Subscribers(),
	}
}

// appendRange appends the n events after seq from to dst; they must all be in the ring and dst
// must have room for them. h.mu must be held.
func (h *Hub) appendRange(dst []*Event, from, n uint64) []*Event {
	i := (from + 1) % h.history
	first := min(n, h.history-i)
	dst = append(dst, h.ring[i:i+first]...)
	return append(dst, h.ring[:n-first]...)
}
