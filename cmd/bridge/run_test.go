package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatbridge/chatbridge/internal/demo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lines is an io.Writer that keeps what run logs and lets a test wait for a line.
type lines struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newLines() *lines { return &lines{changed: make(chan struct{})} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// wait returns the first submatch of re in the output, waiting for it within a generous bound.
func (l *lines) wait(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		m := re.FindStringSubmatch(l.buf.String())
		ch := l.changed
		l.mu.Unlock()
		if m != nil {
			return m[len(m)-1]
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("no %q in the output:\n%s", re, l.String())
		}
	}
}

var listeningRE = regexp.MustCompile(`listening on (http://[0-9.:\[\]]+)`)

// bridge is one run() of the command, on port 0.
type bridge struct {
	url    string
	stderr *lines
	stdout *lines
	stop   context.CancelFunc
	done   chan error
}

// startBridge runs the command with args (after the program name) and waits until it serves.
func startBridge(t *testing.T, env map[string]string, args ...string) *bridge {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &bridge{stderr: newLines(), stdout: newLines(), stop: cancel, done: make(chan error, 1)}
	getenv := func(k string) string { return env[k] }
	go func() { b.done <- run(ctx, append([]string{"bridge"}, args...), getenv, b.stdout, b.stderr) }()
	b.url = b.stderr.wait(t, listeningRE)
	t.Cleanup(func() { b.shutdown(t) })
	return b
}

// shutdown stops the bridge as SIGINT would and returns run's error.
func (b *bridge) shutdown(t *testing.T) error {
	t.Helper()
	b.stop()
	select {
	case err := <-b.done:
		b.done <- err // keep it for a second call
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("run did not return after shutdown:\n%s", b.stderr.String())
		return nil
	}
}

// upstream is a demo chat server for the bridge to connect to, with its faults at hand.
func newUpstream(t *testing.T) (*demo.Server, string) {
	t.Helper()
	return newUpstreamWith(t, demo.Config{})
}

// newUpstreamWith is newUpstream with a demo configuration.
func newUpstreamWith(t *testing.T, cfg demo.Config) (*demo.Server, string) {
	t.Helper()
	d := demo.New(cfg)
	mux := http.NewServeMux()
	mux.Handle(demo.Path, d)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { _ = d.Close(); srv.Close() })
	return d, "ws" + strings.TrimPrefix(srv.URL, "http") + demo.Path
}

func fastArgs(upstreamURL string) []string {
	return []string{"--listen", "127.0.0.1:0", "--upstream", upstreamURL, "--token", demo.DemoToken,
		"--reconnect-min", "10ms", "--reconnect-max", "100ms"}
}

func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// events opens an SSE stream and returns a channel of its events (comments skipped).
type event struct{ id, name, data string }

func openEvents(t *testing.T, url string, header ...string) (<-chan event, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("GET %s: %v %v", url, err, resp)
	}
	ch := make(chan event, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		var e event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if e.name != "" {
					ch <- e
				}
				e = event{}
			case strings.HasPrefix(line, "id: "):
				e.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				e.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				e.data = line[6:]
			}
		}
	}()
	stop := func() { cancel(); resp.Body.Close(); <-done }
	t.Cleanup(stop)
	return ch, stop
}

func next(t *testing.T, ch <-chan event, ok func(event) bool) event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, open := <-ch:
			if !open {
				t.Fatal("the stream ended")
			}
			if ok(e) {
				return e
			}
		case <-timeout:
			t.Fatal("no matching event within 10s")
		}
	}
}

