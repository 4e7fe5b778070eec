package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The bridge against WebSocket servers nobody on this project wrote: gorilla/websocket's own
// example servers, built unmodified from the module cache (they ship in the module this project
// depends on) and run as child processes on loopback ports, each joined with the profile from
// docs/dialects/ that a user would copy.

// exampleServer is one of gorilla/websocket's example servers, running.
type exampleServer struct {
	t    *testing.T
	bin  string
	addr string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// buildExample builds gorilla/websocket's examples/<name> into a temporary directory: the whole
// package, or only file when given (examples/echo keeps its server and its client in one folder,
// each a main behind an "ignore" build tag, meant to be built by name).
func buildExample(t *testing.T, name, file string) string {
	t.Helper()
	goBin, err := exec.LookPath("go") // go test runs with the go command on PATH
	if err != nil {
		t.Fatalf("the go command is needed to build gorilla's examples: %v", err)
	}
	target := "github.com/gorilla/websocket/examples/" + name
	if file != "" {
		dir, err := exec.Command(goBin, "list", "-m", "-f", "{{.Dir}}", "github.com/gorilla/websocket").Output()
		if err != nil {
			t.Fatalf("find gorilla/websocket in the module cache: %v", err)
		}
		target = filepath.Join(strings.TrimSpace(string(dir)), "examples", name, file)
	}
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command(goBin, "build", "-o", bin, target).CombinedOutput(); err != nil {
		t.Fatalf("build gorilla's examples/%s: %v\n%s", name, err, out)
	}
	return bin
}

// startExample runs the example server bin on a free loopback port until the test ends.
func startExample(t *testing.T, bin string) *exampleServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &exampleServer{t: t, bin: bin, addr: ln.Addr().String()}
	ln.Close()
	s.start()
	t.Cleanup(s.kill)
	return s
}

