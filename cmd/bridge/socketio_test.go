package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/testparts"
)

// The bridge against a real Socket.IO 4.8 server (npm socket.io, testdata/socketio/server.js)
// and a plain socket.io-client user beside it (client.js), joined with
// docs/dialects/socketio-chat.yaml.

var socketioDir = filepath.Join("testdata", "socketio")

// nodeProcess is a node script running as a child process, its stdout lines kept.
type nodeProcess struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu    sync.Mutex
	lines []string
	added chan struct{}
	done  chan struct{}
}

func startNode(t *testing.T, env []string, args ...string) *nodeProcess {
	t.Helper()
	testparts.NodeModules(t, socketioDir)
	cmd := exec.Command("node", args...)
	cmd.Dir = socketioDir
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("node %v: %v", args, err)
	}
	p := &nodeProcess{t: t, cmd: cmd, stdin: stdin, added: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.added <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(p.kill)
	return p
}

// kill ends the process with SIGKILL (a SIGSTOPped one too) and waits for it. Idempotent.
func (p *nodeProcess) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Kill()
		<-p.done
		_ = p.cmd.Wait()
	}
}

// wait returns the first line from index from on that ok accepts, and its index.
func (p *nodeProcess) wait(from int, what string, ok func(string) bool) (string, int) {
	p.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		p.mu.Lock()
		for i := from; i < len(p.lines); i++ {
			if ok(p.lines[i]) {
				line := p.lines[i]
				p.mu.Unlock()
				return line, i
			}
		}
		p.mu.Unlock()
		select {
		case <-p.added:
		case <-p.done:
			p.t.Fatalf("node ended before %s; it printed %q", what, p.all())
		case <-timeout:
			p.t.Fatalf("no %s from node; it printed %q", what, p.all())
		}
	}
}

func (p *nodeProcess) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// emit has a client.js user emit an event.
func (p *nodeProcess) emit(event string, args ...any) {
	b, _ := json.Marshal(map[string]any{"emit": event, "args": args})
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.t.Fatal(err)
	}
}

// socketioServer is server.js on a fixed port, so that it can be restarted where it was.
type socketioServer struct {
	*nodeProcess
	t    *testing.T // the test that owns it: a restart in a subtest lives as long
	port string
	env  []string
}

func startSocketIOServer(t *testing.T, env ...string) *socketioServer {
	t.Helper()
	s := &socketioServer{nodeProcess: startNode(t, env, "server.js", "0"), t: t, env: env}
	line, _ := s.wait(0, "listening", func(l string) bool { return strings.HasPrefix(l, "listening ") })
	s.port = strings.TrimPrefix(line, "listening ")
	return s
}

func (s *socketioServer) url() string { return "ws://127.0.0.1:" + s.port }

// restart kills the server and starts it again on the same port.
func (s *socketioServer) restart() {
	s.t.Helper()
	s.kill()
	s.nodeProcess = startNode(s.t, s.env, "server.js", s.port)
	s.wait(0, "listening", func(l string) bool { return strings.HasPrefix(l, "listening ") })
}

// received counts the chat messages the server read, by clientId.
func (s *socketioServer) received() map[string]int {
	seen := map[string]int{}
	for _, l := range s.all() {
		var r struct {
			Message struct{ ClientID string } `json:"message"`
		}
		if json.Unmarshal([]byte(l), &r) == nil && r.Message.ClientID != "" {
			seen[r.Message.ClientID]++
		}
	}
	return seen
}

func socketioBridge(t *testing.T, s *socketioServer, token string) *bridge {
	t.Helper()
	args := append(profileArgs(s.url(), filepath.Join("..", "..", "docs", "dialects", "socketio-chat.yaml")), "--token", token)
	return startBridge(t, nil, args...)
}

