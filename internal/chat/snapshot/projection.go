package snapshot

import (
	"container/list"
	"encoding/json"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/internal/dialect"
	"github.com/chatbridge/chatbridge/internal/hub"
)

// Defaults of Config.
const (
	DefaultMaxConversations = 10000
	DefaultDepth            = 200
	DefaultMaxUsers         = 10000
	DefaultMaxCalls         = 1000
	DefaultMaxMessageBytes  = 64 << 20
)

const (
	// maxOwnIDs bounds the memory of which client_message_ids this bridge sent.
	maxOwnIDs = 10000
	// maxIDLen bounds every id the projection keys a map by, and every field of presence and
	// calls (which are bounded by count, not by bytes): an event holding a longer one is ignored.
	maxIDLen = 1024
)

// Config configures a Projection. Zero values take the documented defaults.
type Config struct {
	// Start is the event id the snapshots report before any event is applied: the hub's LastID
	// when the projection was made.
	Start string
	// MaxConversations is how many conversations are kept, default 10000: the least recently
	// updated one (by the order events touched them) is dropped first, with its messages.
	MaxConversations int
	// Depth is how many recent messages are kept per conversation, default 200.
	Depth int
	// MaxUsers is how many presence entries are kept, default 10000: the least recently updated
	// one is dropped first.
	MaxUsers int
	// MaxCalls is how many open calls are kept, default 1000: the oldest is dropped first.
	MaxCalls int
	// MaxMessageBytes bounds the JSON kept for conversations, default 64 MiB: every kept message
	// (its JSON, id and client_message_id) and every conversation's own fields (id, title,
	// last_message, updated_at, unknown fields). Beyond it the oldest messages of the least
	// recently updated conversation are dropped first; a conversation left with no message is
	// dropped whole when more room is still needed. The count is of bytes held, not of Go heap
	// overhead, and a last_message is counted even when it shares its bytes with a message.
	MaxMessageBytes int
}

// Projection is the chat state a page loads before following the event stream: conversations,
// the recent messages of each, presence and open calls, each as of one event id. It is fed every
// published event, in order, by Apply (or ApplyOwn), and every snapshot it answers reflects
// exactly the events applied so far.
//
// Every method is safe for concurrent use, but the caller must call Apply and ApplyOwn in the
// events' Seq order (one at a time, under the lock it publishes with): an event that comes after
// a later one is ignored. Snapshots hold a read lock only to copy; the slices they return are the
// caller's, while the JSON bytes in them are shared with the projection and the hub's events,
// which nobody modifies: callers must not modify them either.
type Projection struct {
	cfg Config

	mu      sync.RWMutex
	eventID string
	seq     uint64

	convs    *list.List // of *conversation, front = most recently updated
	convByID map[string]*list.Element
	bytes    int // see Config.MaxMessageBytes
	msgs     int // messages kept, in all conversations

	users    *list.List // of *UserView, front = most recently updated
	userByID map[string]*list.Element

	calls    *list.List // of *CallView, front = oldest
	callByID map[string]*list.Element

	own ownSet
}

// Stats are the sizes of a Projection, for metrics and tests.
type Stats struct {
	Conversations int // conversations kept
	Messages      int // messages kept, in all conversations (own messages not echoed yet included)
	Bytes         int // bytes counted against Config.MaxMessageBytes
	Users         int // presence entries
	Calls         int // open calls
	OwnIDs        int // client_message_ids remembered as sent by this bridge
}

