package envelope

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/dialect"
)

// decode runs d over one text frame and returns the result.
func decode(d *Dialect, frame string) dialect.Result {
	var r dialect.Result
	d.Decode(dialect.Frame{Data: []byte(frame)}, dialect.Env{At: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}, &r)
	return r
}

// domain returns the events of r that are not on the raw topic.
func domain(r dialect.Result) []dialect.Event {
	var out []dialect.Event
	for _, e := range r.Events {
		if e.RawKind == "" {
			out = append(out, e)
		}
	}
	return out
}

func TestEveryTypeOfTheDefaultWire(t *testing.T) {
	tests := []struct {
		frame  string
		topic  string
		key    string
		callID string
	}{
		{`{"type":"chat.message","payload":{"id":"m1","conversation_id":"c1","sender_id":"u","content":"hi","created_at":"2026-11-25T20:00:00Z","client_message_id":"k"}}`, dialect.TopicMessages, "c1", ""},
		{`{"type":"typing.indicator","payload":{"conversation_id":"c1","user_id":"u","is_typing":false}}`, dialect.TopicTyping, "c1", ""},
		{`{"type":"user.status","payload":{"user_id":"u","status":"online","last_seen":"2026-11-25T20:00:00Z"}}`, dialect.TopicPresence, "", ""},
		{`{"type":"conversation.update","payload":{"conversation_id":"c1","title":"T","unread_count":0,"last_message":{"id":"m1","conversation_id":"c1","sender_id":"u","content":"hi","created_at":"2026-11-25T20:00:00Z"}}}`, dialect.TopicConversations, "c1", ""},
		{`{"type":"call.incoming","payload":{"call_id":"k9","conversation_id":"c1","caller_id":"bob","media":"audio"}}`, dialect.TopicCalls, "c1", "k9"},
		{`{"type":"call.accepted","payload":{"call_id":"k9","user_id":"u"}}`, dialect.TopicCalls, "", "k9"},
		{`{"type":"call.rejected","payload":{"call_id":"k9","reason":"busy"}}`, dialect.TopicCalls, "", "k9"},
		{`{"type":"call.ended","payload":{"call_id":"k9"}}`, dialect.TopicCalls, "", "k9"},
		{`{"type":"error","payload":{"code":"bad","message":"no","ref":"k"}}`, dialect.TopicErrors, "", ""},
		{`{"type":"pong","payload":{}}`, "", "", ""},
	}
	d := New(Config{})
	for _, tt := range tests {
		r := decode(d, tt.frame)
		if len(r.Rejects) != 0 || len(r.Events) != 2 {
			t.Fatalf("%s: rejects %v, %d events; want the raw one and the decoded one", tt.frame, r.Rejects, len(r.Events))
		}
		raw, e := r.Events[0], r.Events[1]
		if raw.Topic != dialect.TopicRaw || raw.Type != dialect.EventRaw || string(raw.Data) != tt.frame || raw.RawKind != dialect.RawJSON {
			t.Errorf("raw event %+v, want the frame as it came", raw)
		}
		if e.Topic != tt.topic || e.Key != tt.key || e.CallID != tt.callID {
			t.Errorf("%s: topic %q key %q call %q, want %q %q %q", tt.frame, e.Topic, e.Key, e.CallID, tt.topic, tt.key, tt.callID)
		}
		if e.Type != "pong" && e.Value == nil {
			t.Errorf("%s: no decoded value", tt.frame)
		}
	}
}

func TestUnknownFieldsAreKept(t *testing.T) {
	r := decode(New(Config{}), `{"type":"user.status","payload":{
		"user_id": "u", "status": "away", "mood": {"emoji": "☕"}}}`)
	e := domain(r)[0]
	if want := `{"user_id":"u","status":"away","mood":{"emoji":"☕"}}`; string(e.Data) != want {
		t.Fatalf("Data = %s, want %s", e.Data, want)
	}
	if raw := r.Events[0].Data; bytes.ContainsAny(raw, "\r\n") {
		t.Errorf("raw data %q is not one line", raw)
	}
}

