package ws

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestReceiveFramesInOrder(t *testing.T) {
	up := newUpstream(t, "/chat")
	got := make(chan string, 1000)
	cfg := testConfig(up.url, StaticToken("tok"))
	c := startClient(t, cfg, onText(func(b []byte) { got <- string(b) }))
	c.rec.waitState(t, StateConnected)
	sc := up.next(t)

	const n = 200
	for i := range n {
		sc.write(t, fmt.Appendf(nil, `{"type":"t","payload":{"i":%d}}`, i))
	}
	for i := range n {
		want := fmt.Sprintf(`{"type":"t","payload":{"i":%d}}`, i)
		select {
		case f := <-got:
			if f != want {
				t.Fatalf("frame %d = %s, want %s", i, f, want)
			}
		case <-time.After(bound):
			t.Fatalf("frame %d never arrived", i)
		}
	}
	if st := c.Status(); st.State != StateConnected || st.Attempt != 0 || st.LastError != "" {
		t.Errorf("Status = %+v, want connected with no attempt or error", st)
	}
	if got, want := c.rec.states(), []State{StateConnecting, StateConnected}; !slices.Equal(got, want) {
		t.Errorf("states = %v, want %v", got, want)
	}
}

func TestCleanStopSendsClose1000(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	up := newUpstream(t, "/chat")
	c := startClient(t, testConfig(up.url, StaticToken("tok")))
	c.rec.waitState(t, StateConnected)
	sc := up.next(t)

	if err := c.stop(t); err != nil {
		t.Fatalf("Run = %v, want nil after ctx is done", err)
	}
	var ce *websocket.CloseError
	if err := sc.closeErr(t); !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Errorf("server saw %v, want close 1000", err)
	}
	if st := c.Status(); st.State != StateStopped {
		t.Errorf("Status after Run = %v, want stopped", st.State)
	}
	if states := c.rec.states(); states[len(states)-1] != StateStopped {
		t.Errorf("last state = %v, want stopped", states[len(states)-1])
	}
	if err := c.Send(t.Context(), []byte("x")); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Send after Run = %v, want ErrNotConnected", err)
	}
	up.close()
	goleak.VerifyNone(t, ignore)
}

func TestRunTwiceAtOnce(t *testing.T) {
	up := newUpstream(t, "/chat")
	c := startClient(t, testConfig(up.url, StaticToken("tok")))
	c.rec.waitState(t, StateConnected)
	if err := c.Run(t.Context(), &testHandler{rec: newRecorder()}); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
}

func TestDisconnectThenReconnect(t *testing.T) {
	up := newUpstream(t, "/chat")
	cfg := testConfig(up.url, StaticToken("tok"))
	c := startClient(t, cfg)
	c.rec.waitState(t, StateConnected)
	first := up.next(t)

	c.Disconnect()
	c.rec.waitState(t, StateStopped)
	var ce *websocket.CloseError
	if err := first.closeErr(t); !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Errorf("server saw %v, want close 1000", err)
	}
	if err := c.Send(t.Context(), []byte("x")); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Send while stopped = %v, want ErrNotConnected", err)
	}
	quietFor(10, cfg)
	if n := up.dialCount(); n != 1 {
		t.Fatalf("dials while stopped = %d, want 1", n)
	}

	c.Reconnect()
	c.rec.waitState(t, StateConnected)
	second := up.next(t)
	if err := c.Send(t.Context(), []byte("after")); err != nil {
		t.Fatalf("Send after Reconnect: %v", err)
	}
	if f := <-second.recv; string(f) != "after" {
		t.Errorf("server got %q, want after", f)
	}

	// Reconnect while connected: a clean close and an immediate redial, with
	// no reconnecting (backoff) state in between.
	mark := len(c.rec.states())
	c.Reconnect()
	c.rec.waitState(t, StateConnecting)
	c.rec.waitState(t, StateConnected)
	if err := second.closeErr(t); !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Errorf("server saw %v, want close 1000", err)
	}
	if got, want := c.rec.states()[mark:], []State{StateConnecting, StateConnected}; !slices.Equal(got, want) {
		t.Errorf("states after Reconnect = %v, want %v", got, want)
	}
	if n := up.dialCount(); n != 3 {
		t.Errorf("dials = %d, want 3", n)
	}
}

