package demo

import (
	"bytes"
	"encoding/json"
	"time"
)

// faults is the fault-injection state, guarded by Server.mu.
type faults struct {
	silent       bool
	audible      chan struct{} // closed while not silent
	refuseTokens bool
	rejectStatus int
	retryAfter   time.Duration
}

// waitAudible blocks while the server is silent. It reports false when quit
// closes first. The caller must not hold s.mu.
func (s *Server) waitAudible(quit <-chan struct{}) bool {
	for {
		s.mu.Lock()
		silent, audible := s.faults.silent, s.faults.audible
		s.mu.Unlock()
		if !silent {
			return true
		}
		select {
		case <-audible:
		case <-quit:
			return false
		}
	}
}

// DropAll closes every client connection's TCP connection at once, with no
// close frame, as a network failure would. It is safe for concurrent use.
func (s *Server) DropAll() {
	s.mu.Lock()
	conns := s.connsLocked("")
	s.mu.Unlock()
	for _, c := range conns {
		c.drop()
	}
}

// CloseAll ends every client connection with a close frame of code and
// reason (cut to 123 bytes), sent after the frames already queued. It is safe
// for concurrent use.
func (s *Server) CloseAll(code int, reason string) {
	s.mu.Lock()
	conns := s.connsLocked("")
	s.mu.Unlock()
	for _, c := range conns {
		c.stop(code, reason)
	}
}

// SetSilent turns silence on or off. While on, the server stalls every
// connection, new ones included, like a network that stopped delivering: it
// reads no frame and answers nothing (no pong frame, no WebSocket pong, no
// close reply), and nothing it queues is written; connections stay open at the
// TCP level, and handshakes still succeed (into a silent connection). When
// silence ends, what was stalled flows again, in order (the
// frame each reader held is handled then). A client that is dropped meanwhile
// is dropped for good. SetSilent is safe for concurrent use.
func (s *Server) SetSilent(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && !s.faults.silent:
		s.faults.silent = true
		s.faults.audible = make(chan struct{})
	case !on && s.faults.silent:
		s.faults.silent = false
		close(s.faults.audible)
	}
}

// SetRefuseTokens, while on, answers every handshake 401, whatever its token.
// Open connections are not touched. It is safe for concurrent use.
func (s *Server) SetRefuseTokens(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.refuseTokens = on
}

// SetToken makes token valid for user from now on (replacing what token meant
// before; connections already open stay). It is safe for concurrent use.
func (s *Server) SetToken(token, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = user
}

// RevokeToken makes token invalid and closes every connection that was opened
// with it with close code 4001 (reason "token revoked"). It is safe for
// concurrent use.
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	delete(s.tokens, token)
	var revoked []*conn
	for c := range s.conns {
		if c.token == token {
			revoked = append(revoked, c)
		}
	}
	s.mu.Unlock()
	for _, c := range revoked {
		c.stop(4001, "token revoked")
	}
}

// SetReject, while status is not 0, answers every handshake with that HTTP
// status (e.g. 503) and, when retryAfter > 0, a Retry-After header in whole
// seconds (rounded up). SetReject(0, 0) ends it. It is safe for concurrent use.
func (s *Server) SetReject(status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.rejectStatus, s.faults.retryAfter = status, retryAfter
}

// SendRaw writes frame, byte for byte, as one text frame to every connection
// of user ("" = every connection), after what is already queued. It is meant
// for malformed frames and arbitrary types. It is safe for concurrent use.
func (s *Server) SendRaw(user string, frame []byte) {
	frame = bytes.Clone(frame)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.connsLocked(user) {
		c.enqueueLocked(frame)
	}
}

// Broadcast sends the envelope {"type": typ, "payload": payload} to every
// connection. It changes no chat state, with one exception: a call.incoming
// with a call_id and a conversation_id is remembered, so that the answers to
// call.accept, call.reject and call.end about it go to the members of its
// conversation. It returns an error only when payload does not marshal to
// JSON. Broadcast is safe for concurrent use.
func (s *Server) Broadcast(typ string, payload any) error {
	frame, err := encode(typ, payload)
	if err != nil {
		return err
	}
	var call struct {
		Payload struct {
			CallID         string `json:"call_id"`
			ConversationID string `json:"conversation_id"`
		} `json:"payload"`
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if typ == "call.incoming" && json.Unmarshal(frame, &call) == nil &&
		call.Payload.CallID != "" && call.Payload.ConversationID != "" {
		s.rememberCallLocked(call.Payload.CallID, call.Payload.ConversationID)
	}
	for c := range s.conns {
		c.enqueueLocked(frame)
	}
	return nil
}
