package outbox

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

// TestUpdatesOrder: updates queued from many goroutines are delivered in the
// order they were queued, one call at a time, and none is lost.
func TestUpdatesOrder(t *testing.T) {
	var (
		got    []string
		inCall bool
		order  sync.Mutex // stands for Outbox.mu, which orders queue calls
		want   []string
	)
	u := &updates{fn: func(up Update) {
		if inCall {
			t.Error("two OnUpdate calls at once")
		}
		inCall = true
		got = append(got, up.Message.ClientMessageID)
		inCall = false
	}}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				id := fmt.Sprintf("%d-%d", g, i)
				order.Lock()
				u.queue(Update{Message: Message{ClientMessageID: id}})
				want = append(want, id)
				order.Unlock()
				u.deliver()
			}
		})
	}
	wg.Wait()
	u.deliver()
	if !slices.Equal(got, want) {
		t.Errorf("delivered %d updates, want the %d queued, in order", len(got), len(want))
	}
}

// TestOnUpdateMayCallTheOutbox: OnUpdate runs without the outbox's lock, so
// it may call the outbox, even Submit.
func TestOnUpdateMayCallTheOutbox(t *testing.T) {
	var o *Outbox
	var seen []string
	cfg := Config{Sender: nopSender{}, OnUpdate: func(u Update) {
		if _, ok := o.lookup(u.Message.ClientMessageID); !ok {
			t.Errorf("Lookup(%s) from OnUpdate found nothing", u.Message.ClientMessageID)
		}
		seen = append(seen, fmt.Sprintf("%s %s %d", u.Message.ClientMessageID, u.Status, o.Depth()))
		if u.Message.ClientMessageID == "a" && u.Status == StatusQueued {
			if _, err := o.Submit(t.Context(), Message{ClientMessageID: "b"}); err != nil {
				t.Errorf("Submit from OnUpdate: %v", err)
			}
		}
	}}
	o, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := o.Submit(t.Context(), Message{ClientMessageID: "a"}); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	o.Ack("a")
	want := []string{"a queued 1", "b queued 2", "a sent 1", "a delivered 1"}
	if !slices.Equal(seen, want) {
		t.Errorf("updates %v, want %v", seen, want)
	}
}
