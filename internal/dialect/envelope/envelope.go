// Package envelope is the default dialect: every frame is a JSON object that carries a type and
// a payload (docs/PROTOCOL.md), as the demo server speaks it. A profile adjusts it to servers
// that say the same things differently: where the type and the payload sit (flat frames too),
// what the fields are called, what fills a field a frame lacks, several objects in one frame
// (one per line), which types go to which topics, and what the bridge sends for each action.
package envelope

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/chatbridge/chatbridge/internal/dialect"
)

// Config configures a Dialect. The zero value speaks the default wire exactly.
type Config struct {
	// TypePath is where the type sits in a frame; nil means "type".
	TypePath dialect.Path
	// PayloadPath is where the payload sits; nil means "payload" unless Flat.
	PayloadPath dialect.Path
	// Flat frames carry their fields beside the type: the payload is the frame itself,
	// without its type field.
	Flat bool
	// NDJSON frames may hold several objects, one per line.
	NDJSON bool
	// Mapper maps payloads to domain events and back; nil maps the default wire.
	Mapper *dialect.Mapper
	// Outbound names the type sent for each action (dialect.ActionMessage, ...); an action it
	// does not name is sent under its default type.
	Outbound map[string]string
	// Connect, when set, is a frame (JSON) written first on every connection.
	Connect json.RawMessage
	// ConnectToken, when set, is where the token goes inside the connect frame's payload (a
	// field name); the connect frame then defaults to {"type":"auth","payload":{}}.
	ConnectToken string
}

// Dialect is the envelope dialect. It holds no per-connection state; every method is safe for
// concurrent use.
type Dialect struct {
	typePath, payloadPath dialect.Path
	flat, ndjson          bool
	plain                 bool // the default paths: the fast decode
	mapper                *dialect.Mapper
	outbound              map[string]string
	connect               json.RawMessage
	connectToken          string
}

// New returns a Dialect for cfg.
func New(cfg Config) *Dialect {
	d := &Dialect{typePath: cfg.TypePath, payloadPath: cfg.PayloadPath, flat: cfg.Flat,
		ndjson: cfg.NDJSON, mapper: cfg.Mapper, outbound: cfg.Outbound, connect: cfg.Connect,
		connectToken: cfg.ConnectToken}
	if len(d.typePath) == 0 {
		d.typePath = dialect.Path{"type"}
	}
	if d.flat {
		d.payloadPath = nil
	} else if len(d.payloadPath) == 0 {
		d.payloadPath = dialect.Path{"payload"}
	}
	if d.mapper == nil {
		d.mapper = dialect.NewMapper(dialect.MapperConfig{})
	}
	if d.connect == nil && d.connectToken != "" {
		d.connect = json.RawMessage(`{"type":"auth","payload":{}}`)
	}
	d.plain = !d.flat && len(d.typePath) == 1 && d.typePath[0] == "type" &&
		len(d.payloadPath) == 1 && d.payloadPath[0] == "payload"
	return d
}

// Topics lists the topics the dialect publishes on, with their event names.
func (d *Dialect) Topics() []dialect.TopicInfo { return d.mapper.Topics() }

// Open returns the frames to write on a new connection: the connect frame, if any, with the
// token in it when ConnectToken says where. The connection is ready at once.
func (d *Dialect) Open(token string) (first [][]byte, ready bool) {
	if d.connect == nil {
		return nil, true
	}
	frame := d.connect
	if d.connectToken != "" {
		o, err := dialect.ParseObject(frame)
		if err == nil {
			path := append(append(dialect.Path{}, d.payloadPath...), d.connectToken)
			o.SetPath(path, strconv.AppendQuote(nil, token))
			frame = o.Encode()
		}
	}
	return [][]byte{dialect.Compact(frame)}, true
}

// Decode decodes one frame into out: a binary frame goes to the raw topic as base64; a text
// frame is one unit, or with NDJSON one unit per line when it is not one JSON value as a
// whole; each unit goes to the raw topic, and to its own topic when its type is routed and its
// payload well-formed.
func (d *Dialect) Decode(f dialect.Frame, env dialect.Env, out *dialect.Result) {
	if f.Binary {
		out.Events = append(out.Events, dialect.RawBinaryEvent(f.Data))
		return
	}
	if d.ndjson && bytes.IndexByte(f.Data, '\n') >= 0 && !json.Valid(f.Data) {
		for line := range bytes.SplitSeq(f.Data, []byte{'\n'}) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				d.unit(line, env, out)
			}
		}
		return
	}
	d.unit(f.Data, env, out)
}

