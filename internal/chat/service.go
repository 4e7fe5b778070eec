package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/internal/chat/snapshot"
	"github.com/chatbridge/chatbridge/internal/dialect"
	"github.com/chatbridge/chatbridge/internal/hub"
	"github.com/chatbridge/chatbridge/internal/outbox"
)

// Event names the bridge itself publishes.
const (
	// EventConnectionState is the bridge's own connection state, on the connection topic.
	EventConnectionState = "connection.state"
	// EventMessageStatus is a sent message's delivery status, on the messages topic.
	EventMessageStatus = "message.status"
)

// Transport is what the chat layer needs from the upstream connection: *ws.Client provides it.
type Transport interface {
	// Send writes one frame upstream, or fails at once when there is no connection.
	Send(ctx context.Context, frame []byte) error
}

// Dialect is what the chat layer needs from the upstream's wire: the packages under
// internal/dialect provide it. Its methods must be safe for concurrent use.
type Dialect interface {
	// Open starts a new connection: the frames to write first, and whether it is usable at
	// once (else a later frame's Result.Ready says so).
	Open(token string) (first [][]byte, ready bool)
	// Decode decodes one frame into out, once: out's events are published as they are.
	Decode(f dialect.Frame, env dialect.Env, out *dialect.Result)
	EncodeMessage(m dialect.OutgoingMessage) ([]byte, error)
	EncodeTyping(t dialect.OutgoingTyping) ([]byte, error)
	EncodeCall(action string, c dialect.OutgoingCall) ([]byte, error)
	// Topics lists the topics the dialect publishes on, with their event names.
	Topics() []dialect.TopicInfo
}

// Publisher is what the chat layer needs from the topics: *hub.Hub provides it.
type Publisher interface {
	Publish(topic, typ, key string, data []byte) *hub.Event
	// LastID is the id of the newest event.
	LastID() string
}

// ErrOutboxFull is returned by Submit when --outbox messages already wait.
var ErrOutboxFull = outbox.ErrFull

// Config configures a Service. Zero values take the documented defaults.
type Config struct {
	Topics    Publisher // required
	Transport Transport // required
	Dialect   Dialect   // required
	Logger    *slog.Logger
	// Ack is when a sent message counts as delivered: dialect.AckEcho (default), AckWrite or
	// AckReply.
	Ack string
	// MaxCalls bounds the memory of which conversation an open call belongs to (used to filter
	// call.accepted/rejected/ended by conversation). Default 1000; the oldest is forgotten first.
	MaxCalls int
	// OutboxCapacity is how many messages may wait for the upstream. Default 1000.
	OutboxCapacity int
	// MessageTTL fails a message that waited longer, with reason "expired". Default 24h.
	MessageTTL time.Duration
	// StateDir keeps the outbox in a file there, so that accepted messages survive a crash;
	// "" keeps it in memory.
	StateDir string
	// Snapshots bounds the snapshot state; zero values take its defaults.
	Snapshots snapshot.Config
	// ObserveFrame, when set, is told how long each upstream frame that published a domain
	// event took from its arrival to its publication (for metrics). It must not block.
	ObserveFrame func(time.Duration)
	// ObserveSend, when set, is told how long each message took from its acceptance by Submit
	// to its write upstream (every write, resends included). It must not block.
	ObserveSend func(time.Duration)
}

// Service routes upstream frames into topics and turns operations into upstream frames.
// Every method is safe for concurrent use. HandleFrame and HandleState never block on browsers.
type Service struct {
	topics  Publisher
	tr      Transport
	dialect Dialect
	log     *slog.Logger
	stats   *counters
	outbox  *outbox.Outbox
	warn    *rateLog

	// pubMu makes "publish, then fold into the snapshot state" one step, so that every
	// snapshot's event_id is exactly the last event it reflects.
	pubMu sync.Mutex
	proj  *snapshot.Projection

	observeFrame, observeSend func(time.Duration)

	calls callIndex
}

