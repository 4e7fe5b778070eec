package chat

import (
	"errors"
	"testing"
)

func TestDecodeEnvelope(t *testing.T) {
	tests := []struct {
		name     string
		frame    string
		wantType string // type the envelope carries (raw topic) even on error
		reason   string // "" = well-formed
		payload  string
	}{
		{"ok", `{"type":"chat.message","payload":{"a":1}}`, "chat.message", "", `{"a":1}`},
		{"extra top-level fields", `{"id":7,"type":"x","ts":"now","payload":{}}`, "x", "", `{}`},
		{"absent payload", `{"type":"pong"}`, "pong", "", `{}`},
		{"null payload", `{"type":"pong","payload":null}`, "pong", "", `{}`},
		{"not json", `{"type":`, "", "not json", ""},
		{"empty", ``, "", "not json", ""},
		{"array", `[1,2]`, "", "not an object", ""},
		{"string", `"chat.message"`, "", "not an object", ""},
		{"no type", `{"payload":{}}`, "", "type missing or not a string", ""},
		{"type not string", `{"type":5,"payload":{}}`, "", "type missing or not a string", ""},
		{"empty type", `{"type":"","payload":{}}`, "", "type is empty", ""},
		{"payload array", `{"type":"chat.message","payload":[1]}`, "chat.message", "payload is not an object", ""},
		{"payload string", `{"type":"x","payload":"s"}`, "x", "payload is not an object", ""},
		{"trailing data", `{"type":"x","payload":{}} {}`, "", "not json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := DecodeEnvelope([]byte(tt.frame))
			if env.Type != tt.wantType {
				t.Errorf("Type = %q, want %q", env.Type, tt.wantType)
			}
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				if string(env.Payload) != tt.payload {
					t.Errorf("Payload = %s, want %s", env.Payload, tt.payload)
				}
				return
			}
			var m *MalformedError
			if !errors.As(err, &m) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want a *MalformedError", err)
			}
			if m.Reason != tt.reason {
				t.Errorf("Reason = %q, want %q", m.Reason, tt.reason)
			}
		})
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	frame, err := Encode(TypeChatMessage, OutgoingMessage{ConversationID: "c1", Content: "hi\nthere", ClientMessageID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"chat.message","payload":{"conversation_id":"c1","content":"hi\nthere","client_message_id":"k1"}}`
	if string(frame) != want {
		t.Fatalf("Encode = %s\nwant     %s", frame, want)
	}
	env, err := DecodeEnvelope(frame)
	if err != nil || env.Type != TypeChatMessage {
		t.Fatalf("DecodeEnvelope(Encode(...)) = %+v, %v", env, err)
	}
}

// FuzzDecodeEnvelope feeds arbitrary frames to the decoder and the router: nothing may panic,
// a frame is either well-formed or a *MalformedError, and what is published is one line.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"type":"chat.message","payload":{"id":"m1","conversation_id":"c","sender_id":"u","content":"x","created_at":"2026-11-25T20:00:00Z"}}`,
		`{"type":"typing.indicator","payload":{"conversation_id":"c","user_id":"u","is_typing":true}}`,
		`{"type":"user.status","payload":{"user_id":"u","status":"away"}}`,
		`{"type":"conversation.update","payload":{"conversation_id":"c","unread_count":-1}}`,
		`{"type":"call.incoming","payload":{"call_id":"k","conversation_id":"c","caller_id":"u","media":"video"}}`,
		`{"type":"call.ended","payload":{"call_id":"k"}}`,
		`{"type":"error","payload":{"code":"x","message":"y","ref":"z"}}`,
		`{"type":"pong"}`, `{"type":5}`, `[]`, `{`, "\x00", `{"type":"x","payload":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		env, err := DecodeEnvelope(frame)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		r, known, err := Route(env)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("Route error %v is not ErrMalformed", err)
		}
		if known && err == nil {
			for _, b := range r.Data {
				if b == '\n' || b == '\r' {
					t.Fatalf("published data is not one line: %q", r.Data)
				}
			}
		}
	})
}
