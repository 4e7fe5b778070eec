package chat

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Envelope is the wrapper of every frame in both directions: one JSON object with a type and a
// payload object (PROTOCOL.md, "Frames"). Unknown top-level fields are tolerated and dropped here;
// the raw topic publishes the frame as it came.
type Envelope struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// ErrMalformed is matched by every error that DecodeEnvelope and Route return for a frame that
// breaks the protocol. Check it with errors.Is.
var ErrMalformed = errors.New("malformed frame")

// MalformedError says why a frame was refused. It never holds the frame's content, so it can be
// logged as it is.
type MalformedError struct {
	// Type is the frame's type when it had a usable one, else "".
	Type string
	// Reason is a short fixed phrase ("not json", "missing field conversation_id", ...).
	Reason string
}

func (e *MalformedError) Error() string {
	if e.Type == "" {
		return "malformed frame: " + e.Reason
	}
	return "malformed " + e.Type + " frame: " + e.Reason
}

// Is makes errors.Is(err, ErrMalformed) true.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

func malformed(typ, reason string) error { return &MalformedError{Type: typ, Reason: reason} }

// emptyPayload stands in for an absent or null payload.
var emptyPayload = json.RawMessage(`{}`)

// DecodeEnvelope parses one frame. It fails with a *MalformedError when the frame is not JSON, not
// an object, has no string type, or has a payload that is not an object. When only the payload is
// at fault, the returned Envelope still carries the Type, so the frame can go to the raw topic.
// An absent or null payload decodes as {}. DecodeEnvelope is safe for concurrent use.
func DecodeEnvelope(frame []byte) (Envelope, error) {
	trimmed := bytes.TrimLeft(frame, " \t\r\n")
	if len(trimmed) == 0 {
		return Envelope{}, malformed("", "not json")
	}
	var raw struct {
		Type    json.RawMessage `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	// One pass: Unmarshal checks the whole frame (trailing data included) while it decodes.
	if err := json.Unmarshal(frame, &raw); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && trimmed[0] != '{' {
			return Envelope{}, malformed("", "not an object")
		}
		return Envelope{}, malformed("", "not json")
	}
	var env Envelope
	if len(raw.Type) == 0 || raw.Type[0] != '"' || json.Unmarshal(raw.Type, &env.Type) != nil {
		return Envelope{}, malformed("", "type missing or not a string")
	}
	if env.Type == "" {
		return Envelope{}, malformed("", "type is empty")
	}
	switch p := bytes.TrimSpace(raw.Payload); {
	case len(p) == 0 || bytes.Equal(p, []byte("null")):
		env.Payload = emptyPayload
	case p[0] == '{':
		env.Payload = p
	default:
		return env, malformed(env.Type, "payload is not an object")
	}
	return env, nil
}

// Encode builds an outgoing frame: the envelope of typ around payload.
// Encode is safe for concurrent use.
func Encode(typ string, payload any) ([]byte, error) {
	p, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	return json.Marshal(Envelope{Type: typ, Payload: p})
}

// compact returns JSON on one line, as an SSE data field needs it. The input must be valid JSON.
// JSON that is on one line already is returned as it is: the common case costs one scan.
func compact(b []byte) []byte {
	if bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\r') < 0 {
		return b
	}
	var buf bytes.Buffer
	buf.Grow(len(b))
	if err := json.Compact(&buf, b); err != nil {
		// Unreachable for input that passed json.Valid; keep the bytes rather than lose the event.
		return bytes.ReplaceAll(b, []byte("\n"), nil)
	}
	return buf.Bytes()
}
