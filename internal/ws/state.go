package ws

import "time"

// State is the connection state of a Client. It is a plain value, safe to copy.
type State string

// The states a Client moves through. Every change is reported through
// Handler.HandleState, in order.
const (
	// StateIdle: no token yet; the client waits for its token source to yield one.
	StateIdle State = "idle"
	// StateConnecting: a dial (handshake) is in progress.
	StateConnecting State = "connecting"
	// StateConnected: the connection is up; Send works.
	StateConnected State = "connected"
	// StateReconnecting: the last attempt or connection failed; a retry is scheduled.
	StateReconnecting State = "reconnecting"
	// StateUnauthorized: the upstream rejected the token; the client waits for a
	// different one (or for Reconnect) and does not redial with the same token.
	StateUnauthorized State = "unauthorized"
	// StateStopped: Disconnect was called (until Reconnect), the upstream ended the
	// session for good (ErrTerminal, until Reconnect), or Run has returned.
	StateStopped State = "stopped"
)

// Status is a snapshot of the connection state. It is a plain value, safe to copy
// and to read from any goroutine.
type Status struct {
	State       State
	Since       time.Time // when State was entered
	Attempt     int       // consecutive failed attempts since the last healthy connection (0 when connected)
	NextRetryAt time.Time // zero unless a retry is scheduled
	LastError   string    // redacted text of the last failure, "" if none (cleared on connect)
	// CloseCode is the close code the upstream ended the last connection with (0 when it
	// sent none, or the client closed it); set on the state that follows the loss.
	CloseCode int
}

// sameAs reports whether s and o describe the same state, ignoring Since.
func (s Status) sameAs(o Status) bool {
	return s.State == o.State && s.Attempt == o.Attempt &&
		s.NextRetryAt.Equal(o.NextRetryAt) && s.LastError == o.LastError && s.CloseCode == o.CloseCode
}
