package demo

import (
	"testing"
	"time"
)

func TestPresenceOnConnectAndDisconnect(t *testing.T) {
	s, u := startServer(t, Config{})
	watcher, snapshot := dial(t, u, "ada-token")
	if got := types(snapshot); len(got) != 1 || got[0] != "conversation.update" {
		t.Errorf("first user's snapshot %v, want only General's conversation.update", got)
	}

	me, snapshot := dial(t, u, DemoToken)
	if len(snapshot) < 1 || snapshot[0].Type != "user.status" ||
		snapshot[0].str(t, "user_id") != BotAda || snapshot[0].str(t, "status") != StatusOnline {
		t.Errorf("snapshot %v does not start with ada online", types(snapshot))
	}
	g := watcher.expect("user.status")
	if g.str(t, "user_id") != DemoUser || g.str(t, "status") != StatusOnline {
		t.Errorf("user.status %s", g.raw)
	}

	// A second connection of the same user changes nothing for the others,
	// and closing one of two connections neither.
	second, _ := dial(t, u, DemoToken)
	if err := second.ws.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitConnections(t.Context(), 2); err != nil {
		t.Fatal(err)
	}
	if before := watcher.barrier(); len(before) != 0 {
		t.Errorf("watcher got %v", types(before))
	}

	if err := me.ws.Close(); err != nil {
		t.Fatal(err)
	}
	g = watcher.expect("user.status")
	if g.str(t, "user_id") != DemoUser || g.str(t, "status") != StatusOffline {
		t.Errorf("user.status %s", g.raw)
	}
	if _, err := time.Parse(time.RFC3339, g.str(t, "last_seen")); err != nil {
		t.Errorf("last_seen: %v", err)
	}
}

func TestSnapshotListsOnlyThePresentAndOwnConversations(t *testing.T) {
	s, u := startServer(t, Config{Tokens: map[string]string{"a": "alice", "b": "bob2"}})
	alice, _ := dial(t, u, "a")
	alice.send("chat.message", chatMsg("private", "x", "p-1"))
	alice.until("conversation.update", nil)
	s.mu.Lock()
	s.setStatusLocked("zoe", StatusAway)
	s.setStatusLocked("gone", StatusOffline)
	s.mu.Unlock()

	_, snapshot := dial(t, u, "b")
	var got []string
	for _, g := range snapshot {
		switch g.Type {
		case "user.status":
			got = append(got, g.str(t, "user_id")+"="+g.str(t, "status"))
		case "conversation.update":
			got = append(got, "conv:"+g.str(t, "conversation_id"))
		}
	}
	want := []string{"alice=online", "zoe=away", "conv:general"}
	if len(got) != len(want) {
		t.Fatalf("snapshot %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("snapshot %v, want %v", got, want)
			break
		}
	}
}
