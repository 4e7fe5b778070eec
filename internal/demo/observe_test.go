package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestReceivedKeepsOrderAndUser(t *testing.T) {
	s, u := startServer(t, Config{})
	me, other := pair(t, u)
	s.ClearReceived()
	for i := range 3 {
		me.send("chat.message", chatMsg(General, fmt.Sprint("n", i), fmt.Sprint("o", i)))
	}
	other.send("typing.indicator", map[string]any{"conversation_id": General, "is_typing": false})
	me.barrier()
	other.barrier()

	var mine []string
	for _, f := range s.Received() {
		if f.User == DemoUser && f.Type == "chat.message" {
			var p struct {
				ClientMessageID string `json:"client_message_id"`
			}
			if err := json.Unmarshal(f.Payload, &p); err != nil {
				t.Fatal(err)
			}
			mine = append(mine, p.ClientMessageID)
		}
		if f.At.IsZero() || len(f.Raw) == 0 {
			t.Errorf("frame %+v lacks At or Raw", f)
		}
	}
	if !slices.Equal(mine, []string{"o0", "o1", "o2"}) {
		t.Errorf("demo-user's messages arrived as %v", mine)
	}
	f, err := s.WaitReceived(t.Context(), func(f Frame) bool { return f.User == BotAda })
	if err != nil || f.Type != "typing.indicator" {
		t.Errorf("WaitReceived = %+v, %v", f, err)
	}
}

func TestWaitReceivedWaitsForAFutureFrame(t *testing.T) {
	s, u := startServer(t, Config{})
	me, _ := dial(t, u, DemoToken)
	found := make(chan Frame, 1)
	waiting := make(chan struct{})
	go func() {
		close(waiting)
		f, err := s.WaitReceived(t.Context(), func(f Frame) bool { return f.Type == "future.thing" })
		if err != nil {
			t.Error(err)
		}
		found <- f
	}()
	<-waiting
	me.sendRaw([]byte(`{"type":"future.thing","payload":{"k":"v"}}`))
	select {
	case f := <-found:
		if string(f.Payload) != `{"k":"v"}` || f.User != DemoUser {
			t.Errorf("frame %+v", f)
		}
	case <-time.After(bound):
		t.Fatal("WaitReceived did not return")
	}
}

func TestWaitHelpersReturnTheContextError(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		wait func() error
	}{
		{"WaitReceived", func() error {
			_, err := s.WaitReceived(ctx, func(Frame) bool { return true })
			return err
		}},
		{"WaitConnections", func() error { return s.WaitConnections(ctx, 3) }},
		{"WaitDials", func() error { return s.WaitDials(ctx, 1) }},
	}
	for _, tt := range tests {
		if err := tt.wait(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v, want context.Canceled", tt.name, err)
		}
	}
}

func TestCountersAndMessages(t *testing.T) {
	s, u := startServer(t, Config{})
	if s.Dials() != 0 || s.Connections() != 0 || s.Messages(General) != nil || s.Messages("nope") != nil {
		t.Fatal("fresh server is not empty")
	}
	c, _ := dial(t, u, DemoToken)
	dialRaw(t, u, "bad", false)
	if err := s.WaitDials(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	if n := s.Connections(); n != 1 {
		t.Errorf("Connections() = %d", n)
	}
	c.send("chat.message", chatMsg("room", "hello", "x-1"))
	c.until("chat.message", nil)
	msgs := s.Messages("room")
	if len(msgs) != 1 || msgs[0].Content != "hello" || msgs[0].SenderID != DemoUser {
		t.Errorf("Messages(room) = %+v", msgs)
	}
}

func TestReceivedIsBounded(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	s.mu.Lock()
	for i := range receivedLimit + 1 {
		s.recordLocked(Frame{Type: fmt.Sprint(i)})
	}
	s.mu.Unlock()
	rec := s.Received()
	if len(rec) != receivedLimit/2 || rec[len(rec)-1].Type != fmt.Sprint(receivedLimit) {
		t.Fatalf("kept %d frames", len(rec))
	}
	want := fmt.Sprint(receivedLimit)
	if f, err := s.WaitReceived(t.Context(), func(f Frame) bool { return f.Type == want }); err != nil || f.Type != want {
		t.Errorf("WaitReceived after eviction = %+v, %v", f, err)
	}
}
