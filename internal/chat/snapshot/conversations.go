package snapshot

import (
	"container/list"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/chatbridge/chatbridge/internal/dialect"
	"github.com/chatbridge/chatbridge/internal/hub"
)

// ConversationView is one conversation as the conversations snapshot shows it: the fields of
// conversation.update as last known. A value returned by Projection.Conversations is the
// caller's, but the bytes of LastMessage and of Extra's values are shared and must not be modified.
type ConversationView struct {
	ConversationID string          `json:"conversation_id"`
	Title          string          `json:"title,omitempty"`
	LastMessage    json.RawMessage `json:"last_message,omitempty"`
	UnreadCount    int             `json:"unread_count"`
	UpdatedAt      string          `json:"updated_at,omitempty"`
	// Extra holds the fields of conversation.update the protocol does not name, merged: a
	// later value of a key replaces the earlier one. MarshalJSON writes them after the others.
	Extra map[string]json.RawMessage `json:"-"`
}

// MarshalJSON writes the known fields, then Extra's in key order. It is safe for concurrent use
// on a value nobody modifies.
func (v ConversationView) MarshalJSON() ([]byte, error) {
	type plain ConversationView // without this method
	b, err := json.Marshal(plain(v))
	if err != nil || len(v.Extra) == 0 {
		return b, err
	}
	b = b[:len(b)-1] // reopen the object
	for _, k := range slices.Sorted(maps.Keys(v.Extra)) {
		key, _ := json.Marshal(k) // a string: cannot fail
		b = append(append(append(append(b, ','), key...), ':'), v.Extra[k]...)
	}
	return append(b, '}'), nil
}

func (v ConversationView) clone() ConversationView {
	v.Extra = maps.Clone(v.Extra)
	return v
}

// conversation is one kept conversation. Guarded by Projection.mu.
type conversation struct {
	view       ConversationView
	extraBytes int // of view.Extra's keys and values
	size       int // of view, as counted in Projection.bytes
	msgBytes   int // of msgs, as counted in Projection.bytes
	msgs       []*entry
	byID       map[string]*entry // by message id, for de-duplication
	byCMID     map[string]*entry // by client_message_id, the newest entry holding it
}

// entry is one kept message: a chat.message payload, or an own message not echoed yet.
type entry struct {
	id        string // message id; "" while pending
	cmid      string // client_message_id; "" when none
	data      json.RawMessage
	hasStatus bool         // data holds a "status" field
	pending   *pendingJSON // non-nil until the upstream echoes the message
	size      int          // as counted in Projection.bytes
}

func (e *entry) measure() int {
	n := len(e.data) + len(e.id) + len(e.cmid)
	if e.pending != nil {
		n += len(e.pending.Content)
	}
	return n
}

// projMessage is a decoded chat.message event.
type projMessage struct {
	id, conv, cmid, updatedAt string
	hasStatus                 bool
	data                      json.RawMessage
}

// projMessageOf is a chat.message event as the projection keeps it; false when an id is too
// long to key a map by.
func projMessageOf(e *hub.Event, v *dialect.Message) (projMessage, bool) {
	if !shortFields(v.ID, v.ConversationID, v.ClientMessageID) {
		return projMessage{}, false
	}
	m := projMessage{id: v.ID, conv: v.ConversationID, cmid: v.ClientMessageID,
		updatedAt: v.CreatedAt, hasStatus: len(v.Status) > 0, data: e.Data}
	if _, err := time.Parse(time.RFC3339Nano, v.CreatedAt); err != nil {
		m.updatedAt = e.At.UTC().Format(time.RFC3339Nano)
	}
	return m, true
}

// foldMessage appends a chat.message (once per message id) and updates its conversation.
func (p *Projection) foldMessage(m projMessage) {
	if el, ok := p.convByID[m.conv]; ok && el.Value.(*conversation).byID[m.id] != nil {
		return // a resend
	}
	c := p.touch(m.conv)
	var pending *entry
	if en := c.byCMID[m.cmid]; m.cmid != "" && en != nil && en.pending != nil {
		pending = en
	}
	own := m.cmid != "" && (pending != nil || p.own.has(m.cmid))
	data, hasStatus := m.data, m.hasStatus
	if own && !hasStatus {
		data, hasStatus = withStatus(data, statusDelivered), true
	}
	if en := pending; en != nil {
		// The echo of an own message: it takes the pending entry's place.
		en.id, en.data, en.hasStatus, en.pending = m.id, data, hasStatus, nil
		c.byID[m.id] = en
		p.resizeEntry(c, en)
	} else {
		p.push(c, &entry{id: m.id, cmid: m.cmid, data: data, hasStatus: hasStatus})
	}
	c.view.LastMessage, c.view.UpdatedAt = m.data, m.updatedAt
	if !own {
		c.view.UnreadCount++
	}
	p.resizeConv(c)
	p.trim()
}

