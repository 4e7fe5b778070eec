package ws

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestHandshakeWaitsForTheHandler(t *testing.T) {
	up := newUpstream(t, "/chat")
	opened := make(chan string, 1)
	h := &testHandler{
		open: func(token string) Opening {
			opened <- token
			return Opening{Write: [][]byte{[]byte("hello " + token)}}
		},
		frame: func(f Frame) Reaction { return Reaction{Ready: string(f.Data) == "welcome"} },
	}
	cfg := testConfig(up.url, StaticToken("tok"))
	cfg.TokenIn = TokenInHandshake
	c := startClient(t, cfg, h)
	sc := up.next(t)
	if got := <-opened; got != "tok" {
		t.Fatalf("OpenConn got token %q, want tok", got)
	}
	if r := up.dial(t, 1); r.URL.Query().Has("token") || r.Header.Get("Authorization") != "" {
		t.Errorf("the dial carried the token (%s, %q); it belongs in the handshake frame", r.URL, r.Header.Get("Authorization"))
	}
	select {
	case f := <-sc.recv:
		if string(f) != "hello tok" {
			t.Fatalf("first frame = %q, want the opening frame", f)
		}
	case <-time.After(bound):
		t.Fatal("the opening frame never reached the server")
	}
	if st := c.Status().State; st != StateConnecting {
		t.Fatalf("state before the handshake reply = %s, want connecting", st)
	}
	if err := c.Send(t.Context(), []byte("early")); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Send before the handshake = %v, want ErrNotConnected", err)
	}
	sc.write(t, []byte("welcome"))
	c.rec.waitState(t, StateConnected)
	if err := c.Send(t.Context(), []byte("now")); err != nil {
		t.Fatalf("Send after the handshake: %v", err)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	up := newUpstream(t, "/chat")
	cfg := testConfig(up.url, StaticToken("tok"))
	cfg.HandshakeTimeout = 50 * time.Millisecond
	c := startClient(t, cfg, &testHandler{open: func(string) Opening { return Opening{} }})
	st := c.rec.waitState(t, StateReconnecting)
	if !strings.Contains(st.LastError, "handshake") {
		t.Errorf("LastError = %q, want it to say the handshake did not complete", st.LastError)
	}
	up.next(t)
	up.next(t) // and it tries again
}

func TestReactionErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want State
	}{
		{"auth failure", fmt.Errorf("connect refused: %w", ErrUnauthorized), StateUnauthorized},
		{"terminal", fmt.Errorf("server said no: %w", ErrTerminal), StateStopped},
		{"other", errors.New("protocol error"), StateReconnecting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, "/chat")
			h := &testHandler{frame: func(Frame) Reaction { return Reaction{Err: tt.err} }}
			c := startClient(t, testConfig(up.url, StaticToken("s3cret-value")), h)
			c.rec.waitState(t, StateConnected)
			up.next(t).write(t, []byte("bad news"))
			st := c.rec.waitState(t, tt.want)
			if !strings.Contains(st.LastError, tt.err.Error()) {
				t.Errorf("LastError = %q, want it to hold %q", st.LastError, tt.err)
			}
			if tt.want == StateStopped {
				quietFor(3, testConfig(up.url, nil))
				if n := up.dialCount(); n != 1 {
					t.Fatalf("dials after a terminal end = %d, want 1", n)
				}
				c.Reconnect()
				c.rec.waitState(t, StateConnected)
			}
		})
	}
}

func TestReactionRepliesAndBinaryFrames(t *testing.T) {
	up := newUpstream(t, "/chat")
	binary := make(chan []byte, 1)
	h := &testHandler{frame: func(f Frame) Reaction {
		if f.Binary {
			binary <- f.Data
			return Reaction{}
		}
		return Reaction{Write: [][]byte{[]byte("re: " + string(f.Data))}}
	}}
	c := startClient(t, testConfig(up.url, StaticToken("tok")), h)
	c.rec.waitState(t, StateConnected)
	sc := up.next(t)
	sc.write(t, []byte("2"))
	select {
	case f := <-sc.recv:
		if string(f) != "re: 2" {
			t.Errorf("server got %q, want the answer re: 2", f)
		}
	case <-time.After(bound):
		t.Fatal("the answer never reached the server")
	}
	sc.wmu.Lock()
	err := sc.WriteMessage(websocket.BinaryMessage, []byte{0, 1, 2})
	sc.wmu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-binary:
		if string(b) != "\x00\x01\x02" {
			t.Errorf("binary frame = %x, want 000102", b)
		}
	case <-time.After(bound):
		t.Fatal("the binary frame never reached the handler")
	}
}

func TestIdleLimitEndsASilentConnection(t *testing.T) {
	up := newUpstream(t, "/chat")
	up.setSilent(func(n int) bool { return n == 1 })
	cfg := testConfig(up.url, StaticToken("tok"))
	cfg.NoHeartbeat = true
	c := startClient(t, cfg)
	c.rec.waitState(t, StateConnected)
	// The limit comes with a frame (a handshake reply); a silent server sends none, so the
	// test hands the reaction to the session as its reader would.
	c.mu.Lock()
	s := c.cur
	c.mu.Unlock()
	s.react(Reaction{Idle: 50 * time.Millisecond})
	st := c.rec.waitState(t, StateReconnecting)
	if !strings.Contains(st.LastError, "no frame from upstream for 50ms") {
		t.Errorf("LastError = %q, want the idle limit named", st.LastError)
	}
	if sc := up.next(t); sc.pings.Load() != 0 {
		t.Errorf("the client pinged %d times with NoHeartbeat", sc.pings.Load())
	}
	c.rec.waitState(t, StateConnected)
}

