package ws

import "time"

// Frame is one WebSocket data frame.
type Frame struct {
	Binary bool // a binary frame; else text
	Data   []byte
}

// Handler is the protocol above the connection: Run drives it. Its methods are called one at a
// time per connection: OpenConn from the Run goroutine before the connection's reader starts,
// HandleFrame from the reader goroutine, HandleState from the Run goroutine. None may block
// long: a slow HandleFrame holds up the reader, and the heartbeat counts that as silence.
type Handler interface {
	// OpenConn starts the protocol on a new connection: it returns the frames to write first
	// (a connect command, ...) and whether the connection is usable at once. When it is not,
	// the connection stays connecting until a HandleFrame reports Ready, within the handshake
	// timeout. token is the one the dial used ("" with TokenInNone).
	OpenConn(token string) Opening
	// HandleFrame gets every data frame in arrival order. The frame's bytes are the callee's
	// to keep. The Reaction's slices are read before the next call.
	HandleFrame(f Frame) Reaction
	// HandleState gets every state change, in order. It may call Status, Reconnect and
	// Disconnect (they do not block) but not Send or Run.
	HandleState(st Status)
}

// Opening is what OpenConn asks for.
type Opening struct {
	Write [][]byte // text frames to write first, in order
	Ready bool     // usable at once (no handshake reply to wait for)
}

// Reaction is what one frame asks for.
type Reaction struct {
	// Write holds text frames to write at once (a pong, ...), ahead of later Sends.
	Write [][]byte
	// Ready completes the protocol's handshake: the connection becomes connected.
	Ready bool
	// Idle, when above zero, is the silence allowed from now on: nothing received for that
	// long ends the connection as dead.
	Idle time.Duration
	// Err, when set, ends the connection with this error. One that matches ErrUnauthorized
	// (errors.Is) parks the client in state unauthorized; one that matches ErrTerminal stops it.
	Err error
}
