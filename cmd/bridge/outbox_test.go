package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbridge/chatbridge/internal/demo"
)

// restartableUpstream is a demo server on a fixed loopback address that a test can stop and
// start again (a new demo server each time, as after a real restart).
type restartableUpstream struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	demo *demo.Server
	srv  *httptest.Server
}

// reserveAddr returns a loopback address with nothing listening on it.
func reserveAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func newRestartable(t *testing.T) *restartableUpstream {
	u := &restartableUpstream{t: t, addr: reserveAddr(t)}
	t.Cleanup(u.stop)
	return u
}

func (u *restartableUpstream) url() string { return "ws://" + u.addr + demo.Path }

func (u *restartableUpstream) start() *demo.Server {
	u.t.Helper()
	ln, err := net.Listen("tcp", u.addr)
	if err != nil {
		u.t.Fatalf("listen on %s again: %v", u.addr, err)
	}
	d := demo.New(demo.Config{})
	mux := http.NewServeMux()
	mux.Handle(demo.Path, d)
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = ln
	srv.Start()
	u.mu.Lock()
	u.demo, u.srv = d, srv
	u.mu.Unlock()
	return d
}

func (u *restartableUpstream) stop() {
	u.mu.Lock()
	d, srv := u.demo, u.srv
	u.demo, u.srv = nil, nil
	u.mu.Unlock()
	if d != nil {
		_ = d.Close()
		srv.Close()
	}
}

type accepted struct {
	ClientMessageID string `json:"client_message_id"`
	Status          string `json:"status"`
}

func postMessage(t *testing.T, base, conv, content, id string) (int, accepted) {
	t.Helper()
	body := fmt.Sprintf(`{"conversation_id":%q,"content":%q`, conv, content)
	if id != "" {
		body += fmt.Sprintf(`,"client_message_id":%q`, id)
	}
	status, b := post(t, base+"/messages", body+"}")
	var a accepted
	_ = json.Unmarshal(b, &a)
	return status, a
}

// chatMessages returns the client_message_ids of the chat.message frames an upstream received,
// in order.
func chatMessages(d *demo.Server) []string {
	var ids []string
	for _, f := range d.Received() {
		if f.Type != "chat.message" {
			continue
		}
		var p struct {
			ClientMessageID string `json:"client_message_id"`
		}
		_ = json.Unmarshal(f.Payload, &p)
		ids = append(ids, p.ClientMessageID)
	}
	return ids
}

// waitMessages waits until the upstream has assigned ids to n messages in conv.
func waitMessages(t *testing.T, d *demo.Server, conv string, n int) []demo.Message {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		msgs := d.Messages(conv)
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the upstream has %d messages in %s, want %d", len(msgs), conv, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestQueuedWhileDownDeliveredOnceInOrder(t *testing.T) {
	up := newRestartable(t)
	b := startBridge(t, nil, fastArgs(up.url())...)
	const n = 200
	for i := 0; i < n; i++ {
		status, a := postMessage(t, b.url, "c-order", fmt.Sprintf("m%03d", i), fmt.Sprintf("id-%03d", i))
		if status != http.StatusAccepted || a.Status != "queued" {
			t.Fatalf("POST %d while down = %d %+v, want 202 queued", i, status, a)
		}
	}
	d := up.start()
	waitMessages(t, d, "c-order", n)
	waitQueued(t, b.url, 0) // every message acknowledged: nothing is left to resend
	msgs := d.Messages("c-order")
	if len(msgs) != n {
		t.Fatalf("the upstream got %d messages, want exactly %d", len(msgs), n)
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("m%03d", i); m.Content != want {
			t.Fatalf("message %d is %q, want %q (order)", i, m.Content, want)
		}
	}
}

