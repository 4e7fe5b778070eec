package outbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// submitN submits the ids to conv "c" and marks the test failed on an error. It may run in a
// goroutine of its own (Submit waits for the write while connected).
func submitN(t *testing.T, o *Outbox, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := o.Submit(t.Context(), Message{ClientMessageID: id, ConversationID: "c", Content: "x"}); err != nil {
			t.Errorf("Submit %s: %v", id, err)
		}
	}
}

// lastUpdate waits for the update of id with status st and returns it.
func lastUpdate(t *testing.T, ups *waitLog[Update], id string, st Status) Update {
	t.Helper()
	var got Update
	ups.wait(t, id+" "+string(st), func(us []Update) bool {
		for _, u := range us {
			if u.Message.ClientMessageID == id && u.Status == st {
				got = u
				return true
			}
		}
		return false
	})
	return got
}

// probing reports whether the flusher waits for a suspect's acknowledgement.
func probing(o *Outbox) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.probe == nil {
		return ""
	}
	return o.probe.msg.ClientMessageID
}

func TestAckWriteDeliversOnWrite(t *testing.T) {
	o, g, ups := startGated(t, Config{Ack: AckWrite})
	o.SetConnected(true)
	go submitN(t, o, "w1", "w2")
	g.write(t, "w1", nil)
	g.write(t, "w2", nil)
	lastUpdate(t, ups, "w2", StatusDelivered)
	if d := o.Depth(); d != 0 {
		t.Fatalf("Depth = %d after the writes, want 0", d)
	}
	o.Down(Drop{Kind: DropBroken})
	o.SetConnected(true)
	go submitN(t, o, "w3")
	g.write(t, "w3", nil) // the next write is the new message: nothing written is sent again
	if st, _ := o.Submit(t.Context(), Message{ClientMessageID: "w1"}); st != StatusDelivered {
		t.Errorf("Submit of a delivered id = %s, want delivered", st)
	}
}

// TestRefusedMessageFailsAlone: the upstream closes with 1009 while three messages are in flight;
// after the reconnect each is written alone, the one it refuses again fails with the reason, and
// the others are delivered; then pipelining resumes.
func TestRefusedMessageFailsAlone(t *testing.T) {
	o, g, ups := startGated(t, Config{})
	o.SetConnected(true)
	go submitN(t, o, "r1", "r2", "r3")
	for _, id := range []string{"r1", "r2", "r3"} {
		g.write(t, id, nil)
	}
	lastUpdate(t, ups, "r3", StatusSent)
	o.Down(Drop{Kind: DropRefused, Code: 1009})

	o.SetConnected(true)
	g.write(t, "r1", nil)
	if p := probing(o); p != "r1" {
		t.Fatalf("probe = %q after the write of suspect r1, want r1 alone", p)
	}
	o.Ack("r1")
	g.write(t, "r2", nil)
	o.Down(Drop{Kind: DropRefused, Code: 1009})
	u := lastUpdate(t, ups, "r2", StatusFailed)
	if !strings.Contains(u.Error, "1009 (message too big)") {
		t.Errorf("failed reason = %q, want the close code named", u.Error)
	}

	o.SetConnected(true)
	g.write(t, "r3", nil)
	ups.wait(t, "r3 sent as its second attempt", func(us []Update) bool {
		for _, u := range us {
			if u.Message.ClientMessageID == "r3" && u.Status == StatusSent && u.Attempt == 2 {
				return true
			}
		}
		return false
	})
	o.Ack("r3")
	go submitN(t, o, "r4", "r5")
	g.write(t, "r4", nil)
	g.write(t, "r5", nil) // pipelined again: r4 needs no acknowledgement first
	if p := probing(o); p != "" {
		t.Errorf("probe = %q for messages that were never suspects", p)
	}
}

func TestSingleMessageRefusedFailsAtOnce(t *testing.T) {
	o, g, ups := startGated(t, Config{})
	o.SetConnected(true)
	go submitN(t, o, "big")
	g.write(t, "big", nil)
	lastUpdate(t, ups, "big", StatusSent)
	o.Down(Drop{Kind: DropRefused, Code: 1007})
	if u := lastUpdate(t, ups, "big", StatusFailed); !strings.Contains(u.Error, "1007 (invalid data)") {
		t.Errorf("failed reason = %q", u.Error)
	}
}

func TestThreeBreaksInARowFailAMessage(t *testing.T) {
	o, g, ups := startGated(t, Config{})
	o.SetConnected(true)
	go submitN(t, o, "b1", "b2")
	g.write(t, "b1", nil)
	g.write(t, "b2", nil)
	lastUpdate(t, ups, "b2", StatusSent)
	o.Down(Drop{Kind: DropBroken})
	o.SetConnected(true)
	g.write(t, "b1", nil)
	o.Ack("b1") // innocent
	for i := range strikesToFail {
		g.write(t, "b2", nil)
		o.Down(Drop{Kind: DropBroken})
		if i < strikesToFail-1 {
			o.SetConnected(true)
		}
	}
	if u := lastUpdate(t, ups, "b2", StatusFailed); !strings.Contains(u.Error, "3 times in a row") {
		t.Errorf("failed reason = %q", u.Error)
	}
	if d := o.Depth(); d != 0 {
		t.Errorf("Depth = %d, want 0", d)
	}
}