// unit decodes one JSON object (or what should have been one).
func (d *Dialect) unit(u []byte, env dialect.Env, out *dialect.Result) {
	typ, payload, reason := d.split(u)
	if reason == reasonNotJSON {
		out.Events = append(out.Events, dialect.RawTextEvent(u))
		out.Rejects = append(out.Rejects, dialect.Reject{Reason: reason, Bytes: len(u)})
		return
	}
	out.Events = append(out.Events, dialect.RawJSONEvent(u))
	if reason != "" {
		out.Rejects = append(out.Rejects, dialect.Reject{Type: typ, Reason: reason, Bytes: len(u)})
		return
	}
	out.AddMapped(d.mapper.Map(typ, payload, u, env))
}

const reasonNotJSON = "not json"

// split finds a unit's type and payload; reason says what is wrong with the unit, if anything.
func (d *Dialect) split(u []byte) (typ string, payload []byte, reason string) {
	if d.plain {
		return splitPlain(u)
	}
	if !json.Valid(u) {
		return "", nil, reasonNotJSON
	}
	o, err := dialect.ParseObject(u)
	if err != nil {
		return "", nil, "not an object"
	}
	tv, ok := o.Lookup(d.typePath)
	if !ok || json.Unmarshal(tv, &typ) != nil {
		return "", nil, "type missing or not a string"
	}
	if typ == "" {
		return "", nil, "type is empty"
	}
	if d.flat {
		if len(d.typePath) == 1 {
			o.Del(d.typePath[0])
		}
		return typ, o.Encode(), ""
	}
	payload, ok = o.Lookup(d.payloadPath)
	if !ok {
		return typ, []byte("{}"), ""
	}
	if p := bytes.TrimSpace(payload); len(p) == 0 || p[0] != '{' {
		return typ, nil, "payload is not an object"
	}
	return typ, payload, ""
}

// splitPlain is split for the default paths, in one decoding pass.
func splitPlain(u []byte) (typ string, payload []byte, reason string) {
	trimmed := bytes.TrimLeft(u, " \t\r\n")
	if len(trimmed) == 0 {
		return "", nil, reasonNotJSON
	}
	var raw struct {
		Type    json.RawMessage `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	// One pass: Unmarshal checks the whole unit (trailing data included) while it decodes.
	if err := json.Unmarshal(u, &raw); err != nil {
		if _, ok := err.(*json.UnmarshalTypeError); ok && trimmed[0] != '{' {
			return "", nil, "not an object"
		}
		if json.Valid(u) {
			return "", nil, "not an object"
		}
		return "", nil, reasonNotJSON
	}
	if len(raw.Type) == 0 || raw.Type[0] != '"' || json.Unmarshal(raw.Type, &typ) != nil {
		return "", nil, "type missing or not a string"
	}
	if typ == "" {
		return "", nil, "type is empty"
	}
	switch p := bytes.TrimSpace(raw.Payload); {
	case len(p) == 0 || bytes.Equal(p, []byte("null")):
		return typ, []byte("{}"), ""
	case p[0] == '{':
		return typ, p, ""
	default:
		return typ, nil, "payload is not an object"
	}
}

// Ping returns the heartbeat frame: the ping action's type with an empty payload.
func (d *Dialect) Ping() []byte {
	b, _ := d.frame(dialect.ActionPing, []byte("{}"))
	return b
}

// EncodeMessage returns the frame of a chat message.
func (d *Dialect) EncodeMessage(m dialect.OutgoingMessage) ([]byte, error) {
	return d.encode(dialect.ActionMessage, m)
}

// EncodeTyping returns the frame of a typing indicator.
func (d *Dialect) EncodeTyping(t dialect.OutgoingTyping) ([]byte, error) {
	return d.encode(dialect.ActionTyping, t)
}

// EncodeCall returns the frame of a call action (dialect.ActionCallAccept, ...).
func (d *Dialect) EncodeCall(action string, c dialect.OutgoingCall) ([]byte, error) {
	return d.encode(action, c)
}

func (d *Dialect) encode(action string, v any) ([]byte, error) {
	payload, err := d.mapper.Outgoing(action, v)
	if err != nil {
		return nil, err
	}
	return d.frame(action, payload)
}

// frame wraps a payload in the envelope of action's type.
func (d *Dialect) frame(action string, payload []byte) ([]byte, error) {
	typ := action
	if t, ok := d.outbound[action]; ok {
		typ = t
	}
	if d.plain {
		return json.Marshal(struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}{typ, payload})
	}
	var o dialect.Object
	o.SetPath(d.typePath, strconv.AppendQuote(nil, typ))
	if !d.flat {
		o.SetPath(d.payloadPath, payload)
		return o.Encode(), nil
	}
	fields, err := dialect.ParseObject(payload)
	if err != nil {
		return nil, err
	}
	for _, m := range fields {
		if len(d.typePath) != 1 || m.Key != d.typePath[0] {
			o.SetPath(dialect.Path{m.Key}, m.Val)
		}
	}
	return o.Encode(), nil
}
