package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// retryPause is how long the flusher waits after a write failed while the
// upstream was still reported connected (the state change usually follows at
// once, and it resumes then) before it tries that message again.
const retryPause = time.Second

// Run is the flusher, the only goroutine of the outbox. While the upstream is
// connected it writes every waiting message through Config.Sender, in Submit
// order, one at a time, without waiting for each acknowledgement (pipelining,
// up to Config.Window unacknowledged messages; a suspect is written alone);
// each successful write emits a sent Update (with AckWrite, a delivered one
// too). After every connect it starts again from the oldest waiting message,
// so a message written on a connection that dropped before its
// acknowledgement is written again, with the same id (and a sent Update with
// its Attempt). It also fails the messages that outlived the TTL. Run returns
// nil when ctx is done or the outbox is closed, with no write in progress;
// ErrRunning while another Run is active; ErrClosed after Close. It may be
// called again after it returned.
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

	retry := newTimer()
	defer retry.stop()
	due := newTimer() // the next message to expire, or to go stale
	defer due.stop()
	for ctx.Err() == nil {
		now := time.Now()
		o.expire(now)
		next := o.staleUntil(now)
		if e, gen, ok := o.take(); ok {
			err := o.cfg.Sender.SendMessage(ctx, e.msg)
			if o.written(e, gen, err) && !retry.armed() && ctx.Err() == nil {
				retry.set(retryPause)
			}
			continue
		}
		due.set(next)
		select {
		case <-ctx.Done():
		case <-o.closedCh:
			return nil
		case <-o.wake:
		case <-due.c():
			due.fired()
		case <-retry.c():
			retry.fired()
			o.mu.Lock()
			o.stalled = false
			o.mu.Unlock()
		}
	}
	return nil
}

// take returns the next entry to write on the current connection and marks a
// write in progress, or false when there is none to write now: the window is
// full, a suspect waits for its acknowledgement, or the next one is a suspect
// and others are still unacknowledged.
func (o *Outbox) take() (e *entry, gen uint64, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || !o.connected || o.cursor == nil || o.probe != nil ||
		(o.stalled && o.stallGen == o.gen) {
		return nil, 0, false
	}
	e = o.cursor
	switch {
	case e.suspect && o.unacked > 0:
		return nil, 0, false
	case e.suspect:
		o.probe = e
	case o.unacked >= o.cfg.Window:
		return nil, 0, false
	}
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
	deliver, refused := false, false
	switch {
	case errors.Is(err, ErrRefused) && !e.removed:
		refused = true // it fails below; the cursor has moved past it already
		if o.probe == e {
			o.probe = nil
		}
	case gen != o.gen:
		// The connection changed during the write: SetConnected reset the
		// cursor, so e and everything after it are written again, in order.
	case err != nil:
		// The connection is going (its state change follows): write e again
		// first on the next connection, or after retryPause.
		if !e.removed {
			o.cursor = e
		}
		if o.probe == e {
			o.probe = nil
		}
		o.stalled, o.stallGen, stalled = true, gen, true
		o.log.Debug("outbox: write upstream failed", "err", err, "client_message_id", e.msg.ClientMessageID)
	case e.removed:
		// Acknowledged (or refused) before the write returned; Ack reported it.
	default:
		e.status = StatusSent
		e.sentGen, e.writtenAt, e.stale = gen, time.Now(), false
		e.attempts++
		o.unacked++
		o.inflight = append(o.inflight, e)
		e.wakeWaiter()
		o.ups.queue(Update{Message: e.msg, Status: StatusSent, Attempt: e.attempts})
		deliver = o.cfg.Ack == AckWrite
	}
	o.mu.Unlock()
	o.ups.deliver()
	switch {
	case deliver:
		o.finish(e.msg.ClientMessageID, StatusDelivered, "")
	case refused:
		o.log.Warn("outbox: message refused", "client_message_id", e.msg.ClientMessageID, "err", err)
		o.finish(e.msg.ClientMessageID, StatusFailed, err.Error())
	}
	return stalled
}

// staleUntil takes the messages written on the current connection that had no
// acknowledgement within AckTimeout out of the window (they wait on; a suspect
// among them is taken as innocent) and returns how long until the next one is
// due, or until the next message expires; -1 when nothing is due.
func (o *Outbox) staleUntil(now time.Time) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	next := time.Duration(-1)
	if o.q.head != nil {
		next = o.q.head.msg.AcceptedAt.Add(o.cfg.TTL).Sub(now)
	}
	n := 0
	for _, e := range o.inflight {
		if e.removed || e.sentGen != o.gen || e.stale {
			n++
			continue
		}
		left := e.writtenAt.Add(o.cfg.AckTimeout).Sub(now)
		if left > 0 {
			if next < 0 || left < next {
				next = left
			}
			break
		}
		e.stale = true
		o.unacked--
		if o.probe == e {
			o.probe, e.suspect = nil, false
		}
		n++
		o.log.Warn("outbox: no acknowledgement from the upstream; the message waits on outside the write window (a server that never echoes needs ack: write)",
			"client_message_id", e.msg.ClientMessageID, "after", o.cfg.AckTimeout)
	}
	o.inflight = o.inflight[n:]
	return next
}

