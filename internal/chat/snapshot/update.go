package snapshot

import (
	"encoding/json"
	"time"

	"github.com/chatbridge/chatbridge/internal/dialect"
	"github.com/chatbridge/chatbridge/internal/hub"
	"github.com/chatbridge/chatbridge/internal/outbox"
)

// foldConversation creates or merges a conversation: present fields replace, absent ones stay.
func (p *Projection) foldConversation(u *dialect.ConversationUpdate) {
	c := p.touch(u.ConversationID)
	v := &c.view
	if u.Title != nil {
		v.Title = *u.Title
	}
	if u.LastMessage != nil {
		v.LastMessage = u.LastMessage
	}
	if u.UnreadCount != nil {
		v.UnreadCount = *u.UnreadCount
	}
	if u.UpdatedAt != nil {
		v.UpdatedAt = *u.UpdatedAt
	}
	for k, val := range u.Extra {
		if v.Extra == nil {
			v.Extra = make(map[string]json.RawMessage)
		}
		if old, ok := v.Extra[k]; ok {
			c.extraBytes -= len(k) + len(old)
		}
		v.Extra[k] = val
		c.extraBytes += len(k) + len(val)
	}
	p.resizeConv(c)
	p.trim()
}

// Statuses of an own message: the outbox's, as the message.status events carry them.
const (
	statusQueued    = string(outbox.StatusQueued)
	statusSent      = string(outbox.StatusSent)
	statusDelivered = string(outbox.StatusDelivered)
	statusFailed    = string(outbox.StatusFailed)
)

// pendingJSON is the snapshot form of an own message the upstream has not echoed yet.
type pendingJSON struct {
	ClientMessageID string `json:"client_message_id"`
	ConversationID  string `json:"conversation_id"`
	Content         string `json:"content"`
	Status          string `json:"status"`
	Error           string `json:"error,omitempty"`
	AcceptedAt      string `json:"accepted_at"`
}

// projStatus is a message.status event with the whole own message it reports on.
type projStatus struct {
	pendingJSON
}

// ownStatus is the status event e of the own message own, as the projection keeps it; false
// for a status it does not know or an id too long to key a map by.
func ownStatus(e *hub.Event, own *OwnMessage) (projStatus, bool) {
	s := projStatus{pendingJSON{ClientMessageID: own.ClientMessageID, ConversationID: own.ConversationID,
		Content: own.Content, Status: own.Status, Error: own.Error,
		AcceptedAt: own.AcceptedAt.UTC().Format(time.RFC3339Nano)}}
	if own.AcceptedAt.IsZero() {
		s.AcceptedAt = e.At.UTC().Format(time.RFC3339Nano)
	}
	if s.ConversationID == "" {
		s.ConversationID = e.Key
	}
	if s.Status != statusFailed {
		s.Error = ""
	}
	switch s.Status {
	case statusQueued, statusSent, statusDelivered, statusFailed:
	default:
		return projStatus{}, false
	}
	if s.ClientMessageID == "" || s.ConversationID == "" || !shortFields(s.ClientMessageID, s.ConversationID) {
		return projStatus{}, false
	}
	return s, true
}

// foldStatus remembers an own client_message_id and updates, or (with the content) adds, its
// entry in the conversation's messages.
func (p *Projection) foldStatus(s projStatus) {
	p.own.add(s.ClientMessageID)
	var c *conversation
	var en *entry
	if el, ok := p.convByID[s.ConversationID]; ok {
		c = el.Value.(*conversation)
		en = c.byCMID[s.ClientMessageID]
	}
	switch {
	case en != nil && en.pending != nil:
		pj := *en.pending
		pj.Status, pj.Error, pj.Content = s.Status, s.Error, s.Content
		p.setPending(c, en, &pj)
	case en != nil: // already echoed: the echo is the message, only its status is ours
		if s.Status == statusDelivered && !en.hasStatus {
			en.data, en.hasStatus = withStatus(en.data, statusDelivered), true
			p.resizeEntry(c, en)
		}
	case s.Status != statusDelivered:
		// delivered without an entry: its echo was dropped (or never seen); nothing to show.
		pj := s.pendingJSON
		data, _ := json.Marshal(&pj) // plain struct of strings: cannot fail
		p.push(p.touch(s.ConversationID), &entry{cmid: s.ClientMessageID, data: data,
			hasStatus: true, pending: &pj})
	}
	p.trim()
}

// setPending gives a pending entry its (new) content and status.
func (p *Projection) setPending(c *conversation, en *entry, pj *pendingJSON) {
	data, _ := json.Marshal(pj) // plain struct of strings: cannot fail
	en.pending, en.data, en.hasStatus = pj, data, true
	p.resizeEntry(c, en)
}
