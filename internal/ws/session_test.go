package ws

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSend(t *testing.T) {
	up := newUpstream(t, "/chat")
	cfg := testConfig(up.url, StaticToken("tok"))
	cfg.ReconnectMin, cfg.ReconnectMax = time.Hour, time.Hour // stay down after the drop
	c := startClient(t, cfg)

	c.rec.waitState(t, StateConnected)
	sc := up.next(t)
	const senders, each = 4, 25
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				frame := []byte(fmt.Sprintf("%d-%d", g, i))
				if err := c.Send(t.Context(), frame); err != nil {
					t.Errorf("Send %s: %v", frame, err)
				}
				frame[0] = 'X' // Send keeps no reference to the frame
			}
		})
	}
	wg.Wait()
	next := make([]int, senders) // per sender, frames arrive in send order
	for range senders * each {
		var g, i int
		select {
		case f := <-sc.recv:
			if _, err := fmt.Sscanf(string(f), "%d-%d", &g, &i); err != nil {
				t.Fatalf("server got %q: %v", f, err)
			}
		case <-time.After(bound):
			t.Fatal("frame missing at the server")
		}
		if i != next[g] {
			t.Fatalf("sender %d: frame %d arrived, want %d", g, i, next[g])
		}
		next[g]++
	}

	sc.Close()
	c.rec.waitState(t, StateReconnecting)
	if err := c.Send(t.Context(), []byte("lost")); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Send while reconnecting = %v, want ErrNotConnected", err)
	}
}

func TestSendBeforeRun(t *testing.T) {
	c, err := New(Config{URL: "ws://127.0.0.1:1/chat", Token: StaticToken("tok")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(t.Context(), []byte("x")); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Send before Run = %v, want ErrNotConnected", err)
	}
	if st := c.Status(); st.State != StateIdle {
		t.Errorf("state before Run = %v, want idle", st.State)
	}
}

func TestHeartbeatKeepsHealthyConnection(t *testing.T) {
	tests := []struct {
		name      string
		pingFrame []byte
	}{
		{"ping control frame", nil},
		{"text ping frame", []byte(`{"type":"ping","payload":{}}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, "/chat")
			pong := []byte(`{"type":"pong","payload":{}}`)
			up.setAnswer(tt.pingFrame, pong)
			got := make(chan string, 1000)
			cfg := testConfig(up.url, StaticToken("tok"))
			cfg.Heartbeat = 10 * time.Millisecond
			cfg.PongTimeout = bound // generous: a healthy server always answers in time
			cfg.PingFrame = tt.pingFrame
			c := startClient(t, cfg, onText(func(b []byte) {
				select {
				case got <- string(b):
				default:
				}
			}))
			c.rec.waitState(t, StateConnected)
			sc := up.next(t)

			for beats := 0; beats < 5; {
				if tt.pingFrame == nil {
					beats = int(sc.pings.Load())
					time.Sleep(cfg.Heartbeat)
					continue
				}
				select {
				case f := <-sc.recv:
					if string(f) != string(tt.pingFrame) {
						t.Fatalf("server got %q, want the ping frame", f)
					}
					beats++
				case <-time.After(bound):
					t.Fatal("no heartbeat reached the server")
				}
			}
			if tt.pingFrame != nil {
				if f := <-got; f != string(pong) {
					t.Errorf("HandleFrame got %q, want the pong frame passed through", f)
				}
			}
			if n := up.dialCount(); n != 1 {
				t.Errorf("dials = %d, want 1", n)
			}
			if st := c.Status(); st.State != StateConnected {
				t.Errorf("state = %v, want connected", st.State)
			}
		})
	}
}

func TestSilentServerReplaced(t *testing.T) {
	up := newUpstream(t, "/chat")
	up.setSilent(func(n int) bool { return n == 1 })
	cfg := testConfig(up.url, StaticToken("tok"))
	cfg.Heartbeat = 50 * time.Millisecond
	cfg.PongTimeout = 100 * time.Millisecond
	c := startClient(t, cfg)

	c.rec.waitState(t, StateConnected)
	st := c.rec.waitState(t, StateReconnecting)
	if !strings.Contains(st.LastError, "pong timeout") {
		t.Errorf("LastError = %q, want the pong timeout", st.LastError)
	}
	c.rec.waitState(t, StateConnected)
	if n := up.dialCount(); n < 2 {
		t.Errorf("dials = %d, want a new connection", n)
	}
}