func TestUnknownTypeGoesToRawOnly(t *testing.T) {
	r := decode(New(Config{}), `{"type":"reaction.added","payload":{}}`)
	if r.Unknown != 1 || len(r.Events) != 1 || r.Events[0].Topic != dialect.TopicRaw || len(r.Rejects) != 0 {
		t.Fatalf("result %+v, want one raw event and one unknown", r)
	}
}

func TestMalformedUnits(t *testing.T) {
	tests := []struct{ frame, typ, reason, rawKind string }{
		{`{"type":`, "", "not json", dialect.RawText},
		{``, "", "not json", dialect.RawText},
		{`hello there`, "", "not json", dialect.RawText},
		{`[1,2]`, "", "not an object", dialect.RawJSON},
		{`"chat.message"`, "", "not an object", dialect.RawJSON},
		{`{"payload":{}}`, "", "type missing or not a string", dialect.RawJSON},
		{`{"type":5,"payload":{}}`, "", "type missing or not a string", dialect.RawJSON},
		{`{"type":"","payload":{}}`, "", "type is empty", dialect.RawJSON},
		{`{"type":"chat.message","payload":[1]}`, "chat.message", "payload is not an object", dialect.RawJSON},
		{`{"type":"x","payload":{}} {}`, "", "not json", dialect.RawText},
		{`{"type":"chat.message","payload":{"conversation_id":"c","sender_id":"u","content":"x","created_at":"2026-11-25T20:00:00Z"}}`, "chat.message", "missing field id", dialect.RawJSON},
		{`{"type":"chat.message","payload":{"id":"m","conversation_id":"c","sender_id":"u","content":"x","created_at":"yesterday"}}`, "chat.message", "created_at is not RFC 3339", dialect.RawJSON},
		{`{"type":"chat.message","payload":{"id":7,"conversation_id":"c","sender_id":"u","content":"x","created_at":"2026-11-25T20:00:00Z"}}`, "chat.message", "field of the wrong type", dialect.RawJSON},
		{`{"type":"typing.indicator","payload":{"conversation_id":"c","user_id":"u"}}`, "typing.indicator", "missing field is_typing", dialect.RawJSON},
		{`{"type":"typing.indicator","payload":{"conversation_id":"c","user_id":"u","is_typing":"yes"}}`, "typing.indicator", "field of the wrong type", dialect.RawJSON},
		{`{"type":"user.status","payload":{"user_id":"u","status":"sleeping"}}`, "user.status", "status is not online, offline or away", dialect.RawJSON},
		{`{"type":"conversation.update","payload":{"title":"no id"}}`, "conversation.update", "missing field conversation_id", dialect.RawJSON},
		{`{"type":"conversation.update","payload":{"conversation_id":"c","unread_count":-2}}`, "conversation.update", "unread_count is negative", dialect.RawJSON},
		{`{"type":"conversation.update","payload":{"conversation_id":"c","last_message":{"id":"m"}}}`, "conversation.update", "last_message is not a chat.message payload", dialect.RawJSON},
		{`{"type":"call.incoming","payload":{"call_id":"k","conversation_id":"c","caller_id":"u","media":"hologram"}}`, "call.incoming", "media is not audio or video", dialect.RawJSON},
		{`{"type":"call.ended","payload":{}}`, "call.ended", "missing field call_id", dialect.RawJSON},
		{`{"type":"error","payload":{"code":"x"}}`, "error", "missing field message", dialect.RawJSON},
	}
	d := New(Config{})
	for _, tt := range tests {
		r := decode(d, tt.frame)
		if len(r.Rejects) != 1 || r.Rejects[0].Reason != tt.reason || r.Rejects[0].Type != tt.typ {
			t.Errorf("%s: rejects %+v, want type %q reason %q", tt.frame, r.Rejects, tt.typ, tt.reason)
			continue
		}
		if len(r.Events) != 1 || r.Events[0].RawKind != tt.rawKind {
			t.Errorf("%s: events %+v, want it on raw only, as %s", tt.frame, r.Events, tt.rawKind)
		}
		if strings.Contains(r.Rejects[0].Reason, `"c"`) {
			t.Errorf("the reason carries frame content: %v", r.Rejects[0])
		}
	}
}

