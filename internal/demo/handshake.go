package demo

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// upgrader accepts any Origin: the demo server is meant for local clients and
// tests, and every connection needs a token anyway.
var upgrader = websocket.Upgrader{
	HandshakeTimeout: 10 * time.Second,
	CheckOrigin:      func(*http.Request) bool { return true },
}

// ServeHTTP is the WebSocket endpoint; mount it at Path ("/chat"). The token
// comes from the query parameter token, else from Authorization: Bearer. A
// missing or unknown token (or SetRefuseTokens) is answered 401 before the
// upgrade, SetReject's status wins over that, and after Close every handshake
// gets 503. On success the handler's goroutine becomes the connection's
// reader and returns when the connection ends. ServeHTTP is safe for
// concurrent use, as http.Handler requires.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := tokenOf(r)
	s.mu.Lock()
	s.dials++
	s.notifyLocked()
	closed := s.closed
	status, retry := s.faults.rejectStatus, s.faults.retryAfter
	user, known := s.tokens[token]
	refuse := s.faults.refuseTokens || token == "" || !known
	s.mu.Unlock()

	switch {
	case closed:
		http.Error(w, "demo server closed", http.StatusServiceUnavailable)
		return
	case status != 0:
		if retry > 0 {
			secs := int64((retry + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		}
		http.Error(w, http.StatusText(status), status)
		return
	case refuse:
		s.log.Info("demo: handshake refused", "status", http.StatusUnauthorized)
		w.Header().Set("WWW-Authenticate", `Bearer realm="demo"`)
		http.Error(w, "unknown or missing token", http.StatusUnauthorized)
		return
	}

	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has answered the request with an HTTP error.
		s.log.Debug("demo: upgrade failed", "err", err)
		return
	}
	c := newConn(s, ws, user, token)
	if !s.register(c) {
		return
	}
	s.log.Info("demo: client connected", "user", user)
	go c.writeLoop()
	c.readLoop()
}

// tokenOf returns the token of a handshake: ?token=, else a Bearer header.
func tokenOf(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