// NewService returns a Service with cfg's defaults filled in, and opens its outbox: with a
// StateDir, the messages a previous run accepted and did not deliver are queued again. It fails
// when the state directory cannot be used (outbox.ErrLocked: another bridge has it).
// Run must be running for queued messages to go upstream; Close releases the outbox.
func NewService(cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.MaxCalls <= 0 {
		cfg.MaxCalls = 1000
	}
	if cfg.Dialect == nil {
		return nil, fmt.Errorf("chat: Config.Dialect is required")
	}
	s := &Service{topics: cfg.Topics, tr: cfg.Transport, dialect: cfg.Dialect, log: cfg.Logger,
		stats: newCounters(), warn: newRateLog(cfg.Logger, 10*time.Second),
		calls:        callIndex{max: cfg.MaxCalls, conv: make(map[string]string)},
		observeFrame: cfg.ObserveFrame, observeSend: cfg.ObserveSend}
	cfg.Snapshots.Start = cfg.Topics.LastID()
	s.proj = snapshot.NewProjection(cfg.Snapshots)
	ack := outbox.AckEcho
	switch cfg.Ack {
	case dialect.AckWrite:
		ack = outbox.AckWrite
	case dialect.AckReply:
		ack = outbox.AckReply
	}
	ob, err := outbox.Open(outbox.Config{
		Sender: upstreamSender{s}, Capacity: cfg.OutboxCapacity, Dir: cfg.StateDir, Ack: ack,
		TTL: cfg.MessageTTL, OnUpdate: s.publishStatus, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	s.outbox = ob
	return s, nil
}

// Run sends queued messages upstream whenever the upstream is connected. It returns when ctx is
// done, after its goroutines have ended.
func (s *Service) Run(ctx context.Context) error { return s.outbox.Run(ctx) }

// Close releases the outbox. Without a StateDir, messages still waiting are lost: Close returns
// how many. It is idempotent.
func (s *Service) Close() (lost int, err error) { return s.outbox.Close() }

// Queued is how many messages wait for the upstream (queued, or sent and not yet acknowledged).
func (s *Service) Queued() int { return s.outbox.Depth() }

// Snapshots is the chat state a page loads before it follows the stream. Its methods are safe
// for concurrent use and never hold up the routing of frames for long.
func (s *Service) Snapshots() *snapshot.Projection { return s.proj }

// Outbox gives read access to the outbox, for metrics.
func (s *Service) Outbox() *outbox.Outbox { return s.outbox }

// publish puts one event on its topic and folds it, with its decoded value, into the snapshot
// state, as one step.
func (s *Service) publish(topic, typ, key string, data []byte, value any) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	s.proj.Apply(s.topics.Publish(topic, typ, key, data), value)
}

// MessageStatus is the data of a message.status event.
type MessageStatus struct {
	ClientMessageID string `json:"client_message_id"`
	ConversationID  string `json:"conversation_id"`
	Status          string `json:"status"`
	Error           string `json:"error,omitempty"`
	// Attempt counts the writes of the message so far: above 1 on a resend, which the upstream
	// may show twice unless it de-duplicates by client_message_id.
	Attempt int `json:"attempt,omitempty"`
}

// publishStatus is the outbox's OnUpdate: every status change goes on the messages topic.
func (s *Service) publishStatus(u outbox.Update) {
	ms := MessageStatus{ClientMessageID: u.Message.ClientMessageID,
		ConversationID: u.Message.ConversationID, Status: string(u.Status), Error: u.Error}
	if u.Status == outbox.StatusSent && u.Attempt > 1 {
		ms.Attempt = u.Attempt
		s.stats.resent()
	}
	data, _ := json.Marshal(ms) // plain struct: cannot fail
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	e := s.topics.Publish(dialect.TopicMessages, EventMessageStatus, u.Message.ConversationID, data)
	s.proj.ApplyOwn(e, snapshot.OwnMessage{ClientMessageID: u.Message.ClientMessageID,
		ConversationID: u.Message.ConversationID, Content: u.Message.Content,
		AcceptedAt: u.Message.AcceptedAt, Status: string(u.Status), Error: u.Error})
}

// Stats returns the frame counters since the Service was made.
func (s *Service) Stats() Stats { return s.stats.snapshot() }
