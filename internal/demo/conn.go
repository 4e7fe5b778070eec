package demo

import (
	"errors"
	"net"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// conn is one client WebSocket connection. Its reader runs in the HTTP
// handler's goroutine (readLoop) and its writer in a goroutine of its own
// (writeLoop); both are counted in Server.wg. Everything else talks to the
// connection through enqueueLocked, stop and drop.
type conn struct {
	s        *Server
	ws       *websocket.Conn
	user     string
	token    string
	send     chan []byte   // frames for the writer; full means the client is dropped
	quit     chan struct{} // closed by stop: the writer finishes, waits end
	readDone chan struct{} // closed when readLoop returns

	once   sync.Once
	code   int // close code the writer sends on quit; 0 = none
	reason string
}

func newConn(s *Server, ws *websocket.Conn, user, token string) *conn {
	return &conn{
		s:        s,
		ws:       ws,
		user:     user,
		token:    token,
		send:     make(chan []byte, sendQueue),
		quit:     make(chan struct{}),
		readDone: make(chan struct{}),
	}
}

// stop asks the writer to end the connection: with a close frame of code
// (after the frames already queued) when code != 0, else without one. Only the
// first call counts. stop never blocks.
func (c *conn) stop(code int, reason string) {
	c.once.Do(func() {
		c.code, c.reason = code, truncateReason(reason)
		close(c.quit)
	})
}

// drop closes the TCP connection at once, with no close frame. It never blocks.
func (c *conn) drop() {
	c.stop(0, "")
	_ = c.ws.Close() // safe concurrently with the reader and the writer
}

// stopped reports whether stop was called.
func (c *conn) stopped() bool {
	select {
	case <-c.quit:
		return true
	default:
		return false
	}
}

// enqueueLocked queues one frame for the writer. A client whose queue is full
// is dropped (as in gorilla's chat example) so that it never blocks the server.
// The caller holds s.mu, which orders frames across connections.
func (c *conn) enqueueLocked(frame []byte) {
	if c.stopped() {
		return
	}
	select {
	case c.send <- frame:
	default:
		c.s.log.Warn("demo: client too slow, dropping it", "user", c.user)
		c.drop()
	}
}

// readLoop reads frames until the connection fails or ends, handling each in
// order. It runs in the handshake's goroutine and returns after unregistering
// the connection.
func (c *conn) readLoop() {
	defer c.s.wg.Done()
	defer c.s.unregister(c)
	defer close(c.readDone)
	defer c.stop(0, "")

	ws := c.ws
	ws.SetReadLimit(maxFrameBytes)
	c.extend()
	ws.SetPongHandler(func(string) error { c.extend(); return nil })
	ws.SetPingHandler(func(data string) error {
		c.extend()
		if !c.s.waitAudible(c.quit) {
			return nil
		}
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeWait))
		var ne net.Error
		if err == nil || errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return err
	})
	ws.SetCloseHandler(func(code int, _ string) error {
		// The peer closes: answer after any silence, unless we are closing too.
		if c.s.waitAudible(c.quit) && !c.stopped() {
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(writeWait))
		}
		return nil
	})
	for {
		typ, data, err := ws.ReadMessage()
		if err != nil {
			c.s.log.Debug("demo: connection ended", "user", c.user, "err", err)
			return
		}
		if !c.s.waitAudible(c.quit) {
			return
		}
		c.extend()
		c.s.handle(c, typ, data)
	}
}

// extend pushes the idle read deadline forward.
func (c *conn) extend() {
	_ = c.ws.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
}

// writeLoop writes queued frames, one text frame each, until stop; then it
// ends the connection (see finish). It is the only writer of data frames.
func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	for {
		select {
		case frame := <-c.send:
			if !c.s.waitAudible(c.quit) {
				c.finish()
				return
			}
			if err := c.write(frame); err != nil {
				c.s.log.Debug("demo: write failed", "user", c.user, "err", err)
				c.drop()
				return
			}
		case <-c.quit:
			c.finish()
			return
		}
	}
}

// write sends one text frame with a write deadline.
func (c *conn) write(frame []byte) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
	return c.ws.WriteMessage(websocket.TextMessage, frame)
}

// finish ends the connection after stop. With a close code it first writes
// the frames still queued, then the close frame, and waits up to closeGrace
// for the peer's close reply (the reader sees it) before closing TCP.
func (c *conn) finish() {
	defer c.ws.Close()
	if c.code == 0 {
		return
	}
drain:
	for {
		select {
		case frame := <-c.send:
			if err := c.write(frame); err != nil {
				return
			}
		default:
			break drain
		}
	}
	msg := websocket.FormatCloseMessage(c.code, c.reason)
	if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(writeWait)); err != nil {
		return
	}
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-c.readDone:
	case <-t.C:
	}
}

// truncateReason keeps a close reason within the 123 bytes a close frame
// allows, cutting at a rune boundary.
func truncateReason(r string) string {
	const max = 123
	if len(r) <= max {
		return r
	}
	r = r[:max]
	for len(r) > 0 && !utf8.ValidString(r) {
		r = r[:len(r)-1]
	}
	return r
}
