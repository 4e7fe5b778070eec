package outbox

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// gateSender is a Sender that hands each write to the test and returns what
// the test answers, so a test decides when and how every write ends.
type gateSender struct {
	calls   chan string
	results chan error
}

func newGateSender() *gateSender {
	return &gateSender{calls: make(chan string), results: make(chan error)}
}

func (g *gateSender) SendMessage(ctx context.Context, m Message) error {
	select {
	case g.calls <- m.ClientMessageID:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-g.results:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write waits for the next write, checks its id and ends it with err.
func (g *gateSender) write(t *testing.T, want string, err error) {
	t.Helper()
	select {
	case id := <-g.calls:
		if id != want {
			t.Fatalf("write of %s, want %s", id, want)
		}
	case <-time.After(bound):
		t.Fatalf("timed out waiting for the write of %s", want)
	}
	g.results <- err
}

// startGated opens a memory outbox on a gateSender and runs its flusher until
// the test ends.
func startGated(t *testing.T, cfg Config) (*Outbox, *gateSender, *waitLog[Update]) {
	t.Helper()
	g := newGateSender()
	ups := newWaitLog[Update]()
	cfg.Sender, cfg.OnUpdate = g, ups.add
	o, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := o.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		_, _ = o.Close()
	})
	return o, g, ups
}

// TestPipelineAndResend: the flusher writes every waiting message without
// waiting for echoes; after a reconnect it writes the unacknowledged ones
// again, oldest first, skipping the acknowledged ones.
func TestPipelineAndResend(t *testing.T) {
	o, g, _ := startGated(t, Config{})
	for _, id := range []string{"a", "b", "c"} {
		if st, err := o.Submit(t.Context(), Message{ClientMessageID: id}); st != StatusQueued || err != nil {
			t.Fatalf("Submit %s = %s, %v", id, st, err)
		}
	}
	o.SetConnected(true)
	for _, id := range []string{"a", "b", "c"} {
		g.write(t, id, nil)
	}
	if !o.Ack("b") || o.Ack("b") || o.Ack("unknown") {
		t.Fatal("Ack: want true for b once, false for a second ack and an unknown id")
	}
	o.SetConnected(false)
	o.SetConnected(true)
	g.write(t, "a", nil)
	g.write(t, "c", nil)
	if st := submitAsync(t, o, "d", func() { g.write(t, "d", nil) }); st != StatusSent {
		t.Errorf("Submit while connected = %s, want sent", st)
	}
}

// submitAsync submits id in a goroutine, runs during while it waits, and
// returns its status.
func submitAsync(t *testing.T, o *Outbox, id string, during func()) Status {
	t.Helper()
	res := make(chan Status, 1)
	go func() {
		st, err := o.Submit(context.Background(), Message{ClientMessageID: id})
		if err != nil {
			t.Errorf("Submit %s: %v", id, err)
		}
		res <- st
	}()
	during()
	select {
	case st := <-res:
		return st
	case <-time.After(bound):
		t.Fatalf("timed out waiting for Submit %s", id)
		return ""
	}
}

// TestReconnectDuringWrite: a down/up while a write is in flight neither skips
// nor reorders: SetConnected(false) waits for the write (which reached the old
// connection, so it is reported sent), and the new connection starts again
// from the oldest message.
func TestReconnectDuringWrite(t *testing.T) {
	o, g, ups := startGated(t, Config{})
	for _, id := range []string{"a", "b"} {
		_, _ = o.Submit(t.Context(), Message{ClientMessageID: id})
	}
	o.SetConnected(true)
	select {
	case id := <-g.calls: // a's write is in flight now
		if id != "a" {
			t.Fatalf("first write %s, want a", id)
		}
	case <-time.After(bound):
		t.Fatal("timed out waiting for the first write")
	}
	o.mu.Lock()
	halt := o.halt // closed by SetConnected(false) before it waits for the write
	o.mu.Unlock()
	down := make(chan struct{})
	go func() {
		o.SetConnected(false)
		close(down)
	}()
	select {
	case <-halt:
	case <-time.After(bound):
		t.Fatal("timed out waiting for SetConnected(false) to start")
	}
	select {
	case <-down:
		t.Fatal("SetConnected(false) returned while a write was in flight")
	default:
	}
	g.results <- nil // the stale write ends (on the old connection)
	<-down
	o.SetConnected(true)
	g.write(t, "a", nil)
	g.write(t, "b", errors.New("connection lost")) // stalls until the next connect
	o.SetConnected(false)
	o.SetConnected(true)
	g.write(t, "a", nil)
	g.write(t, "b", nil)
	ups.wait(t, "b sent", func(us []Update) bool { return len(statusesOf(us, "b")) == 2 })
	o.Ack("a")
	o.Ack("b")
	ups.wait(t, "b delivered", func(us []Update) bool { return len(us) > 0 && us[len(us)-1].Status == StatusDelivered })
	want := []string{"a queued", "b queued", "a sent", "a sent", "a sent", "b sent", "a delivered", "b delivered"}
	var got []string
	for _, u := range ups.all() {
		got = append(got, u.Message.ClientMessageID+" "+string(u.Status))
	}
	if !slices.Equal(got, want) {
		t.Errorf("updates\n%v\nwant\n%v", got, want)
	}
}