func TestMessageRoundTrip(t *testing.T) {
	up, upURL := newUpstream(t)
	b := startBridge(t, nil, fastArgs(upURL)...)
	events, _ := openEvents(t, b.url+"/events/messages")
	waitConnected(t, b.url)

	status, body := post(t, b.url+"/messages", `{"conversation_id":"general","content":"hello","client_message_id":"rt-1"}`)
	if status != http.StatusAccepted || !strings.Contains(string(body), `"client_message_id":"rt-1"`) {
		t.Fatalf("POST /messages = %d %s", status, body)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	f, err := up.WaitReceived(ctx, func(f demo.Frame) bool { return f.Type == "chat.message" })
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"chat.message","payload":{"conversation_id":"general","content":"hello","client_message_id":"rt-1"}}`; string(f.Raw) != want {
		t.Errorf("upstream got %s\nwant %s", f.Raw, want)
	}
	e := next(t, events, func(e event) bool { return e.name == "chat.message" })
	var m map[string]any
	if err := json.Unmarshal([]byte(e.data), &m); err != nil || m["client_message_id"] != "rt-1" || m["sender_id"] != demo.DemoUser || m["id"] == "" {
		t.Fatalf("echo on /events/messages = %s", e.data)
	}
}

func waitConnected(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the bridge never became ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEveryUpstreamTypeOnItsTopic(t *testing.T) {
	up, upURL := newUpstream(t)
	b := startBridge(t, nil, fastArgs(upURL)...)
	events, _ := openEvents(t, b.url+"/events?topics=messages,typing,presence,conversations,calls,errors")
	waitConnected(t, b.url)
	now := time.Now().UTC().Format(time.RFC3339)
	for _, f := range []struct {
		typ     string
		payload map[string]any
	}{
		{"chat.message", map[string]any{"id": "m1", "conversation_id": "c9", "sender_id": "bob", "content": "x", "created_at": now}},
		{"typing.indicator", map[string]any{"conversation_id": "c9", "user_id": "bob", "is_typing": true}},
		{"user.status", map[string]any{"user_id": "zed", "status": "away"}},
		{"conversation.update", map[string]any{"conversation_id": "c9", "title": "Nine"}},
		{"call.incoming", map[string]any{"call_id": "k1", "conversation_id": "c9", "caller_id": "bob", "media": "audio"}},
		{"call.accepted", map[string]any{"call_id": "k1"}},
		{"call.rejected", map[string]any{"call_id": "k1"}},
		{"call.ended", map[string]any{"call_id": "k1"}},
		{"error", map[string]any{"code": "c", "message": "m"}},
	} {
		if err := up.Broadcast(f.typ, f.payload); err != nil {
			t.Fatal(err)
		}
		e := next(t, events, func(e event) bool { return e.name == f.typ })
		if e.id == "" || !strings.HasPrefix(e.data, "{") {
			t.Errorf("%s arrived as %+v", f.typ, e)
		}
	}
}

// TestResumeAcrossDisconnect drops the SSE client while upstream frames keep coming and
// resumes with Last-Event-ID: every frame arrives exactly once.
func TestResumeAcrossDisconnect(t *testing.T) {
	up, upURL := newUpstream(t)
	b := startBridge(t, nil, fastArgs(upURL)...)
	waitConnected(t, b.url)
	const total = 300
	events, stop := openEvents(t, b.url+"/events/typing")
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := 0; i < total; i++ {
			_ = up.Broadcast("typing.indicator", map[string]any{"conversation_id": "c", "user_id": "bob", "is_typing": true, "n": i})
			time.Sleep(time.Millisecond) // a steady trickle, not a burst the demo server would drop us for
		}
	}()
	defer func() { <-sent }()
	seen, lastID := 0, ""
	for seen < total {
		e := next(t, events, func(e event) bool { return e.name == "typing.indicator" })
		var p struct{ N int }
		_ = json.Unmarshal([]byte(e.data), &p)
		if p.N != seen {
			t.Fatalf("got frame %d, want %d", p.N, seen)
		}
		seen++
		lastID = e.id
		if seen%100 == 0 && seen < total {
			stop()
			events, stop = openEvents(t, b.url+"/events/typing", "Last-Event-ID", lastID)
		}
	}
}

func TestShutdownWithOpenStreams(t *testing.T) {
	_, upURL := newUpstream(t)
	b := startBridge(t, nil, fastArgs(upURL)...)
	waitConnected(t, b.url)
	var streams []<-chan event
	for i := 0; i < 5; i++ {
		ch, _ := openEvents(t, b.url+"/events?topics=connection")
		next(t, ch, func(e event) bool { return e.name == "connection.state" })
		streams = append(streams, ch)
	}
	if err := b.shutdown(t); err != nil {
		t.Fatalf("run returned %v after a clean shutdown", err)
	}
	for _, ch := range streams {
		for range ch { // drains until the bridge ended the stream
		}
	}
	out := b.stderr.String()
	if !strings.Contains(out, "shutting down") || !strings.Contains(out, "stopped") {
		t.Errorf("shutdown not logged:\n%s", out)
	}
}

func TestNoFlagsRunsTheDemo(t *testing.T) {
	b := startBridge(t, nil, "--listen", "127.0.0.1:0")
	waitConnected(t, b.url)
	if !strings.Contains(b.stderr.String(), "DEMO") {
		t.Errorf("the demo mode is not said loudly:\n%s", b.stderr.String())
	}
	events, _ := openEvents(t, b.url+"/events/messages")
	status, body := post(t, b.url+"/messages", `{"conversation_id":"general","content":"hi bots"}`)
	if status != http.StatusAccepted {
		t.Fatalf("POST /messages = %d %s", status, body)
	}
	// The demo bot ada answers.
	next(t, events, func(e event) bool { return strings.Contains(e.data, `"sender_id":"ada"`) })
}

func TestBadCommandLines(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad int", []string{"--history", "many"}, nil, "-history"},
		{"zero int", []string{"--outbox", "0"}, nil, "-outbox"},
		{"bad duration", []string{"--heartbeat", "soon"}, nil, "-heartbeat"},
		{"bad token-in", []string{"--token-in", "cookie"}, nil, "-token-in"},
		{"bad log level", []string{"--log-level", "loud"}, nil, "-log-level"},
		{"unknown flag", []string{"--colour"}, nil, "-colour"},
		{"bad env", nil, map[string]string{"BRIDGE_PONG_TIMEOUT": "1 minute"}, "BRIDGE_PONG_TIMEOUT"},
		{"min above max", []string{"--reconnect-min", "1m", "--reconnect-max", "1s"}, nil, "-reconnect-min"},
		{"bad upstream scheme", []string{"--upstream", "http://127.0.0.1:1/chat?token=SECRET-MARK"}, nil, "-upstream"},
		{"bad upstream url", []string{"--upstream", "ws://[::1/chat?token=SECRET-MARK"}, nil, "-upstream"},
		{"stray argument", []string{"serve"}, nil, "serve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), append([]string{"bridge", "--listen", "127.0.0.1:0"}, tt.args...),
				func(k string) string { return tt.env[k] }, &stdout, &stderr)
			if code := exitCode(err, io.Discard); code != 2 {
				t.Fatalf("exit code %d (err %v), want 2", code, err)
			}
			first, _, _ := strings.Cut(stderr.String(), "\n")
			if !strings.Contains(first, tt.want) {
				t.Errorf("first line %q does not name %s", first, tt.want)
			}
			if !strings.Contains(stderr.String(), "usage: bridge") {
				t.Error("no usage on stderr")
			}
			if strings.Contains(stderr.String(), "SECRET-MARK") || strings.Contains(err.Error(), "SECRET-MARK") {
				t.Errorf("the token leaked: %s", stderr.String())
			}
		})
	}
}

func TestFlagWinsOverEnvironment(t *testing.T) {
	cfg, err := parseConfig([]string{"--history", "7"}, func(k string) string {
		return map[string]string{"BRIDGE_HISTORY": "9", "BRIDGE_OUTBOX": "3", "BRIDGE_ALLOWED_ORIGINS": "http://a, http://b"}[k]
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.History != 7 || cfg.Outbox != 3 || strings.Join(cfg.AllowOrigins, " ") != "http://a http://b" {
		t.Fatalf("config = %+v", cfg)
	}
}

func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, upURL := newUpstream(t)
	var stderr bytes.Buffer
	err = run(t.Context(), []string{"bridge", "--listen", ln.Addr().String(), "--upstream", upURL}, func(string) string { return "" }, io.Discard, &stderr)
	var msg bytes.Buffer
	if code := exitCode(err, &msg); code != 1 || !strings.Contains(msg.String(), "listen on "+ln.Addr().String()) {
		t.Fatalf("exit %d, message %q", code, msg.String())
	}
	if strings.Count(strings.TrimSpace(msg.String()), "\n") != 0 {
		t.Errorf("the error is not one line: %q", msg.String())
	}
}

func TestVersion(t *testing.T) {
	var stdout bytes.Buffer
	if err := run(t.Context(), []string{"bridge", "--version"}, func(string) string { return "" }, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^chatbridge \S+ .*go1\.\d+`).MatchString(stdout.String()) {
		t.Fatalf("--version printed %q", stdout.String())
	}
}

func TestDemoServerCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stdout := newLines()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"bridge", "demo-server", "--listen", "127.0.0.1:0", "--bots=false"}, func(string) string { return "" }, stdout, io.Discard)
	}()
	url := stdout.wait(t, regexp.MustCompile(`demo chat server on (ws://\S+)`))
	if !strings.Contains(stdout.String(), demo.DemoToken) {
		t.Errorf("the token to use is not printed:\n%s", stdout.String())
	}
	// A bridge connects to it.
	b := startBridge(t, nil, fastArgs(url)...)
	waitConnected(t, b.url)
	if err := b.shutdown(t); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