// start runs the server on its address and waits until it accepts connections.
func (s *exampleServer) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "-addr", s.addr)
	cmd.Dir = filepath.Dir(s.bin)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard // it logs every HTTP request
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.bin, err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s never listened on %s: %v", s.bin, s.addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill ends the server with SIGKILL and waits for it. Idempotent.
func (s *exampleServer) kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// profileAs copies a profile of docs/dialects/ with user_id set to user.
func profileAs(t *testing.T, name, user string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "dialects", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), user+"-"+name)
	if err := os.WriteFile(path, append(b, "user_id: "+user+"\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// profileArgs runs a bridge on upstream with a profile, and quick reconnects.
func profileArgs(upstream, profile string) []string {
	return []string{"--listen", "127.0.0.1:0", "--upstream", upstream, "--dialect-file", profile,
		"--reconnect-min", "20ms", "--reconnect-max", "200ms"}
}

// waitReady polls GET /readyz until the bridge is connected.
func waitReady(t *testing.T, b *bridge) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(b.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bridge never connected:\n%s", b.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// say posts a message to general and checks the 202.
func say(t *testing.T, b *bridge, id, content string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"conversation_id": "general", "content": content, "client_message_id": id})
	if code, resp := post(t, b.url+"/messages", string(body)); code != http.StatusAccepted {
		t.Fatalf("POST /messages %s: %d %s", id, code, resp)
	}
}

// payload decodes an event's data.
type payload struct {
	ID              string `json:"id"`
	ClientMessageID string `json:"client_message_id"`
	SenderID        string `json:"sender_id"`
	Content         string `json:"content"`
	Status          string `json:"status"`
	Error           string `json:"error"`
	Text            string `json:"text"`
}

func decodeEvent(t *testing.T, e event) payload {
	t.Helper()
	var p payload
	if err := json.Unmarshal([]byte(e.data), &p); err != nil {
		t.Fatalf("event %s: %v", e.data, err)
	}
	return p
}

// waitStatus waits for message.status st of id on a messages stream and returns it.
func waitStatus(t *testing.T, ch <-chan event, id, st string) payload {
	t.Helper()
	var got payload
	next(t, ch, func(e event) bool {
		if e.name != "message.status" {
			return false
		}
		got = decodeEvent(t, e)
		return got.ClientMessageID == id && got.Status == st
	})
	return got
}

// countUntil reads chat.message events until one carries fence, and counts each
// client_message_id seen before it.
func countUntil(t *testing.T, ch <-chan event, fence string) map[string]int {
	t.Helper()
	seen := map[string]int{}
	next(t, ch, func(e event) bool {
		if e.name != "chat.message" {
			return false
		}
		p := decodeEvent(t, e)
		if p.ClientMessageID == fence {
			return true
		}
		seen[p.ClientMessageID]++
		return false
	})
	return seen
}

func TestGorillaChatHub(t *testing.T) {
	hub := startExample(t, buildExample(t, "chat", ""))
	url := "ws://" + hub.addr + "/ws"
	alice := startBridge(t, nil, profileArgs(url, profileAs(t, "gorilla-chat.yaml", "alice"))...)
	bob := startBridge(t, nil, profileArgs(url, profileAs(t, "gorilla-chat.yaml", "bob"))...)
	waitReady(t, alice)
	waitReady(t, bob)
	aliceMsgs, _ := openEvents(t, alice.url+"/events/messages")
	bobMsgs, _ := openEvents(t, bob.url+"/events/messages")

	t.Run("two users talk", func(t *testing.T) {
		say(t, alice, "a-1", "hello bob")
		waitStatus(t, aliceMsgs, "a-1", "delivered")
		e := next(t, bobMsgs, func(e event) bool { return e.name == "chat.message" && strings.Contains(e.data, `"a-1"`) })
		if p := decodeEvent(t, e); p.SenderID != "alice" || p.Content != "hello bob" || p.ID == "" {
			t.Errorf("bob got %s, want alice's message with an id", e.data)
		}
		say(t, bob, "b-1", "hi alice")
		waitStatus(t, bobMsgs, "b-1", "delivered")
		e = next(t, aliceMsgs, func(e event) bool { return e.name == "chat.message" && strings.Contains(e.data, `"b-1"`) })
		if p := decodeEvent(t, e); p.SenderID != "bob" || p.Content != "hi alice" {
			t.Errorf("alice got %s, want bob's message", e.data)
		}
		for _, b := range []*bridge{alice, bob} {
			var snap struct{ Messages []payload }
			getJSON(t, b.url+"/conversations/general/messages", &snap)
			var ids []string
			for _, m := range snap.Messages {
				ids = append(ids, m.ClientMessageID)
			}
			if strings.Join(ids, ",") != "a-1,b-1" {
				t.Errorf("snapshot of %s holds %v, want a-1,b-1", b.url, ids)
			}
		}
	})

	t.Run("batched frames all arrive", func(t *testing.T) {
		const n = 60
		for i := range n {
			say(t, alice, fmt.Sprintf("batch-%d", i), fmt.Sprintf("message %d", i))
		}
		say(t, alice, "batch-end", "end")
		seen := countUntil(t, bobMsgs, "batch-end")
		for i := range n {
			if id := fmt.Sprintf("batch-%d", i); seen[id] != 1 {
				t.Errorf("bob saw %s %d times, want once", id, seen[id])
			}
		}
		t.Logf("bob's bridge: %s", metricLines(t, bob, "bridge_upstream_frames_total", `bridge_upstream_raw_total{kind="json"}`))
	})

	t.Run("a message too long for the hub fails alone", func(t *testing.T) {
		say(t, alice, "long-before", "before")
		say(t, alice, "long", strings.Repeat("x", 600)) // the hub reads at most 512 bytes: close 1009
		say(t, alice, "long-after", "after")
		failed := waitStatus(t, aliceMsgs, "long", "failed")
		if !strings.Contains(failed.Error, "1009") {
			t.Errorf("failed with %q, want the close code 1009 named", failed.Error)
		}
		seen := countUntil(t, bobMsgs, "long-after")
		if seen["long"] != 0 || seen["long-before"] != 1 {
			t.Errorf("bob saw %v, want long-before once and long never", seen)
		}
		waitReady(t, alice)
		say(t, alice, "long-fence", "fence")
		if again := countUntil(t, bobMsgs, "long-fence"); len(again) != 0 {
			t.Errorf("after the fence bob saw %v again", again)
		}
	})

	t.Run("a hub restart loses nothing and repeats nothing", func(t *testing.T) {
		if code, _ := do(t, http.MethodDelete, alice.url+"/connection", ""); code != http.StatusNoContent {
			t.Fatalf("DELETE /connection: %d", code)
		}
		hub.kill()
		hub.start()
		for i := range 5 {
			say(t, alice, fmt.Sprintf("r-%d", i), fmt.Sprintf("while the hub was away %d", i))
		}
		waitReady(t, bob) // bob's bridge finds the new hub by itself
		watcher := watchHub(t, url)
		watcher.send(t, "a browser user says hi") // not JSON: the bridges put it on raw
		if code, _ := do(t, http.MethodPut, alice.url+"/connection", `{"access_token":"unused"}`); code != http.StatusAccepted {
			t.Fatalf("PUT /connection: %d", code)
		}
		for i := range 5 {
			waitStatus(t, aliceMsgs, fmt.Sprintf("r-%d", i), "delivered")
		}
		say(t, alice, "r-fence", "fence")
		for who, seen := range map[string]map[string]int{"bob": countUntil(t, bobMsgs, "r-fence"), "a plain client": watcher.countUntil(t, "r-fence")} {
			for i := range 5 {
				if id := fmt.Sprintf("r-%d", i); seen[id] != 1 {
					t.Errorf("%s saw %s %d times, want once (all: %v)", who, id, seen[id], seen)
				}
			}
			if len(seen) != 5 {
				t.Errorf("%s saw %v: a message delivered before the restart came again", who, seen)
			}
		}
		raw, _ := openEvents(t, bob.url+"/events/raw?last_event_id="+firstID(t, bob))
		next(t, raw, func(e event) bool { return decodeEvent(t, e).Text == "a browser user says hi" })
	})
}

// firstID is an event id before everything the bridge published: the start of its history.
func firstID(t *testing.T, b *bridge) string {
	t.Helper()
	var snap struct {
		EventID string `json:"event_id"`
	}
	getJSON(t, b.url+"/presence", &snap)
	run, _, _ := strings.Cut(snap.EventID, "-")
	return run + "-0000000000000000"
}

// hubWatcher is a plain WebSocket client of the hub that keeps every line it receives.
type hubWatcher struct {
	conn  *websocket.Conn
	lines chan string
}

func watchHub(t *testing.T, url string) *hubWatcher {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.DialContext(t.Context(), url, nil)
	if err != nil {
		t.Fatalf("dial the hub: %v", err)
	}
	w := &hubWatcher{conn: conn, lines: make(chan string, 4096)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			sc := bufio.NewScanner(strings.NewReader(string(data)))
			for sc.Scan() {
				w.lines <- sc.Text()
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return w
}

func (w *hubWatcher) send(t *testing.T, text string) {
	t.Helper()
	if err := w.conn.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		t.Fatal(err)
	}
}

// countUntil counts the client_message_ids of the frames the hub relayed, until fence.
func (w *hubWatcher) countUntil(t *testing.T, fence string) map[string]int {
	t.Helper()
	seen := map[string]int{}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line := <-w.lines:
			var f struct {
				Payload struct {
					ClientMessageID string `json:"client_message_id"`
				} `json:"payload"`
			}
			if json.Unmarshal([]byte(line), &f) != nil || f.Payload.ClientMessageID == "" {
				continue
			}
			if f.Payload.ClientMessageID == fence {
				return seen
			}
			seen[f.Payload.ClientMessageID]++
		case <-timeout:
			t.Fatalf("the plain client never saw %s (saw %v)", fence, seen)
		}
	}
}

