package chat

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatbridge/chatbridge/internal/demo"
	"github.com/chatbridge/chatbridge/internal/dialect"
	"github.com/chatbridge/chatbridge/internal/dialect/envelope"
	"github.com/chatbridge/chatbridge/internal/hub"
	"github.com/chatbridge/chatbridge/internal/ws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is a Service wired to a real demo upstream over a real WebSocket, as cmd/bridge wires it.
type rig struct {
	demo   *demo.Server
	topics *hub.Hub
	svc    *Service
	client *ws.Client
	start  string // the hub's id before any event: resuming from it replays everything
}

func newRig(t *testing.T) *rig {
	t.Helper()
	up := demo.New(demo.Config{})
	mux := http.NewServeMux()
	mux.Handle(demo.Path, up)
	srv := httptest.NewServer(mux)
	r := &rig{demo: up, topics: hub.New(hub.Config{History: 1000})}
	r.start = r.topics.LastID()
	d := envelope.New(envelope.Config{})
	client, err := ws.New(ws.Config{
		URL:   "ws" + strings.TrimPrefix(srv.URL, "http") + demo.Path,
		Token: ws.StaticToken(demo.DemoToken), PingFrame: d.Ping(),
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.client = client
	r.svc = newService(t, Config{Topics: r.topics, Transport: client, Dialect: d})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { defer func() { done <- struct{}{} }(); _ = client.Run(ctx, r.svc) }()
	go func() { defer func() { done <- struct{}{} }(); _ = r.svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		_ = up.Close()
		srv.Close()
		r.topics.Close()
	})
	return r
}

// tap reads a subscription and keeps what a wait did not consume, so that consecutive waits see
// every event once, in order.
type tap struct {
	sub     *hub.Sub
	pending []*hub.Event
}

func newTap(h *hub.Hub, match func(*hub.Event) bool, lastID string) *tap {
	return &tap{sub: h.Subscribe(match, lastID)}
}

// await returns the next event that satisfies ok, dropping those before it, or fails the test
// after a generous bound.
func (tp *tap) await(t *testing.T, ok func(*hub.Event) bool) *hub.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		for len(tp.pending) > 0 {
			e := tp.pending[0]
			tp.pending = tp.pending[1:]
			if ok(e) {
				return e
			}
		}
		evs, err := tp.sub.Next(ctx, nil)
		if err != nil {
			t.Fatalf("waiting for an event: %v", err)
		}
		tp.pending = evs
	}
}

// newService is NewService that fails the test on error and closes the Service at cleanup. A
// Config without a Dialect gets the default one.
func newService(t *testing.T, cfg Config) *Service {
	t.Helper()
	if cfg.Dialect == nil {
		cfg.Dialect = envelope.New(envelope.Config{})
	}
	svc, err := NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = svc.Close() })
	return svc
}

func (r *rig) waitConnected(t *testing.T) {
	t.Helper()
	tp := newTap(r.topics, func(e *hub.Event) bool { return e.Topic == dialect.TopicConnection }, r.start)
	defer tp.sub.Close()
	tp.await(t, func(e *hub.Event) bool { return strings.Contains(string(e.Data), `"state":"connected"`) })
	// The demo server registers the connection a moment after the client sees it open; frames
	// it sends before that reach nobody.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := r.demo.WaitConnections(ctx, 1); err != nil {
		t.Fatal(err)
	}
}