// expire fails the waiting messages older than the TTL, but for those written on
// the current connection and still awaiting their acknowledgement.
func (o *Outbox) expire(now time.Time) {
	var ids []string
	o.mu.Lock()
	for e := o.q.head; e != nil && now.Sub(e.msg.AcceptedAt) >= o.cfg.TTL; e = e.next {
		if e.sentGen == o.gen && o.connected && !e.stale {
			continue
		}
		ids = append(ids, e.msg.ClientMessageID)
	}
	o.mu.Unlock()
	for _, id := range ids {
		o.finish(id, StatusFailed, ReasonExpired)
	}
}

// SetConnected tells the outbox the upstream state: call it on every state
// change, true on entering connected and false on entering any other state
// (Down says more about how a connection ended). Each true starts a new
// connection generation: the flusher writes every waiting message again from
// the oldest, before any newer one. A false closes the generation and wakes the
// Submit calls that wait for a write.
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
	if !up {
		o.Down(Drop{Kind: DropClean})
		return
	}
	o.mu.Lock()
	o.gen++
	o.cursor = o.q.head
	o.unacked, o.inflight, o.probe = 0, o.inflight[:0], nil
	o.connected = true
	o.liveLocked()
	n := o.q.len()
	o.mu.Unlock()
	if n > 0 {
		o.log.Info("outbox: connected, sending the waiting messages", "queued", n)
	}
	o.poke()
}

// DropKind is how a connection ended, as far as the outbox cares.
type DropKind int

const (
	// DropClean: the bridge closed it, or it never was connected.
	DropClean DropKind = iota
	// DropRestart: the upstream ended it for a reason of its own: it goes away
	// (close 1001 or 1012), or it refused the token.
	DropRestart
	// DropBroken: it broke, or the upstream closed it for another reason.
	DropBroken
	// DropRefused: the upstream closed it with 1009 (message too big) or 1007
	// (invalid data): it refused what the bridge wrote.
	DropRefused
)

// Drop is how a connection ended.
type Drop struct {
	Kind DropKind
	Code int // the close code, for the reason of a refused message
}

// Down tells the outbox the upstream connection ended (SetConnected(false)
// with how). After a DropBroken or DropRefused, the messages written on it and
// not acknowledged become suspects; a suspect that was written alone fails at
// once on a DropRefused, or after strikesToFail DropBroken in a row; a single
// message in flight on a DropRefused fails at once. Down is safe for
// concurrent use; it returns after a write in progress has returned.
func (o *Outbox) Down(d Drop) {
	o.mu.Lock()
	was := o.connected
	o.connected = false // take writes nothing more
	o.liveLocked()
	for o.writing { // a write in progress records itself on the old generation
		o.idle.Wait()
	}
	old := o.gen
	if was {
		o.gen++
		o.cursor = o.q.head
	}
	o.unacked, o.inflight = 0, o.inflight[:0]
	var fail []*entry
	if was && (d.Kind == DropBroken || d.Kind == DropRefused) {
		fail = o.suspectLocked(old, d)
	}
	o.probe = nil
	o.mu.Unlock()
	for _, e := range fail {
		reason := fmt.Sprintf("the upstream dropped the connection right after this message %d times in a row", strikesToFail)
		if d.Kind == DropRefused {
			reason = fmt.Sprintf("refused by the upstream: it closed the connection with %d (%s) right after this message",
				d.Code, closeText(d.Code))
		}
		o.log.Warn("outbox: message refused by the upstream", "client_message_id", e.msg.ClientMessageID, "reason", reason)
		o.finish(e.msg.ClientMessageID, StatusFailed, reason)
	}
}

// suspectLocked marks the messages written on generation gen and not
// acknowledged as suspects, and returns those to fail.
func (o *Outbox) suspectLocked(gen uint64, d Drop) []*entry {
	if p := o.probe; p != nil && !p.removed && p.sentGen == gen {
		p.strikes++
		if d.Kind == DropRefused || p.strikes >= strikesToFail {
			return []*entry{p}
		}
		return nil
	}
	var inflight []*entry
	for e := o.q.head; e != nil; e = e.next {
		if e.sentGen == gen {
			e.suspect = true
			inflight = append(inflight, e)
		}
	}
	if d.Kind == DropRefused && len(inflight) == 1 {
		return inflight
	}
	return nil
}

func closeText(code int) string {
	switch code {
	case 1009:
		return "message too big"
	case 1007:
		return "invalid data"
	}
	return "refused"
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

// timer is a reusable one-shot timer that the flusher arms and waits on.
type timer struct {
	t  *time.Timer
	on bool
}

func newTimer() *timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &timer{t: t}
}

// set arms the timer for d (d < 0 disarms it).
func (t *timer) set(d time.Duration) {
	t.t.Stop()
	t.on = d >= 0
	if t.on {
		t.t.Reset(max(d, 0))
	}
}

func (t *timer) armed() bool { return t.on }

func (t *timer) fired() { t.on = false }

// c is the channel to wait on: nil (never ready) while disarmed.
func (t *timer) c() <-chan time.Time {
	if !t.on {
		return nil
	}
	return t.t.C
}

func (t *timer) stop() { t.t.Stop() }
