package snapshot

import (
	"encoding/json"
	"fmt"
	"github.com/chatbridge/chatbridge/internal/dialect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/hub"
)

// feed publishes events on a real hub and applies each to a Projection, as the service does.
type feed struct {
	h *hub.Hub
	p *Projection
}

func newFeed(t testing.TB, cfg Config) *feed {
	h := hub.New(hub.Config{History: 16})
	t.Cleanup(h.Close)
	cfg.Start = h.LastID()
	return &feed{h: h, p: NewProjection(cfg)}
}

// eventMessageStatus is the event name the chat service gives an own message's status.
const eventMessageStatus = "message.status"

// decoder decodes payloads as the default dialect does, for pub.
var decoder = dialect.NewMapper(dialect.MapperConfig{})

// pub publishes one event and applies it with its payload decoded as the dialect would; a
// payload the dialect refuses is applied with no value (the service would not publish it).
func (f *feed) pub(topic, typ, key, data string) *hub.Event {
	var v any
	if ev, rej, known := decoder.Map(typ, []byte(data), []byte(data), dialect.Env{At: time.Now()}); known && rej == nil {
		v = ev.Value
	}
	return f.pubValue(topic, typ, key, data, v)
}

// pubValue publishes one event and applies it with v as its decoded payload.
func (f *feed) pubValue(topic, typ, key, data string, v any) *hub.Event {
	e := f.h.Publish(topic, typ, key, []byte(data))
	f.p.Apply(e, v)
	return e
}

func msgJSON(id, conv, cmid string) string {
	s := `{"id":"` + id + `","conversation_id":"` + conv + `","sender_id":"bob","content":"text of ` + id +
		`","created_at":"2026-01-02T03:04:05Z"`
	if cmid != "" {
		s += `,"client_message_id":"` + cmid + `"`
	}
	return s + "}"
}

// msg publishes a chat.message.
func (f *feed) msg(id, conv, cmid string) *hub.Event {
	return f.pub(dialect.TopicMessages, dialect.TypeChatMessage, conv, msgJSON(id, conv, cmid))
}

// own publishes the message.status of an own message and applies it with ApplyOwn.
func (f *feed) own(cmid, conv, status, errText string) *hub.Event {
	data, _ := json.Marshal(map[string]string{"client_message_id": cmid, "conversation_id": conv,
		"status": status, "error": errText})
	e := f.h.Publish(dialect.TopicMessages, eventMessageStatus, conv, data)
	f.p.ApplyOwn(e, OwnMessage{ClientMessageID: cmid, ConversationID: conv, Content: "mine " + cmid,
		AcceptedAt: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Status: status, Error: errText})
	return e
}

// describe sums a kept message up: "id" or "id/status" for a chat.message, "~cmid/status" for a
// pending own message (with ":error" when it has one).
func describe(t testing.TB, raw json.RawMessage) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("kept message %s is not JSON: %v", raw, err)
	}
	s := fmt.Sprint(m["id"])
	if m["id"] == nil {
		s = "~" + fmt.Sprint(m["client_message_id"])
	}
	if st, ok := m["status"]; ok {
		s += "/" + fmt.Sprint(st)
	}
	if e, ok := m["error"]; ok {
		s += ":" + fmt.Sprint(e)
	}
	return s
}

func describeAll(t testing.TB, msgs []json.RawMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = describe(t, m)
	}
	return out
}

