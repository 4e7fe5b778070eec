package api

import (
	"net/http"

	"github.com/chatbridge/chatbridge/internal/chat"
)

// putConnection is the body of PUT /connection.
type putConnection struct {
	AccessToken string `json:"access_token" validate:"required,token"`
}

func (s *Server) handleGetConnection() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.connectionView())
	})
}

// connectionView is the answer of GET /connection: the state as the connection.state event
// carries it, plus the outbox depth.
type connectionView struct {
	chat.ConnectionState
	Outbox struct {
		Queued int `json:"queued"`
	} `json:"outbox"`
}

func (s *Server) connectionView() connectionView {
	v := connectionView{ConnectionState: s.cfg.Connection.State()}
	v.Outbox.Queued = s.cfg.Chat.Queued()
	return v
}

func (s *Server) handlePutConnection() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body putConnection
		if p := decodeBody(r, &body, false); p != nil {
			writeProblem(w, p)
			return
		}
		s.cfg.Connection.SetToken(body.AccessToken)
		writeJSON(w, http.StatusAccepted, s.connectionView())
	})
}

func (s *Server) handleDeleteConnection() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.cfg.Connection.Disconnect()
		w.WriteHeader(http.StatusNoContent)
	})
}

func (s *Server) handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func (s *Server) handleReadyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := s.cfg.Connection.State()
		if st.State != "connected" {
			p := newProblem(http.StatusServiceUnavailable, "not-ready", "the upstream is "+st.State)
			writeProblem(w, p)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "upstream": st.State})
	})
}
