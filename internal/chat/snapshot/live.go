package snapshot

import (
	"slices"
	"strings"

	"github.com/chatbridge/chatbridge/internal/dialect"
)

// UserView is one user's last known presence, as the presence snapshot shows it.
type UserView struct {
	UserID   string `json:"user_id"`
	Status   string `json:"status"`
	LastSeen string `json:"last_seen,omitempty"`
}

// Call states of CallView.
const (
	CallStateIncoming = "incoming"
	CallStateAccepted = "accepted"
)

// CallView is one open call (seen as call.incoming, not yet ended or rejected), as the calls
// snapshot shows it.
type CallView struct {
	CallID         string `json:"call_id"`
	ConversationID string `json:"conversation_id"`
	CallerID       string `json:"caller_id"`
	Media          string `json:"media"`
	CreatedAt      string `json:"created_at,omitempty"`
	State          string `json:"state"` // CallStateIncoming until a call.accepted, then CallStateAccepted
}

// Presence returns the id of the last event applied and every user's last known status, sorted
// by user id. It is safe for concurrent use.
func (p *Projection) Presence() (eventID string, users []UserView) {
	p.mu.RLock()
	users = make([]UserView, 0, p.users.Len())
	for el := p.users.Front(); el != nil; el = el.Next() {
		users = append(users, *el.Value.(*UserView))
	}
	eventID = p.eventID
	p.mu.RUnlock()
	slices.SortFunc(users, func(a, b UserView) int { return strings.Compare(a.UserID, b.UserID) })
	return eventID, users
}

// Calls returns the id of the last event applied and the open calls, oldest first. It is safe
// for concurrent use.
func (p *Projection) Calls() (eventID string, calls []CallView) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	calls = make([]CallView, 0, p.calls.Len())
	for el := p.calls.Front(); el != nil; el = el.Next() {
		calls = append(calls, *el.Value.(*CallView))
	}
	return p.eventID, calls
}

// shortFields reports whether every s is at most maxIDLen bytes.
func shortFields(s ...string) bool {
	for _, f := range s {
		if len(f) > maxIDLen {
			return false
		}
	}
	return true
}

// foldUser records a user's status, dropping the least recently updated users beyond MaxUsers.
func (p *Projection) foldUser(u UserView) {
	if el, ok := p.userByID[u.UserID]; ok {
		*el.Value.(*UserView) = u
		p.users.MoveToFront(el)
		return
	}
	p.userByID[u.UserID] = p.users.PushFront(&u)
	for p.users.Len() > p.cfg.MaxUsers {
		old := p.users.Remove(p.users.Back()).(*UserView)
		delete(p.userByID, old.UserID)
	}
}

// foldCallEvent applies call.accepted (the call is accepted) or call.ended and call.rejected
// (it is no longer open).
func (p *Projection) foldCallEvent(typ string, c *dialect.CallEvent) {
	el, ok := p.callByID[c.CallID]
	if !ok {
		return
	}
	switch typ {
	case dialect.TypeCallAccepted:
		el.Value.(*CallView).State = CallStateAccepted
	case dialect.TypeCallEnded, dialect.TypeCallRejected:
		p.calls.Remove(el)
		delete(p.callByID, c.CallID)
	}
}

// openCall records an incoming call, dropping the oldest open calls beyond MaxCalls. A call
// already open takes the new fields and keeps its state and place.
func (p *Projection) openCall(c *dialect.CallIncoming) {
	v := CallView{CallID: c.CallID, ConversationID: c.ConversationID, CallerID: c.CallerID,
		Media: c.Media, CreatedAt: c.CreatedAt, State: CallStateIncoming}
	if el, ok := p.callByID[c.CallID]; ok {
		old := el.Value.(*CallView)
		v.State = old.State
		*old = v
		return
	}
	p.callByID[c.CallID] = p.calls.PushBack(&v)
	for p.calls.Len() > p.cfg.MaxCalls {
		old := p.calls.Remove(p.calls.Front()).(*CallView)
		delete(p.callByID, old.CallID)
	}
}