func TestGorillaEchoWithAckWrite(t *testing.T) {
	echo := startExample(t, buildExample(t, "echo", "server.go"))
	b := startBridge(t, nil, profileArgs("ws://"+echo.addr+"/echo", filepath.Join("..", "..", "docs", "dialects", "gorilla-echo.yaml"))...)
	waitReady(t, b)
	msgs, _ := openEvents(t, b.url+"/events/messages")
	const n = 100 // more than the write window: nothing waits for an echo
	for i := range n {
		say(t, b, fmt.Sprintf("e-%d", i), fmt.Sprintf("echo %d", i))
	}
	for i := range n {
		waitStatus(t, msgs, fmt.Sprintf("e-%d", i), "delivered")
	}
	var conn struct {
		Outbox struct{ Queued int } `json:"outbox"`
	}
	getJSON(t, b.url+"/connection", &conn)
	if conn.Outbox.Queued != 0 {
		t.Errorf("outbox holds %d messages, want none stuck", conn.Outbox.Queued)
	}
	var snap struct{ Messages []payload }
	getJSON(t, b.url+"/conversations/general/messages?limit=200", &snap)
	if len(snap.Messages) != n || snap.Messages[0].Status != "delivered" || snap.Messages[0].Content != "echo 0" {
		t.Errorf("snapshot holds %d messages (first %+v), want %d delivered", len(snap.Messages), snap.Messages[0], n)
	}
}

// getJSON decodes the answer of a GET.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// do sends a request with a JSON body ("" for none) and returns the status.
func do(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// metricLines returns the lines of /metrics that start with one of names.
func metricLines(t *testing.T, b *bridge, names ...string) string {
	t.Helper()
	resp, err := http.Get(b.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		for _, n := range names {
			if strings.HasPrefix(sc.Text(), n+" ") {
				out = append(out, sc.Text())
			}
		}
	}
	return strings.Join(out, "; ")
}
