package demo

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// botConfig makes the bots fast; the tests never depend on their timing.
var botConfig = Config{Bots: true, BotPace: 5 * time.Millisecond}

func startBots(t *testing.T) (*Server, string) {
	t.Helper()
	s, u := startServer(t, botConfig)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s, u
}

func TestAdaRepliesAfterTyping(t *testing.T) {
	s, u := startBots(t)
	if msgs := s.Messages(General); len(msgs) != 1 || msgs[0].SenderID != BotAda {
		t.Errorf("General should start with ada's welcome, has %+v", msgs)
	}
	me, _ := dial(t, u, DemoToken)
	me.send("chat.message", chatMsg(General, "hello   bots", "h-1"))
	typing := func(want bool) func(got) bool {
		return func(g got) bool {
			var is bool
			g.field(t, "is_typing", &is)
			return g.str(t, "user_id") == BotAda && is == want
		}
	}
	me.until("typing.indicator", typing(true))
	me.until("typing.indicator", typing(false))
	reply := decodeMessage(t, me.until("chat.message", func(g got) bool { return g.str(t, "sender_id") == BotAda }))
	if reply.ConversationID != General || !strings.Contains(reply.Content, "hello bots") {
		t.Errorf("reply %+v", reply)
	}
}

func TestCyCallsAndTheCallEnds(t *testing.T) {
	_, u := startBots(t)
	me, _ := dial(t, u, DemoToken)
	byID := func(id string) func(got) bool {
		return func(g got) bool { return g.str(t, "call_id") == id }
	}

	// An accepted call is hung up by cy.
	in := me.until("call.incoming", nil)
	id := in.str(t, "call_id")
	if in.str(t, "caller_id") != BotCy || in.str(t, "conversation_id") != General {
		t.Errorf("call.incoming %s", in.raw)
	}
	if m := in.str(t, "media"); m != "audio" && m != "video" {
		t.Errorf("media %q", m)
	}
	me.send("call.accept", map[string]any{"call_id": id})
	if g := me.until("call.accepted", byID(id)); g.str(t, "user_id") != DemoUser {
		t.Errorf("call.accepted %s", g.raw)
	}
	if g := me.until("call.ended", byID(id)); g.str(t, "reason") != "hangup" || g.str(t, "user_id") != BotCy {
		t.Errorf("call.ended %s", g.raw)
	}

	// A call nobody answers ends as missed.
	id = me.until("call.incoming", nil).str(t, "call_id")
	if g := me.until("call.ended", byID(id)); g.str(t, "reason") != "missed" {
		t.Errorf("call.ended %s", g.raw)
	}

	// A rejected call just ends.
	id = me.until("call.incoming", nil).str(t, "call_id")
	me.send("call.reject", map[string]any{"call_id": id, "reason": "busy"})
	me.until("call.rejected", byID(id))
}

func TestBobComesAndGoes(t *testing.T) {
	_, u := startBots(t)
	me, _ := dial(t, u, DemoToken)
	for _, want := range []string{StatusAway, StatusOffline, StatusOnline} {
		me.until("user.status", func(g got) bool {
			return g.str(t, "user_id") == BotBob && g.str(t, "status") == want
		})
	}
}

func TestBotsGoOfflineWhenTheyStop(t *testing.T) {
	s, u := startServer(t, botConfig)
	ctx, cancel := context.WithCancel(t.Context())
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err == nil || errors.Is(err, ErrClosed) {
		t.Errorf("second Run: %v, want already running", err)
	}
	me, snapshot := dial(t, u, DemoToken)
	present := 0
	for _, g := range snapshot {
		if g.Type == "user.status" && g.str(t, "status") != StatusOffline {
			present++
		}
	}
	if present != len(botNames) {
		t.Errorf("%d bots present in the snapshot, want %d", present, len(botNames))
	}
	cancel()
	me.until("user.status", func(g got) bool {
		return g.str(t, "user_id") == BotAda && g.str(t, "status") == StatusOffline
	})
	// The bots went offline as they stopped, so they may run again: Run
	// with a context already done returns at once.
	done, stop := context.WithCancel(t.Context())
	stop()
	if err := s.Run(done); err != nil {
		t.Errorf("Run after the bots stopped: %v", err)
	}
}

func TestRunAfterClose(t *testing.T) {
	s := New(botConfig)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v", err)
	}
	if err := s.Start(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
}

func TestAdaReply(t *testing.T) {
	long := strings.Repeat("é", 100)
	tests := []struct {
		name, content, want string
	}{
		{name: "quotes the message", content: "hi there", want: "“hi there”"},
		{name: "folds whitespace", content: "a\n\n b", want: "“a b”"},
		{name: "cuts long messages", content: long, want: "“" + strings.Repeat("é", 60) + "…”"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := adaReply(i, Message{SenderID: "sam", Content: tt.content})
			if !strings.Contains(got, tt.want) {
				t.Errorf("adaReply = %q, want it to contain %q", got, tt.want)
			}
		})
	}
}
