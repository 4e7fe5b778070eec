// Package socketio is the dialect of Socket.IO v4 servers (Engine.IO protocol 4, Socket.IO
// protocol 5) over the WebSocket transport only: the open packet and its ping timing, the
// namespace connect with an auth payload, the server's pings answered with pongs, events with
// JSON arguments mapped to topics, emits with acknowledgement ids, connect errors as auth
// failures. The transport stays the bridge's own gorilla/websocket client; this package is only
// the codec and the session's state.
package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/internal/dialect"
)

// DefaultPath is where Socket.IO servers listen unless told otherwise.
const DefaultPath = "/socket.io/"

// Default event names: those of the chat the Socket.IO documentation teaches for messages and
// typing, and the bridge's action names for the rest.
var defaultEmit = map[string]string{
	dialect.ActionMessage: "chat message", dialect.ActionTyping: "typing",
	dialect.ActionCallAccept: dialect.ActionCallAccept, dialect.ActionCallReject: dialect.ActionCallReject,
	dialect.ActionCallEnd: dialect.ActionCallEnd,
}

// Emit says how one action is sent: the event name and, when Args is set, which of our fields
// go as positional arguments (else the whole payload is one object argument).
type Emit struct {
	Event string
	Args  []string
}

// Config configures a Dialect.
type Config struct {
	// Namespace is the Socket.IO namespace to join; "" means "/".
	Namespace string
	// Mapper routes event names to topics and maps the arguments' fields; its routes are keyed
	// by event name. Nil maps "chat message" and "typing" to messages and typing.
	Mapper *dialect.Mapper
	// Args gives, per incoming event, the field names of its positional arguments (["content"]
	// for an event whose argument is the text alone); an event without it takes its first
	// argument, an object, as the payload.
	Args map[string][]string
	// Emit gives, per action (dialect.ActionMessage, ...), what is sent; missing ones take
	// defaultEmit.
	Emit map[string]Emit
	// AuthToken, when set, is the field of the connect packet's auth payload that carries the
	// token ({"token": "..."}); "" sends no auth payload.
	AuthToken string
	// AckIDs asks the server to acknowledge every message (the reply ack mode).
	AckIDs bool
	// AckError is where, in an acknowledgement's first argument, a refusal's reason sits; nil
	// means "error". An acknowledgement whose first argument has "ok": false is a refusal too.
	AckError dialect.Path
}

// maxPending bounds the acknowledgement ids awaiting their answer.
const maxPending = 10000

// Dialect is the Socket.IO dialect. Its methods are safe for concurrent use.
type Dialect struct {
	nsp      string
	mapper   *dialect.Mapper
	args     map[string][]string
	emit     map[string]Emit
	auth     string
	ackIDs   bool
	ackError dialect.Path

	nextID     atomic.Int64
	maxPayload atomic.Int64 // the server's, from its open packet; 0 = unknown

	mu      sync.Mutex
	token   string                  // the current connection's, for its connect packet
	pending *dialect.Pending[int64] // acknowledgement id -> client_message_id
}

// New returns a Dialect for cfg.
func New(cfg Config) *Dialect {
	d := &Dialect{nsp: cfg.Namespace, mapper: cfg.Mapper, args: cfg.Args, emit: map[string]Emit{},
		auth: cfg.AuthToken, ackIDs: cfg.AckIDs, ackError: cfg.AckError, pending: dialect.NewPending[int64](maxPending)}
	if d.nsp == "" {
		d.nsp = "/"
	}
	if d.mapper == nil {
		d.mapper = dialect.NewMapper(dialect.MapperConfig{Routes: map[string]dialect.Route{
			"chat message": {Topic: dialect.TopicMessages, As: dialect.TypeChatMessage},
			"typing":       {Topic: dialect.TopicTyping, As: dialect.TypeTypingIndicator},
		}})
	}
	if len(d.ackError) == 0 {
		d.ackError = dialect.Path{"error"}
	}
	for action, event := range defaultEmit {
		d.emit[action] = Emit{Event: event}
	}
	for action, e := range cfg.Emit {
		d.emit[action] = e
	}
	return d
}

