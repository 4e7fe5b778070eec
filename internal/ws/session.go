package ws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// ErrNotConnected is returned by Send while there is no live connection.
var ErrNotConnected = errors.New("ws: not connected")

// errPongTimeout ends a connection on which nothing arrived within PongTimeout
// after a heartbeat.
var errPongTimeout = errors.New("no frame from upstream within the pong timeout after a heartbeat")

// errClosedByClient ends a connection the client itself chose to close.
var errClosedByClient = errors.New("closed by the client")

// errRepliesFull ends a connection whose Handler asks for more answers than the
// writer can keep up with.
var errRepliesFull = errors.New("too many answers to the upstream queued")

// closeGrace bounds how long a clean close waits for the upstream to answer
// the close frame before the socket is closed anyway.
const closeGrace = time.Second

// maxReplies bounds the answers (Reaction.Write) waiting for the writer.
const maxReplies = 256

// writeReq is one Send handed to the writer goroutine.
type writeReq struct {
	frame []byte
	done  chan error // buffered 1; the writer answers exactly once
}

// session is one live connection with its reader and writer goroutines. The
// Run goroutine owns it: startSession starts both goroutines; they exit when
// the connection fails (fail closes dead and the socket) and close waits for
// them. Only the writer goroutine writes data frames; the Run goroutine's close
// frame and the reader's pong answers go through WriteControl, which gorilla
// allows concurrently.
type session struct {
	conn *websocket.Conn
	cfg  *Config
	h    Handler

	first      [][]byte      // written before anything else
	sendq      chan writeReq // Sends
	replies    chan []byte   // the Handler's answers, from the reader
	ready      chan struct{} // closed once the Handler's handshake completed
	readyOnce  sync.Once
	dead       chan struct{} // closed by fail
	readerDone chan struct{} // closed when the reader goroutine returns
	idleSet    chan struct{} // buffered 1: the reader changed idle
	once       sync.Once
	err        error         // why the session ended; set by fail before dead closes
	activity   atomic.Uint64 // frames (and pongs, pings) received
	atReady    atomic.Uint64 // activity when the handshake completed
	lastRecv   atomic.Int64  // unix nanoseconds of the last of them (or of the start)
	idle       atomic.Int64  // silence allowed, in nanoseconds; 0 = no limit
	wg         sync.WaitGroup
}

// startSession configures conn and starts its reader and writer goroutines:
// the writer writes open.Write first, the reader hands every frame to h.
func startSession(conn *websocket.Conn, cfg *Config, h Handler, open Opening) *session {
	s := &session{
		conn:       conn,
		cfg:        cfg,
		h:          h,
		first:      open.Write,
		sendq:      make(chan writeReq),
		replies:    make(chan []byte, maxReplies),
		ready:      make(chan struct{}),
		dead:       make(chan struct{}),
		readerDone: make(chan struct{}),
		idleSet:    make(chan struct{}, 1),
	}
	if open.Ready {
		close(s.ready)
	}
	s.lastRecv.Store(time.Now().UnixNano())
	conn.SetReadLimit(cfg.ReadLimit)
	conn.SetPongHandler(func(string) error {
		s.seen()
		return nil
	})
	conn.SetPingHandler(func(data string) error {
		s.seen()
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(cfg.WriteTimeout))
		if ne, ok := errors.AsType[net.Error](err); errors.Is(err, websocket.ErrCloseSent) || (ok && ne.Timeout()) {
			return nil // as gorilla's default handler: a missed pong is not fatal
		}
		return err
	})
	s.wg.Add(2)
	go s.readLoop()
	go s.writeLoop()
	return s
}

// seen records that something arrived.
func (s *session) seen() {
	s.activity.Add(1)
	s.lastRecv.Store(time.Now().UnixNano())
}

// fail ends the session with err (the first call wins): the socket is closed,
// which unblocks the reader and any write in progress.
func (s *session) fail(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.dead)
		s.conn.Close()
	})
}

// readLoop hands data frames to the Handler until the first read error; gorilla
// forbids reading again after one, so the session is over then.
func (s *session) readLoop() {
	defer s.wg.Done()
	defer close(s.readerDone)
	for {
		mt, data, err := s.conn.ReadMessage()
		if err != nil {
			s.fail(fmt.Errorf("read frame: %w", err))
			return
		}
		s.seen()
		r := s.h.HandleFrame(Frame{Binary: mt == websocket.BinaryMessage, Data: data})
		if !s.react(r) {
			return
		}
	}
}

