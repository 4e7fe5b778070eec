package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/chat/snapshot"
	"github.com/chatbridge/chatbridge/internal/ws"
)

func chatFrame(id, conv, sender, content string) []byte {
	b, _ := json.Marshal(map[string]any{"type": "chat.message", "payload": map[string]any{
		"id": id, "conversation_id": conv, "sender_id": sender, "content": content,
		"created_at": time.Now().UTC().Format(time.RFC3339Nano)}})
	return b
}

func frame(typ string, payload map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "payload": payload})
	return b
}

// convState is what a page keeps of a conversation, folded the way the bridge folds it.
type convState struct {
	Title       string `json:"title"`
	UnreadCount int    `json:"unread_count"`
	LastID      string `json:"-"`
	LastMessage *struct {
		ID string `json:"id"`
	} `json:"last_message"`
}

// follower is one round of "load, then follow": a conversations snapshot and the stream resumed
// from its event_id, folded event by event; when the stream ends (cut), it resumes from the last
// id it saw, as an EventSource does.
type follower struct {
	convs    map[string]*convState
	presence map[string]string
	lastID   string
}

func (f *follower) apply(t *testing.T, e sseEvent) {
	switch e.Event {
	case "chat.message":
		var p struct {
			ID             string `json:"id"`
			ConversationID string `json:"conversation_id"`
		}
		if err := json.Unmarshal([]byte(e.Data), &p); err != nil {
			t.Errorf("chat.message %s: %v", e.Data, err)
			return
		}
		c := f.conv(p.ConversationID)
		c.UnreadCount++
		c.LastID = p.ID
	case "conversation.update":
		var p struct {
			ConversationID string  `json:"conversation_id"`
			Title          *string `json:"title"`
			UnreadCount    *int    `json:"unread_count"`
		}
		if err := json.Unmarshal([]byte(e.Data), &p); err != nil {
			t.Errorf("conversation.update %s: %v", e.Data, err)
			return
		}
		c := f.conv(p.ConversationID)
		if p.Title != nil {
			c.Title = *p.Title
		}
		if p.UnreadCount != nil {
			c.UnreadCount = *p.UnreadCount
		}
	case "user.status":
		var q struct {
			UserID string `json:"user_id"`
			Status string `json:"status"`
		}
		_ = json.Unmarshal([]byte(e.Data), &q)
		f.presence[q.UserID] = q.Status
	}
}

func (f *follower) conv(id string) *convState {
	c, ok := f.convs[id]
	if !ok {
		c = &convState{}
		f.convs[id] = c
	}
	return c
}

// load takes the conversations and presence snapshots the way a page does: the state, and the
// event id to follow from. Presence is loaded from the conversations' id: both come from one
// projection, so a presence snapshot taken after it only carries events the stream replays too,
// and user.status folds idempotently.
func (r *rig) load(t *testing.T) *follower {
	t.Helper()
	var convs struct {
		EventID       string `json:"event_id"`
		Conversations []struct {
			ConversationID string `json:"conversation_id"`
			convState
		} `json:"conversations"`
	}
	wantJSON(t, r.do(t, http.MethodGet, "/conversations", "", ""), http.StatusOK, &convs)
	f := &follower{convs: map[string]*convState{}, presence: map[string]string{}, lastID: convs.EventID}
	for _, c := range convs.Conversations {
		st := c.convState
		if st.LastMessage != nil {
			st.LastID = st.LastMessage.ID
		}
		f.convs[c.ConversationID] = &st
	}
	var users struct {
		Users []struct {
			UserID string `json:"user_id"`
			Status string `json:"status"`
		} `json:"users"`
	}
	wantJSON(t, r.do(t, http.MethodGet, "/presence", "", ""), http.StatusOK, &users)
	for _, u := range users.Users {
		f.presence[u.UserID] = u.Status
	}
	return f
}

