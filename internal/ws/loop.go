package ws

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

// step makes one pass of the Run loop: obtain a token, dial, run the connection
// until it ends, then wait as the outcome requires. Run goroutine only; it
// returns early when ctx ends.
func (c *Client) step(ctx context.Context, l *loopState) {
	// Take the change channel before reading the token so a Set in between
	// still wakes the wait below.
	var changed <-chan struct{}
	if n, ok := c.cfg.Token.(tokenNotifier); ok {
		changed = n.Changed()
	}
	token, err := c.cfg.Token.Token(ctx)
	if ctx.Err() != nil {
		return
	}
	if c.cfg.TokenIn == TokenInNone {
		token, err = "", nil
	}
	switch {
	case err != nil || (token == "" && c.cfg.TokenIn != TokenInNone):
		st := Status{State: StateIdle, LastError: errNoToken.Error()}
		if err != nil {
			st.LastError = redactError(fmt.Errorf("get token: %w", err), c.safeURL, "").Error()
		}
		c.setStatus(st)
		c.wait(ctx, c.cfg.TokenPoll, changed, l)
		return
	case token == l.rejected && c.cfg.TokenIn != TokenInNone:
		c.setStatus(Status{State: StateUnauthorized, Attempt: l.failures, LastError: l.lastErr})
		c.wait(ctx, c.cfg.TokenPoll, changed, l)
		return
	}
	l.rejected = ""
	c.setStatus(Status{State: StateConnecting, Attempt: l.failures, LastError: l.lastErr})
	c.log.Debug("dialing upstream", "attempt", l.failures+1, "url", c.safeURL)
	conn, err := c.dial(ctx, token)
	if err != nil {
		if ctx.Err() == nil {
			c.failed(ctx, l, token, err, 0)
		}
		return
	}
	c.serve(ctx, l, token, conn)
}

// errHandshake ends a connection whose protocol handshake did not complete in time.
var errHandshake = errors.New("the upstream did not complete the handshake in time")

// errNoToken is the idle state's explanation.
var errNoToken = errors.New("no upstream token yet")

// failed records a failed attempt or a lost connection (code is the close code
// the upstream sent, 0 if none). An auth failure parks the loop in state
// unauthorized (the next step waits for a different token); a terminal end
// stops it until Reconnect; anything else waits for the backoff delay, or for
// the server's Retry-After.
func (c *Client) failed(ctx context.Context, l *loopState, token string, err error, code int) {
	l.failures++
	l.lastErr = err.Error()
	switch {
	case errors.Is(err, ErrUnauthorized):
		l.rejected = token
		c.setStatus(Status{State: StateUnauthorized, Attempt: l.failures, LastError: l.lastErr, CloseCode: code})
		return
	case errors.Is(err, ErrTerminal):
		l.stopped = true
		c.setStatus(Status{State: StateStopped, Attempt: l.failures, LastError: l.lastErr, CloseCode: code})
		return
	}
	d, ok := retryAfterOf(err)
	if !ok {
		d = c.backoff.delay(l.failures)
	}
	c.setStatus(Status{
		State:       StateReconnecting,
		Attempt:     l.failures,
		NextRetryAt: time.Now().Add(d),
		LastError:   l.lastErr,
		CloseCode:   code,
	})
	c.wait(ctx, d, nil, l)
}

// serve runs one connection until it fails, ctx ends or a command arrives.
// A command or the end of ctx closes it cleanly (close 1000); a failure is
// handed to failed. Returns after the connection's goroutines have ended.
func (c *Client) serve(ctx context.Context, l *loopState, token string, conn *websocket.Conn) {
	s := startSession(conn, &c.cfg, c.h, c.h.OpenConn(token))
	up := time.Now()
	cmd, ready := c.awaitReady(ctx, s)
	if ready {
		c.mu.Lock()
		c.cur = s
		c.mu.Unlock()
		l.lastErr = ""
		c.setStatus(Status{State: StateConnected})
	}

wait:
	for ready && cmd == cmdNone {
		select {
		case <-s.dead:
			break wait
		case <-ctx.Done():
			break wait
		case <-c.wake:
			cmd = c.takeCommand()
		}
	}

	c.mu.Lock()
	c.cur = nil
	c.mu.Unlock()
	if cmd != cmdNone || ctx.Err() != nil {
		s.close(websocket.CloseNormalClosure)
	} else {
		s.wait()
	}
	if ready && (s.proven() || time.Since(up) >= c.cfg.StableAfter) {
		l.failures = 0 // it worked: the next drop starts the backoff over
	}
	if ctx.Err() != nil || l.apply(cmd) {
		return
	}
	c.failed(ctx, l, token, classifyDrop(s.err, c.safeURL, token, c.cfg.CloseCodes), closeCodeOf(s.err))
}

// awaitReady waits until the Handler's handshake on s completed (ready), the
// session failed, ctx ended, a command arrived (returned) or the handshake
// timeout passed (the session is failed with errHandshake).
func (c *Client) awaitReady(ctx context.Context, s *session) (cmd command, ready bool) {
	select {
	case <-s.ready:
		return cmdNone, true
	default:
	}
	t := time.NewTimer(c.cfg.HandshakeTimeout)
	defer t.Stop()
	for {
		select {
		case <-s.ready:
			return cmdNone, true
		case <-s.dead:
			return cmdNone, false
		case <-ctx.Done():
			return cmdNone, false
		case <-t.C:
			s.fail(errHandshake)
			return cmdNone, false
		case <-c.wake:
			if cmd = c.takeCommand(); cmd != cmdNone {
				return cmd, false
			}
		}
	}
}