// waitQueued waits until GET /connection reports n queued messages.
func waitQueued(t *testing.T, base string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/connection")
		if err != nil {
			t.Fatal(err)
		}
		var c struct{ Outbox struct{ Queued int } }
		_ = json.NewDecoder(resp.Body).Decode(&c)
		resp.Body.Close()
		if c.Outbox.Queued == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox holds %d, want %d", c.Outbox.Queued, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// echoDropper is a WebSocket proxy between the bridge and the upstream that can swallow the
// upstream's echo of one message and then cut the connection: the bridge wrote the message and
// the upstream took it, but the bridge never saw it acknowledged.
type echoDropper struct {
	target string
	mu     sync.Mutex
	dropID string // the client_message_id whose echo is swallowed, once
	conns  []*websocket.Conn
	wg     sync.WaitGroup
}

func (p *echoDropper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up, _, err := websocket.DefaultDialer.Dial(p.target+"?"+r.URL.RawQuery, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	down, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		up.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, up, down)
	p.mu.Unlock()
	p.wg.Add(1)
	go func() { // bridge -> upstream
		defer p.wg.Done()
		for {
			mt, b, err := down.ReadMessage()
			if err != nil || up.WriteMessage(mt, b) != nil {
				up.Close()
				return
			}
		}
	}()
	for { // upstream -> bridge
		mt, b, err := up.ReadMessage()
		if err != nil {
			down.Close()
			return
		}
		p.mu.Lock()
		drop := p.dropID != "" && strings.Contains(string(b), `"client_message_id":"`+p.dropID+`"`)
		if drop {
			p.dropID = ""
		}
		p.mu.Unlock()
		if drop {
			up.Close()
			down.Close()
			return
		}
		if down.WriteMessage(mt, b) != nil {
			up.Close()
			return
		}
	}
}

// close ends every proxied connection and waits for the pumps.
func (p *echoDropper) close() {
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func TestCutBeforeTheEchoDeliversOnce(t *testing.T) {
	d, upURL := newUpstream(t)
	proxy := &echoDropper{target: upURL, dropID: "cut-1"}
	srv := httptest.NewServer(proxy)
	t.Cleanup(proxy.close) // registered before the bridge's: runs after the bridge stopped
	t.Cleanup(srv.Close)
	b := startBridge(t, nil, fastArgs("ws"+strings.TrimPrefix(srv.URL, "http")+demo.Path)...)
	events, _ := openEvents(t, b.url+"/events/messages")
	waitConnected(t, b.url)

	// "queued" is right too when the outbox learns of the connection a moment after /readyz.
	if status, a := postMessage(t, b.url, "general", "through the cut", "cut-1"); status != http.StatusAccepted || (a.Status != "sent" && a.Status != "queued") {
		t.Fatalf("POST = %d %+v, want 202 sent", status, a)
	}
	next(t, events, func(e event) bool {
		return e.name == "message.status" && strings.Contains(e.data, `"delivered"`) && strings.Contains(e.data, "cut-1")
	})
	ids := chatMessages(d)
	if len(ids) != 2 || ids[0] != "cut-1" || ids[1] != "cut-1" {
		t.Errorf("the upstream received %v, want cut-1 twice (the resend after the cut)", ids)
	}
	n := 0
	for _, m := range d.Messages("general") {
		if m.ClientMessageID == "cut-1" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the message was delivered %d times, want once", n)
	}
}

func TestRepeatedClientMessageIDIsSentOnce(t *testing.T) {
	d, upURL := newUpstream(t)
	b := startBridge(t, nil, fastArgs(upURL)...)
	events, _ := openEvents(t, b.url+"/events/messages")
	waitConnected(t, b.url)
	for i := 0; i < 3; i++ {
		status, a := postMessage(t, b.url, "general", "once", "dup-1")
		if status != http.StatusAccepted || a.ClientMessageID != "dup-1" {
			t.Fatalf("POST %d = %d %+v", i, status, a)
		}
		if i == 0 {
			next(t, events, func(e event) bool { return strings.Contains(e.data, `"delivered"`) })
		} else if a.Status != "delivered" {
			t.Errorf("repeat %d answered %q, want the current status delivered", i, a.Status)
		}
	}
	if ids := chatMessages(d); len(ids) != 1 {
		t.Fatalf("the upstream received %v, want one frame", ids)
	}
}

func TestOutboxFull(t *testing.T) {
	up := newRestartable(t)
	b := startBridge(t, nil, append(fastArgs(up.url()), "--outbox", "3")...)
	for i := 0; i < 3; i++ {
		if status, _ := postMessage(t, b.url, "c", "x", fmt.Sprintf("f-%d", i)); status != http.StatusAccepted {
			t.Fatalf("POST %d = %d", i, status)
		}
	}
	resp, err := http.Post(b.url+"/messages", "application/json", strings.NewReader(`{"conversation_id":"c","content":"one too many"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a 4th message = %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	waitQueued(t, b.url, 3)
}

func TestShutdownLogsLostMessages(t *testing.T) {
	up := newRestartable(t)
	b := startBridge(t, nil, fastArgs(up.url())...)
	for i := 0; i < 2; i++ {
		postMessage(t, b.url, "c", "x", fmt.Sprintf("lost-%d", i))
	}
	if err := b.shutdown(t); err != nil {
		t.Fatal(err)
	}
	if out := b.stderr.String(); !strings.Contains(out, "lost=2") {
		t.Fatalf("the loss is not logged:\n%s", out)
	}
}

func TestErrorFrameFailsTheMessage(t *testing.T) {
	d, upURL := newUpstream(t)
	b := startBridge(t, nil, fastArgs(upURL)...)
	events, _ := openEvents(t, b.url+"/events/messages")
	waitConnected(t, b.url)
	d.SetSilent(true) // the message waits, unacknowledged
	postMessage(t, b.url, "general", "doomed", "doomed-1")
	d.SendRaw(demo.DemoUser, []byte(`{"type":"error","payload":{"code":"rate_limited","message":"slow down","ref":"doomed-1"}}`))
	d.SetSilent(false)
	e := next(t, events, func(e event) bool { return e.name == "message.status" && strings.Contains(e.data, `"failed"`) })
	if !strings.Contains(e.data, "rate_limited") || !strings.Contains(e.data, "doomed-1") {
		t.Fatalf("failed status = %s", e.data)
	}
}

// TestDamagedStateFileStopsTheBridge: a state file bbolt cannot trust stops the bridge with one
// line naming the file and what to do, exit status 1, and no panic.
func TestDamagedStateFileStopsTheBridge(t *testing.T) {
	dir := t.TempDir()
	junk := bytes.Repeat([]byte("not a bbolt file "), 1000)
	if err := os.WriteFile(filepath.Join(dir, "outbox.db"), junk, 0o600); err != nil {
		t.Fatal(err)
	}
	_, upURL := newUpstream(t)
	var stderr bytes.Buffer
	err := run(t.Context(), append([]string{"bridge"}, append(fastArgs(upURL), "--state-dir", dir)...), func(string) string { return "" }, io.Discard, &stderr)
	var msg bytes.Buffer
	if code := exitCode(err, &msg); code != 1 {
		t.Fatalf("exit %d (%v), want 1", code, err)
	}
	line := strings.TrimSpace(msg.String())
	if strings.Contains(line, "\n") || !strings.Contains(line, filepath.Join(dir, "outbox.db")+" is damaged") || !strings.Contains(line, "move it aside") {
		t.Errorf("message %q: want one line naming the file and what to do", line)
	}
}
