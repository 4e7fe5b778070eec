// Package outbox holds the chat messages the bridge accepted (202) until the
// upstream acknowledged them, so that each one is delivered upstream exactly
// once, whatever happens to the upstream connection or the bridge process.
//
// A message is submitted once (Submit), written upstream by the single
// flusher goroutine (Run) in Submit order whenever the upstream is connected
// (SetConnected), and stays in the outbox until the upstream acknowledges it
// (Ack: an echo or the dialect's reply; with AckWrite the write itself) or
// refuses it (Fail), until it waited longer than the TTL (failed, "expired"), or
// until it is cancelled (Cancel). A message written but not acknowledged when
// the connection drops is written again, with the same client_message_id, after
// the next connect (the upstream de-duplicates by that id; the sent Update says
// which attempt it is).
//
// The outbox never jams on one message. When a connection breaks while messages
// were written and not acknowledged (Down), those become suspects: after the
// reconnect each is written alone and acknowledged before the next goes, so
// that a message the upstream refuses for good (it closes with 1009 or 1007
// right after it, or breaks right after it three times in a row) is failed with
// the reason and the others go on. A message not acknowledged within AckTimeout
// stops holding a place in the write window, so that an upstream that never
// answers slows the flusher down but cannot stop it.
//
// Ids of delivered and failed messages are remembered (bounded), so that a
// repeated Submit answers the current status and sends nothing.
//
// With Config.Dir the outbox lives in Dir/outbox.db (bbolt): every accepted
// message is committed to disk before Submit returns, and a bridge killed with
// SIGKILL finds its waiting messages, in order, and its remembered ids at the
// next Open. Without Dir it lives in memory and Close reports what was lost.
//
// Concurrency: every method is safe for concurrent use. The outbox starts no
// goroutine of its own: Run is the flusher, run by the owner.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Message is one chat message to deliver upstream. It is a plain value, safe
// to copy and to use from any goroutine.
type Message struct {
	ClientMessageID string    `json:"client_message_id"`
	ConversationID  string    `json:"conversation_id"`
	Content         string    `json:"content"`
	AcceptedAt      time.Time `json:"accepted_at"`
}

// Status is where a message stands.
type Status string

// The statuses of a message. A message moves queued -> sent (-> sent again on
// a resend) -> delivered or failed.
const (
	StatusQueued    Status = "queued"    // accepted, not yet written on the current connection
	StatusSent      Status = "sent"      // written upstream, not yet acknowledged
	StatusDelivered Status = "delivered" // the upstream echoed it
	StatusFailed    Status = "failed"    // refused, expired or cancelled; Update.Error says which
)

// Ack is when a written message counts as delivered.
type Ack int

const (
	// AckEcho (the default): when Ack is called for it (the upstream echoed it).
	AckEcho Ack = iota
	// AckReply: when Ack is called for it (the upstream's own acknowledgement); as
	// AckEcho for the outbox.
	AckReply
	// AckWrite: as soon as it is written; Ack is then a no-op for it.
	AckWrite
)

// Reasons of a failed Update that the outbox itself decides.
const (
	ReasonExpired   = "expired"
	ReasonCancelled = "cancelled"
)

// Update is one status change of a message. Error is set only for
// StatusFailed. For a remembered (delivered or failed) message, Message.Content
// is empty: only ids and metadata are kept. Update is a plain value, safe to
// copy.
type Update struct {
	Message Message `json:"message"`
	Status  Status  `json:"status"`
	Error   string  `json:"error,omitempty"`
	// Attempt is the number of this write, on a sent Update (above 1 for a resend).
	Attempt int `json:"-"`
}

// Sender writes one message upstream. SendMessage returns once the message is
// written (or failed); it must fail fast when the upstream is not connected. An
// error matching ErrRefused fails the message for good; any other is taken as
// the connection going, and the message is written again later.
// The outbox calls it from the Run goroutine only, one call at a time.
type Sender interface {
	SendMessage(ctx context.Context, m Message) error
}

