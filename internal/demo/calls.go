package demo

import (
	"strconv"
	"time"
)

// call is a call the server knows: started by a bot, or announced by a
// call.incoming given to Broadcast. It is guarded by Server.mu, except that
// its channels may be waited on without the lock.
type call struct {
	id, convID string
	accepted   chan struct{} // closed when the call is accepted
	over       chan struct{} // closed when the call is rejected or ended
}

// Call actions a client sends, and the types the server answers with.
var callAnswers = map[string]string{
	"call.accept": "call.accepted",
	"call.reject": "call.rejected",
	"call.end":    "call.ended",
}

// rememberCallLocked records a call so that its answers go to convID's
// members. A call id already known is left as it is.
func (s *Server) rememberCallLocked(id, convID string) *call {
	if k, ok := s.calls[id]; ok {
		return k
	}
	k := &call{id: id, convID: convID, accepted: make(chan struct{}), over: make(chan struct{})}
	s.calls[id] = k
	return k
}

// startCallLocked makes caller ring the members of convID: it broadcasts a
// call.incoming to them, the caller excepted, and returns the call.
func (s *Server) startCallLocked(caller, convID, media string) *call {
	s.nextCall++
	k := s.rememberCallLocked("k"+strconv.Itoa(s.nextCall), convID)
	frame := mustEncode("call.incoming", callIncoming{
		CallID:         k.id,
		ConversationID: convID,
		CallerID:       caller,
		Media:          media,
		CreatedAt:      time.Now().UTC().Truncate(time.Millisecond),
	})
	if conv, ok := s.convs[convID]; ok {
		s.sendMembersLocked(conv, frame, caller)
	}
	return k
}

// callActionLocked applies a call.accept, call.reject or call.end by user and
// broadcasts the answer (call.accepted, call.rejected, call.ended with user_id
// and reason) to the members of the call's conversation, the acting user
// included; the answer about an unknown call goes to every connection. A
// rejected or ended call is forgotten.
func (s *Server) callActionLocked(user, action, callID, reason string) {
	answer := callAnswers[action]
	frame := mustEncode(answer, callAction{CallID: callID, UserID: user, Reason: reason})
	k, known := s.calls[callID]
	if known {
		switch action {
		case "call.accept":
			select {
			case <-k.accepted:
			default:
				close(k.accepted)
			}
		default:
			close(k.over)
			delete(s.calls, callID)
		}
	}
	if known {
		if conv, ok := s.convs[k.convID]; ok {
			s.sendMembersLocked(conv, frame, "")
			return
		}
	}
	for c := range s.conns {
		c.enqueueLocked(frame)
	}
}
