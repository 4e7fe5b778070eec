package demo

import (
	"maps"
	"slices"
	"time"

	"github.com/gorilla/websocket"
)

// User statuses of user.status.
const (
	StatusOnline  = "online"
	StatusAway    = "away"
	StatusOffline = "offline"
)

// register adds an upgraded connection: it joins its user to General, queues
// the snapshot (presence of the others, then a conversation.update for each of
// the user's conversations) and, for the user's first connection, tells the
// others the user is online. It reports false, having closed the connection,
// when the server is closed or the token was revoked meanwhile.
func (s *Server) register(c *conn) bool {
	s.mu.Lock()
	refuse := 0
	switch {
	case s.closed:
		refuse = websocket.CloseGoingAway
	case s.tokens[c.token] != c.user:
		refuse = 4001
	}
	if refuse != 0 {
		s.mu.Unlock()
		msg := websocket.FormatCloseMessage(refuse, "")
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeWait))
		_ = c.ws.Close()
		return false
	}
	defer s.mu.Unlock()

	s.wg.Add(2) // readLoop, writeLoop
	s.conns[c] = struct{}{}
	if s.byUser[c.user] == nil {
		s.byUser[c.user] = make(map[*conn]struct{})
	}
	s.byUser[c.user][c] = struct{}{}
	s.convs[General].members[c.user] = true

	for _, u := range slices.Sorted(maps.Keys(s.presence)) {
		if p := s.presence[u]; u != c.user && p.Status != StatusOffline {
			c.enqueueLocked(mustEncode("user.status", p))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(s.convs)) {
		if conv := s.convs[id]; conv.members[c.user] {
			c.enqueueLocked(mustEncode("conversation.update", conv.update(c.user)))
		}
	}
	if len(s.byUser[c.user]) == 1 {
		s.setStatusLocked(c.user, StatusOnline)
	}
	s.notifyLocked()
	return true
}

// unregister removes a connection when its reader ends; the user's last
// connection makes the user offline for the others.
func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	delete(s.byUser[c.user], c)
	if len(s.byUser[c.user]) == 0 {
		delete(s.byUser, c.user)
		if !(isBot(c.user) && s.running && s.cfg.Bots) { // a running bot stays online
			s.setStatusLocked(c.user, StatusOffline)
		}
	}
	s.log.Info("demo: client disconnected", "user", c.user)
	s.notifyLocked()
}

// setStatusLocked records user's status and broadcasts a user.status to every
// connection of the other users. Offline and away carry last_seen. Setting the
// status the user already has sends nothing.
func (s *Server) setStatusLocked(user, status string) {
	if p, ok := s.presence[user]; ok && p.Status == status {
		return
	}
	p := userStatus{UserID: user, Status: status}
	if status != StatusOnline {
		now := time.Now().UTC().Truncate(time.Millisecond)
		p.LastSeen = &now
	}
	s.presence[user] = p
	frame := mustEncode("user.status", p)
	for c := range s.conns {
		if c.user != user {
			c.enqueueLocked(frame)
		}
	}
}