// URL returns the WebSocket URL of a Socket.IO server at base: path (or, when "", the base's
// own path, or DefaultPath when it has none) with EIO=4 and transport=websocket added to the
// query.
func URL(base, path string) (string, error) {
	u, err := dialect.WithPath(base, path, DefaultPath)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("EIO", "4")
	q.Set("transport", "websocket")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Topics lists the topics the events are routed to.
func (d *Dialect) Topics() []dialect.TopicInfo { return d.mapper.Topics() }

// Open starts a connection: nothing is written until the server's open packet, and the
// connection is ready once the namespace connect is acknowledged.
func (d *Dialect) Open(token string) (first [][]byte, ready bool) {
	d.mu.Lock()
	d.token = token
	d.mu.Unlock()
	return nil, false
}

// Decode decodes one frame: Engine.IO packets (open, ping, close), and the Socket.IO packets of
// the namespace (connect, its error, events, acknowledgements, disconnect). Every frame goes to
// the raw topic as {"text": ...} (binary frames, the attachments of binary packets, as base64).
func (d *Dialect) Decode(f dialect.Frame, env dialect.Env, out *dialect.Result) {
	if f.Binary {
		out.Events = append(out.Events, dialect.RawBinaryEvent(f.Data))
		return
	}
	out.Events = append(out.Events, dialect.RawTextEvent(f.Data))
	if len(f.Data) == 0 {
		out.Rejects = append(out.Rejects, dialect.Reject{Reason: "empty frame"})
		return
	}
	switch f.Data[0] {
	case engineOpen:
		d.open(f.Data[1:], out)
	case enginePing:
		out.Replies = append(out.Replies, append([]byte{enginePong}, f.Data[1:]...))
	case enginePong, engineNoop, engineUpgrade:
	case engineClose:
		out.Err = errors.New("the Socket.IO server closed the session")
	case engineMessage:
		d.message(f.Data, env, out)
	default:
		out.Rejects = append(out.Rejects, dialect.Reject{Reason: "not an Engine.IO packet", Bytes: len(f.Data)})
	}
}

// openPacket is the data of an Engine.IO open packet.
type openPacket struct {
	SID          string `json:"sid"`
	PingInterval int64  `json:"pingInterval"` // ms
	PingTimeout  int64  `json:"pingTimeout"`  // ms
	MaxPayload   int64  `json:"maxPayload"`   // bytes
}

// open takes the server's open packet: its ping timing sets the idle limit, and the namespace
// connect (with the auth payload) goes out.
func (d *Dialect) open(data []byte, out *dialect.Result) {
	var o openPacket
	if json.Unmarshal(data, &o) != nil || o.SID == "" {
		out.Rejects = append(out.Rejects, dialect.Reject{Reason: "open packet without a sid", Bytes: len(data) + 1})
		out.Err = errors.New("the server's Engine.IO open packet does not parse")
		return
	}
	if o.PingInterval > 0 && o.PingTimeout > 0 {
		// The server pings every pingInterval and gives up on us after pingTimeout more: a
		// server silent that long is gone.
		out.Idle = time.Duration(o.PingInterval+o.PingTimeout) * time.Millisecond
	}
	d.maxPayload.Store(o.MaxPayload)
	d.mu.Lock()
	token := d.token
	d.mu.Unlock()
	var auth []byte
	if d.auth != "" {
		auth, _ = json.Marshal(map[string]string{d.auth: token}) // strings: cannot fail
	}
	out.Replies = append(out.Replies, appendPacket(nil, socketConnect, d.nsp, -1, auth))
}

// message handles one Socket.IO packet.
func (d *Dialect) message(frame []byte, env dialect.Env, out *dialect.Result) {
	p, err := parsePacket(frame[1:])
	if err != nil {
		out.Rejects = append(out.Rejects, dialect.Reject{Reason: "not a Socket.IO packet", Bytes: len(frame)})
		return
	}
	if p.nsp != d.nsp {
		out.Unknown++ // another namespace's
		return
	}
	switch p.typ {
	case socketConnect:
		out.Ready = true
	case socketConnectError:
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(p.data, &e)
		out.Err = fmt.Errorf("%w: the Socket.IO server refused the connection: %s", dialect.ErrUnauthorized, oneLine(e.Message))
	case socketDisconnect:
		out.Err = errors.New("the Socket.IO server disconnected the namespace")
	case socketEvent:
		d.event(p, frame, env, out)
	case socketAck:
		d.ack(p, out)
	case socketBinaryEvent, socketBinaryAck:
		out.Rejects = append(out.Rejects, dialect.Reject{Reason: "binary attachments are not supported", Bytes: len(frame)})
	}
}

// event maps one event to a topic.
func (d *Dialect) event(p packet, frame []byte, env dialect.Env, out *dialect.Result) {
	var args []json.RawMessage
	if json.Unmarshal(p.data, &args) != nil || len(args) == 0 {
		out.Rejects = append(out.Rejects, dialect.Reject{Reason: "event is not a JSON array", Bytes: len(frame)})
		return
	}
	var name string
	if json.Unmarshal(args[0], &name) != nil || name == "" {
		out.Rejects = append(out.Rejects, dialect.Reject{Reason: "event has no name", Bytes: len(frame)})
		return
	}
	args = args[1:]
	var payload []byte
	if names, ok := d.args[name]; ok {
		var o dialect.Object
		for i, field := range names {
			if i < len(args) {
				o.Set(field, args[i])
			}
		}
		payload = o.Encode()
	} else if len(args) > 0 && bytes.HasPrefix(bytes.TrimSpace(args[0]), []byte("{")) {
		payload = args[0]
	} else if len(args) == 0 {
		payload = []byte("{}")
	}
	if payload == nil {
		if _, known := d.mapper.Route(name); known {
			out.Rejects = append(out.Rejects, dialect.Reject{Type: name, Reason: "argument is not an object (the profile's socketio.events args can name it)", Bytes: len(frame)})
		} else {
			out.Unknown++
		}
		return
	}
	out.AddMapped(d.mapper.Map(name, payload, frame, env))
}

// ack takes the server's acknowledgement of a message.
func (d *Dialect) ack(p packet, out *dialect.Result) {
	d.mu.Lock()
	cmid, ok := d.pending.Take(p.id)
	d.mu.Unlock()
	if !ok {
		return // not ours, or forgotten
	}
	a := dialect.Ack{ClientMessageID: cmid}
	var args []json.RawMessage
	if json.Unmarshal(p.data, &args) == nil && len(args) > 0 {
		if v, ok := dialect.Lookup(args[0], d.ackError); ok {
			var s string
			if json.Unmarshal(v, &s) != nil {
				s = string(dialect.Compact(v))
			}
			a.Error = "refused by the Socket.IO server: " + oneLine(s)
		} else if v, ok := dialect.Lookup(args[0], dialect.Path{"ok"}); ok && string(v) == "false" {
			a.Error = "refused by the Socket.IO server: ok is false"
		}
	}
	out.Acks = append(out.Acks, a)
}

// EncodeMessage returns the event of a chat message, with an acknowledgement id when the
// server is to acknowledge it; a frame above the server's maxPayload is refused for good.
func (d *Dialect) EncodeMessage(m dialect.OutgoingMessage) ([]byte, error) {
	id := int64(-1)
	if d.ackIDs {
		id = d.nextID.Add(1)
	}
	frame, err := d.encode(dialect.ActionMessage, m, id)
	if err != nil {
		return nil, err
	}
	if max := d.maxPayload.Load(); max > 0 && int64(len(frame)) > max {
		return nil, fmt.Errorf("%w: the message takes %d bytes and the server takes at most %d (its maxPayload)",
			dialect.ErrRefused, len(frame), max)
	}
	if id >= 0 {
		d.mu.Lock()
		d.pending.Put(id, m.ClientMessageID)
		d.mu.Unlock()
	}
	return frame, nil
}

// EncodeTyping returns the event of a typing indicator.
func (d *Dialect) EncodeTyping(t dialect.OutgoingTyping) ([]byte, error) {
	return d.encode(dialect.ActionTyping, t, -1)
}

// EncodeCall returns the event of a call action.
func (d *Dialect) EncodeCall(action string, c dialect.OutgoingCall) ([]byte, error) {
	return d.encode(action, c, -1)
}

// encode builds 42[<ns>,][<id>]["<event>", <args>...].
func (d *Dialect) encode(action string, v any, id int64) ([]byte, error) {
	spec := d.emit[action]
	payload, err := d.mapper.Outgoing(action, v)
	if err != nil {
		return nil, err
	}
	name, _ := json.Marshal(spec.Event) // a string: cannot fail
	args := []json.RawMessage{name}
	if len(spec.Args) == 0 {
		args = append(args, payload)
	} else {
		o, err := dialect.ParseObject(payload)
		if err != nil {
			return nil, err
		}
		for _, field := range spec.Args {
			v, ok := o.Get(field)
			if !ok {
				v = json.RawMessage("null")
			}
			args = append(args, v)
		}
	}
	data, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	return appendPacket(nil, socketEvent, d.nsp, id, data), nil
}

// oneLine keeps a server's text to one short line for an error message.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strconv.Quote(s)
}
