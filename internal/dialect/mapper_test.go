package dialect

import (
	"encoding/json"
	"testing"
	"time"
)

var at = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func mapOne(t *testing.T, m *Mapper, typ, payload string, own ...string) (Event, *Reject) {
	t.Helper()
	env := Env{At: at, Own: func(id string) bool {
		for _, o := range own {
			if o == id {
				return true
			}
		}
		return false
	}}
	e, rej, known := m.Map(typ, []byte(payload), []byte(`{"unit":`+payload+`}`), env)
	if !known {
		t.Fatalf("type %s not routed", typ)
	}
	return e, rej
}

func TestMapperRenamesFields(t *testing.T) {
	m := NewMapper(MapperConfig{Fields: map[string]Path{
		"id": {"messageId"}, "conversation_id": {"conversationId"}, "sender_id": {"author", "id"},
		"content": {"text"}, "created_at": {"createdAt"}, "client_message_id": {"clientId"},
	}})
	e, rej := mapOne(t, m, TypeChatMessage, `{"messageId":"m1","conversationId":"general","author":{"id":"bob","name":"Bob"},`+
		`"text":"hi","createdAt":"2026-12-01T09:00:00Z","clientId":"k1","reactions":[]}`)
	if rej != nil {
		t.Fatalf("rejected: %+v", rej)
	}
	want := `{"id":"m1","conversation_id":"general","author":{"id":"bob","name":"Bob"},"content":"hi",` +
		`"created_at":"2026-12-01T09:00:00Z","client_message_id":"k1","reactions":[],"sender_id":"bob"}`
	if string(e.Data) != want {
		t.Errorf("Data\n%s\nwant\n%s", e.Data, want)
	}
	if msg := e.Value.(*Message); msg.SenderID != "bob" || msg.ClientMessageID != "k1" || e.Key != "general" {
		t.Errorf("decoded %+v key %q", msg, e.Key)
	}
	out, err := m.Outgoing(ActionMessage, OutgoingMessage{ConversationID: "general", Content: "yo", ClientMessageID: "k2"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"conversationId":"general","text":"yo","clientId":"k2"}`; string(out) != want {
		t.Errorf("Outgoing = %s, want %s", out, want)
	}
}

func TestMapperRenamesTheLastMessageToo(t *testing.T) {
	m := NewMapper(MapperConfig{Fields: map[string]Path{"conversation_id": {"conversationId"},
		"sender_id": {"senderId"}, "created_at": {"createdAt"}, "last_message": {"lastMessage"}}})
	e, rej := mapOne(t, m, TypeConversationUpdate, `{"conversationId":"c","lastMessage":{"id":"m","conversationId":"c","senderId":"u","content":"x","createdAt":"2026-12-01T09:00:00Z"}}`)
	if rej != nil {
		t.Fatal(rej)
	}
	if want := `{"conversation_id":"c","last_message":{"id":"m","conversation_id":"c","sender_id":"u","content":"x","created_at":"2026-12-01T09:00:00Z"}}`; string(e.Data) != want {
		t.Errorf("Data = %s, want %s", e.Data, want)
	}
}

func TestMapperSwappedNames(t *testing.T) {
	m := NewMapper(MapperConfig{Fields: map[string]Path{"id": {"client_message_id"}, "client_message_id": {"id"}}})
	e, rej := mapOne(t, m, TypeChatMessage, `{"id":"k","client_message_id":"m","conversation_id":"c","sender_id":"u","content":"x","created_at":"2026-12-01T09:00:00Z"}`)
	if rej != nil {
		t.Fatal(rej)
	}
	if msg := e.Value.(*Message); msg.ID != "m" || msg.ClientMessageID != "k" {
		t.Errorf("decoded %+v, want the two names swapped", msg)
	}
}

func TestMapperLenientFills(t *testing.T) {
	m := NewMapper(MapperConfig{Lenient: true, UserID: "alice",
		Defaults: map[string]json.RawMessage{"conversation_id": json.RawMessage(`"general"`)}})
	tests := []struct {
		name, typ, payload string
		own                []string
		check              func(t *testing.T, e Event)
	}{
		{"own echo", TypeChatMessage, `{"content":"hi","client_message_id":"k1"}`, []string{"k1"}, func(t *testing.T, e Event) {
			msg := e.Value.(*Message)
			if msg.ID != "k1" || msg.SenderID != "alice" || msg.CreatedAt != "2026-12-01T10:00:00Z" || msg.ConversationID != "general" {
				t.Errorf("filled %+v", msg)
			}
			var f struct{ Filled []string }
			_ = json.Unmarshal(e.Data, &f)
			if len(f.Filled) != 3 || f.Filled[0] != "id" || f.Filled[1] != "sender_id" || f.Filled[2] != "created_at" {
				t.Errorf("filled = %v in %s", f.Filled, e.Data)
			}
		}},
		{"someone else's", TypeChatMessage, `{"content":"hi","created_at":1764583200123}`, nil, func(t *testing.T, e Event) {
			msg := e.Value.(*Message)
			if msg.SenderID != UnknownUser || msg.ID != Digest([]byte(`{"unit":{"content":"hi","created_at":1764583200123}}`)) ||
				msg.CreatedAt != "2025-12-01T10:00:00.123Z" {
				t.Errorf("filled %+v", msg)
			}
		}},
		{"numbers for ids, a bad time", TypeChatMessage, `{"id":42,"sender_id":7,"content":"x","created_at":"yesterday"}`, nil, func(t *testing.T, e Event) {
			msg := e.Value.(*Message)
			if msg.ID != "42" || msg.SenderID != "7" || msg.CreatedAt != "2026-12-01T10:00:00Z" {
				t.Errorf("coerced %+v", msg)
			}
		}},
		{"typing", TypeTypingIndicator, `{}`, nil, func(t *testing.T, e Event) {
			ti := e.Value.(*TypingIndicator)
			if ti.UserID != UnknownUser || ti.IsTyping == nil || !*ti.IsTyping || ti.ConversationID != "general" {
				t.Errorf("filled %+v", ti)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, rej := mapOne(t, m, tt.typ, tt.payload, tt.own...)
			if rej != nil {
				t.Fatalf("rejected: %+v", rej)
			}
			tt.check(t, e)
		})
	}
	// Lenient fills what it can; a message with nothing to say is still refused.
	if _, rej := mapOne(t, m, TypeChatMessage, `{"id":"m"}`); rej == nil || rej.Reason != "missing field content" {
		t.Errorf("a message without content: %+v, want refused", rej)
	}
}

func TestMapperRoutes(t *testing.T) {
	m := NewMapper(MapperConfig{Routes: map[string]Route{
		"message.new":   {Topic: TopicMessages, As: TypeChatMessage},
		"order.created": {Topic: "orders"},
		"chat.message":  {Topic: "", As: TypeChatMessage},
	}})
	e, rej := mapOne(t, m, "message.new", `{"id":"m","conversation_id":"c","sender_id":"u","content":"x","created_at":"2026-12-01T09:00:00Z"}`)
	if rej != nil || e.Type != TypeChatMessage || e.Topic != TopicMessages {
		t.Errorf("message.new -> %+v %v, want a chat.message on messages", e, rej)
	}
	e, _ = mapOne(t, m, "order.created", `{"order":5,"conversation_id":"c9"}`)
	if e.Type != "order.created" || e.Topic != "orders" || e.Key != "c9" || e.Value != nil || string(e.Data) != `{"order":5,"conversation_id":"c9"}` {
		t.Errorf("order.created -> %+v, want the payload as it came on orders", e)
	}
	e, _ = mapOne(t, m, "chat.message", `{"id":"m","conversation_id":"c","sender_id":"u","content":"x","created_at":"2026-12-01T09:00:00Z"}`)
	if e.Topic != "" {
		t.Errorf("chat.message routed to raw only went to %q", e.Topic)
	}
	topics := m.Topics()
	names := map[string][]string{}
	for _, ti := range topics {
		names[ti.Name] = ti.Types
	}
	if got := names["orders"]; len(got) != 1 || got[0] != "order.created" {
		t.Errorf("Topics()[orders] = %v", got)
	}
	if got := names[TopicMessages]; len(got) != 1 || got[0] != TypeChatMessage {
		t.Errorf("Topics()[messages] = %v", got)
	}
}

func TestMapperOutgoingCarriesTheUser(t *testing.T) {
	m := NewMapper(MapperConfig{UserID: "bob", Fields: map[string]Path{"sender_id": {"from", "id"}}})
	out, _ := m.Outgoing(ActionMessage, OutgoingMessage{ConversationID: "c", Content: "x", ClientMessageID: "k"})
	if want := `{"conversation_id":"c","content":"x","client_message_id":"k","from":{"id":"bob"}}`; string(out) != want {
		t.Errorf("Outgoing = %s, want %s", out, want)
	}
	out, _ = m.Outgoing(ActionTyping, OutgoingTyping{ConversationID: "c", IsTyping: true})
	if want := `{"conversation_id":"c","is_typing":true,"user_id":"bob"}`; string(out) != want {
		t.Errorf("Outgoing typing = %s, want %s", out, want)
	}
}