// TestSnapshotThenFollowRebuildsTheState runs many rounds of "load, then follow" while frames
// keep arriving, and checks that each round ends with exactly the state the bridge holds.
func TestSnapshotThenFollowRebuildsTheState(t *testing.T) {
	r := newRig(t)
	const total, rounds = 3000, 12
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < total; i++ {
			conv := fmt.Sprintf("c%d", i%7)
			switch i % 5 {
			case 0, 1, 2:
				r.svc.HandleFrame(ws.Frame{Data: chatFrame(fmt.Sprintf("m%d", i), conv, "bob", "x")})
			case 3:
				r.svc.HandleFrame(ws.Frame{Data: frame("conversation.update", map[string]any{"conversation_id": conv, "title": fmt.Sprintf("T%d", i), "unread_count": i % 4})})
			case 4:
				r.svc.HandleFrame(ws.Frame{Data: frame("user.status", map[string]any{"user_id": fmt.Sprintf("u%d", i%11), "status": []string{"online", "away", "offline"}[i%3]})})
			}
			if i%20 == 0 {
				time.Sleep(time.Millisecond) // a high rate the SSE readers can follow
			}
		}
	}()

	var wg sync.WaitGroup
	results := make([]*follower, rounds)
	for k := 0; k < rounds; k++ {
		f := r.load(t)
		results[k] = f
		c := r.openStream(t, "/events?topics=messages,conversations,presence&last_event_id="+f.lastID)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.follow(t, f, c, done)
		}()
		time.Sleep(15 * time.Millisecond) // start the rounds at different points of the stream
	}
	<-done
	wg.Wait()

	final := r.load(t)
	for k, f := range results {
		if len(f.convs) != len(final.convs) {
			t.Errorf("round %d: %d conversations, the bridge has %d", k, len(f.convs), len(final.convs))
		}
		for id, want := range final.presence {
			if got := f.presence[id]; got != want {
				t.Errorf("round %d: %s is %q, the bridge has %q", k, id, got, want)
			}
		}
		for id, want := range final.convs {
			got := f.convs[id]
			if got == nil || got.Title != want.Title || got.UnreadCount != want.UnreadCount || got.LastID != want.LastID {
				t.Errorf("round %d: conversation %s = %+v, the bridge has %+v", k, id, got, want)
			}
		}
	}
}

// follow folds the stream into f until it has seen the last event published once done is closed.
func (r *rig) follow(t *testing.T, f *follower, c *sseClient, done <-chan struct{}) {
	for {
		select {
		case <-done:
			if f.lastID == r.topics.LastID() {
				c.close()
				return
			}
		default:
		}
		b, err := c.reader.ReadEvent()
		if err != nil { // cut for falling behind: resume as an EventSource would
			c.close()
			c = r.openStream(t, "/events?topics=messages,conversations,presence", "Last-Event-ID", f.lastID)
			continue
		}
		e := parseSSE(b)
		if e.HasID {
			f.lastID = e.ID
		}
		if e.Event == EventStreamReset {
			t.Errorf("stream.reset while following: %s", e.Data)
			return
		}
		f.apply(t, e)
	}
}

func TestSnapshotBoundsWith100000Conversations(t *testing.T) {
	if testing.Short() {
		t.Skip("routes 100,000 frames")
	}
	r := newRig(t)
	for i := 0; i < 100_000; i++ {
		r.svc.HandleFrame(ws.Frame{Data: frame("conversation.update", map[string]any{"conversation_id": fmt.Sprintf("conv-%06d", i), "title": "t"})})
	}
	var convs struct {
		Conversations []struct {
			ConversationID string `json:"conversation_id"`
		} `json:"conversations"`
	}
	wantJSON(t, r.do(t, http.MethodGet, "/conversations", "", ""), http.StatusOK, &convs)
	if n := len(convs.Conversations); n != snapshot.DefaultMaxConversations {
		t.Fatalf("%d conversations kept, want the bound %d", n, snapshot.DefaultMaxConversations)
	}
	if first := convs.Conversations[0].ConversationID; first != "conv-099999" {
		t.Errorf("most recently updated first: got %s", first)
	}
	if st := r.svc.Snapshots().Stats(); st.Conversations > snapshot.DefaultMaxConversations {
		t.Errorf("projection stats %+v beyond the bound", st)
	}
	wantProblem(t, r.do(t, http.MethodGet, "/conversations/conv-000000/messages", "", ""), http.StatusNotFound, "unknown-conversation")
}

