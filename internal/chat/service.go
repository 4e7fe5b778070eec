package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/internal/hub"
	"github.com/chatbridge/chatbridge/internal/outbox"
	"github.com/chatbridge/chatbridge/internal/ws"
)

// EventConnectionState is the event name of the bridge's own connection state on the connection topic.
const EventConnectionState = "connection.state"

// EventRaw is the event name of every frame on the raw topic.
const EventRaw = "raw"

// PingFrame is the heartbeat frame the bridge sends upstream (PROTOCOL.md, "Client -> server types").
var PingFrame = []byte(`{"type":"ping","payload":{}}`)

// Transport is what the chat layer needs from the upstream connection: *ws.Client provides it.
type Transport interface {
	// Send writes one frame upstream, or fails at once when there is no connection.
	Send(ctx context.Context, frame []byte) error
}

// Publisher is what the chat layer needs from the topics: *hub.Hub provides it.
type Publisher interface {
	Publish(topic, typ, key string, data []byte) *hub.Event
	// LastID is the id of the newest event.
	LastID() string
}

// EventMessageStatus is the event name of a sent message's delivery status on the messages topic.
const EventMessageStatus = "message.status"

// ErrOutboxFull is returned by Submit when --outbox messages already wait for the upstream.
var ErrOutboxFull = outbox.ErrFull

// Config configures a Service. Zero values take the documented defaults.
type Config struct {
	Topics    Publisher // required
	Transport Transport // required
	Logger    *slog.Logger
	// MaxCalls bounds the memory of which conversation an open call belongs to (used to filter
	// call.accepted/rejected/ended by conversation). Default 1000; the oldest is forgotten first.
	MaxCalls int
	// OutboxCapacity is how many messages may wait for the upstream. Default 1000.
	OutboxCapacity int
	// StateDir keeps the outbox in a file there, so that accepted messages survive a crash;
	// "" keeps it in memory.
	StateDir string
	// Projection bounds the snapshot state; zero values take its defaults (10000
	// conversations of 200 messages).
	Projection ProjectionConfig
	// ObserveFrame, when set, is told how long each well-formed upstream frame took from its
	// arrival to its publication on its topic (for metrics). It must not block.
	ObserveFrame func(time.Duration)
	// ObserveSend, when set, is told how long each message took from its acceptance by Submit
	// to its write upstream (every write, resends included). It must not block.
	ObserveSend func(time.Duration)
}

