package outbox

import (
	"context"
	"fmt"
	"time"
)

// Submit accepts m for delivery upstream. It validates nothing about the
// content (the HTTP layer does).
//
// When m.ClientMessageID is already known, waiting or remembered, Submit
// returns its current status (queued, sent, delivered or failed) and nil, and
// sends nothing more (m's other fields are ignored). Else, when Capacity messages wait, it
// returns ErrFull. Else it stores m (with Dir: committed and fsynced before
// Submit returns, in one transaction with the Submits that arrive meanwhile, see
// commit.go; a zero AcceptedAt is set to now), emits the queued Update and
// wakes the flusher. Then, while the upstream is connected and Run is active,
// it waits until the flusher has written m (StatusSent), the connection went
// down, Close was called, Run returned or ctx ended (StatusQueued; m stays
// accepted and is sent later); before the first Run it waits too. Not
// connected, or when m cannot be written without waiting for acknowledgements,
// it returns StatusQueued at once. A new message is thus reported only as
// queued or sent, even when its acknowledgement came first.
//
// Submit is safe for concurrent use; concurrent Submits are ordered as they
// take the outbox's lock, and that order is the order upstream. It returns
// ErrClosed after Close, and the storage error (wrapped) when the commit
// failed, in which case m was not accepted.
func (o *Outbox) Submit(ctx context.Context, m Message) (Status, error) {
	if m.AcceptedAt.IsZero() {
		m.AcceptedAt = time.Now()
	}
	o.wmu.Lock()
	o.mu.Lock()
	for {
		p := o.pending[m.ClientMessageID]
		if p == nil {
			break
		}
		// The same id is being committed for another Submit: its outcome decides.
		o.mu.Unlock()
		o.wmu.Unlock()
		<-p.done
		o.wmu.Lock()
		o.mu.Lock()
	}
	st, known, err := o.admitLocked(m.ClientMessageID)
	if known || err != nil {
		o.mu.Unlock()
		o.wmu.Unlock()
		return st, err
	}

	e := &entry{msg: m, status: StatusQueued}
	var w wait
	if o.store == nil {
		w = o.pushLocked(e)
		o.mu.Unlock()
		o.wmu.Unlock()
		o.poke()
		o.ups.deliver()
	} else {
		p, err := addOp(e)
		if err != nil {
			o.mu.Unlock()
			o.wmu.Unlock()
			return "", fmt.Errorf("store message %s: %w: %w", m.ClientMessageID, ErrStorage, err)
		}
		o.pending[m.ClientMessageID] = p
		o.mu.Unlock()
		o.commits.enqueue(p)
		o.wmu.Unlock()
		<-p.done // the committer queued it (or could not store it)
		if p.err != nil {
			return "", p.err
		}
		w = p.wait
	}
	return o.awaitWrite(ctx, e, w), nil
}

// wait is what a Submit waits on after its message joined the queue: written is closed when
// the flusher wrote it, halt when the flusher cannot write; both nil when Submit does not wait.
type wait struct{ written, halt chan struct{} }

// pushLocked adds a new message at the end of the queue with its queued Update, and decides
// whether its Submit waits for the write: when the flusher can write it without waiting for
// acknowledgements. That is decided here, before the flusher can take it.
func (o *Outbox) pushLocked(e *entry) wait {
	o.q.push(e)
	if o.cursor == nil {
		o.cursor = e
	}
	o.ups.queue(Update{Message: e.msg, Status: StatusQueued})
	if o.halted || !o.writableSoonLocked(e) {
		return wait{}
	}
	e.waitCh = make(chan struct{})
	return wait{written: e.waitCh, halt: o.halt}
}

// awaitWrite waits, when w says so, until the flusher wrote e (StatusSent), or the connection
// went down, Close was called, Run returned or ctx ended (StatusQueued).
func (o *Outbox) awaitWrite(ctx context.Context, e *entry, w wait) Status {
	if w.written == nil {
		return StatusQueued
	}
	select {
	case <-w.written:
	case <-w.halt:
	case <-ctx.Done():
	}
	o.mu.Lock()
	st := e.status
	o.mu.Unlock()
	if st == StatusQueued {
		return StatusQueued
	}
	return StatusSent
}

