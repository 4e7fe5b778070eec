package api

import (
	"crypto/rand"
	"errors"
	"net/http"

	"github.com/chatbridge/chatbridge/internal/chat"
	"github.com/chatbridge/chatbridge/internal/ws"
)

// postMessage is the body of POST /messages.
type postMessage struct {
	ConversationID  string  `json:"conversation_id" validate:"required,ident"`
	Content         string  `json:"content" validate:"required,content"`
	ClientMessageID *string `json:"client_message_id" validate:"omitempty,clientid"`
}

// messageAccepted is the 202 answer of POST /messages.
type messageAccepted struct {
	ClientMessageID string `json:"client_message_id"`
	Status          string `json:"status"`
}

// newClientMessageID returns a random id that fits the client_message_id rule.
func newClientMessageID() string {
	return "cb-" + rand.Text()
}

func (s *Server) handlePostMessage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body postMessage
		if p := decodeBody(r, &body, false); p != nil {
			writeProblem(w, p)
			return
		}
		id := newClientMessageID()
		if body.ClientMessageID != nil {
			id = *body.ClientMessageID
		}
		status, err := s.cfg.Chat.Submit(r.Context(), chat.OutgoingMessage{
			ConversationID: body.ConversationID, Content: body.Content, ClientMessageID: id})
		if errors.Is(err, chat.ErrOutboxFull) {
			p := newProblem(http.StatusServiceUnavailable, "outbox-full",
				"too many messages wait for the upstream; retry later")
			p.retryAfter = s.cfg.Retry
			writeProblem(w, p)
			return
		}
		if errors.Is(err, chat.ErrStorage) {
			if s.storageFailing.CompareAndSwap(false, true) {
				s.log.Error("cannot store accepted messages: answering 503 until it works again", "err", err)
			}
			p := newProblem(http.StatusServiceUnavailable, "storage-unavailable",
				"the bridge cannot store messages right now (its state directory fails); retry later")
			p.retryAfter = s.cfg.Retry
			writeProblem(w, p)
			return
		}
		if err != nil {
			s.log.Error("accept message", "err", err)
			writeProblem(w, newProblem(http.StatusInternalServerError, "internal", "the message could not be accepted"))
			return
		}
		if s.storageFailing.CompareAndSwap(true, false) {
			s.log.Info("storing accepted messages works again")
		}
		writeJSON(w, http.StatusAccepted, messageAccepted{ClientMessageID: id, Status: status})
	})
}

// handleDeleteMessage serves DELETE /messages/{client_message_id}: a waiting message is taken out
// of the outbox (204); an unknown id is 404, one delivered or failed already 409.
func (s *Server) handleDeleteMessage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := pathParam(r, "client_message_id")
		if !clientIDPattern.MatchString(id) {
			p := newProblem(http.StatusUnprocessableEntity, "validation", "the request breaks the input rules")
			p.Errors = []FieldError{{Field: "client_message_id", Message: "client_message_id " + ruleMessages["clientid"]}}
			writeProblem(w, p)
			return
		}
		switch err := s.cfg.Chat.Cancel(id); {
		case err == nil:
			w.WriteHeader(http.StatusNoContent)
		case errors.Is(err, chat.ErrUnknownMessage):
			writeProblem(w, newProblem(http.StatusNotFound, "unknown-message", "the bridge holds no message with this client_message_id"))
		case errors.Is(err, chat.ErrMessageDone):
			writeProblem(w, newProblem(http.StatusConflict, "message-done", err.Error()))
		default:
			s.log.Error("cancel message", "err", err)
			writeProblem(w, newProblem(http.StatusInternalServerError, "internal", "the message could not be cancelled"))
		}
	})
}

// sendProblem is the answer when a frame could not go upstream.
func (s *Server) sendProblem(err error) *Problem {
	if errors.Is(err, ws.ErrNotConnected) {
		p := newProblem(http.StatusServiceUnavailable, "upstream-unavailable", "the upstream chat server is not connected")
		p.retryAfter = s.cfg.Retry
		return p
	}
	s.log.Warn("send upstream failed", "err", err)
	p := newProblem(http.StatusServiceUnavailable, "upstream-unavailable", "the frame could not be written upstream")
	p.retryAfter = s.cfg.Retry
	return p
}

// postTyping is the body of POST /typing.
type postTyping struct {
	ConversationID string `json:"conversation_id" validate:"required,ident"`
	IsTyping       *bool  `json:"is_typing" validate:"required"`
}

func (s *Server) handlePostTyping() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body postTyping
		if p := decodeBody(r, &body, false); p != nil {
			writeProblem(w, p)
			return
		}
		err := s.cfg.Chat.SendTyping(r.Context(), chat.OutgoingTyping{
			ConversationID: body.ConversationID, IsTyping: *body.IsTyping})
		if err != nil {
			writeProblem(w, s.sendProblem(err))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
