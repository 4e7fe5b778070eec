package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/internal/chat"
	"github.com/chatbridge/chatbridge/internal/dialect"
	"github.com/chatbridge/chatbridge/internal/hub"
)

// Chat is what the API needs to send into the chat: *chat.Service provides it.
type Chat interface {
	// Submit accepts a message for exactly-once delivery and says its status.
	Submit(ctx context.Context, m chat.OutgoingMessage) (status string, err error)
	// Queued is how many messages wait for the upstream.
	Queued() int
	// Cancel takes a waiting message out (chat.ErrUnknownMessage, chat.ErrMessageDone).
	Cancel(clientMessageID string) error
	SendTyping(ctx context.Context, t chat.OutgoingTyping) error
	SendCall(ctx context.Context, action string, c chat.OutgoingCall) error
	// Topics lists every topic streams may carry, with its event names; it does not change.
	Topics() []chat.TopicInfo
}

// Connection is what the API needs to show and steer the upstream connection.
type Connection interface {
	// State is the current upstream connection state.
	State() chat.ConnectionState
	// SetToken makes the bridge (re)connect with token from now on.
	SetToken(token string)
	// Disconnect closes the upstream connection and keeps it closed until SetToken.
	Disconnect()
}

// Config holds the API's dependencies and settings. Zero values take the documented defaults.
type Config struct {
	Chat       Chat       // required
	Connection Connection // required
	Topics     *hub.Hub   // required
	Snapshots  Snapshots  // required
	Logger     *slog.Logger
	// OpenAPI is the document served at /openapi.yaml.
	OpenAPI []byte
	// KeepAlive is the interval of the ": keep-alive" comment on idle streams. Default 15s.
	KeepAlive time.Duration
	// StreamWriteTimeout bounds every write to an SSE stream; a client that does not take the
	// bytes within it is disconnected. Default 10s.
	StreamWriteTimeout time.Duration
	// Retry is the reconnection delay suggested to EventSource clients. Default 2s.
	Retry time.Duration
	// MaxStreams caps concurrent SSE streams; beyond it the API answers 503. Default 1000.
	MaxStreams int
	// RequestTimeout bounds how long a request may take to arrive, body included, and bounds
	// a handler that waits (it sees its context end then). SSE streams are exempt. Default 10s.
	RequestTimeout time.Duration
	// MaxHeaderBytes bounds a request's header; beyond it the answer is a 431 problem. The
	// http.Server's own MaxHeaderBytes must be larger, or net/http answers first, as plain
	// text. Default 64 KiB.
	MaxHeaderBytes int
	// ObserveRequest, when set, is told of every request (for metrics).
	ObserveRequest RequestObserver
	// Metrics, when set, is served at GET /metrics.
	Metrics http.Handler
	// Security holds the Host and Origin allowlists and the optional API token (openapi.yaml,
	// "Security model"). Nil means the zero SecurityConfig: loopback Hosts and origins only, no token.
	Security *Security
}

// Server serves the HTTP API. Its handler is safe for concurrent use. Close ends every open
// stream; call it before http.Server.Shutdown, which does not end streaming handlers itself.
type Server struct {
	cfg Config
	log *slog.Logger

	// streamsCtx is cancelled by Close: every SSE handler watches it.
	streamsCtx  context.Context
	stopStreams context.CancelFunc
	open        chan struct{} // one token per open stream, capacity MaxStreams
	stats       *streamStats
	topics      []chat.TopicInfo // every topic, as Chat.Topics lists them
	names       []string         // their names
	defaults    []string         // what GET /events streams without ?topics=: every topic but raw

	storageFailing atomic.Bool // POST /messages could not store its last message (logged once)
}

// New returns a Server with cfg's defaults filled in.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 15 * time.Second
	}
	if cfg.StreamWriteTimeout <= 0 {
		cfg.StreamWriteTimeout = 10 * time.Second
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 2 * time.Second
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 1000
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = 64 << 10
	}
	if cfg.Security == nil {
		cfg.Security, _ = NewSecurity(SecurityConfig{Logger: cfg.Logger}) // the zero config never fails
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, log: cfg.Logger, streamsCtx: ctx, stopStreams: cancel,
		open: make(chan struct{}, cfg.MaxStreams)}
	if cfg.Chat != nil {
		s.topics = cfg.Chat.Topics()
	}
	for _, t := range s.topics {
		s.names = append(s.names, t.Name)
		if t.Name != dialect.TopicRaw {
			s.defaults = append(s.defaults, t.Name)
		}
	}
	s.stats = newStreamStats(s.names)
	return s
}

// Close makes every open SSE stream end; http.Server.Shutdown then waits for their handlers.
// It is idempotent and returns at once; streams opened after Close end at once.
func (s *Server) Close() {
	s.stopStreams()
}