func TestTokenPlacement(t *testing.T) {
	tests := []struct {
		name       string
		in         TokenPlacement
		wantQuery  string
		wantHeader string
	}{
		{"query", TokenInQuery, "tok/+=1", ""},
		{"header", TokenInHeader, "", "Bearer tok/+=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, "/chat?room=r1")
			cfg := testConfig(up.url, StaticToken("tok/+=1"))
			cfg.TokenIn = tt.in
			c := startClient(t, cfg)
			c.rec.waitState(t, StateConnected)
			r := up.dial(t, 1)
			q := r.URL.Query()
			if q.Get("room") != "r1" {
				t.Errorf("query room = %q, want r1 kept", q.Get("room"))
			}
			if _, ok := q["token"]; ok != (tt.wantQuery != "") || q.Get("token") != tt.wantQuery {
				t.Errorf("query token = %q (present %v), want %q", q.Get("token"), ok, tt.wantQuery)
			}
			if got := r.Header.Get("Authorization"); got != tt.wantHeader {
				t.Errorf("Authorization = %q, want %q", got, tt.wantHeader)
			}
		})
	}
}

func TestNewRejectsBadURLWithoutLeakingIt(t *testing.T) {
	const secret = "s3cr3t-TOKEN"
	for _, raw := range []string{
		"ws://127.0.0.1:badport/chat?token=" + secret,
		"ws://bad host/chat?token=" + secret,
		"ws://127.0.0.1:1/chat?token=" + secret + "\x7f",
		"ws://user:" + secret + "@127.0.0.1:1/chat",
		"ws://user:" + secret + "@127.0.0.1:bad/chat",
		"http://127.0.0.1/chat?token=" + secret,
		"ws:///chat?token=" + secret,
		"ws://[::1/chat?token=" + secret,
		"127.0.0.1:1/chat?token=" + secret,
		"",
	} {
		_, err := New(Config{URL: raw, Token: StaticToken(secret)})
		if err == nil {
			t.Errorf("New(%q) = nil error, want one", redactRawURL(raw))
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("New error leaks the secret: %v", err)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's and the test's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRunNeverLeaksTheToken(t *testing.T) {
	const secret = "s3cr3t-TOKEN"
	// A port nothing listens on, so every dial fails.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	up := newUpstream(t, "/chat?room="+secret)

	leakyURL := func(r *http.Request) (*url.URL, error) {
		return nil, &url.Error{Op: "proxy", URL: r.URL.String(), Err: errors.New("refused")}
	}
	leakyText := func(r *http.Request) (*url.URL, error) {
		return nil, fmt.Errorf("no proxy for %s (%s)", r.URL, r.Header.Get("Authorization"))
	}
	tests := []struct {
		name  string
		url   string
		in    TokenPlacement
		proxy func(*http.Request) (*url.URL, error)
		code  int // handshake answer; 0 upgrades
	}{
		{"refused port", "ws://" + closed + "/chat?room=" + secret, TokenInQuery, nil, 0},
		{"proxy url.Error", "ws://" + closed + "/chat", TokenInQuery, leakyURL, 0},
		{"proxy text error", "ws://" + closed + "/chat", TokenInHeader, leakyText, 0},
		{"handshake 500", up.url, TokenInQuery, nil, http.StatusInternalServerError},
		{"handshake 401", up.url, TokenInQuery, nil, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up.setRefuse(func(int, *http.Request) (int, http.Header) { return tt.code, nil })
			var logs syncBuffer
			cfg := testConfig(tt.url, StaticToken(secret))
			cfg.TokenIn = tt.in
			cfg.Proxy = tt.proxy
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			c := startClient(t, cfg)
			st := c.rec.waitFor(t, "failure", func(s Status) bool { return s.LastError != "" })
			if tt.code != http.StatusUnauthorized {
				st = c.rec.waitFor(t, "second failure", func(s Status) bool { return s.State == StateReconnecting && s.Attempt >= 2 })
			}
			if strings.Contains(st.LastError, secret) {
				t.Errorf("LastError leaks the secret: %s", st.LastError)
			}
			if err := c.stop(t); err != nil {
				t.Errorf("Run = %v", err)
			}
			out := logs.String()
			if strings.Contains(out, secret) {
				t.Errorf("logs leak the secret:\n%s", out)
			}
			if !strings.Contains(out, "url=") || !strings.Contains(out, "err=") || !strings.Contains(out, redactedText) {
				t.Errorf("logs lack the url/err keys or the redacted URL:\n%s", out)
			}
		})
	}
}