func TestCallEndedLeavesNoOpenCall(t *testing.T) {
	r := newRig(t)
	r.svc.HandleFrame(ws.Frame{Data: frame("call.incoming", map[string]any{"call_id": "k1", "conversation_id": "c1", "caller_id": "cy", "media": "video"})})
	var calls struct {
		EventID string           `json:"event_id"`
		Calls   []map[string]any `json:"calls"`
	}
	wantJSON(t, r.do(t, http.MethodGet, "/calls", "", ""), http.StatusOK, &calls)
	if len(calls.Calls) != 1 || calls.Calls[0]["call_id"] != "k1" || calls.Calls[0]["state"] != "incoming" {
		t.Fatalf("calls = %+v, want k1 incoming", calls.Calls)
	}
	r.svc.HandleFrame(ws.Frame{Data: frame("call.ended", map[string]any{"call_id": "k1", "reason": "hangup"})})
	wantJSON(t, r.do(t, http.MethodGet, "/calls", "", ""), http.StatusOK, &calls)
	if len(calls.Calls) != 0 {
		t.Fatalf("calls after call.ended = %+v, want none", calls.Calls)
	}
	if calls.EventID != r.topics.LastID() {
		t.Errorf("event_id %s, want the last event %s", calls.EventID, r.topics.LastID())
	}
}

func TestMessagesSnapshotLimit(t *testing.T) {
	r := newRig(t)
	for i := 0; i < 250; i++ {
		r.svc.HandleFrame(ws.Frame{Data: chatFrame(fmt.Sprintf("m%03d", i), "deep", "bob", "x")})
	}
	var got struct {
		Messages []struct{ ID string } `json:"messages"`
	}
	for _, tt := range []struct {
		query string
		want  int
		first string
	}{
		{"", 50, "m200"},
		{"?limit=10", 10, "m240"},
		{"?limit=1000", 200, "m050"},
	} {
		wantJSON(t, r.do(t, http.MethodGet, "/conversations/deep/messages"+tt.query, "", ""), http.StatusOK, &got)
		if len(got.Messages) != tt.want || got.Messages[0].ID != tt.first || got.Messages[len(got.Messages)-1].ID != "m249" {
			t.Errorf("%q: %d messages from %s, want %d from %s to m249", tt.query, len(got.Messages), got.Messages[0].ID, tt.want, tt.first)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=-3", "?limit=ten"} {
		wantProblem(t, r.do(t, http.MethodGet, "/conversations/deep/messages"+q, "", ""), http.StatusBadRequest, "invalid-query", "limit")
	}
	p := wantProblem(t, r.do(t, http.MethodGet, "/conversations/never-seen/messages", "", ""), http.StatusNotFound, "unknown-conversation")
	if !strings.Contains(p.Detail, "never-seen") {
		t.Errorf("detail %q does not name the conversation", p.Detail)
	}
}

func TestPathIDsAreDecoded(t *testing.T) {
	r := newRig(t)
	r.svc.HandleFrame(ws.Frame{Data: chatFrame("m1", "team:general", "bob", "x")})
	var got struct {
		Messages []struct{ ID string } `json:"messages"`
	}
	// A page builds the path with encodeURIComponent.
	wantJSON(t, r.do(t, http.MethodGet, "/conversations/team%3Ageneral/messages", "", ""), http.StatusOK, &got)
	if len(got.Messages) != 1 || got.Messages[0].ID != "m1" {
		t.Fatalf("messages of team:general = %+v", got.Messages)
	}
	ex := r.postJSON(t, "/calls/k%40home/accept", "")
	if ex.status != http.StatusAccepted {
		t.Fatalf("accept = %d %s", ex.status, ex.body)
	}
	f := waitFrame(t, r, "call.accept", "call_id", "k@home")
	if !strings.Contains(string(f.Payload), `"k@home"`) {
		t.Fatalf("call.accept upstream = %s", f.Payload)
	}
}
