package ws

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestReconnectAfterDrop(t *testing.T) {
	tests := []struct {
		name      string
		drop      func(t *testing.T, sc *serverConn)
		wantClose int // close code the server sees from the client; 0 to skip
	}{
		{"tcp close", func(_ *testing.T, sc *serverConn) { sc.Close() }, 0},
		{"close 1001 going away", func(_ *testing.T, sc *serverConn) { sc.closeWith(websocket.CloseGoingAway) }, websocket.CloseGoingAway},
		{"close 1012 service restart", func(_ *testing.T, sc *serverConn) { sc.closeWith(websocket.CloseServiceRestart) }, websocket.CloseServiceRestart},
		{"frame over read limit", func(t *testing.T, sc *serverConn) { sc.write(t, make([]byte, 2048)) }, websocket.CloseMessageTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, "/chat")
			cfg := testConfig(up.url, StaticToken("tok"))
			cfg.ReadLimit = 1024
			c := startClient(t, cfg)
			c.rec.waitState(t, StateConnected)
			first := up.next(t)

			tt.drop(t, first)
			st := c.rec.waitState(t, StateReconnecting)
			if st.Attempt != 1 || st.LastError == "" || st.NextRetryAt.IsZero() {
				t.Errorf("reconnecting status = %+v, want attempt 1 with an error and a retry time", st)
			}
			c.rec.waitState(t, StateConnected)
			want := []State{StateConnecting, StateConnected, StateReconnecting, StateConnecting, StateConnected}
			if got := c.rec.states()[:len(want)]; !slices.Equal(got, want) {
				t.Errorf("states = %v, want %v", got, want)
			}
			if tt.wantClose != 0 {
				var ce *websocket.CloseError
				if err := first.closeErr(t); !errors.As(err, &ce) || ce.Code != tt.wantClose {
					t.Errorf("server saw %v, want close %d", err, tt.wantClose)
				}
			}
			// The new connection works.
			second := up.next(t)
			if err := c.Send(t.Context(), []byte("again")); err != nil {
				t.Fatalf("Send on the new connection: %v", err)
			}
			if f := <-second.recv; string(f) != "again" {
				t.Errorf("server got %q, want again", f)
			}
		})
	}
}

func TestStableConnectionResetsAttempts(t *testing.T) {
	tests := []struct {
		name        string
		stableAfter time.Duration
		want        []int // Attempt of the successive reconnecting states
	}{
		{"never stable", time.Hour, []int{1, 2, 3}},
		{"always stable", time.Nanosecond, []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, "/chat")
			cfg := testConfig(up.url, StaticToken("tok"))
			cfg.StableAfter = tt.stableAfter
			c := startClient(t, cfg)
			var got []int
			for range tt.want {
				c.rec.waitState(t, StateConnected)
				up.next(t).Close()
				got = append(got, c.rec.waitState(t, StateReconnecting).Attempt)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("attempts = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUnauthorizedHandshake(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		settable bool // SettableToken; otherwise a FileToken
	}{
		{"401 settable token", http.StatusUnauthorized, true},
		{"403 settable token", http.StatusForbidden, true},
		{"401 token file", http.StatusUnauthorized, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, "/chat")
			up.setRefuse(func(_ int, r *http.Request) (int, http.Header) {
				if r.URL.Query().Get("token") == "bad-tok" {
					return tt.status, nil
				}
				return 0, nil
			})
			settable := NewSettableToken("bad-tok")
			path := filepath.Join(t.TempDir(), "token")
			writeFile(t, path, "bad-tok\n")
			var src TokenSource = FileToken{Path: path}
			if tt.settable {
				src = settable
			}
			cfg := testConfig(up.url, src)
			c := startClient(t, cfg)

			st := c.rec.waitState(t, StateUnauthorized)
			if !strings.Contains(st.LastError, http.StatusText(tt.status)) || strings.Contains(st.LastError, "bad-tok") {
				t.Errorf("LastError = %q, want the status and not the token", st.LastError)
			}
			quietFor(10, cfg)
			if n := up.dialCount(); n != 1 {
				t.Fatalf("dials with the rejected token = %d, want 1", n)
			}
			if s := c.Status(); s.State != StateUnauthorized {
				t.Fatalf("state = %v, want unauthorized", s.State)
			}

			if tt.settable {
				settable.Set("good-tok")
			} else {
				writeFile(t, path, "good-tok")
			}
			c.rec.waitState(t, StateConnected)
			if got := up.dial(t, 2).URL.Query().Get("token"); got != "good-tok" {
				t.Errorf("token of the second dial = %q, want good-tok", got)
			}
		})
	}
}

