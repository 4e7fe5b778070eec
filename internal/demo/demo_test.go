package demo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bound is how long a test waits for something that should happen, so that
// a hung test fails instead of hanging. It is never a performance threshold.
const bound = 10 * time.Second

// startServer serves a new Server at Path on 127.0.0.1 and returns it with its
// ws:// URL (without token). Both are closed when the test ends.
func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	s := New(cfg)
	mux := http.NewServeMux()
	mux.Handle(Path, s)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		ts.Close()
	})
	return s, "ws" + strings.TrimPrefix(ts.URL, "http") + Path
}

// got is one frame a test client received.
type got struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
	raw     []byte
}

// field decodes one payload field into v.
func (g got) field(t *testing.T, name string, v any) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(g.Payload, &m); err != nil {
		t.Fatalf("decode %s payload %s: %v", g.Type, g.Payload, err)
	}
	raw, ok := m[name]
	if !ok {
		t.Fatalf("%s payload %s has no %q", g.Type, g.Payload, name)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode %s.%s: %v", g.Type, name, err)
	}
}

// str returns a string payload field.
func (g got) str(t *testing.T, name string) string {
	t.Helper()
	var s string
	g.field(t, name, &s)
	return s
}

// client is a test WebSocket client with a reader goroutine that ends when
// the test does.
type client struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan got
	done   chan struct{} // closed when the reader ends; err is set then
	err    error
}

var dialer = websocket.Dialer{HandshakeTimeout: bound}

// dialRaw dials with the token in the query (or, with header, as a Bearer
// header) and returns the connection or the handshake response.
func dialRaw(t *testing.T, wsURL, token string, header bool) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if header {
		h.Set("Authorization", "Bearer "+token)
	} else if token != "" {
		wsURL += "?token=" + url.QueryEscape(token)
	}
	ctx, cancel := context.WithTimeout(t.Context(), bound)
	defer cancel()
	ws, resp, err := dialer.DialContext(ctx, wsURL, h)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	return ws, resp, err
}

// dial connects a client and consumes its connect snapshot (see barrier),
// returning the snapshot frames.
func dial(t *testing.T, wsURL, token string) (*client, []got) {
	t.Helper()
	ws, _, err := dialRaw(t, wsURL, token, false)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := newClient(t, ws)
	return c, c.barrier()
}

func newClient(t *testing.T, ws *websocket.Conn) *client {
	c := &client{t: t, ws: ws, frames: make(chan got, 4096), done: make(chan struct{})}
	stop := make(chan struct{})
	go func() {
		defer close(c.done)
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				c.err = err
				return
			}
			g := got{raw: data}
			_ = json.Unmarshal(data, &g)
			select {
			case c.frames <- g:
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		_ = ws.Close()
		<-c.done
	})
	return c
}

// send writes one envelope.
func (c *client) send(typ string, payload any) {
	c.t.Helper()
	b, err := json.Marshal(map[string]any{"type": typ, "payload": payload})
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next returns the next frame received.
func (c *client) next() got {
	c.t.Helper()
	select {
	case g := <-c.frames:
		return g
	case <-c.done:
		// Frames read before the end are still in the channel.
		select {
		case g := <-c.frames:
			return g
		default:
		}
		c.t.Fatalf("connection ended: %v", c.err)
	case <-time.After(bound):
		c.t.Fatal("no frame received")
	}
	return got{}
}

// expect returns the next frame and fails unless it has type typ.
func (c *client) expect(typ string) got {
	c.t.Helper()
	g := c.next()
	if g.Type != typ {
		c.t.Fatalf("got frame %s, want type %s", g.raw, typ)
	}
	return g
}

// until skips frames until one of type typ for which match is true (nil
// matches any) and returns it.
func (c *client) until(typ string, match func(got) bool) got {
	c.t.Helper()
	for {
		if g := c.next(); g.Type == typ && (match == nil || match(g)) {
			return g
		}
	}
}

// barrier sends a ping and returns every frame received before its pong.
// The server handles a connection's frames in order and writes each
// connection's frames in order, so anything the server queued to this client
// before handling the ping is in the result.
func (c *client) barrier() []got {
	c.t.Helper()
	c.send("ping", map[string]any{})
	var before []got
	for {
		g := c.next()
		if g.Type == "pong" {
			return before
		}
		before = append(before, g)
	}
}

// ended waits for the connection to end and returns the read error.
func (c *client) ended() error {
	c.t.Helper()
	select {
	case <-c.done:
		return c.err
	case <-time.After(bound):
		c.t.Fatal("connection did not end")
		return nil
	}
}

// closeCode returns the close code of a read error, or -1.
func closeCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

// types lists the frame types of gs.
func types(gs []got) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.Type
	}
	return out
}

func TestCloseEndsConnectionsWith1001AndIsIdempotent(t *testing.T) {
	s, u := startServer(t, Config{})
	c, _ := dial(t, u, DemoToken)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if code := closeCode(c.ended()); code != websocket.CloseGoingAway {
		t.Errorf("close code %d, want 1001", code)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, resp, err := dialRaw(t, u, DemoToken, false)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("handshake after Close: err %v, resp %v; want 503", err, resp)
	}
	if n := s.Connections(); n != 0 {
		t.Errorf("Connections() = %d after Close", n)
	}
}
