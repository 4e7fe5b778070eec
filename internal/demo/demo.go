// Package demo is the built-in reference upstream chat server: a real
// WebSocket chat server that speaks all of docs/PROTOCOL.md.
//
// It serves three purposes: the bridge runs it in-process when no upstream is
// configured, so a new user sees a live chat (with Config.Bots); `bridge
// demo-server` serves it alone; and every test of the project uses it as the
// real upstream, through its fault injection (DropAll, CloseAll, SetSilent,
// SetRefuseTokens, SetToken, RevokeToken, SetReject, SendRaw, Broadcast) and
// observation hooks (Received, WaitReceived, Connections, Dials, Messages).
//
// Mount the Server at Path ("/chat"): mux.Handle(demo.Path, srv).
//
// Chat rules where docs/PROTOCOL.md leaves the server free:
//   - General is the lobby: every user who connects becomes a member.
//     Posting to any other conversation id creates it (titled by its id) or
//     joins it; only members receive its messages, typing and updates.
//   - A client_message_id the same user has used before (the last 10000
//     are remembered) is not posted again, whatever its content: the
//     original chat.message echo is sent again to the resending connection
//     only, so a resend after a reconnect is idempotent.
//   - unread_count is, per member, the messages of others since the member
//     last posted in the conversation (the protocol has no read receipts).
//   - typing.indicator to a conversation that does not exist is ignored.
//   - Answers to call.accept/reject/end go to the members of the call's
//     conversation when the call is known (started by cy, or announced
//     through Broadcast), else to every connection; no error for unknown
//     calls.
//   - Errors are error frames to the sending connection: bad_frame,
//     unknown_type, invalid_message (ref = client_message_id),
//     invalid_typing, invalid_call, too_many_conversations.
//
// Concurrency: one mutex guards the chat state; every frame a client sends is
// handled, recorded and fanned out under it, so all clients see events in one
// order. Each connection has one reader goroutine (the HTTP handler's) and one
// writer goroutine fed by a bounded queue; a client whose queue is full is
// dropped instead of blocking the others.
package demo

import (
	"errors"
	"log/slog"
	"maps"
	"sync"
	"time"
)

// Path is where the server is meant to be mounted: ws://HOST/chat?token=T.
const Path = "/chat"

// The demo accounts.
const (
	DemoToken   = "demo-token"
	DemoUser    = "demo-user"
	General     = "general" // the conversation every user joins on connect
	generalName = "General"
)

// The demo bot users. They are members of General; Config.Bots makes them
// act. They have the tokens ada-token, bob-token and cy-token in the default
// token map, so a test can also connect as one of them.
const (
	BotAda = "ada" // answers every human message in General
	BotBob = "bob" // comes and goes (user.status)
	BotCy  = "cy"  // calls now and then
)

var botNames = []string{BotAda, BotBob, BotCy}

// Limits of the server.
const (
	maxFrameBytes    = 1 << 20 // read limit; larger frames close with 1009
	sendQueue        = 256     // frames queued per connection before it is dropped
	writeWait        = 10 * time.Second
	closeGrace       = time.Second // wait for the peer's close reply, then close TCP
	historyPerConv   = 500         // messages kept per conversation
	dedupPerUser     = 10000       // client_message_ids remembered per user
	maxConversations = 10000
	receivedLimit    = 100000 // frames kept for Received
)

// ErrClosed is returned by Run after Close.
var ErrClosed = errors.New("demo server closed")

// Config configures a Server. The zero value is usable.
type Config struct {
	// Tokens maps access tokens to user ids. Nil means the default map:
	// demo-token -> demo-user, ada-token -> ada, bob-token -> bob,
	// cy-token -> cy. A non-nil map is used as given (copied).
	Tokens map[string]string
	// Bots makes Run start the demo bots (ada, bob, cy). Default false.
	Bots bool
	// BotPace scales every bot timing. Zero means 1s; tests use e.g. 10ms.
	BotPace time.Duration
	// IdleTimeout closes a connection that has sent nothing (no frame, no
	// ping, no pong) for this long. Zero means 60s as in docs/PROTOCOL.md.
	IdleTimeout time.Duration
	// Logger receives connection and error logs. Nil discards them.
	Logger *slog.Logger
}

// Server is the demo chat server. Create it with New; it is an http.Handler
// (the WebSocket endpoint). All methods are safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger

	wg   sync.WaitGroup // readers, writers, Run
	done chan struct{}  // closed by Close

	mu       sync.Mutex
	closed   bool
	running  bool // Run is active
	tokens   map[string]string
	conns    map[*conn]struct{}
	byUser   map[string]map[*conn]struct{}
	presence map[string]userStatus
	convs    map[string]*conversation
	dedup    map[string]*dedupSet
	calls    map[string]*call
	nextMsg  int
	nextCall int
	dials    int
	faults   faults
	recv     received
	changed  chan struct{} // closed and replaced on every observable change
	adaInbox chan Message  // nil unless the bots run
}

// New returns a Server with cfg's zero values filled in. Nothing runs until
// a client connects or Run is called.
func New(cfg Config) *Server {
	if cfg.BotPace <= 0 {
		cfg.BotPace = time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tokens := maps.Clone(cfg.Tokens)
	if tokens == nil {
		tokens = map[string]string{DemoToken: DemoUser}
		for _, b := range botNames {
			tokens[b+"-token"] = b
		}
	}
	s := &Server{
		cfg:      cfg,
		log:      log,
		done:     make(chan struct{}),
		tokens:   tokens,
		conns:    make(map[*conn]struct{}),
		byUser:   make(map[string]map[*conn]struct{}),
		presence: make(map[string]userStatus),
		convs:    make(map[string]*conversation),
		dedup:    make(map[string]*dedupSet),
		calls:    make(map[string]*call),
		changed:  make(chan struct{}),
	}
	s.faults.audible = make(chan struct{})
	close(s.faults.audible)
	g := s.conversationLocked(General, DemoUser)
	g.title = generalName
	for _, b := range botNames {
		g.members[b] = true
	}
	return s
}

// Close ends every connection with close code 1001 (going away), stops the
// bots and waits for every goroutine the server started. Handshakes after
// Close are answered 503. Close is idempotent and always returns nil.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	close(s.done)
	conns := s.connsLocked("")
	s.notifyLocked()
	s.mu.Unlock()

	for _, c := range conns {
		c.stop(1001, "server shutting down")
	}
	waited := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-time.After(2 * closeGrace):
		// A writer stuck on a client that does not read: cut every TCP
		// connection so that Close is bounded.
		for _, c := range conns {
			c.drop()
		}
		<-waited
	}
	return nil
}

// notifyLocked wakes every waiter of WaitReceived and WaitConnections.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// connsLocked lists the connections of user, or all of them for "".
func (s *Server) connsLocked(user string) []*conn {
	var out []*conn
	if user == "" {
		for c := range s.conns {
			out = append(out, c)
		}
		return out
	}
	for c := range s.byUser[user] {
		out = append(out, c)
	}
	return out
}

// isBot reports whether user is one of the demo bots.
func isBot(user string) bool {
	for _, b := range botNames {
		if b == user {
			return true
		}
	}
	return false
}