// touch returns the conversation id, made most recently updated; a new one is created, and the
// least recently updated ones dropped beyond MaxConversations.
func (p *Projection) touch(id string) *conversation {
	if el, ok := p.convByID[id]; ok {
		p.convs.MoveToFront(el)
		return el.Value.(*conversation)
	}
	c := &conversation{view: ConversationView{ConversationID: id}}
	p.resizeConv(c)
	p.convByID[id] = p.convs.PushFront(c)
	for p.convs.Len() > p.cfg.MaxConversations {
		p.dropConv(p.convs.Back())
	}
	return c
}

// push appends en to c's messages, dropping the oldest beyond Depth.
func (p *Projection) push(c *conversation, en *entry) {
	if c.byID == nil {
		c.byID, c.byCMID = make(map[string]*entry), make(map[string]*entry)
	}
	c.msgs = append(c.msgs, en)
	if en.id != "" {
		c.byID[en.id] = en
	}
	if en.cmid != "" {
		c.byCMID[en.cmid] = en
	}
	p.msgs++
	p.resizeEntry(c, en)
	for len(c.msgs) > p.cfg.Depth {
		p.dropOldest(c)
	}
}

func (p *Projection) resizeEntry(c *conversation, en *entry) {
	n := en.measure()
	c.msgBytes += n - en.size
	p.bytes += n - en.size
	en.size = n
}

func (p *Projection) resizeConv(c *conversation) {
	v := &c.view
	n := len(v.ConversationID) + len(v.Title) + len(v.LastMessage) + len(v.UpdatedAt) + c.extraBytes
	p.bytes += n - c.size
	c.size = n
}

func (p *Projection) dropOldest(c *conversation) {
	en := c.msgs[0]
	c.msgs[0] = nil
	c.msgs = c.msgs[1:]
	if len(c.msgs) == 0 {
		c.msgs = nil // release the backing array
	}
	if c.byID[en.id] == en {
		delete(c.byID, en.id)
	}
	if c.byCMID[en.cmid] == en {
		delete(c.byCMID, en.cmid)
	}
	c.msgBytes -= en.size
	p.bytes -= en.size
	p.msgs--
}

func (p *Projection) dropConv(el *list.Element) {
	c := p.convs.Remove(el).(*conversation)
	delete(p.convByID, c.view.ConversationID)
	p.bytes -= c.size + c.msgBytes
	p.msgs -= len(c.msgs)
}

// trim drops the oldest messages of the least recently updated conversations, and then the
// conversations themselves, until the bytes kept are within MaxMessageBytes.
func (p *Projection) trim() {
	for p.bytes > p.cfg.MaxMessageBytes && p.convs.Len() > 0 {
		el := p.convs.Back()
		if c := el.Value.(*conversation); len(c.msgs) > 0 {
			p.dropOldest(c)
		} else {
			p.dropConv(el)
		}
	}
}

// withStatus returns a copy of the JSON object obj with a "status" field added at its end (obj
// itself when it is not an object).
func withStatus(obj json.RawMessage, status string) json.RawMessage {
	body := trimJSONSpace(obj)
	if len(body) < 2 || body[len(body)-1] != '}' {
		return obj
	}
	body = trimJSONSpace(body[:len(body)-1]) // without the closing brace
	if len(body) == 0 {
		return obj
	}
	out := make([]byte, 0, len(body)+len(`,"status":""}`)+len(status))
	out = append(out, body...)
	if body[len(body)-1] != '{' {
		out = append(out, ',')
	}
	out = append(out, `"status":"`...)
	out = append(out, status...) // one of ours: nothing to escape
	return append(out, `"}`...)
}

func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
