package chat

import (
	"errors"
	"strings"
	"testing"
)

func TestRouteEveryType(t *testing.T) {
	tests := []struct {
		frame  string
		topic  string
		key    string
		callID string
	}{
		{`{"type":"chat.message","payload":{"id":"m1","conversation_id":"c1","sender_id":"u","content":"hi","created_at":"2026-11-25T20:00:00Z","client_message_id":"k"}}`, TopicMessages, "c1", ""},
		{`{"type":"typing.indicator","payload":{"conversation_id":"c1","user_id":"u","is_typing":false}}`, TopicTyping, "c1", ""},
		{`{"type":"user.status","payload":{"user_id":"u","status":"online","last_seen":"2026-11-25T20:00:00Z"}}`, TopicPresence, "", ""},
		{`{"type":"conversation.update","payload":{"conversation_id":"c1","title":"T","unread_count":0,"last_message":{"id":"m1","conversation_id":"c1","sender_id":"u","content":"hi","created_at":"2026-11-25T20:00:00Z"}}}`, TopicConversations, "c1", ""},
		{`{"type":"call.incoming","payload":{"call_id":"k9","conversation_id":"c1","caller_id":"bob","media":"audio"}}`, TopicCalls, "c1", "k9"},
		{`{"type":"call.accepted","payload":{"call_id":"k9","user_id":"u"}}`, TopicCalls, "", "k9"},
		{`{"type":"call.rejected","payload":{"call_id":"k9","reason":"busy"}}`, TopicCalls, "", "k9"},
		{`{"type":"call.ended","payload":{"call_id":"k9"}}`, TopicCalls, "", "k9"},
		{`{"type":"error","payload":{"code":"bad","message":"no","ref":"k"}}`, TopicErrors, "", ""},
		{`{"type":"pong","payload":{}}`, "", "", ""},
	}
	for _, tt := range tests {
		env, err := DecodeEnvelope([]byte(tt.frame))
		if err != nil {
			t.Fatalf("%s: %v", tt.frame, err)
		}
		t.Run(env.Type, func(t *testing.T) {
			r, known, err := Route(env)
			if !known || err != nil {
				t.Fatalf("Route = known %v, err %v", known, err)
			}
			if r.Topic != tt.topic || r.Key != tt.key || r.CallID != tt.callID {
				t.Errorf("Route = topic %q key %q call %q, want %q %q %q", r.Topic, r.Key, r.CallID, tt.topic, tt.key, tt.callID)
			}
			if topic, ok := TopicOf(env.Type); !ok || topic != tt.topic {
				t.Errorf("TopicOf = %q, %v", topic, ok)
			}
		})
	}
}

func TestRouteUnknownType(t *testing.T) {
	r, known, err := Route(Envelope{Type: "reaction.added", Payload: []byte(`{}`)})
	if known || err != nil || r.Topic != "" {
		t.Fatalf("Route(unknown) = %+v, %v, %v; want unknown, no error", r, known, err)
	}
}

func TestRouteKeepsUnknownFields(t *testing.T) {
	env, _ := DecodeEnvelope([]byte(`{"type":"user.status","payload":{
		"user_id": "u", "status": "away", "mood": {"emoji": "☕"}}}`))
	r, _, err := Route(env)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"user_id":"u","status":"away","mood":{"emoji":"☕"}}`; string(r.Data) != want {
		t.Fatalf("Data = %s, want %s", r.Data, want)
	}
}

func TestRouteMalformedPayloads(t *testing.T) {
	tests := []struct{ frame, reason string }{
		{`{"type":"chat.message","payload":{"conversation_id":"c","sender_id":"u","content":"x","created_at":"2026-11-25T20:00:00Z"}}`, "missing field id"},
		{`{"type":"chat.message","payload":{"id":"m","conversation_id":"c","sender_id":"u","content":"x","created_at":"yesterday"}}`, "created_at is not RFC 3339"},
		{`{"type":"chat.message","payload":{"id":7,"conversation_id":"c","sender_id":"u","content":"x","created_at":"2026-11-25T20:00:00Z"}}`, "field of the wrong type"},
		{`{"type":"typing.indicator","payload":{"conversation_id":"c","user_id":"u"}}`, "missing field is_typing"},
		{`{"type":"typing.indicator","payload":{"conversation_id":"c","user_id":"u","is_typing":"yes"}}`, "field of the wrong type"},
		{`{"type":"user.status","payload":{"user_id":"u","status":"sleeping"}}`, "status is not online, offline or away"},
		{`{"type":"conversation.update","payload":{"title":"no id"}}`, "missing field conversation_id"},
		{`{"type":"conversation.update","payload":{"conversation_id":"c","unread_count":-2}}`, "unread_count is negative"},
		{`{"type":"conversation.update","payload":{"conversation_id":"c","last_message":{"id":"m"}}}`, "last_message is not a chat.message payload"},
		{`{"type":"call.incoming","payload":{"call_id":"k","conversation_id":"c","caller_id":"u","media":"hologram"}}`, "media is not audio or video"},
		{`{"type":"call.ended","payload":{}}`, "missing field call_id"},
		{`{"type":"error","payload":{"code":"x"}}`, "missing field message"},
	}
	for _, tt := range tests {
		env, err := DecodeEnvelope([]byte(tt.frame))
		if err != nil {
			t.Fatalf("%s: %v", tt.frame, err)
		}
		_, known, err := Route(env)
		var m *MalformedError
		if !known || !errors.As(err, &m) || m.Reason != tt.reason || m.Type != env.Type {
			t.Errorf("%s:\n  got known=%v err=%v, want reason %q", tt.frame, known, err, tt.reason)
		}
		if err != nil && strings.Contains(err.Error(), `"c"`) {
			t.Errorf("error text carries frame content: %v", err)
		}
	}
}
