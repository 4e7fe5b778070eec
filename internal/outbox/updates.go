package outbox

import "sync"

// updates delivers Config.OnUpdate calls in the order the status changes
// happened, one call at a time, without holding Outbox.mu: a change is queued
// under Outbox.mu (queue) and handed out by deliver, called after Outbox.mu is
// released. Whoever calls deliver while nobody delivers becomes the deliverer
// and drains the queue, including changes other goroutines queue meanwhile;
// the others return at once. So OnUpdate may call the Outbox (even Submit),
// and a slow OnUpdate delays only the goroutine that happens to deliver.
type updates struct {
	fn func(Update) // nil: updates are dropped

	mu         sync.Mutex
	pending    []Update
	spare      []Update // the drained slice, reused
	delivering bool
}

// queue records u for delivery. The caller holds Outbox.mu, which orders the
// changes.
func (u *updates) queue(up Update) {
	if u.fn == nil {
		return
	}
	u.mu.Lock()
	u.pending = append(u.pending, up)
	u.mu.Unlock()
}

// deliver calls fn for every queued update, in order, unless another goroutine
// is already doing so (it will see these too). The caller must not hold
// Outbox.mu.
func (u *updates) deliver() {
	if u.fn == nil {
		return
	}
	u.mu.Lock()
	if u.delivering {
		u.mu.Unlock()
		return
	}
	u.delivering = true
	finished := false
	defer func() {
		if !finished { // fn panicked: let the next deliver take over
			u.mu.Lock()
			u.delivering = false
			u.mu.Unlock()
		}
	}()
	for len(u.pending) > 0 {
		batch := u.pending
		u.pending = u.spare[:0]
		u.mu.Unlock()
		for i, up := range batch {
			u.fn(up)
			batch[i] = Update{} // drop the message content
		}
		u.mu.Lock()
		u.spare = batch
	}
	// Seeing the queue empty and giving up the role happen under one lock, so
	// an update queued right after is delivered by its own caller.
	u.delivering = false
	finished = true
	u.mu.Unlock()
}
