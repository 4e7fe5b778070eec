package outbox

import "time"

// entry is one waiting message, a node of the queue. All fields are guarded
// by Outbox.mu.
type entry struct {
	msg       Message
	seq       uint64 // persistence key (Dir mode); 0 in memory
	status    Status
	sentGen   uint64        // generation of the last write; 0 = never written
	writtenAt time.Time     // of the last write
	attempts  int           // writes so far (in this process)
	stale     bool          // no acknowledgement within AckTimeout: out of the window of sentGen
	suspect   bool          // in flight when a connection broke: written alone until acknowledged
	strikes   int           // connections that broke right after it was written alone
	removed   bool          // acknowledged or failed: no longer in the queue
	waitCh    chan struct{} // a Submit waits on it; closed when written or removed; nil if none

	prev, next *entry
}

// wakeWaiter closes waitCh, if a Submit waits on it.
func (e *entry) wakeWaiter() {
	if e.waitCh != nil {
		close(e.waitCh)
		e.waitCh = nil
	}
}

// queue is the waiting messages in Submit order: an intrusive doubly linked
// list with an index by id, so that push, remove and lookup are O(1) and the
// flusher's cursor survives removals. Guarded by Outbox.mu.
type queue struct {
	head, tail *entry
	byID       map[string]*entry
}

func newQueue() queue { return queue{byID: make(map[string]*entry)} }

func (q *queue) len() int { return len(q.byID) }

func (q *queue) get(id string) *entry { return q.byID[id] }

// push appends e at the tail.
func (q *queue) push(e *entry) {
	e.prev, e.next = q.tail, nil
	if q.tail == nil {
		q.head = e
	} else {
		q.tail.next = e
	}
	q.tail = e
	q.byID[e.msg.ClientMessageID] = e
}

// remove unlinks e and marks it removed. The caller fixes up any cursor
// pointing at e first (e.next is still valid then).
func (q *queue) remove(e *entry) {
	if e.prev == nil {
		q.head = e.next
	} else {
		e.prev.next = e.next
	}
	if e.next == nil {
		q.tail = e.prev
	} else {
		e.next.prev = e.prev
	}
	e.prev, e.next = nil, nil
	e.removed = true
	delete(q.byID, e.msg.ClientMessageID)
}

// memory is the bounded set of remembered (delivered or failed) messages,
// oldest forgotten first. Remembered messages keep no Content, so that the
// set's size is bounded by ids and metadata. Guarded by Outbox.mu.
type memory struct {
	max   int
	byID  map[string]Update
	order []string // ids, oldest first, from order[head]
	head  int
}

func newMemory(max int) memory {
	return memory{max: max, byID: make(map[string]Update)}
}

func (m *memory) len() int { return len(m.byID) }

func (m *memory) get(id string) (Update, bool) {
	u, ok := m.byID[id]
	return u, ok
}

// add remembers u (its Content dropped), forgetting the oldest beyond max.
func (m *memory) add(u Update) {
	u.Message.Content = ""
	u.Attempt = 0
	id := u.Message.ClientMessageID
	if _, ok := m.byID[id]; !ok {
		m.order = append(m.order, id)
	}
	m.byID[id] = u
	for len(m.byID) > m.max {
		delete(m.byID, m.order[m.head])
		m.order[m.head] = ""
		m.head++
	}
	// Compact when the forgotten prefix dominates, keeping append amortised O(1).
	if m.head > 64 && m.head*2 > len(m.order) {
		m.order = append(m.order[:0:0], m.order[m.head:]...)
		m.head = 0
	}
}
