package chat

import (
	"encoding/json"
	"slices"
	"time"
)

// Topics browsers can read (API.md, "Server-Sent Events").
const (
	TopicMessages      = "messages"
	TopicTyping        = "typing"
	TopicPresence      = "presence"
	TopicConversations = "conversations"
	TopicCalls         = "calls"
	TopicErrors        = "errors"
	TopicConnection    = "connection"
	TopicRaw           = "raw"
)

// Topics lists every topic, in the order the API documents them.
var Topics = []string{TopicMessages, TopicTyping, TopicPresence, TopicConversations,
	TopicCalls, TopicErrors, TopicConnection, TopicRaw}

// IsTopic reports whether name is one of Topics.
func IsTopic(name string) bool { return slices.Contains(Topics, name) }

// ConversationScoped reports whether events of topic carry a conversation id that the
// conversation_id filter of the SSE endpoints applies to.
func ConversationScoped(topic string) bool {
	switch topic {
	case TopicMessages, TopicTyping, TopicConversations, TopicCalls:
		return true
	}
	return false
}

// Routed is a well-formed frame of a known type, ready to publish.
type Routed struct {
	Type  string
	Topic string // "" for types that are not published on a topic of their own (pong)
	// Key is the conversation the frame belongs to, "" when the payload names none.
	Key string
	// CallID is set for call.* frames.
	CallID string
	// Data is the payload as it came, on one line, unknown fields kept.
	Data []byte
	// Value is the decoded payload: a *Message, *TypingIndicator, *UserStatus,
	// *ConversationUpdate, *CallIncoming, *CallEvent or *ErrorFrame; nil for pong.
	Value any
}

// route is one row of the routing table: where a type goes and how its payload is checked.
type route struct {
	topic  string
	decode func(payload []byte) (value any, key, callID string, reason string)
}

// routes is the routing table from upstream type to topic (PROTOCOL.md, "Server -> client types").
var routes = map[string]route{
	TypeChatMessage:        {TopicMessages, decodeMessage},
	TypeTypingIndicator:    {TopicTyping, decodeTyping},
	TypeUserStatus:         {TopicPresence, decodeUserStatus},
	TypeConversationUpdate: {TopicConversations, decodeConversation},
	TypeCallIncoming:       {TopicCalls, decodeCallIncoming},
	TypeCallAccepted:       {TopicCalls, decodeCallEvent},
	TypeCallRejected:       {TopicCalls, decodeCallEvent},
	TypeCallEnded:          {TopicCalls, decodeCallEvent},
	TypeError:              {TopicErrors, decodeError},
	TypePong:               {"", func([]byte) (any, string, string, string) { return nil, "", "", "" }},
}

// TopicOf returns the topic of an upstream type and whether the type is known.
func TopicOf(typ string) (topic string, known bool) {
	r, ok := routes[typ]
	return r.topic, ok
}

// Route checks the payload of a known type and says where it goes. It returns known=false for an
// unknown type (not an error: it belongs on the raw topic only), and a *MalformedError when a
// required field is missing or has the wrong type. Route is safe for concurrent use.
func Route(env Envelope) (r Routed, known bool, err error) {
	rt, ok := routes[env.Type]
	if !ok {
		return Routed{}, false, nil
	}
	value, key, callID, reason := rt.decode(env.Payload)
	if reason != "" {
		return Routed{}, true, malformed(env.Type, reason)
	}
	return Routed{Type: env.Type, Topic: rt.topic, Key: key, CallID: callID,
		Data: compact(env.Payload), Value: value}, true, nil
}

// need returns the reason for the first required string field that is empty.
func need(fields ...[2]string) string {
	for _, f := range fields {
		if f[1] == "" {
			return "missing field " + f[0]
		}
	}
	return ""
}

func f(name, value string) [2]string { return [2]string{name, value} }

func badTime(v string) bool {
	if v == "" {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, v)
	return err != nil
}

func unmarshal(payload []byte, v any) string {
	if err := json.Unmarshal(payload, v); err != nil {
		return "field of the wrong type"
	}
	return ""
}

func decodeMessage(p []byte) (any, string, string, string) {
	var m Message
	if r := unmarshal(p, &m); r != "" {
		return nil, "", "", r
	}
	if r := validMessage(&m); r != "" {
		return nil, "", "", r
	}
	return &m, m.ConversationID, "", ""
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

func decodeTyping(p []byte) (any, string, string, string) {
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

func decodeConversation(p []byte) (any, string, string, string) {
	var c ConversationUpdate
	if r := unmarshal(p, &c); r != "" {
		return nil, "", "", r
	}
	if r := need(f("conversation_id", c.ConversationID)); r != "" {
		return nil, "", "", r
	}
	if c.UnreadCount != nil && *c.UnreadCount < 0 {
		return nil, "", "", "unread_count is negative"
	}
	if len(c.LastMessage) > 0 && string(c.LastMessage) != "null" {
		var m Message
		if unmarshal(c.LastMessage, &m) != "" || validMessage(&m) != "" {
			return nil, "", "", "last_message is not a chat.message payload"
		}
	}
	return &c, c.ConversationID, "", ""
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

func decodeCallEvent(p []byte) (any, string, string, string) {
	var c CallEvent
	if r := unmarshal(p, &c); r != "" {
		return nil, "", "", r
	}
	if r := need(f("call_id", c.CallID)); r != "" {
		return nil, "", "", r
	}
	return &c, "", c.CallID, ""
}

func decodeError(p []byte) (any, string, string, string) {
	var e ErrorFrame
	if r := unmarshal(p, &e); r != "" {
		return nil, "", "", r
	}
	if r := need(f("code", e.Code), f("message", e.Message)); r != "" {
		return nil, "", "", r
	}
	return &e, "", "", ""
}
