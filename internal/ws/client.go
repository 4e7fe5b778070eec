// Package ws is a reconnecting WebSocket client on gorilla/websocket. It dials
// the upstream with a token from a TokenSource, keeps the connection alive with
// heartbeats, reconnects with exponential backoff and full jitter, stops
// redialling on an auth failure until the token changes, and reports every
// state change. It knows nothing about the frames it carries: the Handler that
// Run drives opens each connection (its protocol's handshake), gets every frame
// and every state change, and the layer above sends opaque frames with Send.
package ws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"
)

// ErrRunning is returned by Run while another Run of the same Client is active.
var ErrRunning = errors.New("ws: Run is already active")

// command is a request from Reconnect or Disconnect to the Run loop.
type command int

const (
	cmdNone command = iota
	cmdReconnect
	cmdDisconnect
)

// Client is one reconnecting upstream connection. Run owns its loop and
// goroutines; Send, Status, Reconnect and Disconnect are safe for concurrent use
// from any goroutine, before, during and after Run.
type Client struct {
	cfg     Config
	base    *url.URL // upstream URL without the token
	safeURL string   // redacted dial URL, the only form that is logged
	log     *slog.Logger
	backoff backoff

	wake chan struct{} // buffered 1: a command is pending
	h    Handler       // the active Run's; Run goroutine only

	mu      sync.Mutex
	status  Status
	cur     *session // live session, nil while not connected
	running bool
	cmd     command // pending command, the latest wins
}

// loopState is owned by the Run goroutine.
type loopState struct {
	failures int    // consecutive failed attempts since the last stable connection
	rejected string // token the upstream refused; not dialled again
	lastErr  string // redacted text of the last failure
	stopped  bool   // Disconnect in effect
}

// New validates cfg, fills its defaults and returns an idle Client. Its errors
// never hold the URL's query or userinfo.
func New(cfg Config) (*Client, error) {
	cfg, u, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Client{
		cfg:     cfg,
		base:    u,
		safeURL: safeDialURL(u, cfg.TokenIn, cfg.TokenName),
		log:     cfg.Logger,
		backoff: backoff{min: cfg.ReconnectMin, max: cfg.ReconnectMax},
		wake:    make(chan struct{}, 1),
		status:  Status{State: StateIdle, Since: time.Now()},
	}, nil
}

// Status returns the latest state snapshot. Safe for concurrent use.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Send writes frame as one text frame and blocks until the writer goroutine has
// written it (under the write deadline) or failed, or ctx ends. It fails at once
// with ErrNotConnected (errors.Is) while not connected, or when the connection
// is lost before the frame was written. Send keeps no reference to frame after
// it returns. Safe for concurrent use; frames from one goroutine go out in order.
func (c *Client) Send(ctx context.Context, frame []byte) error {
	c.mu.Lock()
	s := c.cur
	c.mu.Unlock()
	if s == nil {
		return fmt.Errorf("send: %w", ErrNotConnected)
	}
	if err := s.send(ctx, append([]byte(nil), frame...)); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// Reconnect drops the current connection (if any, with a 1000 close frame) and
// dials again at once, skipping backoff. It also leaves the stopped state, and
// the unauthorized state: the next dial happens even with the rejected token
// (an explicit request, one dial per call). It does not block; the Run loop acts
// on it. Safe for concurrent use, also from Handler.HandleState.
func (c *Client) Reconnect() { c.command(cmdReconnect) }

// Disconnect closes the connection with a 1000 close frame and keeps the client
// in state stopped, without retries, until Reconnect. Run keeps running. It does
// not block. Safe for concurrent use, also from Handler.HandleState.
func (c *Client) Disconnect() { c.command(cmdDisconnect) }

func (c *Client) command(cmd command) {
	c.mu.Lock()
	c.cmd = cmd
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// takeCommand returns and clears the pending command.
func (c *Client) takeCommand() command {
	c.mu.Lock()
	defer c.mu.Unlock()
	cmd := c.cmd
	c.cmd = cmdNone
	return cmd
}

// apply records cmd in the loop state; it reports whether cmd was a command.
func (l *loopState) apply(cmd command) bool {
	switch cmd {
	case cmdReconnect:
		l.stopped, l.rejected = false, ""
	case cmdDisconnect:
		l.stopped = true
	default:
		return false
	}
	return true
}

// setStatus publishes st (Since is filled in) if it differs from the current
// status: logs it at info when the state changes and calls HandleState. Run
// goroutine only, which keeps HandleState calls ordered and one at a time.
func (c *Client) setStatus(st Status) {
	c.mu.Lock()
	old := c.status
	if st.sameAs(old) {
		c.mu.Unlock()
		return
	}
	st.Since = old.Since
	if st.State != old.State {
		st.Since = time.Now()
	}
	c.status = st
	c.mu.Unlock()

	if st.State != old.State {
		attrs := []any{"state", st.State, "attempt", st.Attempt, "url", c.safeURL}
		if !st.NextRetryAt.IsZero() {
			attrs = append(attrs, "retry_in", time.Until(st.NextRetryAt).Round(time.Millisecond))
		}
		if st.LastError != "" {
			attrs = append(attrs, "err", st.LastError)
		}
		c.log.Info("upstream connection state", attrs...)
	}
	c.h.HandleState(st)
}

// wait blocks for d (forever if d < 0) or until ctx ends, a command arrives, or
// tokenChanged fires. It applies a command to l and returns false only when ctx
// ended.
func (c *Client) wait(ctx context.Context, d time.Duration, tokenChanged <-chan struct{}, l *loopState) bool {
	var timeout <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timeout:
			return true
		case <-tokenChanged:
			return true
		case <-c.wake:
			if l.apply(c.takeCommand()) {
				return true
			}
		}
	}
}

// Run connects and keeps the connection up until ctx ends, driving h with every
// connection, frame and state change; then it closes the connection with a 1000
// close frame, publishes state stopped and returns nil once every goroutine it
// started has ended. Only one Run may be active at a time (ErrRunning
// otherwise); Run may be called again after it returned.
func (c *Client) Run(ctx context.Context, h Handler) error {
	if h == nil {
		return errors.New("ws: Run needs a Handler")
	}
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return ErrRunning
	}
	c.running = true
	c.mu.Unlock()
	c.h = h
	defer func() {
		c.setStatus(Status{State: StateStopped})
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
	}()

	var l loopState
	for ctx.Err() == nil {
		select {
		case <-c.wake:
			l.apply(c.takeCommand())
		default:
		}
		if l.stopped {
			c.setStatus(Status{State: StateStopped})
			c.wait(ctx, -1, nil, &l)
			continue
		}
		c.step(ctx, &l)
	}
	return nil
}