// checkBooks recounts what the projection keeps and compares it with its running counts.
func checkBooks(t testing.TB, p *Projection) {
	t.Helper()
	p.mu.RLock()
	defer p.mu.RUnlock()
	bytes, msgs := 0, 0
	for el := p.convs.Front(); el != nil; el = el.Next() {
		c := el.Value.(*conversation)
		extra := 0
		for k, v := range c.view.Extra {
			extra += len(k) + len(v)
		}
		if extra != c.extraBytes {
			t.Errorf("conversation %s: extraBytes %d, recounted %d", c.view.ConversationID, c.extraBytes, extra)
		}
		bytes += len(c.view.ConversationID) + len(c.view.Title) + len(c.view.LastMessage) +
			len(c.view.UpdatedAt) + extra
		for _, en := range c.msgs {
			bytes += en.measure()
			if en.id != "" && c.byID[en.id] != en {
				t.Errorf("conversation %s: message %s not indexed", c.view.ConversationID, en.id)
			}
		}
		msgs += len(c.msgs)
	}
	if bytes != p.bytes || msgs != p.msgs || len(p.convByID) != p.convs.Len() ||
		len(p.userByID) != p.users.Len() || len(p.callByID) != p.calls.Len() {
		t.Errorf("books: bytes %d msgs %d convs %d/%d users %d/%d calls %d/%d; recounted bytes %d msgs %d",
			p.bytes, p.msgs, len(p.convByID), p.convs.Len(), len(p.userByID), p.users.Len(),
			len(p.callByID), p.calls.Len(), bytes, msgs)
	}
}

func convOf(t testing.TB, p *Projection, id string) (ConversationView, bool) {
	t.Helper()
	_, convs := p.Conversations()
	for _, c := range convs {
		if c.ConversationID == id {
			return c, true
		}
	}
	return ConversationView{}, false
}

