package ws

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// TokenPlacement says where the access token goes on the handshake.
type TokenPlacement int

const (
	// TokenInQuery (the default) adds ?token=ACCESS_TOKEN (TokenName names the
	// parameter), keeping the URL's other query parameters.
	TokenInQuery TokenPlacement = iota
	// TokenInHeader sends Authorization: Bearer ACCESS_TOKEN instead (or the
	// bare token in the header TokenName names).
	TokenInHeader
	// TokenInNone dials without a token and without waiting for one.
	TokenInNone
	// TokenInHandshake puts the token nowhere on the dial: the Handler gets it in
	// OpenConn, for the protocol's own connect frame.
	TokenInHandshake
)

// Defaults filled in by New for zero Config fields.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultHeartbeat        = 25 * time.Second
	DefaultPongTimeout      = 10 * time.Second
	DefaultReconnectMin     = 500 * time.Millisecond
	DefaultReconnectMax     = 30 * time.Second
	DefaultStableAfter      = 10 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultReadLimit        = 1 << 20
	DefaultTokenPoll        = time.Second
)

// Config configures a Client. Zero fields get the documented defaults in New;
// negative durations or limits are rejected. New copies the Config; changing it
// afterwards has no effect.
//
// Retry number n after a failure waits a uniform random delay in
// [ReconnectMin, min(ReconnectMax, ReconnectMin*2^n)] (full jitter over a
// growing window, floored at ReconnectMin), or the server's Retry-After on a
// 429/503 handshake answer (capped at 10 minutes). The count n starts over once
// a connection has proven itself: the upstream sent something (a frame, a pong)
// after the handshake, or the connection lived StableAfter. A server that
// accepts and drops at once is still backed off from.
type Config struct {
	URL              string         // ws:// or wss:// upstream URL, without the token; required
	Token            TokenSource    // required unless TokenIn is TokenInNone; asked before every dial
	TokenIn          TokenPlacement // default TokenInQuery
	TokenName        string         // query parameter (default "token") or header (default Authorization, with "Bearer ")
	Header           http.Header    // extra handshake headers (Origin among them)
	Subprotocols     []string       // offered on the handshake
	HandshakeTimeout time.Duration  // default 10s: for the upgrade, and again for the Handler's handshake
	Heartbeat        time.Duration  // default 25s: send PingFrame every Heartbeat
	PongTimeout      time.Duration  // default 10s: nothing received this long after a ping => dead connection
	PingFrame        []byte         // text frame sent as heartbeat; nil => a WebSocket ping control frame
	NoHeartbeat      bool           // send no heartbeat (the server pings, or nobody does)
	ReconnectMin     time.Duration  // default 500ms
	ReconnectMax     time.Duration  // default 30s (raised to ReconnectMin if smaller)
	StableAfter      time.Duration  // default 10s: a connection that lived this long resets the attempt counter (so does one the upstream sent anything on)
	WriteTimeout     time.Duration  // default 10s: write deadline of every write
	ReadLimit        int64          // default 1 MiB: a bigger frame fails the read (close 1009) and reconnects
	TokenPoll        time.Duration  // default 1s: how often the token source is re-asked while idle or unauthorized

	// CloseCodes, when set, classifies the close code a server ended a
	// connection with: nil for an ordinary drop (reconnect with backoff), an error
	// matching ErrUnauthorized or ErrTerminal otherwise. Nil takes the default:
	// 4001 and 1008 are auth failures.
	CloseCodes func(code int) error
	// Logger receives the client's logs; nil discards them.
	Logger *slog.Logger
	// Proxy chooses an HTTP proxy per dial; nil means http.ProxyFromEnvironment.
	Proxy func(*http.Request) (*url.URL, error)
}

// withDefaults validates cfg, fills its zero fields and parses its URL. The
// error text never holds the URL's query or userinfo.
func (cfg Config) withDefaults() (Config, *url.URL, error) {
	u, err := parseUpstreamURL(cfg.URL)
	if err != nil {
		return cfg, nil, err
	}
	switch cfg.TokenIn {
	case TokenInNone:
		if cfg.Token == nil {
			cfg.Token = StaticToken("")
		}
	case TokenInQuery, TokenInHeader, TokenInHandshake:
		if cfg.Token == nil {
			return cfg, nil, errors.New("ws: config: Token is required")
		}
	default:
		return cfg, nil, fmt.Errorf("ws: config: unknown TokenIn %d", cfg.TokenIn)
	}
	if cfg.TokenName == "" {
		cfg.TokenName = "token"
		if cfg.TokenIn == TokenInHeader {
			cfg.TokenName = "Authorization"
		}
	}
	cfg.Header = cfg.Header.Clone()
	cfg.Subprotocols = append([]string(nil), cfg.Subprotocols...)
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"HandshakeTimeout", &cfg.HandshakeTimeout, DefaultHandshakeTimeout},
		{"Heartbeat", &cfg.Heartbeat, DefaultHeartbeat},
		{"PongTimeout", &cfg.PongTimeout, DefaultPongTimeout},
		{"ReconnectMin", &cfg.ReconnectMin, DefaultReconnectMin},
		{"ReconnectMax", &cfg.ReconnectMax, DefaultReconnectMax},
		{"StableAfter", &cfg.StableAfter, DefaultStableAfter},
		{"WriteTimeout", &cfg.WriteTimeout, DefaultWriteTimeout},
		{"TokenPoll", &cfg.TokenPoll, DefaultTokenPoll},
	}
	for _, d := range durations {
		if *d.v < 0 {
			return cfg, nil, fmt.Errorf("ws: config: %s must not be negative", d.name)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	cfg.ReconnectMax = max(cfg.ReconnectMax, cfg.ReconnectMin)
	if cfg.ReadLimit < 0 {
		return cfg, nil, errors.New("ws: config: ReadLimit must not be negative")
	}
	if cfg.ReadLimit == 0 {
		cfg.ReadLimit = DefaultReadLimit
	}
	if cfg.CloseCodes == nil {
		cfg.CloseCodes = DefaultCloseCodes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Proxy == nil {
		cfg.Proxy = http.ProxyFromEnvironment
	}
	cfg.PingFrame = append([]byte(nil), cfg.PingFrame...)
	return cfg, u, nil
}

// parseUpstreamURL parses and checks a ws/wss URL. Its errors name only the
// redacted URL: a *url.Error would print the whole text, query token included.
func parseUpstreamURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var inner error = err
		if ue, ok := errors.AsType[*url.Error](err); ok {
			inner = ue.Err
		}
		return nil, fmt.Errorf("ws: config: upstream URL: %w",
			&url.Error{Op: "parse", URL: redactRawURL(raw), Err: inner})
	}
	safe := redactURL(u)
	switch {
	case u.Scheme != "ws" && u.Scheme != "wss":
		return nil, fmt.Errorf("ws: config: upstream URL %q: scheme must be ws or wss", safe)
	case u.Host == "":
		return nil, fmt.Errorf("ws: config: upstream URL %q: missing host", safe)
	case u.User != nil:
		return nil, fmt.Errorf("ws: config: upstream URL %q: userinfo is not allowed", safe)
	}
	return u, nil
}