// NewProjection returns an empty Projection with cfg's defaults filled in.
func NewProjection(cfg Config) *Projection {
	if cfg.MaxConversations <= 0 {
		cfg.MaxConversations = DefaultMaxConversations
	}
	if cfg.Depth <= 0 {
		cfg.Depth = DefaultDepth
	}
	if cfg.MaxUsers <= 0 {
		cfg.MaxUsers = DefaultMaxUsers
	}
	if cfg.MaxCalls <= 0 {
		cfg.MaxCalls = DefaultMaxCalls
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	return &Projection{
		cfg: cfg, eventID: cfg.Start,
		convs: list.New(), convByID: make(map[string]*list.Element),
		users: list.New(), userByID: make(map[string]*list.Element),
		calls: list.New(), callByID: make(map[string]*list.Element),
		own: ownSet{ids: make(map[string]struct{}), max: maxOwnIDs},
	}
}

// Apply folds one published event in, with v the event's payload as the dialect decoded it
// (a *dialect.Message, *dialect.ConversationUpdate, *dialect.UserStatus, *dialect.CallIncoming
// or *dialect.CallEvent; anything else, nil included, is ignored). It must be called for every
// event the hub publishes, in Seq order, even for those the projection ignores, so that the
// snapshots' event id advances; an event whose Seq is not above the last one applied is
// ignored whole. Nothing is decoded again: e.Data is kept as the message's JSON.
func (p *Projection) Apply(e *hub.Event, v any) { p.apply(e, v, nil) }

// ApplyOwn is Apply for a message.status event, given the whole outgoing message it reports on
// (the event carries no content): queued and sent put a pending entry in the conversation's
// messages (once, updated in place), delivered and failed update it; the upstream's echo
// replaces it. Its concurrency contract is Apply's.
func (p *Projection) ApplyOwn(e *hub.Event, m OwnMessage) { p.apply(e, nil, &m) }

// OwnMessage is a message this bridge sends upstream, as ApplyOwn takes it.
type OwnMessage struct {
	ClientMessageID string
	ConversationID  string
	Content         string
	AcceptedAt      time.Time
	Status          string // queued, sent, delivered or failed
	Error           string // why it failed
}

// apply folds e in under the write lock.
func (p *Projection) apply(e *hub.Event, v any, own *OwnMessage) {
	if e == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Seq <= p.seq {
		return
	}
	p.seq, p.eventID = e.Seq, e.ID
	if own != nil {
		if s, ok := ownStatus(e, own); ok {
			p.foldStatus(s)
		}
		return
	}
	switch v := v.(type) {
	case *dialect.Message:
		if m, ok := projMessageOf(e, v); ok {
			p.foldMessage(m)
		}
	case *dialect.ConversationUpdate:
		if shortFields(v.ConversationID) {
			p.foldConversation(v)
		}
	case *dialect.UserStatus:
		if shortFields(v.UserID, v.Status, v.LastSeen) {
			p.foldUser(UserView(*v))
		}
	case *dialect.CallIncoming:
		if shortFields(v.CallID, v.ConversationID, v.CallerID, v.Media, v.CreatedAt) {
			p.openCall(v)
		}
	case *dialect.CallEvent:
		p.foldCallEvent(e.Type, v)
	}
}

// Conversations returns the id of the last event applied and every conversation kept, most
// recently updated first (by the order events touched them). It is safe for concurrent use.
func (p *Projection) Conversations() (eventID string, convs []ConversationView) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	convs = make([]ConversationView, 0, p.convs.Len())
	for el := p.convs.Front(); el != nil; el = el.Next() {
		convs = append(convs, el.Value.(*conversation).view.clone())
	}
	return p.eventID, convs
}

// Messages returns the id of the last event applied and the last limit messages kept of one
// conversation, oldest first (in the order they arrived); limit <= 0 or above the depth means
// the depth. found is false for a conversation never seen, or dropped. Each message is the
// chat.message payload as published (unknown fields kept; "status":"delivered" added to this
// bridge's own), or a pending own message {client_message_id, conversation_id, content, status,
// accepted_at, error?}. It is safe for concurrent use.
func (p *Projection) Messages(conversationID string, limit int) (eventID string, msgs []json.RawMessage, found bool) {
	if limit <= 0 || limit > p.cfg.Depth {
		limit = p.cfg.Depth
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	el, ok := p.convByID[conversationID]
	if !ok {
		return p.eventID, nil, false
	}
	kept := el.Value.(*conversation).msgs
	kept = kept[max(0, len(kept)-limit):]
	msgs = make([]json.RawMessage, len(kept))
	for i, m := range kept {
		msgs[i] = m.data
	}
	return p.eventID, msgs, true
}

// Stats returns the sizes of the projection now. It is safe for concurrent use.
func (p *Projection) Stats() Stats {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return Stats{Conversations: p.convs.Len(), Messages: p.msgs, Bytes: p.bytes,
		Users: p.users.Len(), Calls: p.calls.Len(), OwnIDs: len(p.own.ids)}
}

// EventID returns the id of the last event applied (Config.Start before any). It is
// safe for concurrent use.
func (p *Projection) EventID() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.eventID
}

// ownSet remembers the last max client_message_ids this bridge sent, forgetting the oldest first.
type ownSet struct {
	ids  map[string]struct{}
	ring []string
	next int
	max  int
}

func (o *ownSet) add(id string) {
	if _, ok := o.ids[id]; ok {
		return
	}
	if len(o.ring) < o.max {
		o.ring = append(o.ring, id)
	} else {
		delete(o.ids, o.ring[o.next])
		o.ring[o.next] = id
		o.next = (o.next + 1) % o.max
	}
	o.ids[id] = struct{}{}
}

func (o *ownSet) has(id string) bool {
	_, ok := o.ids[id]
	return ok
}