func TestProjectionMessages(t *testing.T) {
	withStatusField := `{"id":"m1","conversation_id":"c1","sender_id":"me","content":"x","created_at":"2026-01-02T03:04:05Z","client_message_id":"k1","status":"upstream's"}`
	tests := []struct {
		name   string
		steps  func(f *feed)
		want   []string // describe of c1's messages, nil for not found
		unread int
	}{
		{"first message creates the conversation", func(f *feed) { f.msg("m1", "c1", "") }, []string{"m1"}, 1},
		{"arrival order", func(f *feed) { f.msg("m2", "c1", ""); f.msg("m1", "c1", "") }, []string{"m2", "m1"}, 2},
		{"a resend is kept once", func(f *feed) { f.msg("m1", "c1", ""); f.msg("m2", "c1", ""); f.msg("m1", "c1", "") },
			[]string{"m1", "m2"}, 2},
		{"others' client_message_id", func(f *feed) { f.msg("m1", "c1", "theirs") }, []string{"m1"}, 1},
		{"own message queued", func(f *feed) { f.own("k1", "c1", "queued", "") }, []string{"~k1/queued"}, 0},
		{"queued then sent, sent again: one entry", func(f *feed) {
			f.own("k1", "c1", "queued", "")
			f.own("k1", "c1", "sent", "")
			f.own("k1", "c1", "sent", "")
		}, []string{"~k1/sent"}, 0},
		{"echo replaces the pending entry in place", func(f *feed) {
			f.own("k1", "c1", "queued", "")
			f.msg("m0", "c1", "")
			f.own("k1", "c1", "sent", "")
			f.msg("m1", "c1", "k1")
			f.own("k1", "c1", "delivered", "")
			f.msg("m1", "c1", "k1")
		}, []string{"m1/delivered", "m0"}, 1},
		{"delivered before the echo", func(f *feed) {
			f.own("k1", "c1", "sent", "")
			f.own("k1", "c1", "delivered", "")
			f.msg("m1", "c1", "k1")
		}, []string{"m1/delivered"}, 0},
		{"echo before any status: delivered marks it", func(f *feed) {
			f.msg("m1", "c1", "k1")
			f.own("k1", "c1", "sent", "")
			f.own("k1", "c1", "delivered", "")
		}, []string{"m1/delivered"}, 1},
		{"failed", func(f *feed) {
			f.own("k1", "c1", "queued", "")
			f.own("k1", "c1", "failed", "rate_limited: slow down")
		}, []string{"~k1/failed:rate_limited: slow down"}, 0},
		{"failed without an entry adds one", func(f *feed) { f.own("k1", "c1", "failed", "boom") },
			[]string{"~k1/failed:boom"}, 0},
		{"delivered without an entry adds none", func(f *feed) { f.own("k1", "c1", "delivered", "") }, nil, 0},
		{"own echo with a status of its own keeps it", func(f *feed) {
			f.own("k1", "c1", "sent", "")
			f.pub(dialect.TopicMessages, dialect.TypeChatMessage, "c1", withStatusField)
		}, []string{"m1/upstream's"}, 0},
		{"malformed messages are ignored", func(f *feed) {
			f.pub(dialect.TopicMessages, dialect.TypeChatMessage, "c1", `not json`)
			f.pub(dialect.TopicMessages, dialect.TypeChatMessage, "c1", `{"conversation_id":"c1"}`)
			f.pub(dialect.TopicMessages, dialect.TypeChatMessage, "c1", `{"id":5,"conversation_id":"c1"}`)
			f.pub(dialect.TopicMessages, dialect.TypeChatMessage, "c1", `null`)
			f.pub(dialect.TopicMessages, eventMessageStatus, "c1", `{"client_message_id":"k1","status":"lost"}`)
		}, nil, 0},
		{"other topics only advance the id", func(f *feed) {
			f.pub(dialect.TopicRaw, dialect.EventRaw, "", `{"type":"chat.message","payload":`+msgJSON("m1", "c1", "")+`}`)
			f.pub(dialect.TopicTyping, dialect.TypeTypingIndicator, "c1", `{"conversation_id":"c1","user_id":"bob","is_typing":true}`)
			f.pub(dialect.TopicErrors, dialect.TypeError, "", `{"code":"x","message":"y"}`)
			f.pub(dialect.TopicConnection, "connection.state", "", `{"state":"connected"}`)
		}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFeed(t, Config{})
			tt.steps(f)
			checkBooks(t, f.p)
			id, msgs, found := f.p.Messages("c1", 0)
			if id != f.h.LastID() {
				t.Errorf("event id %s, want the last published %s", id, f.h.LastID())
			}
			if found != (tt.want != nil) {
				t.Fatalf("found = %v, want %v", found, tt.want != nil)
			}
			if got := describeAll(t, msgs); !slices.Equal(got, tt.want) && tt.want != nil {
				t.Errorf("messages %q, want %q", got, tt.want)
			}
			if c, _ := convOf(t, f.p, "c1"); c.UnreadCount != tt.unread {
				t.Errorf("unread_count %d, want %d", c.UnreadCount, tt.unread)
			}
		})
	}
}

func TestProjectionMessagePayloads(t *testing.T) {
	f := newFeed(t, Config{})
	theirs := `{"id":"m1","conversation_id":"c1","sender_id":"bob","content":"hi","created_at":"2026-01-02T03:04:05Z","reactions":{"x":[1,2]}}`
	f.pub(dialect.TopicMessages, dialect.TypeChatMessage, "c1", theirs)
	f.own("k1", "c1", "queued", "")
	mine := `{"id":"m2","conversation_id":"c1","sender_id":"me","content":"mine k1","created_at":"2026-01-02T03:05:00Z","client_message_id":"k1","x":true}`
	_, msgs, _ := f.p.Messages("c1", 0)
	if want := `{"client_message_id":"k1","conversation_id":"c1","content":"mine k1","status":"queued","accepted_at":"2026-01-02T03:04:00Z"}`; len(msgs) != 2 || string(msgs[1]) != want {
		t.Fatalf("pending entry %s, want %s", msgs[len(msgs)-1], want)
	}
	f.pub(dialect.TopicMessages, dialect.TypeChatMessage, "c1", mine)
	_, msgs, _ = f.p.Messages("c1", 0)
	if len(msgs) != 2 || string(msgs[0]) != theirs || string(msgs[1]) != strings.TrimSuffix(mine, "}")+`,"status":"delivered"}` {
		t.Errorf("messages %s, want the payloads as published, own one with its status", msgs)
	}
	c, _ := convOf(t, f.p, "c1")
	if string(c.LastMessage) != mine || c.UpdatedAt != "2026-01-02T03:05:00Z" || c.UnreadCount != 1 || c.Title != "" {
		t.Errorf("conversation %+v: want last_message the echo as published, updated_at its created_at, unread 1", c)
	}

	// created_at that does not parse (the dialect refuses it; be defensive): updated_at is the event time.
	bad := `{"id":"m3","conversation_id":"c2","created_at":"yesterday"}`
	e := f.pubValue(dialect.TopicMessages, dialect.TypeChatMessage, "c2", bad,
		&dialect.Message{ID: "m3", ConversationID: "c2", CreatedAt: "yesterday"})
	if c, _ := convOf(t, f.p, "c2"); c.UpdatedAt != e.At.UTC().Format(time.RFC3339Nano) {
		t.Errorf("updated_at %q, want the event time", c.UpdatedAt)
	}
}

