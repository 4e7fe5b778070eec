package outbox

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/internal/ws"
)

// TestSubmitIdempotent: a client_message_id submitted again answers the
// message's current status and sends nothing more, in every state.
func TestSubmitIdempotent(t *testing.T) {
	up := startUpstream(t, "")
	up.srv.SetReject(503, 0)
	r := newRig(t, up.url, Config{})

	// Down: queued, and queued again; one message waits.
	for range 2 {
		if st := r.submit("down-1", "conv"); st != StatusQueued {
			t.Fatalf("Submit while down = %s, want queued", st)
		}
	}
	if d := r.ob.Depth(); d != 1 {
		t.Fatalf("Depth = %d, want 1", d)
	}
	up.srv.SetReject(0, 0)
	r.waitStatus(StatusDelivered, "down-1")
	if st := r.submit("down-1", "conv"); st != StatusDelivered {
		t.Errorf("Submit after delivery = %s, want delivered", st)
	}

	// Connected, upstream silent: sent, and sent again; then delivered.
	waitConnections(t, up, 1)
	up.srv.SetSilent(true)
	for range 2 {
		if st := r.submit("up-1", "conv"); st != StatusSent {
			t.Fatalf("Submit while the echo is held = %s, want sent", st)
		}
	}
	up.srv.SetSilent(false)
	r.waitStatus(StatusDelivered, "up-1")
	if st := r.submit("up-1", "conv"); st != StatusDelivered {
		t.Errorf("Submit after delivery = %s, want delivered", st)
	}

	want := []string{"down-1", "up-1"}
	if got := up.posted("conv"); !slices.Equal(got, want) {
		t.Errorf("upstream holds %v, want %v", got, want)
	}
	if got := up.received(t); !slices.Equal(got, want) {
		t.Errorf("upstream read %v, want %v (each once)", got, want)
	}
	if u, ok := r.ob.lookup("up-1"); !ok || u.Status != StatusDelivered || u.Message.Content != "" {
		t.Errorf("lookup = %+v, %v; want delivered, without content", u, ok)
	}
}

// TestCapacity: a full outbox refuses with ErrFull; acknowledgements make room.
func TestCapacity(t *testing.T) {
	up := startUpstream(t, "")
	up.srv.SetReject(503, 0)
	r := newRig(t, up.url, Config{Capacity: 3})
	ids := []string{"c1", "c2", "c3"}
	for _, id := range ids {
		r.submit(id, "conv")
	}
	_, err := r.ob.Submit(t.Context(), Message{ClientMessageID: "c4", ConversationID: "conv", Content: "x"})
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Submit to a full outbox: %v, want ErrFull", err)
	}
	if st := r.submit("c1", "conv"); st != StatusQueued {
		t.Errorf("Submit of a held id to a full outbox = %s, want queued", st)
	}
	up.srv.SetReject(0, 0)
	r.waitStatus(StatusDelivered, ids...)
	r.submit("c4", "conv")
	r.waitStatus(StatusDelivered, "c4")
	if got, want := up.posted("conv"), append(ids, "c4"); !slices.Equal(got, want) {
		t.Errorf("upstream holds %v, want %v", got, want)
	}
}

// TestFail: an upstream error frame naming the message fails it: a failed
// update with the reason, removed from the outbox, remembered.
func TestFail(t *testing.T) {
	up := startUpstream(t, "")
	r := newRig(t, up.url, Config{})
	r.waitState(ws.StateConnected, 0)
	// The demo server refuses an empty content with invalid_message, ref = id.
	if _, err := r.ob.Submit(t.Context(), Message{ClientMessageID: "bad-1", ConversationID: "conv"}); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	r.waitStatus(StatusFailed, "bad-1")
	var failed Update
	for _, u := range r.ups.all() {
		if u.Status == StatusFailed {
			failed = u
		}
	}
	if !strings.HasPrefix(failed.Error, "invalid_message") || failed.Message.ClientMessageID != "bad-1" {
		t.Errorf("failed update %+v, want the invalid_message reason", failed)
	}
	if d := r.ob.Depth(); d != 0 {
		t.Errorf("Depth = %d, want 0", d)
	}
	if st := r.submit("bad-1", "conv"); st != StatusFailed {
		t.Errorf("Submit of a failed id = %s, want failed", st)
	}
	if u, ok := r.ob.lookup("bad-1"); !ok || u.Status != StatusFailed || u.Error != failed.Error {
		t.Errorf("lookup = %+v, %v; want failed with the reason", u, ok)
	}
	if r.ob.Fail("bad-1", "again") || r.ob.Fail("unknown", "x") {
		t.Error("Fail of an id that is not waiting reported a change")
	}
	if got := up.received(t); !slices.Equal(got, []string{"bad-1"}) {
		t.Errorf("upstream read %v, want [bad-1] once", got)
	}
}