// TestSubmitWaitEnds: a Submit waiting for its write returns queued when the
// connection goes down or its ctx ends, and sent when an echo overtakes the
// write's report.
func TestSubmitWaitEnds(t *testing.T) {
	o, g, ups := startGated(t, Config{})
	o.SetConnected(true)

	ctx, cancel := context.WithCancel(t.Context())
	res := make(chan Status, 1)
	go func() {
		st, _ := o.Submit(ctx, Message{ClientMessageID: "ctx"})
		res <- st
	}()
	<-g.calls // in flight
	cancel()
	select {
	case st := <-res:
		if st != StatusQueued {
			t.Errorf("Submit after ctx end = %s, want queued", st)
		}
	case <-time.After(bound):
		t.Fatal("timed out waiting for Submit to see its ctx end")
	}
	g.results <- errors.New("connection lost")
	o.SetConnected(false)
	o.SetConnected(true)

	st := submitAsync(t, o, "down", func() {
		g.write(t, "ctx", nil)
		<-g.calls // "down" in flight
		down := make(chan struct{})
		go func() {
			o.SetConnected(false) // wakes the waiting Submit, then waits for the write
			close(down)
		}()
		g.results <- errors.New("connection lost")
		<-down
	})
	if st != StatusQueued {
		t.Errorf("Submit across a disconnect = %s, want queued", st)
	}

	o.SetConnected(true)
	g.write(t, "ctx", nil)
	<-g.calls // "down" in flight: its echo arrives before the write returns
	o.Ack("down")
	g.results <- nil
	if got := statusesOf(ups.all(), "down"); !slices.Equal(got, []Status{StatusQueued, StatusSent, StatusDelivered}) {
		t.Errorf("updates of down = %v, want queued, sent, delivered", got)
	}
}

func statusesOf(us []Update, id string) []Status {
	var out []Status
	for _, u := range us {
		if u.Message.ClientMessageID == id {
			out = append(out, u.Status)
		}
	}
	return out
}

// TestWindow: the flusher stops after Window unacknowledged writes and goes on
// when an echo frees a slot; a reconnect opens the whole window again.
func TestWindow(t *testing.T) {
	o, g, ups := startGated(t, Config{Window: 2})
	for _, id := range []string{"a", "b", "c"} {
		_, _ = o.Submit(t.Context(), Message{ClientMessageID: id})
	}
	o.SetConnected(true)
	g.write(t, "a", nil)
	g.write(t, "b", nil)
	ups.wait(t, "b sent", func(us []Update) bool { return len(statusesOf(us, "b")) == 2 })
	o.mu.Lock()
	full, next := o.unacked == 2, o.cursor
	o.mu.Unlock()
	if !full || next == nil || next.msg.ClientMessageID != "c" {
		t.Fatalf("after two writes: window full %v, next %v; want full, next c", full, next)
	}
	if _, _, ok := o.take(); ok {
		t.Fatal("take returned a message while the window was full")
	}
	o.Ack("a")
	g.write(t, "c", nil)
	o.SetConnected(false)
	o.SetConnected(true)
	g.write(t, "b", nil)
	g.write(t, "c", nil)
}

// TestSubmitDoesNotWaitOnAFullWindow: with the write window full of unacknowledged messages
// (an upstream that echoes nothing), a new Submit answers queued at once instead of waiting for
// an echo that may never come.
func TestSubmitDoesNotWaitOnAFullWindow(t *testing.T) {
	o, g, _ := startGated(t, Config{Window: 2})
	o.SetConnected(true)
	for _, id := range []string{"a", "b"} {
		done := make(chan Status, 1)
		go func() {
			st, _ := o.Submit(context.Background(), Message{ClientMessageID: id})
			done <- st
		}()
		g.write(t, id, nil)
		if st := <-done; st != StatusSent {
			t.Fatalf("Submit(%s) = %s, want sent", id, st)
		}
	}
	done := make(chan Status, 1)
	go func() {
		st, _ := o.Submit(context.Background(), Message{ClientMessageID: "c"})
		done <- st
	}()
	select {
	case st := <-done:
		if st != StatusQueued {
			t.Fatalf("Submit(c) with a full window = %s, want queued", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Submit(c) waits on a full window")
	}
	o.Ack("a")
	g.write(t, "c", nil) // the slot freed by the echo takes c
}
