package api

import (
	"net/http"

	"github.com/chatbridge/chatbridge/internal/chat"
)

// callAction is the optional body of POST /calls/{call_id}/reject and /end.
type callAction struct {
	Reason string `json:"reason" validate:"omitempty,max=500"`
}

// callAccepted is the 202 answer of the call actions.
type callAccepted struct {
	CallID string `json:"call_id"`
	Action string `json:"action"`
}

// handleCall serves POST /calls/{call_id}/{accept|reject|end}; action is the upstream frame type.
// accept takes no reason: its body may only be empty or {}.
func (s *Server) handleCall(action string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		callID := pathParam(r, "call_id")
		var body callAction
		var dst any = &body
		if action == chat.CallAccept {
			dst = &struct{}{}
		}
		p := decodeBody(r, dst, true)
		if !validIdent(callID) && (p == nil || p.Status == http.StatusUnprocessableEntity) {
			if p == nil {
				p = newProblem(http.StatusUnprocessableEntity, "validation", "the request breaks the input rules")
			}
			p.Errors = append([]FieldError{{Field: "call_id", Message: "call_id " + ruleMessages["ident"]}}, p.Errors...)
		}
		if p != nil {
			writeProblem(w, p)
			return
		}
		if err := s.cfg.Chat.SendCall(r.Context(), action, chat.OutgoingCall{CallID: callID, Reason: body.Reason}); err != nil {
			writeProblem(w, s.sendProblem(err))
			return
		}
		writeJSON(w, http.StatusAccepted, callAccepted{CallID: callID, Action: action})
	})
}
