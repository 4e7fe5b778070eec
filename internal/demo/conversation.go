package demo

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// conversation is one chat room. It is guarded by Server.mu.
type conversation struct {
	id, title string
	members   map[string]bool
	messages  []Message // the last historyPerConv, oldest first
	updatedAt time.Time
	unread    map[string]int // per member: messages from others since the member last posted
}

// conversationLocked returns the conversation id, creating it with member as
// its first member (and the id as its title) when it does not exist yet.
func (s *Server) conversationLocked(id, member string) *conversation {
	if c, ok := s.convs[id]; ok {
		return c
	}
	c := &conversation{
		id:        id,
		title:     id,
		members:   map[string]bool{member: true},
		updatedAt: time.Now().UTC().Truncate(time.Millisecond),
		unread:    make(map[string]int),
	}
	s.convs[id] = c
	return c
}

// update is the conversation.update payload as member sees it.
func (c *conversation) update(member string) conversationUpdate {
	u := conversationUpdate{
		ConversationID: c.id,
		Title:          c.title,
		UnreadCount:    c.unread[member],
		UpdatedAt:      c.updatedAt,
	}
	if n := len(c.messages); n > 0 {
		last := c.messages[n-1]
		u.LastMessage = &last
	}
	return u
}

// dedupSet remembers the last dedupPerUser messages of one user by their
// client_message_id, oldest evicted first.
type dedupSet struct {
	byID  map[string]Message
	order []string // ring of ids in byID
	next  int      // oldest slot once the ring is full
}

func (d *dedupSet) add(m Message) {
	if len(d.order) < dedupPerUser {
		d.order = append(d.order, m.ClientMessageID)
	} else {
		delete(d.byID, d.order[d.next])
		d.order[d.next] = m.ClientMessageID
		d.next = (d.next + 1) % dedupPerUser
	}
	d.byID[m.ClientMessageID] = m
}

// errTooManyConversations refuses a message that would create one more
// conversation than maxConversations.
var errTooManyConversations = errors.New("too many conversations")

// postLocked is the one path of every chat.message, from clients and bots.
// A new (sender, clientID) pair gets an id and is broadcast as chat.message
// to every member's connections, the sender's included, followed by a
// conversation.update to each member; posting joins the sender to the
// conversation. A clientID seen before from the same sender is not posted
// again: postLocked returns the original message and dup = true, and the
// caller re-sends the original echo to whoever needs it.
func (s *Server) postLocked(sender, convID, content, clientID string) (m Message, dup bool, err error) {
	d := s.dedup[sender]
	if d == nil {
		d = &dedupSet{byID: make(map[string]Message)}
		s.dedup[sender] = d
	}
	if orig, ok := d.byID[clientID]; ok {
		return orig, true, nil
	}
	if _, ok := s.convs[convID]; !ok && len(s.convs) >= maxConversations {
		return Message{}, false, fmt.Errorf("create conversation %q: %w", convID, errTooManyConversations)
	}
	conv := s.conversationLocked(convID, sender)
	conv.members[sender] = true

	s.nextMsg++
	now := time.Now().UTC().Truncate(time.Millisecond)
	m = Message{
		ID:              "m" + strconv.Itoa(s.nextMsg),
		ConversationID:  convID,
		SenderID:        sender,
		Content:         content,
		CreatedAt:       now,
		ClientMessageID: clientID,
	}
	d.add(m)
	conv.messages = append(conv.messages, m)
	if len(conv.messages) > historyPerConv {
		conv.messages = conv.messages[len(conv.messages)-historyPerConv:]
	}
	conv.updatedAt = now
	for member := range conv.members {
		if member == sender {
			conv.unread[member] = 0
		} else {
			conv.unread[member]++
		}
	}

	frame := mustEncode("chat.message", m)
	s.sendMembersLocked(conv, frame, "")
	for member := range conv.members {
		upd := mustEncode("conversation.update", conv.update(member))
		for c := range s.byUser[member] {
			c.enqueueLocked(upd)
		}
	}
	if convID == General && !isBot(sender) && s.adaInbox != nil {
		select {
		case s.adaInbox <- m:
		default: // ada is busy; she skips this one
		}
	}
	return m, false, nil
}

// typingLocked relays a typing.indicator from user to the other members of
// an existing conversation; an unknown conversation is ignored.
func (s *Server) typingLocked(user, convID string, typing bool) {
	conv, ok := s.convs[convID]
	if !ok {
		return
	}
	frame := mustEncode("typing.indicator", typingIndicator{ConversationID: convID, UserID: user, IsTyping: typing})
	s.sendMembersLocked(conv, frame, user)
}

// sendMembersLocked queues frame to every connection of every member of conv
// except the user except.
func (s *Server) sendMembersLocked(conv *conversation, frame []byte, except string) {
	for member := range conv.members {
		if member == except {
			continue
		}
		for c := range s.byUser[member] {
			c.enqueueLocked(frame)
		}
	}
}
