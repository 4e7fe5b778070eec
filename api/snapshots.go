package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/chatbridge/chatbridge/internal/chat/snapshot"
)

// Snapshots is the chat state a page loads before following the stream (README.md, "Snapshots:
// load, then follow"): *snapshot.Projection provides it. Each answer carries the id of the last event
// it reflects; a stream opened with last_event_id=<that id> continues exactly after it.
type Snapshots interface {
	Conversations() (eventID string, list []snapshot.ConversationView)
	Messages(conversationID string, limit int) (eventID string, msgs []json.RawMessage, found bool)
	Presence() (eventID string, users []snapshot.UserView)
	Calls() (eventID string, calls []snapshot.CallView)
}

// defaultMessageLimit is the number of messages GET /conversations/{id}/messages answers
// without ?limit=.
const defaultMessageLimit = 50

// The snapshot answers. The lists are never null, so a page can iterate them at once.
type (
	conversationsSnapshot struct {
		EventID       string                      `json:"event_id"`
		Conversations []snapshot.ConversationView `json:"conversations"`
	}
	messagesSnapshot struct {
		EventID  string            `json:"event_id"`
		Messages []json.RawMessage `json:"messages"`
	}
	presenceSnapshot struct {
		EventID string              `json:"event_id"`
		Users   []snapshot.UserView `json:"users"`
	}
	callsSnapshot struct {
		EventID string              `json:"event_id"`
		Calls   []snapshot.CallView `json:"calls"`
	}
)

// orEmpty turns a nil list into an empty one, so that it encodes as [] rather than null.
func orEmpty[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

// The snapshot handlers copy the state under the projection's read lock (inside the Snapshots
// methods) and encode it after, so a large answer never holds up the routing of frames.

func (s *Server) handleConversations() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, list := s.cfg.Snapshots.Conversations()
		writeJSON(w, http.StatusOK, conversationsSnapshot{EventID: id, Conversations: orEmpty(list)})
	})
}

func (s *Server) handleMessages() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conv := pathParam(r, "conversation_id")
		limit := defaultMessageLimit
		if v, ok := r.URL.Query()["limit"]; ok {
			n, err := strconv.Atoi(v[0])
			if len(v) != 1 || err != nil || n < 1 {
				p := newProblem(http.StatusBadRequest, "invalid-query", "limit must be a positive whole number")
				p.Errors = []FieldError{{Field: "limit", Message: "limit must be a whole number of 1 or more"}}
				writeProblem(w, p)
				return
			}
			limit = n // above the kept depth, the projection answers the kept depth
		}
		id, msgs, found := "", []json.RawMessage(nil), false
		if validIdent(conv) {
			id, msgs, found = s.cfg.Snapshots.Messages(conv, limit)
		}
		if !found {
			writeProblem(w, newProblem(http.StatusNotFound, "unknown-conversation",
				"the bridge has seen no conversation "+strconv.Quote(truncate(conv, 128))))
			return
		}
		writeJSON(w, http.StatusOK, messagesSnapshot{EventID: id, Messages: orEmpty(msgs)})
	})
}

func (s *Server) handlePresence() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, users := s.cfg.Snapshots.Presence()
		writeJSON(w, http.StatusOK, presenceSnapshot{EventID: id, Users: orEmpty(users)})
	})
}

func (s *Server) handleCalls() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, calls := s.cfg.Snapshots.Calls()
		writeJSON(w, http.StatusOK, callsSnapshot{EventID: id, Calls: orEmpty(calls)})
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
