package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/chatbridge/chatbridge/internal/chat"
	"github.com/chatbridge/chatbridge/internal/dialect"
	"github.com/chatbridge/chatbridge/internal/dialect/centrifugo"
	"github.com/chatbridge/chatbridge/internal/dialect/envelope"
	"github.com/chatbridge/chatbridge/internal/dialect/socketio"
	"github.com/chatbridge/chatbridge/internal/ws"
)

// upstreamSetup is what the dialect, its profile and the flags decide about the upstream: the
// dialect itself, the acknowledgement mode, and the dialect's part of the WebSocket client's
// configuration (the rest is the flags').
type upstreamSetup struct {
	dialect chat.Dialect
	ack     string
	url     string    // the upstream URL as the dialect dials it ("" for the demo's)
	ws      ws.Config // TokenIn, TokenName, Header, Subprotocols, PingFrame, NoHeartbeat, CloseCodes
}

// newUpstreamSetup builds the dialect of c. Its errors name the flag or the profile key.
func newUpstreamSetup(c *config) (*upstreamSetup, error) {
	p := c.Profile
	if p == nil {
		p = &dialect.Profile{}
	}
	u := &upstreamSetup{ack: c.Ack, url: c.Upstream}
	heartbeat := c.HeartbeatMode
	tokenIn := c.TokenIn
	if !c.explicit["token-in"] && p.TokenIn == "" && c.Dialect != dialect.DialectEnvelope {
		tokenIn = dialect.TokenInConnect // Socket.IO's auth payload, Centrifugo's connect command
	}
	if c.Upstream == "" && c.Dialect != dialect.DialectEnvelope {
		return nil, fmt.Errorf("flag -dialect: the built-in demo server speaks the envelope dialect; give --upstream for %s", c.Dialect)
	}
	switch c.Dialect {
	case dialect.DialectEnvelope:
		d, err := envelope.FromProfile(p, c.TokenIn)
		if err != nil {
			return nil, err
		}
		u.dialect = d
		if heartbeat == "" {
			heartbeat = dialect.HeartbeatJSON
		}
		if heartbeat == dialect.HeartbeatJSON {
			u.ws.PingFrame = d.Ping()
		}
		if u.ack == "" {
			u.ack = dialect.AckEcho
		}
		if u.ack == dialect.AckReply {
			return nil, errors.New("invalid value \"reply\" for flag -ack (or profile key ack): the envelope dialect has no acknowledgement of its own; use echo or write")
		}
	case dialect.DialectSocketIO:
		if u.ack == "" {
			u.ack = dialect.AckReply
		}
		d, err := socketio.FromProfile(p, tokenIn, u.ack)
		if err != nil {
			return nil, err
		}
		u.dialect = d
		if heartbeat == "" {
			heartbeat = dialect.HeartbeatOff // the server pings; its silence is timed from its open packet
		}
		if heartbeat == dialect.HeartbeatJSON {
			return nil, errors.New("invalid value \"json\" for flag -heartbeat-mode (or profile key heartbeat): a Socket.IO server pings, the client only answers; use off or ws")
		}
		if u.url, err = socketio.URL(c.Upstream, p.Path); err != nil {
			return nil, fmt.Errorf("invalid value for flag -upstream: %w", err)
		}
	case dialect.DialectCentrifugo:
		if u.ack == "" {
			u.ack = dialect.AckReply
		}
		d, err := centrifugo.FromProfile(p)
		if err != nil {
			return nil, err
		}
		u.dialect = d
		if heartbeat == "" {
			heartbeat = dialect.HeartbeatOff // the server pings; its silence is timed from the connect reply
		}
		if heartbeat == dialect.HeartbeatJSON {
			return nil, errors.New("invalid value \"json\" for flag -heartbeat-mode (or profile key heartbeat): a Centrifugo server pings, the client only answers; use off or ws")
		}
		if tokenIn != dialect.TokenInConnect {
			return nil, errors.New("flag -token-in (or profile key token.in): Centrifugo takes the connection token in its connect command only: use connect")
		}
		if u.url, err = centrifugo.URL(c.Upstream, p.Path); err != nil {
			return nil, fmt.Errorf("invalid value for flag -upstream: %w", err)
		}
		u.ws.CloseCodes = func(code int) error {
			switch kind := centrifugo.CloseKind(code); {
			case errors.Is(kind, dialect.ErrUnauthorized):
				return ws.ErrUnauthorized
			case errors.Is(kind, dialect.ErrTerminal):
				return ws.ErrTerminal
			}
			return ws.DefaultCloseCodes(code)
		}
	default:
		return nil, fmt.Errorf("flag -dialect: %q is not a dialect", c.Dialect)
	}
	u.ws.NoHeartbeat = heartbeat == dialect.HeartbeatOff
	switch tokenIn {
	case dialect.TokenInHeader:
		u.ws.TokenIn = ws.TokenInHeader
	case dialect.TokenInNone:
		u.ws.TokenIn = ws.TokenInNone
	case dialect.TokenInConnect:
		u.ws.TokenIn = ws.TokenInHandshake
	default:
		u.ws.TokenIn = ws.TokenInQuery
	}
	u.ws.TokenName = p.TokenName
	if tokenIn == dialect.TokenInConnect {
		u.ws.TokenName = ""
	}
	if len(p.Headers) > 0 || p.Origin != "" {
		u.ws.Header = http.Header{}
		for k, v := range p.Headers {
			u.ws.Header.Set(k, v)
		}
		if p.Origin != "" {
			u.ws.Header.Set("Origin", p.Origin)
		}
	}
	u.ws.Subprotocols = p.Subprotocols
	return u, nil
}
