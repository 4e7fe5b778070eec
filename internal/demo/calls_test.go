package demo

import (
	"testing"
)

func TestCallActionsAreRelayed(t *testing.T) {
	tests := []struct {
		name, action, answer, reason string
		wantReason                   string
	}{
		{name: "accept", action: "call.accept", answer: "call.accepted", reason: "ignored"},
		{name: "reject", action: "call.reject", answer: "call.rejected", reason: "busy", wantReason: "busy"},
		{name: "end", action: "call.end", answer: "call.ended", reason: "hangup", wantReason: "hangup"},
		{name: "end without reason", action: "call.end", answer: "call.ended"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, u := startServer(t, Config{})
			me, other := pair(t, u)
			if err := s.Broadcast("call.incoming", map[string]any{
				"call_id": "k-t", "conversation_id": General, "caller_id": BotCy, "media": "audio",
			}); err != nil {
				t.Fatal(err)
			}
			me.expect("call.incoming")
			other.expect("call.incoming")

			payload := map[string]any{"call_id": "k-t"}
			if tt.reason != "" {
				payload["reason"] = tt.reason
			}
			me.send(tt.action, payload)
			for _, c := range []*client{me, other} {
				g := c.expect(tt.answer)
				var reason string
				if _, ok := fields(g.Payload)["reason"]; ok {
					reason = g.str(t, "reason")
				}
				if g.str(t, "call_id") != "k-t" || g.str(t, "user_id") != DemoUser || reason != tt.wantReason {
					t.Errorf("%s", g.raw)
				}
			}
		})
	}
}

func TestCallAnswersGoToItsConversationOnly(t *testing.T) {
	s, u := startServer(t, Config{})
	me, other := pair(t, u)
	me.send("chat.message", chatMsg("two-of-us", "x", "c-1"))
	me.barrier()
	if err := s.Broadcast("call.incoming", map[string]any{"call_id": "k-p", "conversation_id": "two-of-us"}); err != nil {
		t.Fatal(err)
	}
	other.expect("call.incoming") // Broadcast goes to everyone
	me.expect("call.incoming")
	me.send("call.accept", map[string]any{"call_id": "k-p"})
	me.expect("call.accepted")
	if before := other.barrier(); len(before) != 0 {
		t.Errorf("non-member got %v", types(before))
	}
}

func TestUnknownCallIsRelayedToEveryone(t *testing.T) {
	_, u := startServer(t, Config{Tokens: map[string]string{"a": "alice", "b": "bob2"}})
	alice, _ := dial(t, u, "a")
	bob, _ := dial(t, u, "b")
	alice.barrier()
	bob.send("call.reject", map[string]any{"call_id": "never-seen", "reason": "no"})
	for _, c := range []*client{alice, bob} {
		if g := c.expect("call.rejected"); g.str(t, "user_id") != "bob2" {
			t.Errorf("%s", g.raw)
		}
	}
}

func TestEndedCallIsForgotten(t *testing.T) {
	s, u := startServer(t, Config{})
	me, _ := dial(t, u, DemoToken)
	if err := s.Broadcast("call.incoming", map[string]any{"call_id": "k-f", "conversation_id": General}); err != nil {
		t.Fatal(err)
	}
	me.expect("call.incoming")
	me.send("call.end", map[string]any{"call_id": "k-f"})
	me.expect("call.ended")
	s.mu.Lock()
	_, known := s.calls["k-f"]
	s.mu.Unlock()
	if known {
		t.Error("ended call still known")
	}
}