func TestRoutingOfEveryTypeThroughTheDemoServer(t *testing.T) {
	r := newRig(t)
	all := newTap(r.topics, func(*hub.Event) bool { return true }, "")
	defer all.sub.Close()
	r.waitConnected(t)

	now := time.Now().UTC().Format(time.RFC3339)
	frames := []struct {
		typ, topic, key string
		payload         map[string]any
	}{
		{dialect.TypeChatMessage, dialect.TopicMessages, "c1", map[string]any{"id": "m1", "conversation_id": "c1", "sender_id": "bob", "content": "hi", "created_at": now, "extra": 1}},
		{dialect.TypeTypingIndicator, dialect.TopicTyping, "c1", map[string]any{"conversation_id": "c1", "user_id": "bob", "is_typing": true}},
		{dialect.TypeUserStatus, dialect.TopicPresence, "", map[string]any{"user_id": "zed", "status": "away"}},
		{dialect.TypeConversationUpdate, dialect.TopicConversations, "c1", map[string]any{"conversation_id": "c1", "title": "C", "unread_count": 2}},
		{dialect.TypeCallIncoming, dialect.TopicCalls, "c1", map[string]any{"call_id": "k1", "conversation_id": "c1", "caller_id": "bob", "media": "video"}},
		{dialect.TypeCallAccepted, dialect.TopicCalls, "c1", map[string]any{"call_id": "k1", "user_id": "demo-user"}},
		{dialect.TypeCallEnded, dialect.TopicCalls, "c1", map[string]any{"call_id": "k1", "reason": "hangup"}},
		{dialect.TypeCallRejected, dialect.TopicCalls, "", map[string]any{"call_id": "k2"}},
		{dialect.TypeError, dialect.TopicErrors, "", map[string]any{"code": "nope", "message": "refused"}},
		{"reaction.added", "", "", map[string]any{"emoji": "+1"}},
	}
	for _, f := range frames {
		if err := r.demo.Broadcast(f.typ, f.payload); err != nil {
			t.Fatal(err)
		}
		raw := all.await(t, func(e *hub.Event) bool {
			return e.Topic == dialect.TopicRaw && strings.Contains(string(e.Data), `"`+f.typ+`"`)
		})
		if raw.Type != dialect.EventRaw {
			t.Errorf("raw event name = %q", raw.Type)
		}
		if f.topic == "" {
			continue
		}
		e := all.await(t, func(e *hub.Event) bool { return e.Topic != dialect.TopicRaw && e.Type == f.typ })
		if e.Topic != f.topic || e.Type != f.typ || e.Key != f.key {
			t.Errorf("%s: published topic %q type %q key %q; want %q %q %q", f.typ, e.Topic, e.Type, e.Key, f.topic, f.typ, f.key)
		}
		var got map[string]any
		if err := json.Unmarshal(e.Data, &got); err != nil || len(got) != len(f.payload) {
			t.Errorf("%s: data %s does not carry the payload's %d fields", f.typ, e.Data, len(f.payload))
		}
	}
	if st := r.svc.Stats(); st.Received["unknown"] != 1 || st.Malformed != 0 {
		t.Errorf("Stats = %+v, want one unknown frame and none malformed", st)
	}
}

func TestMalformedFramesAreCountedAndSurvived(t *testing.T) {
	r := newRig(t)
	all := newTap(r.topics, func(*hub.Event) bool { return true }, "")
	defer all.sub.Close()
	r.waitConnected(t)

	bad := []string{
		`not json at all`,
		`[1,2,3]`,
		`{"payload":{}}`,
		`{"type":42}`,
		`{"type":"chat.message","payload":[]}`,
		`{"type":"chat.message","payload":{"conversation_id":"c1"}}`,
		`{"type":"typing.indicator","payload":{"conversation_id":"c1","user_id":"u","is_typing":"maybe"}}`,
		`{"type":"user.status","payload":{"user_id":"u","status":"sleeping"}}`,
		`{"type":"call.incoming","payload":{"call_id":"k"}}`,
	}
	for _, b := range bad {
		r.demo.SendRaw(demo.DemoUser, []byte(b))
	}
	r.demo.SendRaw(demo.DemoUser, []byte(`{"type":"user.status","payload":{"user_id":"after","status":"online"}}`))
	all.await(t, func(e *hub.Event) bool {
		return e.Topic == dialect.TopicPresence && strings.Contains(string(e.Data), `"after"`)
	})

	if st := r.svc.Stats(); st.Malformed != uint64(len(bad)) {
		t.Errorf("Malformed = %d, want %d", st.Malformed, len(bad))
	}
	if r.demo.Dials() != 1 || r.client.Status().State != ws.StateConnected {
		t.Errorf("the connection did not survive: dials %d, state %s", r.demo.Dials(), r.client.Status().State)
	}
}

func TestMalformedKnownTypeGoesToRawOnly(t *testing.T) {
	r := newRig(t)
	all := newTap(r.topics, func(*hub.Event) bool { return true }, "")
	defer all.sub.Close()
	r.waitConnected(t)
	r.demo.SendRaw(demo.DemoUser, []byte(`{"type":"chat.message","payload":{"conversation_id":"c1","content":"no id"}}`))
	r.demo.SendRaw(demo.DemoUser, []byte(`{"type":"error","payload":{"code":"marker","message":"m"}}`))
	e := all.await(t, func(e *hub.Event) bool { return strings.Contains(string(e.Data), `"no id"`) })
	if e.Topic != dialect.TopicRaw || !strings.Contains(string(e.Data), `"no id"`) {
		t.Fatalf("first event = %s %s, want the malformed frame on raw", e.Topic, e.Data)
	}
	e = all.await(t, func(e *hub.Event) bool {
		return e.Topic != dialect.TopicRaw && e.Topic != dialect.TopicConnection && e.Topic != dialect.TopicPresence && e.Topic != dialect.TopicConversations
	})
	if e.Topic != dialect.TopicErrors {
		t.Fatalf("a malformed chat.message reached %s: %s", e.Topic, e.Data)
	}
}