// Config configures an Outbox. Zero fields get the documented defaults in
// Open; negative numbers are rejected.
type Config struct {
	// Sender writes messages upstream. Required.
	Sender Sender
	// Capacity is how many messages may wait (queued, or sent and not yet
	// acknowledged). Default 1000 (--outbox). Messages loaded from Dir are
	// all kept even when they exceed it; Submit refuses until there is room.
	Capacity int
	// Dir is the state directory. "" keeps the outbox in memory only; else it
	// lives in Dir/outbox.db (Dir is created 0700, the file 0600), and Submit
	// returns only after the message is committed (fsynced) there.
	Dir string
	// Ack is when a written message counts as delivered. Default AckEcho.
	Ack Ack
	// Window is how many messages the flusher may have written on the
	// current connection and not yet seen acknowledged before it waits for an
	// acknowledgement. Default 64. It keeps a large backlog from flooding the
	// upstream, which may drop a client whose answers it cannot send fast enough
	// (the demo server drops one 256 frames behind; each message costs two).
	Window int
	// AckTimeout is how long a written message holds its place in the window
	// while no acknowledgement comes; then it waits on outside the window (it is
	// still acknowledged, or written again after a reconnect). Default 30s.
	AckTimeout time.Duration
	// TTL fails a message that waited longer than this since it was accepted,
	// with ReasonExpired (one written on the current connection is left to its
	// acknowledgement). Default 24h.
	TTL time.Duration
	// Remember is how many delivered or failed ids are remembered for
	// idempotency, oldest forgotten first. Default 10000. Persisted with Dir.
	Remember int
	// OnUpdate gets every status change, in order per message (and in one
	// global order), from whichever goroutine of the outbox's callers happens
	// to deliver it, never two calls at once. It must not block; it may call
	// the Outbox's methods. Nil means no updates.
	OnUpdate func(Update)
	// Logger receives the outbox's logs. Nil discards them.
	Logger *slog.Logger
}

// Defaults filled in by Open for zero Config fields.
const (
	DefaultCapacity   = 1000
	DefaultWindow     = 64
	DefaultRemember   = 10000
	DefaultAckTimeout = 30 * time.Second
	DefaultTTL        = 24 * time.Hour
)

// strikesToFail is how many connections in a row may break right after a
// message before it is failed.
const strikesToFail = 3

var (
	// ErrFull is returned by Submit when Capacity messages already wait.
	ErrFull = errors.New("outbox full")
	// ErrLocked is returned (wrapped, check with errors.Is) by Open when
	// another process, or another open Outbox in this one, holds the state
	// directory (bbolt's file lock, waited for 200ms). The error reads "state dir DIR is in use by another
	// bridge".
	ErrLocked = errors.New("in use by another bridge")
	// ErrClosed is returned by Submit and Run after Close.
	ErrClosed = errors.New("outbox closed")
	// ErrRunning is returned by Run while another Run is active.
	ErrRunning = errors.New("outbox: Run is already active")
	// ErrStorage is matched (errors.Is) by the error of Submit when the state file could not
	// take the message (a full disk, a failing device): the message was not accepted.
	ErrStorage = errors.New("the state file cannot be written")
	// ErrRefused, matched (errors.Is) by an error of Sender.SendMessage, says the message can
	// never be sent (the upstream cannot take it): it fails with that error's text, and the
	// next one goes.
	ErrRefused = errors.New("the upstream cannot take this message")
	// ErrUnknown is returned by Cancel for an id the outbox neither holds nor
	// remembers.
	ErrUnknown = errors.New("no such message")
	// ErrDone is returned (wrapped, naming the status) by Cancel for a message
	// that was delivered or failed already.
	ErrDone = errors.New("message no longer waiting")
)

// Outbox is the queue of accepted messages. Create it with Open. All its
// methods are safe for concurrent use; Run is its flusher, and with Dir a
// committer goroutine (commit.go) writes the state file until Close.
type Outbox struct {
	cfg   Config
	log   *slog.Logger
	store *store // nil in memory-only mode

	// wmu serialises mutations that persist (Submit, Ack, Fail, Close), so the
	// disk order (the order of the committer's ops) is the memory order; it is
	// taken before mu, and never held by the flusher. Reads and the flusher only
	// take mu. Nobody holds it across a commit.
	wmu     sync.Mutex
	commits *committer // with Dir

	mu        sync.Mutex
	q         queue          // waiting messages in Submit order
	pending   map[string]*op // with Dir: Submits whose message is being committed, by id
	done      memory         // remembered delivered/failed ids
	cursor    *entry         // next entry to write on this connection; nil = caught up
	gen       uint64         // connection generation: bumped on every connect and disconnect
	unacked   int            // entries written on generation gen, not yet acknowledged, in the window
	inflight  []*entry       // those entries, in write order (removed or stale ones skipped lazily)
	probe     *entry         // a suspect written alone on generation gen, awaiting its acknowledgement
	connected bool           // the latest SetConnected
	running   bool           // Run is active
	ran       bool           // a Run has returned and none is active: nobody flushes
	closed    bool           // Close was called
	stalled   bool           // a write failed on generation stallGen; wait for a change
	stallGen  uint64         // generation of the failed write
	writing   bool           // the flusher is inside SendMessage
	idle      sync.Cond      // on mu: signalled when writing ends
	halt      chan struct{}  // closed whenever the flusher cannot write (wakes Submit waiters)
	halted    bool           // halt is closed
	wake      chan struct{}  // buffered 1: pokes the flusher
	closedCh  chan struct{}  // closed by Close

	ups updates // OnUpdate delivery, in order

	storeFailing atomic.Bool // the last status change could not be stored (logged once)
}