// writableSoonLocked reports whether the flusher can write e without waiting for an
// acknowledgement: the write window has room for it and every message queued before it, no
// suspect is among them, and no failed write holds the flusher. Submit waits for the write only
// then; otherwise the message is reported queued at once (an upstream that acknowledges nothing
// would else keep the request open).
func (o *Outbox) writableSoonLocked(e *entry) bool {
	if (o.stalled && o.stallGen == o.gen) || o.probe != nil {
		return false
	}
	room := o.cfg.Window - o.unacked
	for c := o.cursor; c != nil && room > 0; c = c.next {
		if c.suspect {
			return false
		}
		if c == e {
			return true
		}
		room--
	}
	return false
}

// admitLocked decides whether a message with this id may be added: known
// reports an id already held or remembered, with its status.
func (o *Outbox) admitLocked(id string) (st Status, known bool, err error) {
	if o.closed {
		return "", false, ErrClosed
	}
	if u, ok := o.lookupLocked(id); ok {
		return u.Status, true, nil
	}
	if o.q.len()+len(o.pending) >= o.cfg.Capacity {
		return "", false, ErrFull
	}
	return "", false, nil
}

// Ack records that the upstream acknowledged the message with this id (its echo, or
// its own reply): it is delivered, removed from the outbox and remembered (with
// Dir: in one committed transaction), and its delivered Update is emitted
// (preceded by a sent Update if the acknowledgement overtook the flusher's own
// report of the write). An id that is not waiting (an echo of a message from
// another device of the user, or a second echo) is a no-op: Ack returns false.
// Ack is safe for concurrent use.
func (o *Outbox) Ack(clientMessageID string) bool {
	return o.finish(clientMessageID, StatusDelivered, "")
}

// Fail records that the upstream refused the message with this id (an error
// frame whose ref names it, or a negative reply): it is failed, removed from
// the outbox and remembered, and its failed Update carries reason as Error. An
// id that is not waiting is a no-op: Fail returns false. Fail is safe for
// concurrent use.
func (o *Outbox) Fail(clientMessageID, reason string) bool {
	return o.finish(clientMessageID, StatusFailed, reason)
}

// Cancel takes a waiting message (queued, or sent and not acknowledged) out of
// the outbox: it is not written again, and it fails with ReasonCancelled. It
// returns ErrUnknown for an id the outbox neither holds nor remembers, and
// ErrDone (wrapped, naming the status) for one delivered or failed already.
// Cancel is safe for concurrent use.
func (o *Outbox) Cancel(clientMessageID string) error {
	if o.finish(clientMessageID, StatusFailed, ReasonCancelled) {
		return nil
	}
	o.mu.Lock()
	u, ok := o.lookupLocked(clientMessageID)
	o.mu.Unlock()
	if !ok {
		return ErrUnknown
	}
	return fmt.Errorf("message %s is %s: %w", clientMessageID, u.Status, ErrDone)
}

// finish moves a waiting message to the remembered set with status st.
func (o *Outbox) finish(id string, st Status, reason string) bool {
	o.wmu.Lock()
	o.mu.Lock()
	e := o.q.get(id)
	if o.closed || e == nil {
		o.mu.Unlock()
		o.wmu.Unlock()
		return false
	}
	u := Update{Message: e.msg, Status: st, Error: reason}
	if st == StatusDelivered && e.status == StatusQueued {
		o.ups.queue(Update{Message: e.msg, Status: StatusSent, Attempt: max(e.attempts, 1)})
	}
	if o.cursor == e {
		o.cursor = e.next
	}
	if e.sentGen == o.gen && e.sentGen != 0 && !e.stale && e.status == StatusSent {
		o.unacked-- // a window slot frees
	}
	if o.probe == e {
		o.probe = nil
	}
	o.q.remove(e)
	e.status = st
	e.wakeWaiter()
	o.done.add(u)
	if o.store == nil {
		o.ups.queue(u)
	}
	o.mu.Unlock()
	if o.store != nil {
		// Stored with the next group; its Update is emitted once it is, so that a message
		// reported delivered is remembered so on disk (commit.go).
		o.commits.enqueue(&op{seq: e.seq, upd: u})
	}
	o.wmu.Unlock()
	o.poke()
	o.ups.deliver()
	return true
}