func TestAnnouncedRestartSuspectsNothing(t *testing.T) {
	o, g, ups := startGated(t, Config{})
	o.SetConnected(true)
	go submitN(t, o, "s1", "s2")
	g.write(t, "s1", nil)
	g.write(t, "s2", nil)
	lastUpdate(t, ups, "s2", StatusSent)
	o.Down(Drop{Kind: DropRestart, Code: 1012})
	o.SetConnected(true)
	g.write(t, "s1", nil)
	g.write(t, "s2", nil) // pipelined: no suspect
}

func TestTTLExpiresWaitingMessages(t *testing.T) {
	o, _, ups := startGated(t, Config{TTL: 20 * time.Millisecond})
	submitN(t, o, "old")
	if u := lastUpdate(t, ups, "old", StatusFailed); u.Error != ReasonExpired {
		t.Errorf("failed reason = %q, want %q", u.Error, ReasonExpired)
	}
	if d := o.Depth(); d != 0 {
		t.Errorf("Depth = %d, want 0", d)
	}
}

func TestCancel(t *testing.T) {
	o, g, ups := startGated(t, Config{})
	submitN(t, o, "c1", "c2")
	if err := o.Cancel("c1"); err != nil {
		t.Fatalf("Cancel of a queued message: %v", err)
	}
	if u := lastUpdate(t, ups, "c1", StatusFailed); u.Error != ReasonCancelled {
		t.Errorf("failed reason = %q, want %q", u.Error, ReasonCancelled)
	}
	if err := o.Cancel("c1"); !errors.Is(err, ErrDone) || !strings.Contains(err.Error(), "failed") {
		t.Errorf("Cancel again = %v, want ErrDone naming failed", err)
	}
	if err := o.Cancel("nope"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Cancel of an unknown id = %v, want ErrUnknown", err)
	}
	o.SetConnected(true)
	g.write(t, "c2", nil) // c1 is never written
	o.Ack("c2")
	if err := o.Cancel("c2"); !errors.Is(err, ErrDone) || !strings.Contains(err.Error(), "delivered") {
		t.Errorf("Cancel of a delivered message = %v, want ErrDone naming delivered", err)
	}
	go submitN(t, o, "c3")
	g.write(t, "c3", nil)
	lastUpdate(t, ups, "c3", StatusSent)
	if err := o.Cancel("c3"); err != nil { // sent, never acknowledged: it may go
		t.Fatalf("Cancel of a sent message: %v", err)
	}
	o.Down(Drop{Kind: DropBroken})
	o.SetConnected(true)
	go submitN(t, o, "c4")
	g.write(t, "c4", nil) // c3 is not written again
}

// TestAckTimeoutKeepsTheFlusherGoing: an upstream that never acknowledges fills the window; the
// messages that waited AckTimeout leave it so the next ones go, and after a reconnect all are
// written again, each as its second attempt.
func TestAckTimeoutKeepsTheFlusherGoing(t *testing.T) {
	o, g, ups := startGated(t, Config{Window: 2, AckTimeout: 20 * time.Millisecond})
	o.SetConnected(true)
	go submitN(t, o, "a1", "a2", "a3", "a4")
	for _, id := range []string{"a1", "a2", "a3", "a4"} {
		g.write(t, id, nil)
	}
	o.Down(Drop{Kind: DropClean})
	o.SetConnected(true)
	for _, id := range []string{"a1", "a2", "a3", "a4"} {
		g.write(t, id, nil)
	}
	ups.wait(t, "every message sent twice", func(us []Update) bool {
		n := 0
		for _, u := range us {
			if u.Status == StatusSent && u.Attempt == 2 {
				n++
			}
		}
		return n == 4
	})
}

// refusingSender refuses one message for good and writes the others.
type refusingSender struct{ refuse string }

func (s refusingSender) SendMessage(_ context.Context, m Message) error {
	if m.ClientMessageID == s.refuse {
		return fmt.Errorf("%w: too large for the server", ErrRefused)
	}
	return nil
}

func TestRefusedBySenderFailsAndTheNextGoes(t *testing.T) {
	ups := newWaitLog[Update]()
	o, err := Open(Config{Sender: refusingSender{refuse: "big"}, OnUpdate: ups.add, Ack: AckWrite})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = o.Run(ctx) }()
	defer func() { cancel(); <-done; _, _ = o.Close() }()
	o.SetConnected(true)
	submitN(t, o, "small-1", "big", "small-2")
	if u := lastUpdate(t, ups, "big", StatusFailed); !strings.Contains(u.Error, "too large for the server") {
		t.Errorf("failed with %q", u.Error)
	}
	lastUpdate(t, ups, "small-2", StatusDelivered)
}
