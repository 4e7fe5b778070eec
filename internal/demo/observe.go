package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Frame is one frame the server read from a client, as recorded for tests.
// Type and Payload are empty for a frame that is not a JSON object with a
// type (Payload is also empty when the payload was not an object); Raw is
// always the exact bytes received. Frame is a value; the server never changes
// a Frame it has handed out.
type Frame struct {
	User    string          // the user whose connection sent it
	Type    string          // the envelope's type
	Payload json.RawMessage // the envelope's payload ({} when absent)
	Raw     []byte          // the whole frame as received
	At      time.Time       // when the server handled it
}

// received is the bounded record of frames read from clients.
type received struct {
	frames  []Frame
	evicted int // frames dropped from the front to keep receivedLimit
}

// recordLocked appends f to the record and wakes the waiters.
func (s *Server) recordLocked(f Frame) {
	r := &s.recv
	r.frames = append(r.frames, f)
	if len(r.frames) > receivedLimit {
		drop := len(r.frames) - receivedLimit/2
		r.frames = slices.Clone(r.frames[drop:])
		r.evicted += drop
	}
	s.notifyLocked()
}

// Received returns every frame read from clients so far (the last 100000 at
// most), in the order the server handled them. It is safe for concurrent use.
func (s *Server) Received() []Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recv.frames)
}

// ClearReceived forgets the frames recorded so far. It is safe for
// concurrent use.
func (s *Server) ClearReceived() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recv.evicted += len(s.recv.frames)
	s.recv.frames = nil
}

// WaitReceived returns the first recorded frame, already received or still to
// come, for which pred is true; or ctx's error when ctx ends first. pred runs
// with the server's lock held: it must be quick and must not call the
// Server. WaitReceived is safe for concurrent use.
func (s *Server) WaitReceived(ctx context.Context, pred func(Frame) bool) (Frame, error) {
	next := 0 // absolute index of the next frame to look at
	var found Frame
	err := s.waitFor(ctx, func() bool {
		r := &s.recv
		next = max(next, r.evicted)
		for ; next < r.evicted+len(r.frames); next++ {
			if f := r.frames[next-r.evicted]; pred(f) {
				found = f
				return true
			}
		}
		return false
	})
	if err != nil {
		return Frame{}, fmt.Errorf("wait for a received frame: %w", err)
	}
	return found, nil
}

// Connections returns the number of open client connections. It is safe for
// concurrent use.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// WaitConnections waits until exactly n client connections are open, or
// returns ctx's error. It is safe for concurrent use.
func (s *Server) WaitConnections(ctx context.Context, n int) error {
	if err := s.waitFor(ctx, func() bool { return len(s.conns) == n }); err != nil {
		return fmt.Errorf("wait for %d connections: %w", n, err)
	}
	return nil
}

// Dials returns the number of handshake attempts so far, refused ones
// included. It is safe for concurrent use.
func (s *Server) Dials() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dials
}

// WaitDials waits until at least n handshakes have been attempted, or returns
// ctx's error. It is safe for concurrent use.
func (s *Server) WaitDials(ctx context.Context, n int) error {
	if err := s.waitFor(ctx, func() bool { return s.dials >= n }); err != nil {
		return fmt.Errorf("wait for %d dials: %w", n, err)
	}
	return nil
}

// Messages returns the history the server keeps of a conversation (the last
// 500 messages, oldest first), or nil for an unknown conversation. It is safe
// for concurrent use.
func (s *Server) Messages(conversationID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.convs[conversationID]; ok {
		return slices.Clone(c.messages)
	}
	return nil
}

// waitFor evaluates cond under s.mu now and after every observable change
// until it is true, or until ctx ends.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok, changed := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
