package demo

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
)

// pair dials demo-user and ada, both members of General, and drains what
// their connecting told them.
func pair(t *testing.T, u string) (me, other *client) {
	t.Helper()
	me, _ = dial(t, u, DemoToken)
	other, _ = dial(t, u, "ada-token")
	me.barrier() // ada's user.status
	return me, other
}

func chatMsg(conv, content, cid string) map[string]any {
	return map[string]any{"conversation_id": conv, "content": content, "client_message_id": cid}
}

// decodeMessage decodes a chat.message frame's payload.
func decodeMessage(t *testing.T, g got) Message {
	t.Helper()
	if g.Type != "chat.message" {
		t.Fatalf("got %s, want a chat.message", g.raw)
	}
	var m Message
	if err := json.Unmarshal(g.Payload, &m); err != nil {
		t.Fatalf("decode chat.message: %v", err)
	}
	return m
}

func TestChatMessageGoesToEveryMemberWithServerFields(t *testing.T) {
	s, u := startServer(t, Config{})
	me, other := pair(t, u)
	me.send("chat.message", chatMsg(General, "hello", "c-1"))

	for _, c := range []*client{me, other} {
		g := c.until("chat.message", nil)
		m := decodeMessage(t, g)
		if m.ID != "m1" || m.SenderID != DemoUser || m.ConversationID != General ||
			m.Content != "hello" || m.ClientMessageID != "c-1" {
			t.Errorf("chat.message %s", g.raw)
		}
		if _, err := time.Parse(time.RFC3339, g.str(t, "created_at")); err != nil {
			t.Errorf("created_at: %v", err)
		}
		upd := c.expect("conversation.update")
		var last Message
		upd.field(t, "last_message", &last)
		if last.ID != "m1" {
			t.Errorf("last_message %+v", last)
		}
	}
	if msgs := s.Messages(General); len(msgs) != 1 || msgs[0].ID != "m1" {
		t.Errorf("Messages(general) = %+v", msgs)
	}
}

func TestUnreadCount(t *testing.T) {
	_, u := startServer(t, Config{})
	me, other := pair(t, u)
	unread := func(c *client) int {
		var n int
		c.until("conversation.update", nil).field(t, "unread_count", &n)
		return n
	}
	steps := []struct {
		from            *client
		wantMe, wantAda int
	}{
		{from: me, wantMe: 0, wantAda: 1},
		{from: me, wantMe: 0, wantAda: 2},
		{from: other, wantMe: 1, wantAda: 0},
	}
	for i, st := range steps {
		st.from.send("chat.message", chatMsg(General, "x", fmt.Sprint("u", i)))
		if got := unread(me); got != st.wantMe {
			t.Errorf("step %d: demo-user unread %d, want %d", i, got, st.wantMe)
		}
		if got := unread(other); got != st.wantAda {
			t.Errorf("step %d: ada unread %d, want %d", i, got, st.wantAda)
		}
	}
}

func TestDuplicateClientMessageIDIsDeliveredOnce(t *testing.T) {
	s, u := startServer(t, Config{})
	me, _ := dial(t, u, DemoToken)
	again, _ := dial(t, u, DemoToken) // a second connection of the same user
	other, _ := dial(t, u, "ada-token")

	me.send("chat.message", chatMsg(General, "once", "dup-1"))
	first := decodeMessage(t, me.until("chat.message", nil))
	again.barrier() // m1's echo and conversation.update

	// The resend, even with other content, only re-echoes the original, and
	// only to the connection that resent it.
	again.send("chat.message", chatMsg(General, "twice", "dup-1"))
	if echo := decodeMessage(t, again.expect("chat.message")); echo != first {
		t.Errorf("re-echo %+v, want the original %+v", echo, first)
	}
	again.send("chat.message", chatMsg(General, "next", "dup-2"))

	// Everyone else sees m1 then m2, never m1 twice.
	tests := []struct {
		name string
		c    *client
		want []string
	}{
		{name: "other member", c: other, want: []string{"m1", "m2"}},
		{name: "first connection", c: me, want: []string{"m2"}}, // m1 read above
	}
	for _, tt := range tests {
		var ids []string
		for len(ids) < len(tt.want) {
			if g := tt.c.next(); g.Type == "chat.message" {
				ids = append(ids, decodeMessage(t, g).ID)
			}
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("%s saw messages %v, want %v", tt.name, ids, tt.want)
		}
	}
	if n := len(s.Messages(General)); n != 2 {
		t.Errorf("history has %d messages, want 2", n)
	}
}

