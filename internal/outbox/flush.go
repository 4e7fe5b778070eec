package outbox

import (
	"context"
	"time"
)

// retryPause is how long the flusher waits after a write failed while the
// upstream was still reported connected (the state change usually follows at
// once, and it resumes then) before it tries that message again.
const retryPause = time.Second

// Run is the flusher, the only goroutine of the outbox. While the upstream is
// connected it writes every waiting message through Config.Sender, in Submit
// order, one at a time, without waiting for each echo (pipelining, up to
// Config.Window unacknowledged messages); each successful write emits a sent
// Update. After every connect it starts again from the oldest waiting
// message, so a message written on a connection that dropped before its echo
// is written again, with the same id (and a second sent Update). Run returns nil when ctx is done or the outbox is closed, with
// no write in progress; ErrRunning while another Run is active; ErrClosed after
// Close. It may be called again after it returned.
func (o *Outbox) Run(ctx context.Context) error {
	o.mu.Lock()
	switch {
	case o.closed:
		o.mu.Unlock()
		return ErrClosed
	case o.running:
		o.mu.Unlock()
		return ErrRunning
	}
	o.running, o.ran = true, false
	o.liveLocked()
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.running, o.ran = false, true
		o.liveLocked()
		o.mu.Unlock()
	}()

	var retry *time.Timer
	var retryC <-chan time.Time
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	for ctx.Err() == nil {
		if e, gen, ok := o.take(); ok {
			err := o.cfg.Sender.SendMessage(ctx, e.msg)
			if o.written(e, gen, err) && retryC == nil && ctx.Err() == nil {
				if retry == nil {
					retry = time.NewTimer(retryPause)
				} else {
					retry.Reset(retryPause)
				}
				retryC = retry.C
			}
			continue
		}
		select {
		case <-ctx.Done():
		case <-o.closedCh:
			return nil
		case <-o.wake:
		case <-retryC:
			retryC = nil
			o.mu.Lock()
			o.stalled = false
			o.mu.Unlock()
		}
	}
	return nil
}

// take returns the next entry to write on the current connection and marks a
// write in progress, or false when there is none to write now.
func (o *Outbox) take() (e *entry, gen uint64, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || !o.connected || o.cursor == nil || o.unacked >= o.cfg.Window ||
		(o.stalled && o.stallGen == o.gen) {
		return nil, 0, false
	}
	e = o.cursor
	o.cursor = e.next
	o.writing = true
	return e, o.gen, true
}

// written records the outcome of writing e on connection generation gen. It
// reports whether the flusher stalled on a failed write.
func (o *Outbox) written(e *entry, gen uint64, err error) (stalled bool) {
	o.mu.Lock()
	o.writing = false
	o.idle.Broadcast()
	switch {
	case gen != o.gen:
		// The connection changed during the write: SetConnected reset the
		// cursor, so e and everything after it are written again, in order.
	case err != nil:
		// The connection is going (its state change follows): write e again
		// first on the next connection, or after retryPause.
		if !e.removed {
			o.cursor = e
		}
		o.stalled, o.stallGen, stalled = true, gen, true
		o.log.Debug("outbox: write upstream failed", "err", err, "client_message_id", e.msg.ClientMessageID)
	case e.removed:
		// Acknowledged (or refused) before the write returned; Ack reported it.
	default:
		e.status = StatusSent
		e.sentGen = gen
		o.unacked++
		e.wakeWaiter()
		o.ups.queue(Update{Message: e.msg, Status: StatusSent})
	}
	o.mu.Unlock()
	o.ups.deliver()
	return stalled
}

// SetConnected tells the outbox the upstream state: call it on every state
// change, true on entering connected and false on entering any other state.
// Each true starts a new connection generation: the flusher writes every
// waiting message again from the oldest, before any newer one. A false closes
// the generation and wakes the Submit calls that wait for a write.
//
// SetConnected(false) returns only after a write in progress has returned, so
// that a write begun for the old connection can never land on the next one
// ahead of the resent older messages. With ws.Client that is immediate: when
// it reports a state other than connected, its old connection is gone and a
// pending Send fails at once. A caller that reports true twice without a false
// in between gives up that guarantee.
//
// SetConnected is safe for concurrent use; it does not block otherwise.
func (o *Outbox) SetConnected(up bool) {
	o.mu.Lock()
	if up || o.connected {
		o.gen++
		o.cursor = o.q.head
		o.unacked = 0
	}
	o.connected = up
	o.liveLocked()
	for !up && o.writing {
		o.idle.Wait()
	}
	n := o.q.len()
	o.mu.Unlock()
	if up {
		if n > 0 {
			o.log.Info("outbox: connected, sending the waiting messages", "queued", n)
		}
		o.poke()
	}
}

// liveLocked keeps halt open exactly while the flusher can write: connected,
// not closed, and Run active or not yet started (a bridge starts Run with the
// connection); it closes halt when that ends so Submit waiters wake.
func (o *Outbox) liveLocked() {
	live := o.connected && !o.closed && !o.ran
	switch {
	case live && o.halted:
		o.halt = make(chan struct{})
		o.halted = false
	case !live && !o.halted:
		close(o.halt)
		o.halted = true
	}
}

// poke wakes the flusher without blocking.
func (o *Outbox) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}