func TestOperationsReachTheUpstream(t *testing.T) {
	r := newRig(t)
	r.waitConnected(t)
	ctx := t.Context()
	if status, err := r.svc.Submit(ctx, OutgoingMessage{ConversationID: "general", Content: "hello", ClientMessageID: "k-1"}); err != nil || status != "sent" {
		t.Fatalf("Submit = %q, %v; want sent", status, err)
	}
	if err := r.svc.SendTyping(ctx, OutgoingTyping{ConversationID: "general", IsTyping: true}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{CallAccept, CallReject, CallEnd} {
		if err := r.svc.SendCall(ctx, a, OutgoingCall{CallID: "k9", Reason: "busy"}); err != nil {
			t.Fatal(err)
		}
	}
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	checks := []struct{ typ, payload string }{
		{dialect.TypeChatMessage, `{"conversation_id":"general","content":"hello","client_message_id":"k-1"}`},
		{dialect.TypeTypingIndicator, `{"conversation_id":"general","is_typing":true}`},
		{CallAccept, `{"call_id":"k9"}`},
		{CallReject, `{"call_id":"k9","reason":"busy"}`},
		{CallEnd, `{"call_id":"k9","reason":"busy"}`},
	}
	for _, c := range checks {
		f, err := r.demo.WaitReceived(wait, func(f demo.Frame) bool { return f.Type == c.typ })
		if err != nil {
			t.Fatalf("%s never reached the upstream: %v", c.typ, err)
		}
		if string(f.Payload) != c.payload || f.User != demo.DemoUser {
			t.Errorf("%s arrived as %s from %s, want %s", c.typ, f.Payload, f.User, c.payload)
		}
	}
	if err := r.svc.SendCall(ctx, "call.hold", OutgoingCall{CallID: "k9"}); err == nil {
		t.Error("SendCall accepted an unknown action")
	}
}

func TestSendWhileDownFailsClearly(t *testing.T) {
	topics := hub.New(hub.Config{})
	defer topics.Close()
	client, err := ws.New(ws.Config{URL: "ws://127.0.0.1:1/chat", Token: ws.StaticToken("t")})
	if err != nil {
		t.Fatal(err)
	}
	svc := newService(t, Config{Topics: topics, Transport: client})
	err = svc.SendTyping(t.Context(), OutgoingTyping{ConversationID: "c", IsTyping: true})
	if !errors.Is(err, ws.ErrNotConnected) {
		t.Fatalf("SendTyping while down = %v, want ws.ErrNotConnected", err)
	}
	status, err := svc.Submit(t.Context(), OutgoingMessage{ConversationID: "c", Content: "x", ClientMessageID: "k"})
	if err != nil || status != "queued" {
		t.Fatalf("Submit while down = %q, %v; want queued", status, err)
	}
}

func TestCallEventsCarryTheirConversation(t *testing.T) {
	topics := hub.New(hub.Config{})
	defer topics.Close()
	svc := newService(t, Config{Topics: topics, MaxCalls: 2})
	sub := topics.Subscribe(func(e *hub.Event) bool { return e.Topic == dialect.TopicCalls && e.Key == "c1" }, "")
	defer sub.Close()
	svc.HandleFrame(ws.Frame{Data: []byte(`{"type":"call.incoming","payload":{"call_id":"k1","conversation_id":"c1","caller_id":"b","media":"audio"}}`)})
	svc.HandleFrame(ws.Frame{Data: []byte(`{"type":"call.accepted","payload":{"call_id":"k1"}}`)})
	svc.HandleFrame(ws.Frame{Data: []byte(`{"type":"call.ended","payload":{"call_id":"k1"}}`)})
	svc.HandleFrame(ws.Frame{Data: []byte(`{"type":"call.ended","payload":{"call_id":"k1"}}`)}) // forgotten: no key
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var got []string
	for len(got) < 3 {
		evs, err := sub.Next(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			got = append(got, e.Type)
		}
	}
	if strings.Join(got, ",") != "call.incoming,call.accepted,call.ended" {
		t.Fatalf("conversation c1 saw %v", got)
	}
	// The bound holds: a third call forgets the first.
	for _, id := range []string{"a", "b", "c"} {
		svc.HandleFrame(ws.Frame{Data: []byte(`{"type":"call.incoming","payload":{"call_id":"` + id + `","conversation_id":"c2","caller_id":"b","media":"audio"}}`)})
	}
	svc.calls.mu.Lock()
	n := len(svc.calls.conv)
	svc.calls.mu.Unlock()
	if n != 2 {
		t.Fatalf("the call index holds %d calls, want the bound 2", n)
	}
}