func TestUnauthorizedClose(t *testing.T) {
	for _, code := range []int{closeUnauthorized, websocket.ClosePolicyViolation} {
		t.Run(fmt.Sprintf("close %d", code), func(t *testing.T) {
			up := newUpstream(t, "/chat")
			tok := NewSettableToken("old-tok")
			cfg := testConfig(up.url, tok)
			c := startClient(t, cfg)
			c.rec.waitState(t, StateConnected)
			up.next(t).closeWith(code)

			st := c.rec.waitState(t, StateUnauthorized)
			if !strings.Contains(st.LastError, strconv.Itoa(code)) {
				t.Errorf("LastError = %q, want the close code", st.LastError)
			}
			quietFor(10, cfg)
			if n := up.dialCount(); n != 1 {
				t.Fatalf("dials with the rejected token = %d, want 1", n)
			}
			tok.Set("new-tok")
			c.rec.waitState(t, StateConnected)
			if got := up.dial(t, 2).URL.Query().Get("token"); got != "new-tok" {
				t.Errorf("token of the second dial = %q, want new-tok", got)
			}
		})
	}
}

func TestReconnectRetriesRejectedToken(t *testing.T) {
	up := newUpstream(t, "/chat")
	up.setRefuse(func(int, *http.Request) (int, http.Header) { return http.StatusUnauthorized, nil })
	c := startClient(t, testConfig(up.url, StaticToken("tok")))
	c.rec.waitState(t, StateUnauthorized)

	c.Reconnect()
	c.rec.waitState(t, StateConnecting)
	c.rec.waitState(t, StateUnauthorized)
	if n := up.dialCount(); n != 2 {
		t.Errorf("dials = %d, want 2 (one per Reconnect)", n)
	}
}

func TestIdleUntilTokenAppears(t *testing.T) {
	up := newUpstream(t, "/chat")
	tok := NewSettableToken("")
	cfg := testConfig(up.url, tok)
	cfg.TokenPoll = time.Hour // only Set can wake the client
	c := startClient(t, cfg)
	if st := c.Status(); st.State != StateIdle {
		t.Fatalf("state = %v, want idle", st.State)
	}
	if err := c.Send(t.Context(), []byte("x")); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Send while idle = %v, want ErrNotConnected", err)
	}
	tok.Set("tok")
	c.rec.waitState(t, StateConnected)
	if got := up.dial(t, 1).URL.Query().Get("token"); got != "tok" {
		t.Errorf("token = %q, want tok", got)
	}
}

func TestFileTokenRereadOnReconnect(t *testing.T) {
	up := newUpstream(t, "/chat")
	path := filepath.Join(t.TempDir(), "token")
	writeFile(t, path, "tok-1")
	c := startClient(t, testConfig(up.url, FileToken{Path: path}))
	c.rec.waitState(t, StateConnected)
	first := up.next(t)

	writeFile(t, path, "  tok-2\n")
	first.Close()
	up.next(t)
	for i, want := range []string{"tok-1", "tok-2"} {
		if got := up.dial(t, i+1).URL.Query().Get("token"); got != want {
			t.Errorf("token of dial %d = %q, want %q", i+1, got, want)
		}
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	tests := []struct {
		status int
		header string
		want   time.Duration
	}{
		{http.StatusTooManyRequests, "3", 3 * time.Second},
		{http.StatusServiceUnavailable, "2", 2 * time.Second},
		{http.StatusTooManyRequests, "86400", maxRetryAfter},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status)+" "+tt.header, func(t *testing.T) {
			up := newUpstream(t, "/chat")
			var (
				mu        sync.Mutex
				refusedAt time.Time
			)
			up.setRefuse(func(int, *http.Request) (int, http.Header) {
				mu.Lock()
				defer mu.Unlock()
				refusedAt = time.Now()
				return tt.status, http.Header{"Retry-After": {tt.header}}
			})
			c := startClient(t, testConfig(up.url, StaticToken("tok")))
			st := c.rec.waitState(t, StateReconnecting)
			// refusedAt was taken before the answer left the server, hence
			// before the client read it and recorded the status.
			mu.Lock()
			defer mu.Unlock()
			if wait := st.NextRetryAt.Sub(refusedAt); wait < tt.want {
				t.Errorf("NextRetryAt is %v after the answer, want at least %v", wait, tt.want)
			}
			if wait := time.Until(st.NextRetryAt); wait > tt.want {
				t.Errorf("NextRetryAt is %v away, want at most %v", wait, tt.want)
			}
			if !strings.Contains(st.LastError, http.StatusText(tt.status)) {
				t.Errorf("LastError = %q, want the status", st.LastError)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
