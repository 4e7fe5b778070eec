// Package centrifugo is the dialect of Centrifugo v5/v6 servers, over their JSON client
// protocol (v2) at /connection/websocket: the connect command with the connection token, server
// pings answered with pongs, subscriptions to the profile's channels with history recovery,
// publications routed by channel to topics (and by a type inside their data, as the envelope
// dialect does), join and leave as presence, publish commands whose reply acknowledges a
// message, and disconnect codes that say whether to reconnect. Commands, replies and pushes are
// github.com/centrifugal/protocol's types and JSON codec; the transport is the bridge's own.
package centrifugo

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/centrifugal/protocol"

	"github.com/chatbridge/chatbridge/internal/dialect"
)

// DefaultPath is Centrifugo's WebSocket endpoint.
const DefaultPath = "/connection/websocket"

// maxPingDelay is how much later than its ping interval a server's ping may come before the
// connection counts as dead (Centrifugo's own clients wait 10 s).
const maxPingDelay = 10 * time.Second

// maxPending bounds the publish commands awaiting their reply.
const maxPending = 10000

// EventReset is the event the dialect publishes on a channel's topic when the server could not
// give back what was published on it while the bridge was away: pages reload their snapshot.
const EventReset = "stream.reset"

// ErrUnsupported is returned for an action the profile names no channel for.
var ErrUnsupported = errors.New("the profile names no Centrifugo channel for this action")

// Config configures a Dialect.
type Config struct {
	// Subscribe lists the channels to subscribe to after every connect.
	Subscribe []string
	// Channels routes publications by channel, the first match winning.
	Channels []Channel
	// Publish gives, per action (dialect.ActionMessage, ...), the channel template it is
	// published to ("chat:{conversation_id}"); an action without one is refused.
	Publish map[string]string
	// TypePath, when set, is where a type sits inside publication data (and PayloadPath the
	// payload, nil: the data itself): publications are then routed by that type through the
	// Mapper's routes, as in the envelope dialect, and outgoing data carries it too.
	TypePath, PayloadPath dialect.Path
	// Mapper maps payloads; its routes are the channels' (by pattern) and the types'.
	Mapper *dialect.Mapper
	// Name is the client name sent in the connect command. Default "chatbridge".
	Name string
}

// position is where the bridge stands in one channel's stream, kept across connections.
type position struct {
	epoch       string
	offset      uint64
	recoverable bool
	refetching  bool // the epoch changed: live publications wait for the refetch from its start
}

// Dialect is the Centrifugo dialect. Its methods are safe for concurrent use.
type Dialect struct {
	cfg    Config
	mapper *dialect.Mapper
	nextID atomic.Uint32

	mu        sync.Mutex
	token     string
	connectID uint32
	pong      bool                     // the server wants its pings answered
	subs      map[uint32]string        // subscribe command id -> channel
	pending   *dialect.Pending[uint32] // publish command id -> client_message_id
	pos       map[string]*position     // by channel
}

// New returns a Dialect for cfg.
func New(cfg Config) *Dialect {
	if cfg.Name == "" {
		cfg.Name = "chatbridge"
	}
	m := cfg.Mapper
	if m == nil {
		routes := map[string]dialect.Route{}
		for _, c := range cfg.Channels {
			routes[c.Pattern] = c.Route
		}
		m = dialect.NewMapper(dialect.MapperConfig{Routes: routes})
	}
	return &Dialect{cfg: cfg, mapper: m, subs: map[uint32]string{}, pending: dialect.NewPending[uint32](maxPending),
		pos: map[string]*position{}}
}

// URL returns the WebSocket URL of a Centrifugo server at base: path, or the base's own path,
// or DefaultPath when it has none.
func URL(base, path string) (string, error) {
	u, err := dialect.WithPath(base, path, DefaultPath)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// CloseKind classifies the codes Centrifugo ends a connection (or disconnects a client) with:
// an invalid or expired token is an auth failure (a new token may come), the terminal ranges
// (3500-3999 and 4500-4999) stop the bridge, the rest are drops to reconnect after.
func CloseKind(code int) error {
	switch {
	case code == 3500 || code == 3005:
		return dialect.ErrUnauthorized
	case code >= 3500 && code <= 3999, code >= 4500 && code <= 4999:
		return dialect.ErrTerminal
	}
	return nil
}

// Topics lists the topics the channels and types are routed to, with the reset notice.
func (d *Dialect) Topics() []dialect.TopicInfo {
	topics := d.mapper.Topics()
	for i := range topics {
		topics[i].Types = append(topics[i].Types, EventReset)
	}
	return topics
}

// Open starts a connection with the connect command, token in it; it is ready once the server
// answers it.
func (d *Dialect) Open(token string) (first [][]byte, ready bool) {
	id := d.nextID.Add(1)
	d.mu.Lock()
	d.token, d.connectID, d.pong = token, id, false
	clear(d.subs)
	d.mu.Unlock()
	frame, _ := encode(&protocol.Command{Id: id, Connect: &protocol.ConnectRequest{Token: token, Name: d.cfg.Name}})
	return [][]byte{frame}, false
}

func encode(cmd *protocol.Command) ([]byte, error) {
	return protocol.NewJSONCommandEncoder().Encode(cmd)
}

// Decode decodes one frame: one reply or push per line. Each line goes to the raw topic as it
// came.
func (d *Dialect) Decode(f dialect.Frame, env dialect.Env, out *dialect.Result) {
	if f.Binary {
		out.Events = append(out.Events, dialect.RawBinaryEvent(f.Data))
		out.Rejects = append(out.Rejects, dialect.Reject{Reason: "a binary frame on the JSON protocol", Bytes: len(f.Data)})
		return
	}
	for line := range bytes.SplitSeq(f.Data, []byte{'\n'}) {
		if line = bytes.TrimSpace(line); len(line) == 0 {
			continue
		}
		r, err := protocol.NewJSONReplyDecoder(line).Decode()
		if err != nil || !json.Valid(line) {
			out.Events = append(out.Events, dialect.RawTextEvent(line))
			out.Rejects = append(out.Rejects, dialect.Reject{Reason: "not a Centrifugo reply", Bytes: len(line)})
			continue
		}
		out.Events = append(out.Events, dialect.RawJSONEvent(line))
		d.reply(r, env, out)
	}
}
