package dialect

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// Frame is one WebSocket data frame, as received or to be written.
type Frame struct {
	Binary bool // a binary frame; else text
	Data   []byte
}

// Raw kinds: what a unit on the raw topic was.
const (
	RawJSON   = "json"   // a JSON value, published as it came
	RawText   = "text"   // text that is not JSON, published as {"text": "..."}
	RawBinary = "binary" // a binary frame, published as {"binary": "<base64>"}
)

// Event is one decoded thing the upstream said, ready to publish. Its Data is what subscribers
// receive and Value is the same payload decoded, so that nobody decodes it again.
type Event struct {
	// Type is the SSE event name: a domain type (whatever the upstream calls it), the upstream's
	// own type on a topic of the profile's, or EventRaw.
	Type string
	// Topic is where it is published; "" for a type that is not published (pong).
	Topic string
	// Key is the conversation the event belongs to, "" when it names none.
	Key string
	// CallID is set for the call.* types.
	CallID string
	// Data is a JSON object on one line.
	Data []byte
	// Value is the decoded payload of a domain type: *Message, *TypingIndicator, *UserStatus,
	// *ConversationUpdate, *CallIncoming, *CallEvent or *ErrorFrame; nil otherwise.
	Value any
	// RawKind is set on raw events: RawJSON, RawText or RawBinary.
	RawKind string
}

// Reject is a unit that could not be decoded as what it claimed to be. It never holds the
// unit's content, so it can be logged as it is.
type Reject struct {
	Type   string // the unit's type when it had a usable one, else ""
	Reason string // a short fixed phrase ("not json", "missing field conversation_id", ...)
	Bytes  int    // the unit's size
}

// Ack is the upstream's verdict on one sent message, for the acknowledgement modes that do not
// rest on an echo (a Socket.IO ack, a Centrifugo publish reply).
type Ack struct {
	ClientMessageID string
	// Error is why the upstream refused it; "" means it took it.
	Error string
}

// Result is what one frame did. Decode appends to it; the caller resets it between frames
// (Reset keeps the slices' memory) and must not keep its slices, though it may keep the Events'
// Data.
type Result struct {
	Events  []Event  // in arrival order; a raw event precedes the domain event of the same unit
	Rejects []Reject // units refused as malformed (they are on the raw topic all the same)
	Unknown int      // well-formed units of a type nothing routes (on the raw topic only)
	Replies [][]byte // frames to write back at once (a pong, a subscribe command, ...)
	Acks    []Ack
	// Ready is set by the frame that completes the dialect's handshake (a connect reply): the
	// connection is usable from then on.
	Ready bool
	// Idle, when above zero, is the silence from now on after which the connection counts as
	// dead (a server that pings tells its interval in its handshake).
	Idle time.Duration
	// Err, when set, ends the connection: the server refused the handshake or closed the
	// session. An error matching ErrUnauthorized is an auth failure; ErrTerminal means the server
	// does not want the bridge back.
	Err error
}

// AddMapped records the outcome of Mapper.Map for one unit: its event, its refusal, or (not
// known) one more unit of a type nothing routes.
func (r *Result) AddMapped(e Event, rej *Reject, known bool) {
	switch {
	case !known:
		r.Unknown++
	case rej != nil:
		r.Rejects = append(r.Rejects, *rej)
	default:
		r.Events = append(r.Events, e)
	}
}

// Reset empties r for the next frame, keeping its memory.
func (r *Result) Reset() {
	clear(r.Events) // drop references to published data
	*r = Result{Events: r.Events[:0], Rejects: r.Rejects[:0], Replies: r.Replies[:0], Acks: r.Acks[:0]}
}

// Env is what a decode may ask of the bridge.
type Env struct {
	// At is when the frame arrived.
	At time.Time
	// Own reports whether this bridge sent the message with this client_message_id (and has not
	// forgotten it). Nil means none is.
	Own func(clientMessageID string) bool
	// Defaults are what the unit's wire says besides its payload (a publication's offset, its
	// channel, its publisher), by our field names: a domain payload that lacks one gets it,
	// before the profile's own defaults and lenient filling. Set by a dialect, for one unit.
	Defaults map[string]json.RawMessage
}

var (
	// ErrUnauthorized is matched (errors.Is) by a Result.Err that refuses the token.
	ErrUnauthorized = errors.New("upstream refused the token")
	// ErrTerminal is matched by a Result.Err after which the server does not want the bridge
	// to reconnect.
	ErrTerminal = errors.New("upstream ended the session for good")
	// ErrRefused is matched by an encoding error after which the message can never be sent
	// (it is larger than the server takes, say): it fails instead of waiting.
	ErrRefused = errors.New("the upstream cannot take this message")
)

// RawJSONEvent is the raw event of a JSON unit: the unit as it came, on one line.
func RawJSONEvent(u []byte) Event {
	return Event{Type: EventRaw, Topic: TopicRaw, Data: Compact(u),
		RawKind: RawJSON}
}

// RawTextEvent is the raw event of a text unit that is not JSON: {"text": "..."}.
func RawTextEvent(u []byte) Event {
	b, _ := json.Marshal(struct {
		Text string `json:"text"`
	}{string(u)}) // a string: cannot fail
	return Event{Type: EventRaw, Topic: TopicRaw, Data: b, RawKind: RawText}
}

// RawBinaryEvent is the raw event of a binary frame: {"binary": "<base64>"}.
func RawBinaryEvent(b []byte) Event {
	data := make([]byte, 0, len(`{"binary":""}`)+base64.StdEncoding.EncodedLen(len(b)))
	data = append(data, `{"binary":"`...)
	data = base64.StdEncoding.AppendEncode(data, b)
	data = append(data, `"}`...)
	return Event{Type: EventRaw, Topic: TopicRaw, Data: data, RawKind: RawBinary}
}