// react carries out a Reaction; it reports false when the session is over.
func (s *session) react(r Reaction) bool {
	for _, frame := range r.Write {
		select {
		case s.replies <- append([]byte(nil), frame...):
		default:
			s.fail(errRepliesFull)
			return false
		}
	}
	if r.Idle > 0 {
		s.idle.Store(int64(r.Idle))
		select {
		case s.idleSet <- struct{}{}:
		default:
		}
	}
	if r.Ready {
		s.readyOnce.Do(func() {
			s.atReady.Store(s.activity.Load())
			close(s.ready)
		})
	}
	if r.Err != nil {
		s.fail(r.Err)
		return false
	}
	return true
}

// writeLoop writes the opening frames, then serialises the Handler's answers,
// Send requests and heartbeats; it declares the connection dead when nothing
// arrived within PongTimeout after a heartbeat, or within the Handler's idle
// limit. It returns when the session fails.
func (s *session) writeLoop() {
	defer s.wg.Done()
	for _, frame := range s.first {
		if err := s.write(frame); err != nil {
			s.fail(fmt.Errorf("write opening frame: %w", err))
			return
		}
	}
	var heartbeatC <-chan time.Time
	if !s.cfg.NoHeartbeat {
		heartbeat := time.NewTicker(s.cfg.Heartbeat)
		defer heartbeat.Stop()
		heartbeatC = heartbeat.C
	}
	idleTimer := time.NewTimer(time.Hour)
	idleTimer.Stop()
	defer idleTimer.Stop()
	var (
		pongDue  <-chan time.Time // non-nil while a heartbeat awaits any answer
		seenAtHB uint64           // activity count when that heartbeat was sent
		idleC    <-chan time.Time // non-nil while an idle limit is armed
	)
	for {
		select {
		case <-s.dead:
			return
		case frame := <-s.replies:
			if err := s.write(frame); err != nil {
				s.fail(fmt.Errorf("write answer: %w", err))
				return
			}
		case req := <-s.sendq:
			err := s.write(req.frame)
			req.done <- err
			if err != nil {
				s.fail(fmt.Errorf("write frame: %w", err))
				return
			}
		case <-heartbeatC:
			if pongDue == nil {
				seenAtHB = s.activity.Load()
				pongDue = time.After(s.cfg.PongTimeout)
			}
			if err := s.ping(); err != nil {
				s.fail(fmt.Errorf("write heartbeat: %w", err))
				return
			}
		case <-pongDue:
			pongDue = nil
			if s.activity.Load() == seenAtHB {
				s.fail(errPongTimeout)
				return
			}
		case <-s.idleSet:
			idleTimer.Reset(s.untilIdle())
			idleC = idleTimer.C
		case <-idleC:
			if left := s.untilIdle(); left > 0 {
				idleTimer.Reset(left)
				continue
			}
			s.fail(fmt.Errorf("no frame from upstream for %s", time.Duration(s.idle.Load())))
			return
		}
	}
}

// untilIdle is how long until the idle limit runs out, from the last frame received.
func (s *session) untilIdle() time.Duration {
	last := time.Unix(0, s.lastRecv.Load())
	return time.Until(last.Add(time.Duration(s.idle.Load())))
}

// write sends one text frame under the write deadline. Writer goroutine only.
func (s *session) write(frame []byte) error {
	if err := s.conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil {
		return err
	}
	return s.conn.WriteMessage(websocket.TextMessage, frame)
}

// ping sends the heartbeat: PingFrame as text, or a ping control frame.
func (s *session) ping() error {
	if len(s.cfg.PingFrame) == 0 {
		return s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.cfg.WriteTimeout))
	}
	return s.write(s.cfg.PingFrame)
}

// send hands frame to the writer and waits for the outcome. Safe for
// concurrent use.
func (s *session) send(ctx context.Context, frame []byte) error {
	req := writeReq{frame: frame, done: make(chan error, 1)}
	select {
	case s.sendq <- req:
	case <-s.dead:
		return ErrNotConnected
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close ends the session cleanly: a close frame with code, a bounded wait for
// the upstream's answer (the reader then ends), then the socket is closed and
// both goroutines are waited for. It is a no-op beyond the wait if the session
// already failed. Run goroutine only.
func (s *session) close(code int) {
	msg := websocket.FormatCloseMessage(code, "")
	if err := s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(s.cfg.WriteTimeout)); err == nil {
		t := time.NewTimer(closeGrace)
		select {
		case <-s.readerDone:
		case <-s.dead:
		case <-t.C:
		}
		t.Stop()
	}
	s.fail(errClosedByClient)
	s.wg.Wait()
}

// proven reports whether the upstream sent anything (a frame, a pong, a ping) after the
// handshake completed: the connection did more than accept and drop.
func (s *session) proven() bool { return s.activity.Load() > s.atReady.Load() }

// wait blocks until both goroutines have returned. Run goroutine only.
func (s *session) wait() { s.wg.Wait() }
