package outbox

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
)

// Group commit. With Dir, every change to the state file is an op handed to one goroutine, the
// committer, in the order the outbox made the changes (they are handed over with wmu held). The
// committer writes every op that arrived while its previous commit ran in ONE bbolt
// transaction, so the Submits that arrive together share one fsync instead of paying one each.
// Nothing waits on a timer: an op that finds the committer idle is committed at once, so a lone
// Submit costs what it did before, and under load the groups grow by themselves.
//
// A Submit waits for its group's commit (a 202 means the message is on disk); the committer
// then adds the message to the queue, so the queue's order is still the Submit order. A status
// change (Ack, Fail, Cancel, expiry) does not wait: the outbox's memory follows the upstream at
// once (the message leaves the queue and is not written again), but its Update (the
// message.status event) is emitted only once the change is committed, so a message reported
// delivered is remembered as delivered after a crash. The reader of the upstream, which
// acknowledges, thus never waits for the disk. When such a commit fails the Update is emitted
// all the same, the failure is logged once per episode, and after a restart the message is
// resent once more, which an upstream that de-duplicates by client_message_id absorbs.
//
// A group whose transaction fails is committed again one op per transaction, so one op that
// cannot be stored (none is expected to) does not fail the others with it.

// op is one change to the state file.
type op struct {
	add *entry // a Submit's message; nil for a status change
	v   []byte // add: the Message as JSON
	seq uint64 // add: set by the commit; status change: the queued key to delete
	upd Update // status change: what to remember

	err  error         // add: the commit's result, read once done is closed
	wait wait          // add: what the Submit waits on next, set with err
	done chan struct{} // add: closed when committed, or when the commit failed
}

// committer is the state of the commit loop; ops and stopped are guarded by mu.
type committer struct {
	mu      sync.Mutex
	ops     []*op
	stopped bool
	wake    chan struct{} // buffered 1
	exited  chan struct{} // closed when the loop returned

	commits, changes atomic.Uint64 // transactions committed, and the ops they held
}

// CommitStats is what the committer has written: Commits transactions (each one fsync),
// holding Changes changes (stored messages and status changes). Changes / Commits is the
// group size.
type CommitStats struct {
	Commits, Changes uint64
}

// CommitStats reads the committer's counters (zero without Dir). It is safe for concurrent use.
func (o *Outbox) CommitStats() CommitStats {
	if o.commits == nil {
		return CommitStats{}
	}
	return CommitStats{Commits: o.commits.commits.Load(), Changes: o.commits.changes.Load()}
}

// startCommitter starts the commit loop of an outbox with a store.
func (o *Outbox) startCommitter() {
	o.commits = &committer{wake: make(chan struct{}, 1), exited: make(chan struct{})}
	go o.commitLoop()
}

// enqueue hands ops to the committer. Call it with wmu held: the order of the calls is the
// order on disk.
func (c *committer) enqueue(ops ...*op) {
	c.mu.Lock()
	c.ops = append(c.ops, ops...)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// stop commits what is enqueued, then ends the loop and waits for it.
func (c *committer) stop() {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	<-c.exited
}

// commitLoop commits groups until stop, committing every op enqueued before it.
func (o *Outbox) commitLoop() {
	c := o.commits
	defer close(c.exited)
	var group []*op
	for range c.wake {
		for {
			c.mu.Lock()
			group, c.ops = c.ops, group[:0]
			stopped := c.stopped
			c.mu.Unlock()
			if len(group) == 0 {
				if stopped {
					return
				}
				break
			}
			o.applyCommitted(group, o.commitGroup(group))
			clear(group) // drop the references before the slice is reused
		}
	}
}

// commitGroup commits a group in one transaction, or, when that fails, each op in its own; it
// answers each op's error (nil for all when the group committed).
func (o *Outbox) commitGroup(group []*op) []error {
	errs := make([]error, len(group))
	err := o.commit(group)
	if err == nil || len(group) == 1 {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for i := range group {
		errs[i] = o.commit(group[i : i+1 : i+1])
	}
	return errs
}

// commit commits ops in one transaction, counting it.
func (o *Outbox) commit(ops []*op) error {
	err := o.store.commit(ops)
	if err == nil {
		o.commits.commits.Add(1)
		o.commits.changes.Add(uint64(len(ops)))
	}
	return err
}

// applyCommitted makes a committed group visible: each added message joins the queue, in
// order, with its queued Update, and its Submit is woken; a status change that could not be
// stored is logged (once per episode).
func (o *Outbox) applyCommitted(group []*op, errs []error) {
	o.mu.Lock()
	for i, p := range group {
		if p.add == nil {
			o.noteStored(p.upd, errs[i])
			o.ups.queue(p.upd) // stored or not: memory follows the upstream
			continue
		}
		e := p.add
		delete(o.pending, e.msg.ClientMessageID)
		if errs[i] == nil {
			e.seq = p.seq
			p.wait = o.pushLocked(e)
		} else {
			p.err = fmt.Errorf("store message %s: %w: %w", e.msg.ClientMessageID, ErrStorage, errs[i])
		}
		close(p.done)
	}
	o.mu.Unlock()
	o.poke()
	o.ups.deliver()
}

// noteStored logs the first status change of an episode that could not be stored, and the
// first one stored again after it.
func (o *Outbox) noteStored(u Update, err error) {
	if err != nil && o.storeFailing.CompareAndSwap(false, true) {
		// The message was delivered (or refused) all the same: memory follows the upstream.
		// After a restart it is resent once more, which the upstream de-duplicates.
		o.log.Error("outbox: could not store a status change; later ones are not logged until one is stored again",
			"err", err, "client_message_id", u.Message.ClientMessageID, "status", u.Status)
	}
	if err == nil && o.storeFailing.CompareAndSwap(true, false) {
		o.log.Info("outbox: status changes are stored again")
	}
}

// addOp is the op that stores a new message.
func addOp(e *entry) (*op, error) {
	v, err := json.Marshal(e.msg)
	if err != nil {
		return nil, err
	}
	return &op{add: e, v: v, done: make(chan struct{})}, nil
}
