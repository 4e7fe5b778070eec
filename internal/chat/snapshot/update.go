package chat

import (
	"cmp"
	"encoding/json"
	"time"

	"github.com/chatbridge/chatbridge/internal/hub"
	"github.com/chatbridge/chatbridge/internal/outbox"
)

// projConversation is a decoded conversation.update event: nil (or empty) for absent fields.
type projConversation struct {
	id        string
	title     *string
	last      json.RawMessage
	unread    *int
	updatedAt *string
	extra     map[string]json.RawMessage
}

// decodeProjConversation decodes a conversation.update payload; a field that is null counts as
// absent.
func decodeProjConversation(data []byte) (projConversation, bool) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return projConversation{}, false
	}
	var u projConversation
	for k, v := range fields {
		if k != "conversation_id" && string(v) == "null" {
			continue
		}
		var err error
		switch k {
		case "conversation_id":
			err = json.Unmarshal(v, &u.id)
		case "title":
			err = json.Unmarshal(v, &u.title)
		case "unread_count":
			err = json.Unmarshal(v, &u.unread)
		case "updated_at":
			err = json.Unmarshal(v, &u.updatedAt)
		case "last_message":
			if v[0] != '{' {
				return projConversation{}, false
			}
			u.last = v
		default:
			if u.extra == nil {
				u.extra = make(map[string]json.RawMessage)
			}
			u.extra[k] = v
		}
		if err != nil {
			return projConversation{}, false
		}
	}
	if u.id == "" || len(u.id) > maxIDLen || (u.unread != nil && *u.unread < 0) {
		return projConversation{}, false
	}
	return u, true
}

// foldConversation creates or merges a conversation: present fields replace, absent ones stay.
func (p *Projection) foldConversation(u projConversation) {
	c := p.touch(u.id)
	v := &c.view
	if u.title != nil {
		v.Title = *u.title
	}
	if u.last != nil {
		v.LastMessage = u.last
	}
	if u.unread != nil {
		v.UnreadCount = *u.unread
	}
	if u.updatedAt != nil {
		v.UpdatedAt = *u.updatedAt
	}
	for k, val := range u.extra {
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

// projStatus is a decoded message.status event; full when ApplyOwn gave the content.
type projStatus struct {
	pendingJSON
	full bool
}

// decodeProjStatus reads a message.status event's data, completed by own when ApplyOwn gave it.
func decodeProjStatus(e *hub.Event, own *OwnMessage) (projStatus, bool) {
	var ms MessageStatus
	if json.Unmarshal(e.Data, &ms) != nil && own == nil {
		return projStatus{}, false
	}
	s := projStatus{pendingJSON: pendingJSON{ClientMessageID: ms.ClientMessageID,
		ConversationID: ms.ConversationID, Status: ms.Status, Error: ms.Error}}
	if own != nil {
		s.full, s.Content = true, own.Content
		s.AcceptedAt = own.AcceptedAt.UTC().Format(time.RFC3339Nano)
		if own.AcceptedAt.IsZero() {
			s.AcceptedAt = e.At.UTC().Format(time.RFC3339Nano)
		}
		s.ClientMessageID = cmp.Or(own.ClientMessageID, s.ClientMessageID)
		s.ConversationID = cmp.Or(own.ConversationID, s.ConversationID)
		s.Status = cmp.Or(own.Status, s.Status)
		s.Error = cmp.Or(own.Error, s.Error)
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
	if s.ClientMessageID == "" || s.ConversationID == "" ||
		len(s.ClientMessageID) > maxIDLen || len(s.ConversationID) > maxIDLen {
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
		pj.Status, pj.Error = s.Status, s.Error
		if s.full {
			pj.Content = s.Content
		}
		p.setPending(c, en, &pj)
	case en != nil: // already echoed: the echo is the message, only its status is ours
		if s.Status == statusDelivered && !en.hasStatus {
			en.data, en.hasStatus = withStatus(en.data, statusDelivered), true
			p.resizeEntry(c, en)
		}
	case s.full && s.Status != statusDelivered:
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