func TestRawTextAndBinary(t *testing.T) {
	d := New(Config{})
	r := decode(d, "plain \"text\"\n")
	if got := string(r.Events[0].Data); got != `{"text":"plain \"text\"\n"}` {
		t.Errorf("text raw data = %s", got)
	}
	var b dialect.Result
	d.Decode(dialect.Frame{Binary: true, Data: []byte{0xff, 0, 1}}, dialect.Env{}, &b)
	if len(b.Events) != 1 || string(b.Events[0].Data) != `{"binary":"/wAB"}` || b.Events[0].RawKind != dialect.RawBinary || len(b.Rejects) != 0 {
		t.Errorf("binary result %+v, want {\"binary\":\"/wAB\"} on raw", b)
	}
}

func TestEncodeDefaultWire(t *testing.T) {
	d := New(Config{})
	frame, err := d.EncodeMessage(dialect.OutgoingMessage{ConversationID: "c1", Content: "hi\nthere", ClientMessageID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"chat.message","payload":{"conversation_id":"c1","content":"hi\nthere","client_message_id":"k1"}}`; string(frame) != want {
		t.Fatalf("EncodeMessage = %s\nwant          %s", frame, want)
	}
	if ping := string(d.Ping()); ping != `{"type":"ping","payload":{}}` {
		t.Errorf("Ping = %s", ping)
	}
	call, _ := d.EncodeCall(dialect.ActionCallReject, dialect.OutgoingCall{CallID: "k", Reason: "busy"})
	if want := `{"type":"call.reject","payload":{"call_id":"k","reason":"busy"}}`; string(call) != want {
		t.Errorf("EncodeCall = %s, want %s", call, want)
	}
	if first, ready := d.Open("tok"); first != nil || !ready {
		t.Errorf("Open = %q, %v; want nothing to write and ready", first, ready)
	}
}

// FuzzDecode feeds arbitrary frames to the default and a profiled dialect: nothing may panic,
// every unit lands on raw, and everything published is one line of valid JSON.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"chat.message","payload":{"id":"m1","conversation_id":"c","sender_id":"u","content":"x","created_at":"2026-11-25T20:00:00Z"}}`,
		`{"type":"typing.indicator","payload":{"conversation_id":"c","user_id":"u","is_typing":true}}`,
		`{"type":"user.status","payload":{"user_id":"u","status":"away"}}`,
		`{"type":"conversation.update","payload":{"conversation_id":"c","unread_count":-1}}`,
		`{"type":"call.incoming","payload":{"call_id":"k","conversation_id":"c","caller_id":"u","media":"video"}}`,
		`{"type":"call.ended","payload":{"call_id":"k"}}`,
		`{"type":"error","payload":{"code":"x","message":"y","ref":"z"}}`,
		`{"type":"pong"}`, `{"type":5}`, `[]`, `{`, "\x00", `{"type":"x","payload":"\u0000"}`,
		"{\"event\":\"msg\",\"conversationId\":7,\"text\":\"a\"}\n{\"event\":\"msg\"}",
	} {
		f.Add([]byte(s))
	}
	profiled := New(Config{TypePath: dialect.Path{"event"}, Flat: true, NDJSON: true,
		Mapper: dialect.NewMapper(dialect.MapperConfig{Lenient: true,
			Fields: map[string]dialect.Path{"conversation_id": {"conversationId"}, "content": {"text"}},
			Routes: map[string]dialect.Route{"msg": {Topic: dialect.TopicMessages, As: dialect.TypeChatMessage},
				"order": {Topic: "orders"}}})})
	f.Fuzz(func(t *testing.T, frame []byte) {
		for _, d := range []*Dialect{New(Config{}), profiled} {
			var r dialect.Result
			d.Decode(dialect.Frame{Data: frame}, dialect.Env{At: time.Now()}, &r)
			raws := 0
			for _, e := range r.Events {
				if bytes.ContainsAny(e.Data, "\r\n") || !json.Valid(e.Data) {
					t.Fatalf("published data is not one line of JSON: %q", e.Data)
				}
				if e.RawKind != "" {
					raws++
				}
			}
			if raws == 0 && len(bytes.TrimSpace(frame)) > 0 {
				t.Fatalf("frame %q reached no raw event", frame)
			}
		}
	})
}