// Service routes upstream frames into topics and turns operations into upstream frames.
// Every method is safe for concurrent use. HandleFrame and HandleState never block on browsers.
type Service struct {
	topics Publisher
	tr     Transport
	log    *slog.Logger
	stats  *counters
	outbox *outbox.Outbox

	// pubMu makes "publish, then fold into the projection" one step, so that every snapshot's
	// event_id is exactly the last event it reflects.
	pubMu sync.Mutex
	proj  *Projection

	observeFrame, observeSend func(time.Duration)

	mu        sync.Mutex // guards callConv and callOrder
	maxCalls  int
	callConv  map[string]string
	callOrder []string
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
	s := &Service{topics: cfg.Topics, tr: cfg.Transport, log: cfg.Logger, stats: newCounters(),
		maxCalls: cfg.MaxCalls, callConv: make(map[string]string),
		observeFrame: cfg.ObserveFrame, observeSend: cfg.ObserveSend}
	cfg.Projection.Start = cfg.Topics.LastID()
	s.proj = NewProjection(cfg.Projection)
	ob, err := outbox.Open(outbox.Config{
		Sender: upstreamSender{s}, Capacity: cfg.OutboxCapacity, Dir: cfg.StateDir,
		OnUpdate: s.publishStatus, Logger: cfg.Logger,
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

// Queued is how many messages wait for the upstream (queued, or sent and not yet echoed).
func (s *Service) Queued() int { return s.outbox.Depth() }

// Snapshots is the chat state a page loads before it follows the stream. Its methods are safe
// for concurrent use and never hold up the routing of frames for long.
func (s *Service) Snapshots() *Projection { return s.proj }

// publish puts one event on its topic and folds it into the projection, as one step.
func (s *Service) publish(topic, typ, key string, data []byte) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	s.proj.Apply(s.topics.Publish(topic, typ, key, data))
}

// Outbox gives read access to the outbox, for metrics.
func (s *Service) Outbox() *outbox.Outbox { return s.outbox }

// HandleFrame takes one upstream text frame: every frame that is a JSON object with a type goes to
// the raw topic unchanged; a well-formed frame of a known type also goes to its own topic. A
// malformed frame is counted and logged without its content. HandleFrame is meant to be the
// ws.Config.OnMessage callback; it never blocks on subscribers.
func (s *Service) HandleFrame(frame []byte) {
	arrived := time.Now()
	env, err := DecodeEnvelope(frame)
	var r Routed
	known := false
	if err == nil {
		r, known, err = Route(env)
	}
	// Counted before anything is published, so that whoever sees the event sees it counted.
	switch {
	case err != nil:
		s.rejected(err, len(frame))
	case !known:
		s.stats.received("unknown")
	default:
		s.stats.received(r.Type)
	}
	if env.Type != "" {
		s.publish(TopicRaw, EventRaw, "", compact(frame))
	}
	if err != nil || !known || r.Topic == "" {
		return
	}
	if r.CallID != "" {
		r.Key = s.callKey(r)
	}
	s.publish(r.Topic, r.Type, r.Key, r.Data)
	if s.observeFrame != nil {
		s.observeFrame(time.Since(arrived))
	}
	switch v := r.Value.(type) {
	case *Message:
		if v.ClientMessageID != "" {
			s.outbox.Ack(v.ClientMessageID) // the echo is the acknowledgement
		}
	case *ErrorFrame:
		if v.Ref != "" {
			s.outbox.Fail(v.Ref, v.Code+": "+v.Message)
		}
	}
}

// MessageStatus is the data of a message.status event.
type MessageStatus struct {
	ClientMessageID string `json:"client_message_id"`
	ConversationID  string `json:"conversation_id"`
	Status          string `json:"status"`
	Error           string `json:"error,omitempty"`
}

// publishStatus is the outbox's OnUpdate: every status change goes on the messages topic.
func (s *Service) publishStatus(u outbox.Update) {
	data, _ := json.Marshal(MessageStatus{ClientMessageID: u.Message.ClientMessageID,
		ConversationID: u.Message.ConversationID, Status: string(u.Status), Error: u.Error}) // plain struct
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	e := s.topics.Publish(TopicMessages, EventMessageStatus, u.Message.ConversationID, data)
	s.proj.ApplyOwn(e, OwnMessage{ClientMessageID: u.Message.ClientMessageID,
		ConversationID: u.Message.ConversationID, Content: u.Message.Content,
		AcceptedAt: u.Message.AcceptedAt, Status: string(u.Status), Error: u.Error})
}

func (s *Service) rejected(err error, size int) {
	var m *MalformedError
	errors.As(err, &m)
	s.stats.malformed()
	s.log.Warn("malformed upstream frame", "type", m.Type, "reason", m.Reason, "bytes", size)
}

// callKey remembers the conversation of an incoming call and finds it for later call events,
// so the conversation_id filter also works for call.accepted, call.rejected and call.ended.
func (s *Service) callKey(r Routed) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.Type {
	case TypeCallIncoming:
		if _, ok := s.callConv[r.CallID]; !ok {
			s.callOrder = append(s.callOrder, r.CallID)
		}
		s.callConv[r.CallID] = r.Key
		for len(s.callOrder) > s.maxCalls {
			delete(s.callConv, s.callOrder[0])
			s.callOrder = s.callOrder[1:]
		}
		return r.Key
	case TypeCallEnded, TypeCallRejected:
		key := s.callConv[r.CallID]
		delete(s.callConv, r.CallID) // callOrder keeps the id until it ages out; harmless
		return key
	default:
		return s.callConv[r.CallID]
	}
}

// ConnectionState is the JSON form of the upstream connection state, as GET /connection and the
// connection.state event show it.
type ConnectionState struct {
	State       string     `json:"state"`
	Since       time.Time  `json:"since"`
	Attempt     int        `json:"attempt"`
	NextRetryAt *time.Time `json:"next_retry_at,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
}

// ConnectionStateOf converts a ws.Status into its JSON form.
func ConnectionStateOf(st ws.Status) ConnectionState {
	cs := ConnectionState{State: string(st.State), Since: st.Since.UTC(), Attempt: st.Attempt,
		LastError: st.LastError}
	if !st.NextRetryAt.IsZero() {
		t := st.NextRetryAt.UTC()
		cs.NextRetryAt = &t
	}
	return cs
}

// HandleState publishes a connection state change on the connection topic. It is meant to be the
// ws.Config.OnState callback.
func (s *Service) HandleState(st ws.Status) {
	data, _ := json.Marshal(ConnectionStateOf(st)) // plain struct: cannot fail
	s.publish(TopicConnection, EventConnectionState, "", data)
	s.outbox.SetConnected(st.State == ws.StateConnected)
}

// Submit accepts a chat message for delivery: it is written upstream now when the upstream is
// connected (status "sent"), else queued until it is ("queued"); it leaves the outbox when the
// upstream echoes its client_message_id. A client_message_id the bridge already holds or
// recently delivered is not sent again: Submit answers its current status ("queued", "sent",
// "delivered" or "failed"). It fails with ErrOutboxFull when the outbox is full.
func (s *Service) Submit(ctx context.Context, m OutgoingMessage) (status string, err error) {
	st, err := s.outbox.Submit(ctx, outbox.Message{ClientMessageID: m.ClientMessageID,
		ConversationID: m.ConversationID, Content: m.Content, AcceptedAt: time.Now().UTC()})
	if err != nil {
		return "", fmt.Errorf("submit message: %w", err)
	}
	return string(st), nil
}

// upstreamSender writes outbox messages upstream: the outbox's Sender.
type upstreamSender struct{ s *Service }

func (u upstreamSender) SendMessage(ctx context.Context, m outbox.Message) error {
	err := u.s.send(ctx, TypeChatMessage, OutgoingMessage{ConversationID: m.ConversationID,
		Content: m.Content, ClientMessageID: m.ClientMessageID})
	if err == nil && u.s.observeSend != nil {
		u.s.observeSend(time.Since(m.AcceptedAt))
	}
	return err
}

// SendTyping sends a typing indicator upstream. It fails at once when the upstream is not connected.
func (s *Service) SendTyping(ctx context.Context, t OutgoingTyping) error {
	return s.send(ctx, TypeTypingIndicator, t)
}

// SendCall sends a call action (TypeCallAccept, TypeCallReject or TypeCallEnd) upstream.
func (s *Service) SendCall(ctx context.Context, action string, c OutgoingCall) error {
	switch action {
	case TypeCallAccept, TypeCallReject, TypeCallEnd:
	default:
		return fmt.Errorf("send %s: not a call action", action)
	}
	if action == TypeCallAccept {
		c.Reason = ""
	}
	return s.send(ctx, action, c)
}

func (s *Service) send(ctx context.Context, typ string, payload any) error {
	frame, err := Encode(typ, payload)
	if err != nil {
		return fmt.Errorf("encode %s: %w", typ, err)
	}
	if err := s.tr.Send(ctx, frame); err != nil {
		return fmt.Errorf("send %s: %w", typ, err)
	}
	s.stats.sent(typ)
	return nil
}

// Stats returns the frame counters since the Service was made.
func (s *Service) Stats() Stats { return s.stats.snapshot() }