func TestMessageToNewConversationCreatesIt(t *testing.T) {
	s, u := startServer(t, Config{})
	me, other := pair(t, u)
	me.send("chat.message", chatMsg("curl-room", "hi", "n-1"))
	m := decodeMessage(t, me.expect("chat.message"))
	if m.ConversationID != "curl-room" {
		t.Fatalf("message %+v", m)
	}
	var title string
	me.expect("conversation.update").field(t, "title", &title)
	if title != "curl-room" {
		t.Errorf("title %q", title)
	}
	if before := other.barrier(); len(before) != 0 {
		t.Errorf("non-member got %v", types(before))
	}
	if n := len(s.Messages("curl-room")); n != 1 {
		t.Errorf("history has %d messages", n)
	}
	// A new connection learns of both conversations.
	_, snapshot := dial(t, u, DemoToken)
	var convs []string
	for _, g := range snapshot {
		if g.Type == "conversation.update" {
			convs = append(convs, g.str(t, "conversation_id"))
		}
	}
	if !slices.Equal(convs, []string{"curl-room", General}) {
		t.Errorf("snapshot conversations %v", convs)
	}
}

func TestTypingGoesOnlyToOthers(t *testing.T) {
	_, u := startServer(t, Config{})
	me, other := pair(t, u)
	me.send("typing.indicator", map[string]any{"conversation_id": General, "is_typing": true})
	if before := me.barrier(); len(before) != 0 {
		t.Errorf("sender got %v", types(before))
	}
	g := other.expect("typing.indicator")
	var typing bool
	g.field(t, "is_typing", &typing)
	if g.str(t, "user_id") != DemoUser || g.str(t, "conversation_id") != General || !typing {
		t.Errorf("typing.indicator %s", g.raw)
	}
	// Typing into a conversation that does not exist goes nowhere.
	me.send("typing.indicator", map[string]any{"conversation_id": "nowhere", "is_typing": true})
	me.barrier()
	if before := other.barrier(); len(before) != 0 {
		t.Errorf("typing to an unknown conversation reached %v", types(before))
	}
}

func TestHistoryAndDedupAreBounded(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	s.mu.Lock()
	for i := range dedupPerUser + 1 {
		if _, _, err := s.postLocked(DemoUser, General, "x", fmt.Sprint("b", i)); err != nil {
			t.Fatal(err)
		}
	}
	d := s.dedup[DemoUser]
	_, oldestKept := d.byID["b0"]
	_, newestKept := d.byID[fmt.Sprint("b", dedupPerUser)]
	kept := len(d.byID)
	s.mu.Unlock()
	if kept != dedupPerUser || oldestKept || !newestKept {
		t.Errorf("dedup set: %d ids, oldest kept %v, newest kept %v", kept, oldestKept, newestKept)
	}
	msgs := s.Messages(General)
	if len(msgs) != historyPerConv || msgs[len(msgs)-1].ClientMessageID != fmt.Sprint("b", dedupPerUser) {
		t.Errorf("history: %d messages", len(msgs))
	}
}

func TestTooManyConversations(t *testing.T) {
	s, u := startServer(t, Config{})
	s.mu.Lock()
	for i := len(s.convs); i < maxConversations; i++ {
		s.conversationLocked(fmt.Sprint("filler", i), "nobody")
	}
	s.mu.Unlock()
	me, _ := dial(t, u, DemoToken)
	me.send("chat.message", chatMsg("one-too-many", "x", "t-1"))
	g := me.expect("error")
	if g.str(t, "code") != CodeTooManyConvs || g.str(t, "ref") != "t-1" {
		t.Errorf("error %s", g.raw)
	}
	me.send("chat.message", chatMsg(General, "still fine", "t-2"))
	me.expect("chat.message")
}
