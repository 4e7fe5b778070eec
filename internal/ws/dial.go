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

// closeUnauthorized is the protocol's close code for a bad or expired token.
const closeUnauthorized = 4001

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
	hdr := http.Header{}
	u := *c.base
	if c.cfg.TokenIn == TokenInHeader {
		hdr.Set("Authorization", "Bearer "+token)
		return u.String(), hdr
	}
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String(), hdr
}

// safeDialURL is the redacted form of every dial URL, for logs and errors.
func safeDialURL(base *url.URL, in TokenPlacement) string {
	u := *base
	if in == TokenInQuery {
		q := u.Query()
		q.Set("token", redactedText)
		u.RawQuery = q.Encode()
	}
	return redactURL(&u)
}

// dial opens one connection with token. Its error never holds the token or the
// URL's query; a refused handshake is a *handshakeError in the chain.
func (c *Client) dial(ctx context.Context, token string) (*websocket.Conn, error) {
	target, hdr := c.dialURL(token)
	d := websocket.Dialer{HandshakeTimeout: c.cfg.HandshakeTimeout, Proxy: c.cfg.Proxy}
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
// loop acts on: a close 4001 or 1008 becomes an ErrUnauthorized.
func classifyDrop(err error, safeURL, token string) error {
	if ce, ok := errors.AsType[*websocket.CloseError](err); ok &&
		(ce.Code == closeUnauthorized || ce.Code == websocket.ClosePolicyViolation) {
		err = fmt.Errorf("upstream closed the connection with code %d: %w", ce.Code, ErrUnauthorized)
	}
	return fmt.Errorf("connection lost: %w", redactError(err, safeURL, token))
}
