package snapshot

import (
	"encoding/json"
	"github.com/chatbridge/chatbridge/internal/dialect"
	"slices"
	"testing"
)

func TestProjectionConversationUpdate(t *testing.T) {
	last := msgJSON("m9", "c1", "")
	tests := []struct {
		name    string
		updates []string // conversation.update payloads, then checks on c1
		want    string   // c1 as JSON; "" for not kept
	}{
		{"create", []string{`{"conversation_id":"c1","title":"Team","unread_count":3,"updated_at":"2026-01-01T00:00:00Z"}`},
			`{"conversation_id":"c1","title":"Team","unread_count":3,"updated_at":"2026-01-01T00:00:00Z"}`},
		{"only the id", []string{`{"conversation_id":"c1"}`}, `{"conversation_id":"c1","unread_count":0}`},
		{"absent fields keep their values", []string{
			`{"conversation_id":"c1","title":"Team","unread_count":3,"last_message":` + last + `}`,
			`{"conversation_id":"c1","unread_count":0}`,
			`{"conversation_id":"c1","title":null,"updated_at":"2026-01-03T00:00:00Z"}`,
		}, `{"conversation_id":"c1","title":"Team","last_message":` + last + `,"unread_count":0,"updated_at":"2026-01-03T00:00:00Z"}`},
		{"unknown fields merged, written in key order", []string{
			`{"conversation_id":"c1","zeta":1,"members":["a","b"]}`,
			`{"conversation_id":"c1","members":["a"],"alpha":{"x":null}}`,
		}, `{"conversation_id":"c1","unread_count":0,"alpha":{"x":null},"members":["a"],"zeta":1}`},
		{"malformed updates are ignored", []string{
			`{"title":"no id"}`,
			`{"conversation_id":"c1","unread_count":-1}`,
			`{"conversation_id":"c1","unread_count":"3"}`,
			`{"conversation_id":"c1","title":7}`,
			`{"conversation_id":"c1","last_message":"m1"}`,
			`{"conversation_id":null}`,
			`[1]`,
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFeed(t, Config{})
			for _, u := range tt.updates {
				f.pub(dialect.TopicConversations, dialect.TypeConversationUpdate, "c1", u)
			}
			checkBooks(t, f.p)
			id, convs := f.p.Conversations()
			if id != f.h.LastID() {
				t.Errorf("event id %s, want %s", id, f.h.LastID())
			}
			if tt.want == "" {
				if len(convs) != 0 {
					t.Errorf("conversations %+v, want none", convs)
				}
				return
			}
			if len(convs) != 1 {
				t.Fatalf("conversations %+v, want c1", convs)
			}
			got, err := json.Marshal(convs[0])
			if err != nil || string(got) != tt.want {
				t.Errorf("c1 = %s (%v)\nwant %s", got, err, tt.want)
			}
		})
	}
}

func TestProjectionConversationsAndMessages(t *testing.T) {
	f := newFeed(t, Config{})
	f.pub(dialect.TopicConversations, dialect.TypeConversationUpdate, "c1", `{"conversation_id":"c1","title":"One","unread_count":5}`)
	f.pub(dialect.TopicConversations, dialect.TypeConversationUpdate, "c2", `{"conversation_id":"c2","title":"Two"}`)
	f.msg("m1", "c1", "")
	f.msg("m2", "c3", "")
	f.own("k1", "c2", "queued", "") // a pending message touches its conversation too
	_, convs := f.p.Conversations()
	var order []string
	for _, c := range convs {
		order = append(order, c.ConversationID)
	}
	if want := []string{"c2", "c3", "c1"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want most recently updated first %v", order, want)
	}
	c1, _ := convOf(t, f.p, "c1")
	if c1.Title != "One" || c1.UnreadCount != 6 || string(c1.LastMessage) != msgJSON("m1", "c1", "") {
		t.Errorf("c1 %+v: a message keeps the title, adds one unread, becomes last_message", c1)
	}
	if c2, _ := convOf(t, f.p, "c2"); c2.UnreadCount != 0 || c2.LastMessage != nil {
		t.Errorf("c2 %+v: a pending own message is not last_message nor unread", c2)
	}
	// A message of a conversation dropped as least recently updated is gone with it.
	g := newFeed(t, Config{MaxConversations: 2})
	g.msg("m1", "c1", "")
	g.msg("m2", "c2", "")
	g.pub(dialect.TopicConversations, dialect.TypeConversationUpdate, "c1", `{"conversation_id":"c1","unread_count":0}`)
	g.msg("m3", "c3", "")
	checkBooks(t, g.p)
	if _, _, found := g.p.Messages("c2", 0); found {
		t.Error("c2, least recently updated, still kept")
	}
	if _, msgs, found := g.p.Messages("c1", 0); !found || len(msgs) != 1 {
		t.Errorf("c1 messages %s, %v; want m1 kept", msgs, found)
	}
	if st := g.p.Stats(); st.Conversations != 2 || st.Messages != 2 {
		t.Errorf("stats %+v, want 2 conversations, 2 messages", st)
	}
}

func TestConversationViewJSON(t *testing.T) {
	v := ConversationView{ConversationID: "c\"1", Title: "<b>", UnreadCount: 2,
		Extra: map[string]json.RawMessage{"b": json.RawMessage(`[1]`), "a\"": json.RawMessage(`"x"`)}}
	got, err := json.Marshal(v)
	if want := `{"conversation_id":"c\"1","title":"\u003cb\u003e","unread_count":2,"a\"":"x","b":[1]}`; err != nil || string(got) != want {
		t.Errorf("Marshal = %s (%v), want %s", got, err, want)
	}
	var back map[string]any
	if err := json.Unmarshal(got, &back); err != nil || len(back) != 5 {
		t.Errorf("round trip %v (%v)", back, err)
	}
}
