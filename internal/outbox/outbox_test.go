package outbox

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bound is how long a test waits for something that should happen, so that a
// hung test fails instead of hanging. It is never a performance threshold.
const bound = 10 * time.Second

func TestOpenConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no sender", Config{}, "Sender is required"},
		{"negative capacity", Config{Sender: nopSender{}, Capacity: -1}, "capacity -1 is negative"},
		{"negative remember", Config{Sender: nopSender{}, Remember: -1}, "remember -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	o, err := Open(Config{Sender: nopSender{}})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if o.cfg.Capacity != DefaultCapacity || o.cfg.Remember != DefaultRemember {
		t.Errorf("defaults: capacity %d remember %d", o.cfg.Capacity, o.cfg.Remember)
	}
}

func TestCloseMemoryOnly(t *testing.T) {
	o, err := Open(Config{Sender: nopSender{}})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, ok := o.Oldest(); ok {
		t.Error("Oldest of an empty outbox reported a message")
	}
	first := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, at := range []time.Time{first, {}} {
		m := Message{ClientMessageID: fmt.Sprint("m", i), ConversationID: "c", Content: "x", AcceptedAt: at}
		if st, err := o.Submit(t.Context(), m); err != nil || st != StatusQueued {
			t.Fatalf("Submit %d = %s, %v; want queued", i, st, err)
		}
	}
	if at, ok := o.Oldest(); !ok || !at.Equal(first) {
		t.Errorf("Oldest = %v, %v; want %v", at, ok, first)
	}
	if u, ok := o.lookup("m1"); !ok || u.Message.AcceptedAt.IsZero() || u.Message.Content != "x" {
		t.Errorf("lookup(m1) = %+v, %v; want the message with AcceptedAt set", u, ok)
	}
	if lost, err := o.Close(); lost != 2 || err != nil {
		t.Errorf("Close = %d, %v; want 2 lost", lost, err)
	}
	if lost, err := o.Close(); lost != 0 || err != nil {
		t.Errorf("second Close = %d, %v; want 0, nil", lost, err)
	}
	if _, err := o.Submit(t.Context(), Message{ClientMessageID: "late"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: %v, want ErrClosed", err)
	}
	if err := o.Run(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v, want ErrClosed", err)
	}
	if o.Ack("m0") {
		t.Error("Ack after Close reported a change")
	}
}
