package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/r3labs/sse/v2"
	"gopkg.in/cenkalti/backoff.v1"
)

// cutProxy is a TCP proxy on loopback whose connections a test can reset, as a network would.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []*net.TCPConn
	wg     sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.resetAll(); p.wg.Wait() })
	return p
}

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c.(*net.TCPConn), up.(*net.TCPConn))
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(up, c); up.Close() }()
		go func() { defer p.wg.Done(); _, _ = io.Copy(c, up); c.Close() }()
	}
}

// resetAll ends every proxied connection with a TCP reset.
func (p *cutProxy) resetAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.SetLinger(0)
		c.Close()
	}
	p.conns = nil
}

// TestThirdPartySSEClientResumes follows a stream with r3labs/sse's client, a plain Go SSE
// client library, while the connection is reset under it and frames keep coming: its own
// reconnect sends Last-Event-ID, and it receives every event exactly once.
func TestThirdPartySSEClientResumes(t *testing.T) {
	up, upURL := newUpstream(t)
	b := startBridge(t, nil, fastArgs(upURL)...)
	waitConnected(t, b.url)
	proxy := newCutProxy(t, strings.TrimPrefix(b.url, "http://"))

	client := sse.NewClient("http://" + proxy.ln.Addr().String() + "/events/typing")
	client.ReconnectStrategy = backoff.NewConstantBackOff(20 * time.Millisecond)
	got := make(chan int, 1000)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- client.SubscribeRawWithContext(ctx, func(e *sse.Event) {
			var p struct{ N int }
			if string(e.Event) == "typing.indicator" && json.Unmarshal(e.Data, &p) == nil {
				got <- p.N
			}
		})
	}()
	defer func() { cancel(); <-done }()
	waitMetric(t, b.url, `bridge_sse_subscribers{topic="typing"}`, 1)

	const total = 300
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := 0; i < total; i++ {
			_ = up.Broadcast("typing.indicator", map[string]any{"conversation_id": "c", "user_id": "bob", "is_typing": true, "n": i})
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { <-sent }()
	timeout := time.After(20 * time.Second)
	for want := 0; want < total; want++ {
		select {
		case n := <-got:
			if n != want {
				t.Fatalf("got event %d, want %d (gap or duplicate)", n, want)
			}
		case <-timeout:
			t.Fatalf("stuck at event %d", want)
		}
		if want%100 == 50 {
			proxy.resetAll() // the client reconnects with Last-Event-ID on its own
		}
	}
	if m, _ := scrape(t, b.url); m["bridge_sse_replays_total"] < 3 {
		t.Errorf("the bridge saw %v resumed streams, want the client's 3 reconnects", m["bridge_sse_replays_total"])
	}
}
