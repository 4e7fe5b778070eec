package api

import "net/http"

// putConnection is the body of PUT /connection.
type putConnection struct {
	AccessToken string `json:"access_token" validate:"required,token"`
}

func (s *Server) handleGetConnection() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.connectionView())
	})
}

// connectionView is the answer of GET /connection.
type connectionView struct {
	State       string  `json:"state"`
	Since       string  `json:"since"`
	Attempt     int     `json:"attempt"`
	NextRetryAt *string `json:"next_retry_at,omitempty"`
	LastError   string  `json:"last_error,omitempty"`
	Outbox      struct {
		Queued int `json:"queued"`
	} `json:"outbox"`
}

func (s *Server) connectionView() connectionView {
	st := s.cfg.Connection.State()
	v := connectionView{State: st.State, Since: st.Since.Format(timeFormat), Attempt: st.Attempt, LastError: st.LastError}
	v.Outbox.Queued = s.cfg.Chat.Queued()
	if st.NextRetryAt != nil {
		t := st.NextRetryAt.Format(timeFormat)
		v.NextRetryAt = &t
	}
	return v
}

const timeFormat = "2006-01-02T15:04:05.000Z07:00"

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
