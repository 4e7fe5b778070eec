package outbox

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// holdWrites takes bbolt's writer lock on o's file, as a long commit would: the committer's
// next transaction waits until release is called.
func holdWrites(t *testing.T, o *Outbox) (release func()) {
	t.Helper()
	tx, err := o.store.db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	return sync.OnceFunc(func() { _ = tx.Rollback() })
}

// awaitPending waits until n Submits have handed their message to the committer: they are
// pending and none holds wmu (a Submit enqueues its op before it lets wmu go).
func awaitPending(t *testing.T, o *Outbox, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if o.wmu.TryLock() {
			o.mu.Lock()
			p := len(o.pending)
			o.mu.Unlock()
			o.wmu.Unlock()
			if p == n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Submits never all reached the committer")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSubmitsArrivingTogetherShareOneCommit: the Submits that arrive while a commit runs wait
// together, and the next transaction stores them all, in the order they were admitted.
func TestSubmitsArrivingTogetherShareOneCommit(t *testing.T) {
	dir := t.TempDir()
	o, err := Open(Config{Sender: nopSender{}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	release := holdWrites(t, o)
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			st, err := o.Submit(context.Background(), Message{ClientMessageID: fmt.Sprint("g", i), ConversationID: "c", Content: "x"})
			if err == nil && st != StatusQueued {
				err = fmt.Errorf("g%d: %s, want queued", i, st)
			}
			errs <- err
		})
	}
	awaitPending(t, o, n)
	if got := o.CommitStats(); got.Commits != 0 {
		t.Fatalf("%d commits while the file was held", got.Commits)
	}
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// The committer took the first op(s) before it found the file held; every other one is in
	// the next transaction.
	if got := o.CommitStats(); got.Changes != n || got.Commits > 2 {
		t.Errorf("%d messages were stored in %d commits (%d changes), want %d in at most 2", n, got.Commits, got.Changes, n)
	}
	order := waiting(t, o)
	if _, err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o, err = Open(Config{Sender: nopSender{}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if got := waiting(t, o); !slices.Equal(got, order) || len(got) != n {
		t.Errorf("after a reopen the file holds %v, want the %d in memory's order %v", got, n, order)
	}
}

// TestStatusChangeIsReportedOnceStored: an acknowledgement takes the message out of the queue
// at once, but its delivered Update comes only once the change is committed.
func TestStatusChangeIsReportedOnceStored(t *testing.T) {
	updates := make(chan Update, 10)
	o, err := Open(Config{Sender: nopSender{}, Dir: t.TempDir(), OnUpdate: func(u Update) { updates <- u }})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := o.Submit(context.Background(), Message{ClientMessageID: "a1", ConversationID: "c", Content: "x"}); err != nil {
		t.Fatal(err)
	}
	if u := <-updates; u.Status != StatusQueued {
		t.Fatalf("first update %+v, want queued", u)
	}
	release := holdWrites(t, o)
	defer release()
	if !o.Ack("a1") {
		t.Fatal("Ack(a1) = false")
	}
	if d := o.Depth(); d != 0 {
		t.Errorf("depth %d after the ack, want 0: the flusher must not write it again", d)
	}
	select {
	case u := <-updates:
		if u.Status == StatusDelivered {
			t.Fatalf("delivered reported before it was stored: %+v", u)
		}
	default:
	}
	release()
	for u := range updates {
		if u.Status == StatusDelivered {
			break
		}
	}
	if got := o.CommitStats(); got.Changes != 2 {
		t.Errorf("%d changes committed, want 2 (the message, its delivery)", got.Changes)
	}
}
