package chat

import "encoding/json"

// Upstream frame types (PROTOCOL.md), server to client.
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

// Frame types the bridge sends upstream, client to server.
const (
	TypeCallAccept = "call.accept"
	TypeCallReject = "call.reject"
	TypeCallEnd    = "call.end"
	TypePing       = "ping"
)

// Message is a chat.message payload as the server sends it.
type Message struct {
	ID              string `json:"id"`
	ConversationID  string `json:"conversation_id"`
	SenderID        string `json:"sender_id"`
	Content         string `json:"content"`
	CreatedAt       string `json:"created_at"`
	ClientMessageID string `json:"client_message_id,omitempty"`
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

// ConversationUpdate is a conversation.update payload.
type ConversationUpdate struct {
	ConversationID string          `json:"conversation_id"`
	Title          *string         `json:"title,omitempty"`
	LastMessage    json.RawMessage `json:"last_message,omitempty"`
	UnreadCount    *int            `json:"unread_count,omitempty"`
	UpdatedAt      string          `json:"updated_at,omitempty"`
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

// OutgoingMessage is the chat.message payload the bridge sends upstream.
type OutgoingMessage struct {
	ConversationID  string `json:"conversation_id"`
	Content         string `json:"content"`
	ClientMessageID string `json:"client_message_id"`
}

// OutgoingTyping is the typing.indicator payload the bridge sends upstream.
type OutgoingTyping struct {
	ConversationID string `json:"conversation_id"`
	IsTyping       bool   `json:"is_typing"`
}

// OutgoingCall is the payload of call.accept, call.reject and call.end.
type OutgoingCall struct {
	CallID string `json:"call_id"`
	Reason string `json:"reason,omitempty"`
}