func TestDialOptions(t *testing.T) {
	tests := []struct {
		name  string
		cfg   func(*Config)
		check func(t *testing.T, r *http.Request)
	}{
		{"no token", func(c *Config) { c.TokenIn, c.Token = TokenInNone, nil }, func(t *testing.T, r *http.Request) {
			if r.URL.RawQuery != "" || r.Header.Get("Authorization") != "" {
				t.Errorf("dial carried a token: %s %q", r.URL, r.Header.Get("Authorization"))
			}
		}},
		{"query name", func(c *Config) { c.TokenName = "access_token" }, func(t *testing.T, r *http.Request) {
			if r.URL.Query().Get("access_token") != "tok" || r.URL.Query().Has("token") {
				t.Errorf("query = %q, want access_token=tok only", r.URL.RawQuery)
			}
		}},
		{"header name", func(c *Config) { c.TokenIn, c.TokenName = TokenInHeader, "X-Auth-Token" }, func(t *testing.T, r *http.Request) {
			if r.Header.Get("X-Auth-Token") != "tok" || r.Header.Get("Authorization") != "" {
				t.Errorf("headers = %v, want X-Auth-Token: tok", r.Header)
			}
		}},
		{"headers, origin, subprotocols", func(c *Config) {
			// gorilla's server checks Origin against its Host: give the one it accepts.
			u, _ := url.Parse(c.URL)
			origin := "http://" + u.Host
			c.Header = http.Header{"X-Client": {"chatbridge"}, "Origin": {origin}}
			c.Subprotocols = []string{"chat.v1", "chat.v0"}
		}, func(t *testing.T, r *http.Request) {
			if r.Header.Get("X-Client") != "chatbridge" || !strings.HasPrefix(r.Header.Get("Origin"), "http://127.0.0.1:") {
				t.Errorf("headers = %v, want X-Client and Origin", r.Header)
			}
			if got := r.Header.Get("Sec-WebSocket-Protocol"); got != "chat.v1, chat.v0" {
				t.Errorf("Sec-WebSocket-Protocol = %q, want chat.v1, chat.v0", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, "/chat")
			cfg := testConfig(up.url, StaticToken("tok"))
			tt.cfg(&cfg)
			c := startClient(t, cfg)
			c.rec.waitState(t, StateConnected)
			tt.check(t, up.dial(t, 1))
		})
	}
}

func TestCloseCodes(t *testing.T) {
	up := newUpstream(t, "/chat")
	cfg := testConfig(up.url, StaticToken("tok"))
	cfg.CloseCodes = func(code int) error {
		if code >= 3500 {
			return ErrTerminal
		}
		return nil
	}
	c := startClient(t, cfg)
	c.rec.waitState(t, StateConnected)
	up.next(t).closeWith(websocket.CloseMessageTooBig)
	if st := c.rec.waitState(t, StateReconnecting); st.CloseCode != websocket.CloseMessageTooBig {
		t.Errorf("CloseCode = %d, want 1009", st.CloseCode)
	}
	c.rec.waitState(t, StateConnected)
	up.next(t).closeWith(3501)
	st := c.rec.waitState(t, StateStopped)
	if st.CloseCode != 3501 || !strings.Contains(st.LastError, "3501") {
		t.Errorf("stopped status = %+v, want close code 3501 named", st)
	}
}

// TestBackoffStartsOverOnceAConnectionProvedItself: a connection on which the upstream sent
// something resets the attempt counter when it drops; one accepted and dropped at once does not.
func TestBackoffStartsOverOnceAConnectionProvedItself(t *testing.T) {
	for _, tt := range []struct {
		name  string
		speak bool
		want  []int // the attempt numbers of the reconnecting states, in order
	}{
		{"a frame, then a drop", true, []int{1, 1, 1}},
		{"accepted and dropped at once", false, []int{1, 2, 3}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, "/chat")
			cfg := testConfig(up.url, StaticToken("tok"))
			cfg.StableAfter = time.Hour
			got := make(chan struct{}, 10)
			c := startClient(t, cfg, onText(func([]byte) { got <- struct{}{} }))
			for i, want := range tt.want {
				c.rec.waitState(t, StateConnected)
				sc := up.next(t)
				if tt.speak {
					sc.write(t, []byte("hello"))
					select {
					case <-got: // the frame is in before the drop
					case <-time.After(bound):
						t.Fatal("the frame never reached the client")
					}
				}
				sc.Close()
				if st := c.rec.waitState(t, StateReconnecting); st.Attempt != want {
					t.Errorf("drop %d: attempt %d, want %d", i+1, st.Attempt, want)
				}
			}
		})
	}
}
