package demo

import (
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestDropAllCutsWithoutCloseFrame(t *testing.T) {
	s, u := startServer(t, Config{})
	a, _ := dial(t, u, DemoToken)
	b, _ := dial(t, u, "ada-token")
	s.DropAll()
	for _, c := range []*client{a, b} {
		if code := closeCode(c.ended()); code != websocket.CloseAbnormalClosure {
			t.Errorf("close code %d, want 1006 (no close frame)", code)
		}
	}
	if err := s.WaitConnections(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	// The server still accepts new connections.
	dial(t, u, DemoToken)
}

func TestCloseAllSendsCodeAfterQueuedFrames(t *testing.T) {
	tests := []struct {
		code   int
		reason string
	}{
		{code: 4001, reason: "token expired"},
		{code: websocket.CloseServiceRestart, reason: "restart"},
		{code: websocket.ClosePolicyViolation, reason: ""},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			s, u := startServer(t, Config{})
			c, _ := dial(t, u, DemoToken)
			s.SendRaw("", []byte(`{"type":"last","payload":{}}`))
			s.CloseAll(tt.code, tt.reason)
			c.expect("last")
			err := c.ended()
			ce, ok := err.(*websocket.CloseError)
			if !ok || ce.Code != tt.code || ce.Text != tt.reason {
				t.Errorf("read error %v, want close %d %q", err, tt.code, tt.reason)
			}
		})
	}
}

func TestSilenceStallsBothDirections(t *testing.T) {
	s, u := startServer(t, Config{})
	c, _ := dial(t, u, DemoToken)
	pongs := make(chan struct{}, 1)
	c.ws.SetPongHandler(func(string) error { pongs <- struct{}{}; return nil })

	s.SetSilent(true)
	s.SetSilent(true) // idempotent
	c.send("ping", map[string]any{})
	if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(bound)); err != nil {
		t.Fatal(err)
	}
	if err := s.Broadcast("during.silence", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	// Nothing comes back while silent. (A short look only: this cannot fail
	// spuriously, it can only miss a bug.)
	select {
	case g := <-c.frames:
		t.Errorf("got %s while silent", g.raw)
	case <-pongs:
		t.Error("got a WebSocket pong while silent")
	case <-time.After(50 * time.Millisecond):
	}
	if n := s.Connections(); n != 1 {
		t.Errorf("Connections() = %d while silent", n)
	}

	s.SetSilent(false)
	s.SetSilent(false)
	got := map[string]bool{}
	for len(got) < 2 {
		got[c.next().Type] = true
	}
	if !got["pong"] || !got["during.silence"] {
		t.Errorf("after silence got %v", got)
	}
	select {
	case <-pongs:
	case <-time.After(bound):
		t.Error("no WebSocket pong after silence")
	}
	if _, err := s.WaitReceived(t.Context(), func(f Frame) bool { return f.Type == "ping" }); err != nil {
		t.Error(err)
	}
}

func TestSilenceAppliesToNewConnectionsAndCloseEndsIt(t *testing.T) {
	s, u := startServer(t, Config{})
	s.SetSilent(true)
	ws, _, err := dialRaw(t, u, DemoToken, false) // the handshake itself is not silenced
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, ws)
	if err := s.Close(); err != nil { // must not hang on a silent server
		t.Fatal(err)
	}
	if code := closeCode(c.ended()); code != websocket.CloseGoingAway {
		t.Errorf("close code %d, want 1001", code)
	}
}

func TestRefuseTokens(t *testing.T) {
	s, u := startServer(t, Config{})
	open, _ := dial(t, u, DemoToken)
	s.SetRefuseTokens(true)
	if _, resp, err := dialRaw(t, u, DemoToken, false); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial while refusing: err %v, resp %v; want 401", err, resp)
	}
	open.barrier() // open connections are kept
	s.SetRefuseTokens(false)
	dial(t, u, DemoToken)
}

func TestSetAndRevokeToken(t *testing.T) {
	s, u := startServer(t, Config{})
	if _, resp, err := dialRaw(t, u, "fresh", false); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unknown token: err %v, resp %v", err, resp)
	}
	s.SetToken("fresh", "zed")
	zed, _ := dial(t, u, "fresh")
	other, _ := dial(t, u, DemoToken) // another token stays connected
	zed.send("chat.message", chatMsg(General, "hi", "z-1"))
	if m := decodeMessage(t, zed.until("chat.message", nil)); m.SenderID != "zed" {
		t.Errorf("sender %q", m.SenderID)
	}
	s.RevokeToken("fresh")
	if code := closeCode(zed.ended()); code != 4001 {
		t.Errorf("close code %d, want 4001", code)
	}
	if _, resp, err := dialRaw(t, u, "fresh", false); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoked token: err %v, resp %v", err, resp)
	}
	other.barrier()
}

func TestSetReject(t *testing.T) {
	tests := []struct {
		status     int
		retryAfter time.Duration
		wantHeader string
	}{
		{status: http.StatusServiceUnavailable, retryAfter: 1500 * time.Millisecond, wantHeader: "2"},
		{status: http.StatusTooManyRequests, retryAfter: 3 * time.Second, wantHeader: "3"},
		{status: http.StatusForbidden},
	}
	s, u := startServer(t, Config{})
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			s.SetReject(tt.status, tt.retryAfter)
			_, resp, err := dialRaw(t, u, DemoToken, false)
			if err == nil || resp == nil || resp.StatusCode != tt.status {
				t.Fatalf("dial: err %v, resp %v; want %d", err, resp, tt.status)
			}
			if h := resp.Header.Get("Retry-After"); h != tt.wantHeader {
				t.Errorf("Retry-After %q, want %q", h, tt.wantHeader)
			}
		})
	}
	s.SetReject(0, 0)
	dial(t, u, DemoToken)
	if n := s.Dials(); n != len(tests)+1 {
		t.Errorf("Dials() = %d, want %d", n, len(tests)+1)
	}
}

func TestSendRaw(t *testing.T) {
	s, u := startServer(t, Config{})
	me, other := pair(t, u)
	s.SendRaw(DemoUser, []byte(`not json at all`))
	if g := me.next(); string(g.raw) != `not json at all` {
		t.Errorf("got %q", g.raw)
	}
	if before := other.barrier(); len(before) != 0 {
		t.Errorf("other user got %v", types(before))
	}
	s.SendRaw("", []byte(`{"type":"custom.thing","payload":{"x":1}}`))
	me.expect("custom.thing")
	other.expect("custom.thing")
}

func TestBroadcast(t *testing.T) {
	s, u := startServer(t, Config{})
	me, other := pair(t, u)
	if err := s.Broadcast("user.status", map[string]any{"user_id": "zoe", "status": "away"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{me, other} {
		if g := c.expect("user.status"); g.str(t, "user_id") != "zoe" {
			t.Errorf("%s", g.raw)
		}
	}
	if err := s.Broadcast("x", make(chan int)); err == nil {
		t.Error("Broadcast of an unmarshalable payload: no error")
	}
}
