package demo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Message is one chat message as the server assigned it: the payload of a
// server-to-client chat.message frame (docs/PROTOCOL.md). Message is a plain
// value; copies are safe to use from any goroutine.
type Message struct {
	ID              string    `json:"id"`
	ConversationID  string    `json:"conversation_id"`
	SenderID        string    `json:"sender_id"`
	Content         string    `json:"content"`
	CreatedAt       time.Time `json:"created_at"`
	ClientMessageID string    `json:"client_message_id,omitempty"`
}

// envelope is the one JSON object every frame holds, in both directions.
type envelope struct {
	Type    string `json:"type"`
	Payload any    `json:"payload"`
}

// userStatus is the payload of user.status.
type userStatus struct {
	UserID   string     `json:"user_id"`
	Status   string     `json:"status"`
	LastSeen *time.Time `json:"last_seen,omitempty"`
}

// conversationUpdate is the payload of conversation.update.
type conversationUpdate struct {
	ConversationID string    `json:"conversation_id"`
	Title          string    `json:"title"`
	LastMessage    *Message  `json:"last_message,omitempty"`
	UnreadCount    int       `json:"unread_count"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// typingIndicator is the payload of typing.indicator (server to client).
type typingIndicator struct {
	ConversationID string `json:"conversation_id"`
	UserID         string `json:"user_id"`
	IsTyping       bool   `json:"is_typing"`
}

// callIncoming is the payload of call.incoming.
type callIncoming struct {
	CallID         string    `json:"call_id"`
	ConversationID string    `json:"conversation_id"`
	CallerID       string    `json:"caller_id"`
	Media          string    `json:"media"`
	CreatedAt      time.Time `json:"created_at"`
}

// callAction is the payload of call.accepted, call.rejected and call.ended.
type callAction struct {
	CallID string `json:"call_id"`
	UserID string `json:"user_id"`
	Reason string `json:"reason,omitempty"`
}

// errorPayload is the payload of an error frame.
type errorPayload struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Ref     string `json:"ref,omitempty"`
}

// Error codes the server sends in error frames.
const (
	CodeBadFrame       = "bad_frame"              // not JSON, not an object, no type, payload not an object, or binary
	CodeUnknownType    = "unknown_type"           // a type the server does not accept from clients
	CodeInvalidMessage = "invalid_message"        // chat.message without its required fields
	CodeInvalidTyping  = "invalid_typing"         // typing.indicator without its required fields
	CodeInvalidCall    = "invalid_call"           // call.accept/reject/end without a call_id
	CodeTooManyConvs   = "too_many_conversations" // a chat.message would create one conversation too many
)

const errPayloadNotObject = "payload must be a JSON object"

// encode marshals an envelope. The payloads this package builds always
// marshal; an error can only come from a caller's payload (Broadcast).
func encode(typ string, payload any) ([]byte, error) {
	b, err := json.Marshal(envelope{Type: typ, Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("encode %s frame: %w", typ, err)
	}
	return b, nil
}

// mustEncode encodes a payload built by this package.
func mustEncode(typ string, payload any) []byte {
	b, err := encode(typ, payload)
	if err != nil {
		panic(err) // only our own payload types reach here; they always marshal
	}
	return b
}

// errBadFrame reports a frame that is not a JSON object with a string type.
var errBadFrame = errors.New("frame must be a JSON object with a non-empty string type")

// parseFrame splits a client frame into its type and payload. A missing or
// null payload reads as {}. The payload, when present, must be an object.
func parseFrame(raw []byte) (typ string, payload json.RawMessage, err error) {
	var env struct {
		Type    *string         `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return "", nil, errBadFrame
	}
	if err := json.Unmarshal(trimmed, &env); err != nil {
		return "", nil, fmt.Errorf("decode frame: %w", err)
	}
	if env.Type == nil || *env.Type == "" {
		return "", nil, errBadFrame
	}
	p := bytes.TrimSpace(env.Payload)
	if len(p) == 0 || bytes.Equal(p, []byte("null")) {
		return *env.Type, json.RawMessage("{}"), nil
	}
	if p[0] != '{' {
		return *env.Type, nil, errors.New(errPayloadNotObject)
	}
	return *env.Type, p, nil
}

// fields decodes a payload object into its top-level members.
func fields(payload json.RawMessage) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(payload, &m) // parseFrame checked it is an object
	return m
}

// str returns the member key when it is a non-empty JSON string.
func str(m map[string]json.RawMessage, key string) (string, bool) {
	raw, ok := m[key]
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s == "" {
		return "", false
	}
	return s, true
}

// boolean returns the member key when it is a JSON boolean.
func boolean(m map[string]json.RawMessage, key string) (v, ok bool) {
	raw, found := m[key]
	if !found {
		return false, false
	}
	if err := json.Unmarshal(raw, &v); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return false, false
	}
	return v, true
}
