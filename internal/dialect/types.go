package dialect

import (
	"encoding/json"
	"slices"
)

// Types of the domain events, as the default wire names them (docs/PROTOCOL.md) and as the SSE
// event names carry them whatever the upstream calls them.
const (
	TypeChatMessage        = "chat.message"
	TypeTypingIndicator    = "typing.indicator"
	TypeUserStatus         = "user.status"
	TypeConversationUpdate = "conversation.update"
	TypeCallIncoming       = "call.incoming"
	TypeCallAccepted       = "call.accepted"
	TypeCallRejected       = "call.rejected"
	TypeCallEnded          = "call.ended"
	TypePong               = "pong"
	TypeError              = "error"
)

// Actions the bridge sends upstream, by their default wire type.
const (
	ActionMessage    = "chat.message"
	ActionTyping     = "typing.indicator"
	ActionCallAccept = "call.accept"
	ActionCallReject = "call.reject"
	ActionCallEnd    = "call.end"
	ActionPing       = "ping"
)

// Built-in topics browsers read.
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

// BuiltinTopics lists the built-in topics, in the order the API documents them.
var BuiltinTopics = []string{TopicMessages, TopicTyping, TopicPresence, TopicConversations,
	TopicCalls, TopicErrors, TopicConnection, TopicRaw}

// IsBuiltinTopic reports whether name is one of BuiltinTopics.
func IsBuiltinTopic(name string) bool { return slices.Contains(BuiltinTopics, name) }

// EventRaw is the event name of every frame on the raw topic.
const EventRaw = "raw"

// builtinRoutes is where each domain type goes by default.
var builtinRoutes = map[string]string{
	TypeChatMessage:        TopicMessages,
	TypeTypingIndicator:    TopicTyping,
	TypeUserStatus:         TopicPresence,
	TypeConversationUpdate: TopicConversations,
	TypeCallIncoming:       TopicCalls,
	TypeCallAccepted:       TopicCalls,
	TypeCallRejected:       TopicCalls,
	TypeCallEnded:          TopicCalls,
	TypeError:              TopicErrors,
	TypePong:               "",
}

// IsDomainType reports whether typ is one of the domain types above.
func IsDomainType(typ string) bool {
	_, ok := builtinRoutes[typ]
	return ok
}

// Message is a chat.message payload.
type Message struct {
	ID              string `json:"id"`
	ConversationID  string `json:"conversation_id"`
	SenderID        string `json:"sender_id"`
	Content         string `json:"content"`
	CreatedAt       string `json:"created_at"`
	ClientMessageID string `json:"client_message_id,omitempty"`
	// Status is a "status" field the upstream itself put in the payload, if any (kept as is).
	Status json.RawMessage `json:"status,omitempty"`
}

// TypingIndicator is a typing.indicator payload.
type TypingIndicator struct {
	ConversationID string `json:"conversation_id"`
	UserID         string `json:"user_id,omitempty"`
	IsTyping       *bool  `json:"is_typing"`
}

// UserStatus is a user.status payload.
type UserStatus struct {
	UserID   string `json:"user_id"`
	Status   string `json:"status"`
	LastSeen string `json:"last_seen,omitempty"`
}

// ConversationUpdate is a conversation.update payload. A field that is absent or null is nil
// (or empty); Extra holds the fields the protocol does not name, as they came.
type ConversationUpdate struct {
	ConversationID string
	Title          *string
	LastMessage    json.RawMessage // a chat.message payload, or nil
	UnreadCount    *int
	UpdatedAt      *string
	Extra          map[string]json.RawMessage
}

// CallIncoming is a call.incoming payload.
type CallIncoming struct {
	CallID         string `json:"call_id"`
	ConversationID string `json:"conversation_id"`
	CallerID       string `json:"caller_id"`
	Media          string `json:"media"`
	CreatedAt      string `json:"created_at,omitempty"`
}

// CallEvent is the payload of call.accepted, call.rejected and call.ended.
type CallEvent struct {
	CallID string `json:"call_id"`
	UserID string `json:"user_id,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// ErrorFrame is an error payload: the server refused something the bridge sent.
type ErrorFrame struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Ref     string `json:"ref,omitempty"`
}

// OutgoingMessage is a chat message the bridge sends upstream.
type OutgoingMessage struct {
	ConversationID  string `json:"conversation_id"`
	Content         string `json:"content"`
	ClientMessageID string `json:"client_message_id"`
}

// OutgoingTyping is a typing indicator the bridge sends upstream.
type OutgoingTyping struct {
	ConversationID string `json:"conversation_id"`
	IsTyping       bool   `json:"is_typing"`
}

// OutgoingCall is the payload of a call action (accept, reject, end).
type OutgoingCall struct {
	CallID string `json:"call_id"`
	Reason string `json:"reason,omitempty"`
}