func TestProjectionMessagesLimit(t *testing.T) {
	f := newFeed(t, Config{Depth: 5})
	for i := range 8 {
		f.msg(fmt.Sprint("m", i), "c1", "")
	}
	for _, tt := range []struct {
		limit int
		want  []string
	}{
		{0, []string{"m3", "m4", "m5", "m6", "m7"}},
		{-1, []string{"m3", "m4", "m5", "m6", "m7"}},
		{2, []string{"m6", "m7"}},
		{5, []string{"m3", "m4", "m5", "m6", "m7"}},
		{500, []string{"m3", "m4", "m5", "m6", "m7"}},
	} {
		_, msgs, found := f.p.Messages("c1", tt.limit)
		if got := describeAll(t, msgs); !found || !slices.Equal(got, tt.want) {
			t.Errorf("Messages(c1, %d) = %q, %v; want %q", tt.limit, got, found, tt.want)
		}
	}
	if _, msgs, found := f.p.Messages("never", 10); found || msgs != nil {
		t.Errorf("Messages(never) = %v, %v; want not found", msgs, found)
	}
	// A resend of a message that left the window comes back as new (documented).
	f.msg("m0", "c1", "")
	checkBooks(t, f.p)
	if st := f.p.Stats(); st.Messages != 5 || st.Conversations != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestProjectionStart(t *testing.T) {
	p := NewProjection(Config{Start: "run-0"})
	for _, id := range []string{p.EventID(), first(p.Conversations()), first(p.Presence()), first(p.Calls())} {
		if id != "run-0" {
			t.Errorf("event id %q before any event, want the Start id", id)
		}
	}
	_, convs := p.Conversations()
	_, users := p.Presence()
	_, calls := p.Calls()
	b, _ := json.Marshal([]any{convs, users, calls})
	if string(b) != "[[],[],[]]" {
		t.Errorf("empty snapshots encode as %s, want empty arrays", b)
	}
	p.Apply(nil, nil) // ignored
	// An event applied twice, or out of order, is ignored whole.
	h := hub.New(hub.Config{})
	e1 := h.Publish(dialect.TopicMessages, dialect.TypeChatMessage, "c1", []byte(msgJSON("m1", "c1", "")))
	e2 := h.Publish(dialect.TopicTyping, dialect.TypeTypingIndicator, "c1", []byte(`{}`))
	p.Apply(e2, nil)
	p.Apply(e1, &dialect.Message{ID: "m1", ConversationID: "c1"})
	if _, _, found := p.Messages("c1", 0); found || p.EventID() != e2.ID {
		t.Errorf("an event older than the last applied changed the projection (found %v, id %s)", found, p.EventID())
	}
}

func first[T any](id string, _ T) string { return id }