func TestSocketIOChat(t *testing.T) {
	srv := startSocketIOServer(t, "MAX_PAYLOAD=400")
	alice := socketioBridge(t, srv, "alice-token")
	bob := socketioBridge(t, srv, "bob-token")
	waitReady(t, alice)
	waitReady(t, bob)
	aliceAll, _ := openEvents(t, alice.url+"/events?topics=messages,typing,presence")
	bobAll, _ := openEvents(t, bob.url+"/events?topics=messages,typing,presence")
	carol := startNode(t, nil, "client.js", "http://127.0.0.1:"+srv.port, "carol-token")
	carol.wait(0, "connect", func(l string) bool { return l == "connected" })

	t.Run("a plain client joins", func(t *testing.T) {
		e := next(t, aliceAll, func(e event) bool { return e.name == "user.status" && strings.Contains(e.data, `"carol"`) })
		if !strings.Contains(e.data, `"status":"online"`) {
			t.Errorf("user.status = %s, want carol online", e.data)
		}
	})

	t.Run("bridges and the plain client talk", func(t *testing.T) {
		say(t, alice, "a-1", "hello from alice")
		if st := waitStatus(t, aliceAll, "a-1", "delivered"); st.Error != "" {
			t.Errorf("status %+v", st)
		}
		e := next(t, bobAll, func(e event) bool { return e.name == "chat.message" && strings.Contains(e.data, `"a-1"`) })
		if p := decodeEvent(t, e); p.SenderID != "alice" || p.Content != "hello from alice" || p.ID == "" {
			t.Errorf("bob got %s", e.data)
		}
		line, _ := carol.wait(0, "alice's message", func(l string) bool { return strings.Contains(l, "hello from alice") })
		if !strings.Contains(line, `"event":"chat message"`) || !strings.Contains(line, `"clientId":"a-1"`) {
			t.Errorf("carol got %s", line)
		}
		if code, _ := post(t, alice.url+"/typing", `{"conversation_id":"general","is_typing":true}`); code != http.StatusNoContent {
			t.Fatalf("POST /typing: %d", code)
		}
		carol.wait(0, "alice typing", func(l string) bool { return strings.Contains(l, `"event":"typing"`) && strings.Contains(l, `"alice"`) })
		e = next(t, bobAll, func(e event) bool { return e.name == "typing.indicator" })
		if !strings.Contains(e.data, `"user_id":"alice"`) || !strings.Contains(e.data, `"is_typing":true`) {
			t.Errorf("bob's typing = %s", e.data)
		}

		carol.emit("chat message", map[string]any{"text": "hi from node", "clientId": "c-1"})
		for _, ch := range []<-chan event{aliceAll, bobAll} {
			e := next(t, ch, func(e event) bool { return e.name == "chat.message" && strings.Contains(e.data, "hi from node") })
			if p := decodeEvent(t, e); p.SenderID != "carol" {
				t.Errorf("carol's message = %s", e.data)
			}
		}
		var snap struct{ Messages []payload }
		getJSON(t, bob.url+"/conversations/general/messages", &snap)
		if n := len(snap.Messages); n != 2 || snap.Messages[1].Content != "hi from node" {
			t.Errorf("bob's snapshot = %+v, want alice's and carol's messages", snap.Messages)
		}
	})

	t.Run("a server restart loses nothing and resends nothing acknowledged", func(t *testing.T) {
		say(t, alice, "a-2", "before the restart")
		waitStatus(t, aliceAll, "a-2", "delivered")
		srv.kill()
		for i := range 3 {
			say(t, alice, fmt.Sprintf("r-%d", i), fmt.Sprintf("while away %d", i))
		}
		srv.restart()
		for i := range 3 {
			waitStatus(t, aliceAll, fmt.Sprintf("r-%d", i), "delivered")
		}
		got := srv.received()
		for i := range 3 {
			if id := fmt.Sprintf("r-%d", i); got[id] != 1 {
				t.Errorf("the restarted server read %s %d times, want once (%v)", id, got[id], got)
			}
		}
		if got["a-1"]+got["a-2"] != 0 {
			t.Errorf("acknowledged messages were sent again: %v", got)
		}
	})

	t.Run("a message above the server's maxPayload fails alone", func(t *testing.T) {
		say(t, alice, "big-1", strings.Repeat("x", 600))
		defer func() {
			if t.Failed() {
				t.Logf("alice's log:\n%s", alice.stderr.String())
			}
		}()
		if st := waitStatus(t, aliceAll, "big-1", "failed"); !strings.Contains(st.Error, "maxPayload") {
			t.Errorf("failed with %q, want the server's maxPayload named", st.Error)
		}
		say(t, alice, "after-big", "small again")
		waitStatus(t, aliceAll, "after-big", "delivered")
	})
}

func TestSocketIOFaults(t *testing.T) {
	srv := startSocketIOServer(t, "PING_INTERVAL=300", "PING_TIMEOUT=200")
	b := socketioBridge(t, srv, "wrong-token")
	states := connStates(t, b)

	t.Run("a refused token, then a good one", func(t *testing.T) {
		e := waitState(t, states, "unauthorized")
		if !strings.Contains(e.data, "not authorized") {
			t.Errorf("unauthorized state %s: want the server's connect error", e.data)
		}
		if code, _ := do(t, http.MethodPut, b.url+"/connection", `{"access_token":"alice-token"}`); code != http.StatusAccepted {
			t.Fatalf("PUT /connection: %d", code)
		}
		waitState(t, states, "connected")
	})

	t.Run("a server that stops answering is dead after pingInterval + pingTimeout", func(t *testing.T) {
		if err := srv.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		e := waitState(t, states, "reconnecting")
		_ = srv.cmd.Process.Signal(syscall.SIGCONT)
		if !strings.Contains(e.data, "no frame from upstream for 500ms") {
			t.Errorf("reconnecting state %s: want the silence of pingInterval + pingTimeout (500ms) named", e.data)
		}
		waitState(t, states, "connected")
	})
}