// Open creates an Outbox. With cfg.Dir it opens (creating it if needed)
// Dir/outbox.db and loads the waiting messages, in order, as queued, and the
// remembered ids; no Update is emitted for them. It fails with ErrLocked
// (wrapped) when the directory is in use by another bridge.
func Open(cfg Config) (*Outbox, error) {
	if cfg.Sender == nil {
		return nil, errors.New("open outbox: Config.Sender is required")
	}
	if cfg.Capacity < 0 {
		return nil, fmt.Errorf("open outbox: capacity %d is negative", cfg.Capacity)
	}
	if cfg.Window < 0 {
		return nil, fmt.Errorf("open outbox: window %d is negative", cfg.Window)
	}
	if cfg.Remember < 0 {
		return nil, fmt.Errorf("open outbox: remember %d is negative", cfg.Remember)
	}
	if cfg.AckTimeout < 0 || cfg.TTL < 0 {
		return nil, errors.New("open outbox: AckTimeout and TTL must not be negative")
	}
	if cfg.AckTimeout == 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = DefaultCapacity
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Remember == 0 {
		cfg.Remember = DefaultRemember
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := &Outbox{
		cfg:      cfg,
		log:      log,
		q:        newQueue(),
		pending:  make(map[string]*op),
		done:     newMemory(cfg.Remember),
		halt:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
		closedCh: make(chan struct{}),
		ups:      updates{fn: cfg.OnUpdate},
	}
	o.idle.L = &o.mu
	close(o.halt) // not live until connected
	o.halted = true
	if cfg.Dir == "" {
		return o, nil
	}
	st, loaded, err := openStore(cfg.Dir, cfg.Remember, log)
	if err != nil {
		return nil, err
	}
	o.store = st
	for _, r := range loaded.done {
		o.done.add(r)
	}
	for _, s := range loaded.queue {
		o.q.push(&entry{msg: s.msg, seq: s.seq, status: StatusQueued})
	}
	if n := o.q.len(); n > 0 {
		log.Info("outbox loaded", "queued", n, "remembered", o.done.len())
	}
	o.startCommitter()
	return o, nil
}

// Close closes the outbox: Submit then fails with ErrClosed, Run returns, and
// waiting Submit calls return. In memory-only mode lost is the number of
// messages still waiting, which are gone (the caller logs them); with Dir lost
// is 0 (they are kept for the next Open) and the file is closed. Close is
// idempotent; later calls return 0, nil.
func (o *Outbox) Close() (lost int, err error) {
	o.wmu.Lock()
	defer o.wmu.Unlock()
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return 0, nil
	}
	o.closed = true
	close(o.closedCh)
	o.liveLocked()
	if o.store == nil {
		lost = o.q.len()
	}
	o.mu.Unlock()
	if o.store != nil {
		o.commits.stop() // what is enqueued is committed first
		if err := o.store.close(); err != nil {
			return 0, fmt.Errorf("close outbox: %w", err)
		}
	}
	return lost, nil
}

// Known reports whether the outbox holds or remembers a message with this id:
// whether this bridge sent it (as far as it remembers). It is safe for
// concurrent use.
func (o *Outbox) Known(clientMessageID string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.lookupLocked(clientMessageID)
	return ok
}

// lookup returns the current status of the message with this id, waiting or
// remembered.
func (o *Outbox) lookup(id string) (Update, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lookupLocked(id)
}

func (o *Outbox) lookupLocked(id string) (Update, bool) {
	if e := o.q.get(id); e != nil {
		return Update{Message: e.msg, Status: e.status}, true
	}
	return o.done.get(id)
}

// Depth returns how many messages wait (queued, or sent and not yet
// acknowledged). It is safe for concurrent use.
func (o *Outbox) Depth() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.q.len()
}

// Oldest returns the AcceptedAt of the oldest waiting message, false when none
// waits. It is safe for concurrent use.
func (o *Outbox) Oldest() (time.Time, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.q.head == nil {
		return time.Time{}, false
	}
	return o.q.head.msg.AcceptedAt, true
}
