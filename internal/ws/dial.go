package ws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
)

// ErrUnauthorized reports that the upstream rejected the token: a 401 or 403
// handshake answer, or a close frame with code 4001 or 1008. Check it with
// errors.Is.
var ErrUnauthorized = errors.New("upstream rejected the token")

// closeUnauthorized is the default wire's close code for a bad or expired token.
const closeUnauthorized = 4001

// ErrTerminal reports that the upstream ended the session and does not want the
// client back: the client stops (state stopped) until Reconnect. Check it with
// errors.Is.
var ErrTerminal = errors.New("upstream ended the session for good")

// DefaultCloseCodes is Config.CloseCodes's default: a close with 4001 or 1008 is an
// auth failure, anything else an ordinary drop.
func DefaultCloseCodes(code int) error {
	if code == closeUnauthorized || code == websocket.ClosePolicyViolation {
		return ErrUnauthorized
	}
	return nil
}

// handshakeError is a handshake the upstream answered with a status other than
// 101. It never holds the response body, which might echo the token.
type handshakeError struct {
	status     string        // e.g. "429 Too Many Requests"
	code       int           // HTTP status code
	retryAfter time.Duration // > 0 when a 429/503 carried a usable Retry-After
}

func (e *handshakeError) Error() string {
	if e.retryAfter > 0 {
		return fmt.Sprintf("upstream refused the handshake: %s (retry after %s)", e.status, e.retryAfter)
	}
	return "upstream refused the handshake: " + e.status
}

// Is makes a 401 or 403 answer match ErrUnauthorized.
func (e *handshakeError) Is(target error) bool {
	return target == ErrUnauthorized && (e.code == http.StatusUnauthorized || e.code == http.StatusForbidden)
}

// dialURL is the URL and header for one dial with token.
func (c *Client) dialURL(token string) (string, http.Header) {
	hdr := c.cfg.Header.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	u := *c.base
	switch c.cfg.TokenIn {
	case TokenInHeader:
		if http.CanonicalHeaderKey(c.cfg.TokenName) == "Authorization" {
			hdr.Set("Authorization", "Bearer "+token)
		} else {
			hdr.Set(c.cfg.TokenName, token)
		}
	case TokenInQuery:
		q := u.Query()
		q.Set(c.cfg.TokenName, token)
		u.RawQuery = q.Encode()
	}
	return u.String(), hdr
}

// safeDialURL is the redacted form of every dial URL, for logs and errors.
func safeDialURL(base *url.URL, in TokenPlacement, name string) string {
	u := *base
	if in == TokenInQuery {
		q := u.Query()
		q.Set(name, redactedText)
		u.RawQuery = q.Encode()
	}
	return redactURL(&u)
}

// dial opens one connection with token. Its error never holds the token or the
// URL's query; a refused handshake is a *handshakeError in the chain.
func (c *Client) dial(ctx context.Context, token string) (*websocket.Conn, error) {
	target, hdr := c.dialURL(token)
	d := websocket.Dialer{HandshakeTimeout: c.cfg.HandshakeTimeout, Proxy: c.cfg.Proxy,
		Subprotocols: c.cfg.Subprotocols}
	conn, resp, err := d.DialContext(ctx, target, hdr)
	if err == nil {
		return conn, nil
	}
	if conn != nil {
		conn.Close()
	}
	if resp != nil && errors.Is(err, websocket.ErrBadHandshake) {
		herr := &handshakeError{status: resp.Status, code: resp.StatusCode}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			herr.retryAfter, _ = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		err = herr
	}
	return nil, fmt.Errorf("dial upstream %s: %w", c.safeURL, redactError(err, c.safeURL, token))
}

// retryAfterOf returns the server-requested delay carried by err, if any.
func retryAfterOf(err error) (time.Duration, bool) {
	if herr, ok := errors.AsType[*handshakeError](err); ok && herr.retryAfter > 0 {
		return herr.retryAfter, true
	}
	return 0, false
}

// classifyDrop turns the error that ended a connection into the error the
// loop acts on: a close code that CloseCodes classifies becomes its error (an
// ErrUnauthorized or ErrTerminal in the chain).
func classifyDrop(err error, safeURL, token string, codes func(int) error) error {
	if ce, ok := errors.AsType[*websocket.CloseError](err); ok {
		if kind := codes(ce.Code); kind != nil {
			err = fmt.Errorf("upstream closed the connection with code %d %q: %w", ce.Code, ce.Text, kind)
		}
	}
	return fmt.Errorf("connection lost: %w", redactError(err, safeURL, token))
}

// closeCodeOf returns the close code the upstream ended a connection with, 0 when
// it sent no close frame.
func closeCodeOf(err error) int {
	if ce, ok := errors.AsType[*websocket.CloseError](err); ok {
		return ce.Code
	}
	return 0
}
