package chat

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/internal/dialect"
	"github.com/chatbridge/chatbridge/internal/dialect/envelope"
	"github.com/chatbridge/chatbridge/internal/hub"
	"github.com/chatbridge/chatbridge/internal/ws"
)

// published returns every event published so far, in order.
func published(t testing.TB, topics *hub.Hub, start string) []*hub.Event {
	t.Helper()
	sub := topics.Subscribe(func(*hub.Event) bool { return true }, start)
	defer sub.Close()
	evs, err := sub.Poll(nil)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestInvalidUTF8IsRepairedAndCounted(t *testing.T) {
	topics := hub.New(hub.Config{})
	defer topics.Close()
	start := topics.LastID()
	svc := newService(t, Config{Topics: topics})
	frame := "{\"type\":\"chat.message\",\"payload\":{\"id\":\"m1\",\"conversation_id\":\"c\xff1\",\"sender_id\":\"bob\"," +
		"\"content\":\"caf\xe9 \xf0\x9f\",\"created_at\":\"2026-12-01T10:00:00Z\"}}"
	svc.HandleFrame(ws.Frame{Data: []byte(frame)})
	svc.HandleFrame(ws.Frame{Data: []byte("plain \xc3\x28 text")})
	evs := published(t, topics, start)
	if len(evs) != 3 {
		t.Fatalf("%d events, want raw, chat.message, raw", len(evs))
	}
	for _, e := range evs {
		if !utf8.Valid(e.Data) || !json.Valid(e.Data) {
			t.Errorf("%s event data %q is not valid UTF-8 JSON", e.Type, e.Data)
		}
	}
	if !strings.Contains(string(evs[1].Data), "caf\uFFFD \uFFFD") || evs[1].Key != "c\uFFFD1" {
		t.Errorf("chat.message %s key %q: want each bad run replaced by U+FFFD", evs[1].Data, evs[1].Key)
	}
	if st := svc.Stats(); st.InvalidUTF8 != 2 || st.Malformed != 1 {
		t.Errorf("stats %+v, want 2 repaired frames (and the text one malformed)", st)
	}
	_, msgs, _ := svc.Snapshots().Messages("c\uFFFD1", 0)
	b, _ := json.Marshal(msgs)
	if len(msgs) != 1 || !utf8.Valid(b) {
		t.Errorf("snapshot %q", b)
	}
}

// FuzzHandleFrame feeds arbitrary frames, invalid UTF-8 among them, through the service with the
// default and a lenient profiled dialect: nothing panics, and everything published, and the
// snapshots, are valid UTF-8 JSON.
func FuzzHandleFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"chat.message","payload":{"id":"m1","conversation_id":"c","sender_id":"u","content":"x","created_at":"2026-11-25T20:00:00Z"}}`,
		"{\"type\":\"chat.message\",\"payload\":{\"id\":\"m\xff\",\"conversation_id\":\"c\",\"sender_id\":\"u\",\"content\":\"\xe9\",\"created_at\":\"2026-11-25T20:00:00Z\"}}",
		"{\"type\":\"conversation.update\",\"payload\":{\"conversation_id\":\"c\",\"title\":\"\xc0\xaf\"}}",
		"{\"event\":\"msg\",\"text\":\"\xed\xa0\x80\"}\n\xff\xfe",
		`{"type":"user.status","payload":{"user_id":"\ud800","status":"away"}}`,
		"\xff", "",
	} {
		f.Add([]byte(s))
	}
	lenient := envelope.New(envelope.Config{NDJSON: true, Mapper: dialect.NewMapper(dialect.MapperConfig{Lenient: true,
		Defaults: map[string]json.RawMessage{"conversation_id": json.RawMessage(`"general"`)},
		Fields:   map[string]dialect.Path{"content": {"text"}},
		Routes:   map[string]dialect.Route{"msg": {Topic: dialect.TopicMessages, As: dialect.TypeChatMessage}}})})
	f.Fuzz(func(t *testing.T, frame []byte) {
		for _, d := range []Dialect{envelope.New(envelope.Config{}), lenient} {
			topics := hub.New(hub.Config{History: 64})
			start := topics.LastID()
			svc, err := NewService(Config{Topics: topics, Dialect: d})
			if err != nil {
				t.Fatal(err)
			}
			svc.HandleFrame(ws.Frame{Data: frame})
			for _, e := range published(t, topics, start) {
				if !utf8.Valid(e.Data) || !json.Valid(e.Data) {
					t.Fatalf("published %q", e.Data)
				}
			}
			_, convs := svc.Snapshots().Conversations()
			b, err := json.Marshal(convs)
			if err != nil || !utf8.Valid(b) {
				t.Fatalf("conversations snapshot %q: %v", b, err)
			}
			for _, c := range convs {
				_, msgs, _ := svc.Snapshots().Messages(c.ConversationID, 0)
				if b, err := json.Marshal(msgs); err != nil || !utf8.Valid(b) {
					t.Fatalf("messages snapshot %q: %v", b, err)
				}
			}
			_, _ = svc.Close()
			topics.Close()
		}
	})
}
