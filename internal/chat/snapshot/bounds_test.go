package snapshot

import (
	"encoding/json"
	"fmt"
	"github.com/chatbridge/chatbridge/internal/dialect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chatbridge/chatbridge/internal/hub"
)

func TestProjectionBoundsByCount(t *testing.T) {
	const n = 100000
	tests := []struct {
		name  string
		event func(f *feed, i string)
		check func(t *testing.T, p *Projection, st Stats)
	}{
		{"conversations", func(f *feed, i string) { f.msg("m"+i, "c"+i, "") },
			func(t *testing.T, p *Projection, st Stats) {
				if st.Conversations != DefaultMaxConversations || st.Messages != DefaultMaxConversations {
					t.Errorf("stats %+v, want %d conversations", st, DefaultMaxConversations)
				}
				if _, _, found := p.Messages("c0", 0); found {
					t.Error("the least recently updated conversation is still kept")
				}
				if _, _, found := p.Messages(fmt.Sprint("c", n-1), 0); !found {
					t.Error("the newest conversation is not kept")
				}
			}},
		{"users", func(f *feed, i string) {
			f.pub(dialect.TopicPresence, dialect.TypeUserStatus, "", `{"user_id":"u`+i+`","status":"online"}`)
		}, func(t *testing.T, p *Projection, st Stats) {
			_, users := p.Presence()
			if st.Users != DefaultMaxUsers || users[0].UserID != fmt.Sprint("u", n-DefaultMaxUsers) {
				t.Errorf("%d users from %s, want %d from u%d: the least recently updated dropped first",
					st.Users, users[0].UserID, DefaultMaxUsers, n-DefaultMaxUsers)
			}
		}},
		{"calls", func(f *feed, i string) {
			f.pub(dialect.TopicCalls, dialect.TypeCallIncoming, "c", `{"call_id":"k`+i+`","conversation_id":"c","caller_id":"bob","media":"audio"}`)
		}, func(t *testing.T, p *Projection, st Stats) {
			_, calls := p.Calls()
			if st.Calls != DefaultMaxCalls || calls[0].CallID != fmt.Sprint("k", n-DefaultMaxCalls) {
				t.Errorf("%d calls from %s, want %d from k%d: the oldest dropped first",
					st.Calls, calls[0].CallID, DefaultMaxCalls, n-DefaultMaxCalls)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFeed(t, Config{})
			for i := range n {
				tt.event(f, strconv.Itoa(i))
			}
			checkBooks(t, f.p)
			st := f.p.Stats()
			if st.Conversations > DefaultMaxConversations || st.Users > DefaultMaxUsers ||
				st.Calls > DefaultMaxCalls || st.Bytes > DefaultMaxMessageBytes {
				t.Errorf("stats %+v, over the default bounds", st)
			}
			tt.check(t, f.p, st)
		})
	}
}

func TestProjectionBoundsByBytes(t *testing.T) {
	const limit = 1 << 20
	f := newFeed(t, Config{MaxMessageBytes: limit})
	check := func(what string) {
		t.Helper()
		if st := f.p.Stats(); st.Bytes > limit {
			t.Fatalf("after %s: %d bytes kept, over the %d bound", what, st.Bytes, limit)
		}
	}
	big := strings.Repeat("x", 16<<10)
	for i := range 300 {
		m := dialect.Message{ID: fmt.Sprint("m", i), ConversationID: fmt.Sprint("c", i%30), SenderID: "bob",
			Content: big, CreatedAt: "2026-01-02T03:04:05Z"}
		b, _ := json.Marshal(m)
		f.pub(dialect.TopicMessages, dialect.TypeChatMessage, m.ConversationID, string(b))
		check("message " + m.ID)
	}
	// The newest conversation keeps its newest messages; the oldest messages went first.
	if _, msgs, _ := f.p.Messages("c29", 0); len(msgs) == 0 || describe(t, msgs[len(msgs)-1]) != "m299" {
		t.Errorf("newest conversation lost its newest message")
	}
	for i := range 40 {
		f.pub(dialect.TopicConversations, dialect.TypeConversationUpdate, "", fmt.Sprintf(
			`{"conversation_id":"u%d","title":"%s","blob":"%s"}`, i, big, big))
		check(fmt.Sprint("update ", i))
		f.own(fmt.Sprint("k", i), fmt.Sprint("u", i), "queued", "")
		check(fmt.Sprint("own ", i))
	}
	checkBooks(t, f.p)
	// One message over the whole bound leaves nothing.
	huge := dialect.Message{ID: "huge", ConversationID: "h", SenderID: "bob", Content: strings.Repeat("y", 2*limit),
		CreatedAt: "2026-01-02T03:04:05Z"}
	b, _ := json.Marshal(huge)
	f.pub(dialect.TopicMessages, dialect.TypeChatMessage, "h", string(b))
	check("a message over the bound")
	checkBooks(t, f.p)
	if st := f.p.Stats(); st.Conversations != 0 || st.Messages != 0 || st.Bytes != 0 {
		t.Errorf("stats %+v, want empty", st)
	}
}

func TestProjectionDefaults(t *testing.T) {
	p := NewProjection(Config{MaxCalls: -1})
	want := Config{MaxConversations: DefaultMaxConversations, Depth: DefaultDepth,
		MaxUsers: DefaultMaxUsers, MaxCalls: DefaultMaxCalls, MaxMessageBytes: DefaultMaxMessageBytes}
	if p.cfg != want {
		t.Errorf("config %+v, want %+v", p.cfg, want)
	}
}

func TestProjectionSnapshotsAreCopies(t *testing.T) {
	f := newFeed(t, Config{})
	f.pub(dialect.TopicConversations, dialect.TypeConversationUpdate, "c1", `{"conversation_id":"c1","title":"T","x":{"a":1}}`)
	f.msg("m1", "c1", "")
	f.msg("m2", "c1", "")
	f.pub(dialect.TopicPresence, dialect.TypeUserStatus, "", `{"user_id":"bob","status":"online"}`)
	f.pub(dialect.TopicCalls, dialect.TypeCallIncoming, "c1", `{"call_id":"k1","conversation_id":"c1","caller_id":"bob","media":"audio"}`)
	state := func() string {
		_, convs := f.p.Conversations()
		_, msgs, _ := f.p.Messages("c1", 0)
		_, users := f.p.Presence()
		_, calls := f.p.Calls()
		b, err := json.Marshal([]any{convs, msgs, users, calls})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	before := state()

	_, convs := f.p.Conversations()
	convs[0].Title, convs[0].UnreadCount = "changed", 99
	convs[0].Extra["x"] = json.RawMessage(`2`)
	convs[0].Extra["new"] = json.RawMessage(`3`)
	_, msgs, _ := f.p.Messages("c1", 0)
	msgs[0] = json.RawMessage(`{}`)
	_ = append(msgs[:1], json.RawMessage(`{}`))
	_, users := f.p.Presence()
	users[0].Status = "away"
	_, calls := f.p.Calls()
	calls[0].State = CallStateAccepted

	if after := state(); after != before {
		t.Errorf("changing the snapshots changed the projection:\n%s\nbecame\n%s", before, after)
	}
}

// TestProjectionConcurrent applies events on one goroutine while others take snapshots: run it
// with -race. Every reader must see event ids that never go back.
func TestProjectionConcurrent(t *testing.T) {
	f := newFeed(t, Config{Depth: 20, MaxConversations: 50, MaxUsers: 50, MaxCalls: 10, MaxMessageBytes: 64 << 10})
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for r := range 4 {
		wg.Go(func() {
			last := ""
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				ids := make([]string, 0, 4)
				id, convs := f.p.Conversations()
				ids = append(ids, id)
				id, msgs, _ := f.p.Messages(fmt.Sprint("c", (i+r)%60), 10)
				ids = append(ids, id)
				id, users := f.p.Presence()
				ids = append(ids, id)
				id, calls := f.p.Calls()
				ids = append(ids, id)
				_ = f.p.Stats()
				if _, err := json.Marshal([]any{convs, msgs, users, calls}); err != nil {
					errs <- err
					return
				}
				for _, id := range ids {
					if id < last {
						errs <- fmt.Errorf("event id went back from %s to %s", last, id)
						return
					}
					last = id
				}
			}
		})
	}
	for i := range 3000 {
		c := fmt.Sprint("c", i%60)
		switch i % 6 {
		case 0, 1:
			f.msg(fmt.Sprint("m", i), c, "")
		case 2:
			f.own(fmt.Sprint("k", i), c, "sent", "")
		case 3:
			f.pub(dialect.TopicConversations, dialect.TypeConversationUpdate, c, `{"conversation_id":"`+c+`","unread_count":0}`)
		case 4:
			f.pub(dialect.TopicPresence, dialect.TypeUserStatus, "", fmt.Sprintf(`{"user_id":"u%d","status":"away"}`, i%70))
		case 5:
			f.pub(dialect.TopicCalls, dialect.TypeCallIncoming, c, fmt.Sprintf(`{"call_id":"k%d","conversation_id":"%s","caller_id":"bob","media":"audio"}`, i%20, c))
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checkBooks(t, f.p)
	if id := f.p.EventID(); id != f.h.LastID() {
		t.Errorf("event id %s, want %s", id, f.h.LastID())
	}
}

// BenchmarkProjectionApplyMessage measures Apply for a chat.message into 100 conversations that
// are full (each new message drops the oldest).
func BenchmarkProjectionApplyMessage(b *testing.B) {
	h := hub.New(hub.Config{History: 16})
	defer h.Close()
	const n = 1 << 14
	evs := make([]*hub.Event, n)
	vals := make([]any, n)
	for i := range evs {
		c := fmt.Sprint("c", i%100)
		data := []byte(msgJSON(fmt.Sprint("m", i), c, ""))
		evs[i] = h.Publish(dialect.TopicMessages, dialect.TypeChatMessage, c, data)
		ev, _, _ := decoder.Map(dialect.TypeChatMessage, data, data, dialect.Env{})
		vals[i] = ev.Value
	}
	p := NewProjection(Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%n == 0 {
			p.seq = 0 // replay the same events: their Seq starts over
		}
		p.Apply(evs[i%n], vals[i%n])
	}
}
