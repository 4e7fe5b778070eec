package dialect

import (
	"bytes"
	"encoding/json"
	"time"
)

// decodeKind checks the payload of a domain type and decodes it, once: the value, the
// conversation it belongs to and the call it concerns. reason is why it was refused, "" when
// it was not.
func decodeKind(typ string, p []byte) (value any, key, callID, reason string) {
	switch typ {
	case TypeChatMessage:
		var m Message
		if r := unmarshal(p, &m); r != "" {
			return nil, "", "", r
		}
		if r := validMessage(&m); r != "" {
			return nil, "", "", r
		}
		return &m, m.ConversationID, "", ""
	case TypeTypingIndicator:
		var t TypingIndicator
		if r := unmarshal(p, &t); r != "" {
			return nil, "", "", r
		}
		if r := need(f("conversation_id", t.ConversationID), f("user_id", t.UserID)); r != "" {
			return nil, "", "", r
		}
		if t.IsTyping == nil {
			return nil, "", "", "missing field is_typing"
		}
		return &t, t.ConversationID, "", ""
	case TypeUserStatus:
		return decodeUserStatus(p)
	case TypeConversationUpdate:
		c, r := decodeConversation(p)
		if r != "" {
			return nil, "", "", r
		}
		return c, c.ConversationID, "", ""
	case TypeCallIncoming:
		return decodeCallIncoming(p)
	case TypeCallAccepted, TypeCallRejected, TypeCallEnded:
		var c CallEvent
		if r := unmarshal(p, &c); r != "" {
			return nil, "", "", r
		}
		if r := need(f("call_id", c.CallID)); r != "" {
			return nil, "", "", r
		}
		return &c, "", c.CallID, ""
	case TypeError:
		var e ErrorFrame
		if r := unmarshal(p, &e); r != "" {
			return nil, "", "", r
		}
		if r := need(f("code", e.Code), f("message", e.Message)); r != "" {
			return nil, "", "", r
		}
		return &e, "", "", ""
	case TypePong:
		return nil, "", "", ""
	}
	return nil, "", "", "not a domain type"
}

// field is a required string field's name and value.
type field struct{ name, value string }

func f(name, value string) field { return field{name, value} }

// need returns the reason for the first required field that is empty.
func need(fields ...field) string {
	for _, fl := range fields {
		if fl.value == "" {
			return "missing field " + fl.name
		}
	}
	return ""
}

func badTime(v string) bool {
	if v == "" {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, v)
	return err != nil
}

func unmarshal(payload []byte, v any) string {
	if p := bytes.TrimLeft(payload, " \t\r\n"); len(p) == 0 || p[0] != '{' {
		return "payload is not an Object"
	}
	if err := json.Unmarshal(payload, v); err != nil {
		return "field of the wrong type"
	}
	return ""
}

func validMessage(m *Message) string {
	if r := need(f("id", m.ID), f("conversation_id", m.ConversationID), f("sender_id", m.SenderID),
		f("content", m.Content), f("created_at", m.CreatedAt)); r != "" {
		return r
	}
	if badTime(m.CreatedAt) {
		return "created_at is not RFC 3339"
	}
	return ""
}

func decodeUserStatus(p []byte) (any, string, string, string) {
	var u UserStatus
	if r := unmarshal(p, &u); r != "" {
		return nil, "", "", r
	}
	if r := need(f("user_id", u.UserID), f("status", u.Status)); r != "" {
		return nil, "", "", r
	}
	switch u.Status {
	case "online", "offline", "away":
	default:
		return nil, "", "", "status is not online, offline or away"
	}
	if badTime(u.LastSeen) {
		return nil, "", "", "last_seen is not RFC 3339"
	}
	return &u, "", "", ""
}

func decodeCallIncoming(p []byte) (any, string, string, string) {
	var c CallIncoming
	if r := unmarshal(p, &c); r != "" {
		return nil, "", "", r
	}
	if r := need(f("call_id", c.CallID), f("conversation_id", c.ConversationID),
		f("caller_id", c.CallerID), f("media", c.Media)); r != "" {
		return nil, "", "", r
	}
	if c.Media != "audio" && c.Media != "video" {
		return nil, "", "", "media is not audio or video"
	}
	return &c, c.ConversationID, c.CallID, ""
}

// decodeConversation decodes a conversation.update payload: a field that is null counts as
// absent, and fields the protocol does not name are kept in Extra.
func decodeConversation(p []byte) (*ConversationUpdate, string) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(p, &fields) != nil || fields == nil {
		return nil, "payload is not an Object"
	}
	var u ConversationUpdate
	for k, v := range fields {
		if k != "conversation_id" && isNull(v) {
			continue
		}
		var err error
		switch k {
		case "conversation_id":
			err = json.Unmarshal(v, &u.ConversationID)
		case "title":
			err = json.Unmarshal(v, &u.Title)
		case "unread_count":
			err = json.Unmarshal(v, &u.UnreadCount)
		case "updated_at":
			err = json.Unmarshal(v, &u.UpdatedAt)
		case "last_message":
			var m Message
			if unmarshal(v, &m) != "" || validMessage(&m) != "" {
				return nil, "last_message is not a chat.message payload"
			}
			u.LastMessage = compact(v)
		default:
			if u.Extra == nil {
				u.Extra = make(map[string]json.RawMessage)
			}
			u.Extra[k] = compact(v)
		}
		if err != nil {
			return nil, "field of the wrong type"
		}
	}
	if r := need(f("conversation_id", u.ConversationID)); r != "" {
		return nil, r
	}
	if u.UnreadCount != nil && *u.UnreadCount < 0 {
		return nil, "unread_count is negative"
	}
	return &u, ""
}
