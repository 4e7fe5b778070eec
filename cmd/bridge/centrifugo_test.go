package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbridge/chatbridge/internal/testparts"
)

// The bridge against a real Centrifugo v6 (built by go install from the module proxy into the
// user's cache directory, once), configured by the test, with connection JWTs the test signs.

const (
	centrifugoVersion = "v6.9.1"
	centrifugoSecret  = "test-hmac-secret-of-the-bridge-tests"
	centrifugoAPIKey  = "test-api-key"
)

var centrifugoBuild sync.Once

// centrifugoBinary returns the Centrifugo binary: $CHATBRIDGE_CENTRIFUGO, or the one go install
// put (or now puts) in the cache directory.
func centrifugoBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHATBRIDGE_CENTRIFUGO"); p != "" {
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		testparts.Missing(t, "a cache directory for Centrifugo", "export CHATBRIDGE_CENTRIFUGO=/path/to/centrifugo")
	}
	dir := filepath.Join(cache, "chatbridge", "centrifugo-"+centrifugoVersion)
	bin := filepath.Join(dir, "centrifugo")
	var buildErr error
	var out []byte
	centrifugoBuild.Do(func() {
		if _, err := os.Stat(bin); err == nil {
			return
		}
		t.Logf("building Centrifugo %s into %s (once; a minute or two)", centrifugoVersion, dir)
		cmd := exec.Command("go", "install", "github.com/centrifugal/centrifugo/v6@"+centrifugoVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+dir)
		cmd.Dir = dir
		_ = os.MkdirAll(dir, 0o755)
		out, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		testparts.Missing(t, "Centrifugo "+centrifugoVersion+" ("+strings.TrimSpace(string(out))+")",
			"GOBIN="+dir+" go install github.com/centrifugal/centrifugo/v6@"+centrifugoVersion)
	}
	if _, err := os.Stat(bin); err != nil {
		testparts.Missing(t, "Centrifugo "+centrifugoVersion, "GOBIN="+dir+" go install github.com/centrifugal/centrifugo/v6@"+centrifugoVersion)
	}
	return bin
}

// centrifugoServer is a Centrifugo process on a loopback port, with its config.
type centrifugoServer struct {
	t    *testing.T
	bin  string
	conf string
	port string

	mu  sync.Mutex
	cmd *exec.Cmd
}

func startCentrifugo(t *testing.T) *centrifugoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	chat := map[string]any{"name": "chat", "history_size": 1000, "history_ttl": "600s", "force_recovery": true,
		"allow_subscribe_for_client": true, "allow_publish_for_subscriber": true, "join_leave": true,
		"force_push_join_leave": true, "presence": true}
	conf, _ := json.Marshal(map[string]any{
		"http_server": map[string]any{"address": "127.0.0.1", "port": port},
		"client": map[string]any{"token": map[string]any{"hmac_secret_key": centrifugoSecret},
			"allowed_origins": []string{"*"}, "ping_interval": "2s", "pong_timeout": "1s"},
		"http_api":    map[string]any{"key": centrifugoAPIKey},
		"channel":     map[string]any{"namespaces": []any{chat}},
		"health":      map[string]any{"enabled": true},
		"usage_stats": map[string]any{"disabled": true}, // nothing leaves this machine
		"log":         map[string]any{"level": "error"},
	})
	dir := t.TempDir()
	s := &centrifugoServer{t: t, bin: centrifugoBinary(t), conf: filepath.Join(dir, "config.json"), port: port}
	if err := os.WriteFile(s.conf, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *centrifugoServer) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "--config", s.conf)
	cmd.Dir = filepath.Dir(s.conf)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start Centrifugo: %v", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://127.0.0.1:" + s.port + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("Centrifugo never became healthy on port %s: %v", s.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends Centrifugo with SIGKILL and waits for it. Idempotent.
func (s *centrifugoServer) kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

func (s *centrifugoServer) wsURL() string { return "ws://127.0.0.1:" + s.port }

// publish publishes data to a channel through the server HTTP API, retrying while the server is
// away; it fails the test only after a generous bound.
func (s *centrifugoServer) publish(t *testing.T, channel string, data any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"channel": channel, "data": data})
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:"+s.port+"/api/publish", bytes.NewReader(body))
		req.Header.Set("X-API-Key", centrifugoAPIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && !bytes.Contains(b, []byte(`"error"`)) {
				return
			}
			err = fmt.Errorf("%d %s", resp.StatusCode, b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("publish to %s: %v", channel, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jwt signs a connection token for user, expiring at exp.
func jwt(user string, exp time.Time) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{"sub": user, "exp": exp.Unix()})
	body := head + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte(centrifugoSecret))
	mac.Write([]byte(body))
	return body + "." + enc.EncodeToString(mac.Sum(nil))
}

func centrifugoBridge(t *testing.T, s *centrifugoServer, token string) *bridge {
	t.Helper()
	args := append(profileArgs(s.wsURL(), filepath.Join("..", "..", "docs", "dialects", "centrifugo-chat.yaml")), "--token", token)
	return startBridge(t, nil, args...)
}

// plainClient is a WebSocket client of Centrifugo that speaks its JSON protocol by hand and
// keeps the publications it gets.
type plainClient struct {
	conn *websocket.Conn
	pubs chan json.RawMessage
}

func dialPlainClient(t *testing.T, s *centrifugoServer, user, channel string) *plainClient {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(s.wsURL()+"/connection/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &plainClient{conn: conn, pubs: make(chan json.RawMessage, 1000)}
	cmds := fmt.Sprintf(`{"id":1,"connect":{"token":%q}}`+"\n"+`{"id":2,"subscribe":{"channel":%q}}`, jwt(user, time.Now().Add(time.Hour)), channel)
	if err := conn.WriteMessage(websocket.TextMessage, []byte(cmds)); err != nil {
		t.Fatal(err)
	}
	subscribed := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var once sync.Once
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			for _, line := range bytes.Split(data, []byte("\n")) {
				var r struct {
					ID   int `json:"id"`
					Push struct {
						Pub struct {
							Data json.RawMessage `json:"data"`
						} `json:"pub"`
					} `json:"push"`
				}
				if json.Unmarshal(line, &r) != nil {
					continue
				}
				switch {
				case string(bytes.TrimSpace(line)) == "{}":
					_ = conn.WriteMessage(websocket.TextMessage, []byte("{}"))
				case r.ID == 2:
					once.Do(func() { close(subscribed) })
				case r.Push.Pub.Data != nil:
					c.pubs <- r.Push.Pub.Data
				}
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	select {
	case <-subscribed:
	case <-time.After(10 * time.Second):
		t.Fatal("the plain client never subscribed")
	}
	return c
}

func TestCentrifugo(t *testing.T) {
	srv := startCentrifugo(t)
	alice := centrifugoBridge(t, srv, jwt("alice", time.Now().Add(time.Hour)))
	waitReady(t, alice)
	msgs, _ := openEvents(t, alice.url+"/events?topics=messages,presence")
	carol := dialPlainClient(t, srv, "carol", "chat:general")
	next(t, msgs, func(e event) bool { return e.name == "user.status" && strings.Contains(e.data, `"carol"`) })

	t.Run("publications through the server API reach the topic and the snapshot", func(t *testing.T) {
		srv.publish(t, "chat:general", map[string]any{"text": "hello from the backend", "user": "dave"})
		e := next(t, msgs, func(e event) bool {
			return e.name == "chat.message" && strings.Contains(e.data, "hello from the backend")
		})
		if p := decodeEvent(t, e); p.SenderID != "dave" || !strings.HasPrefix(p.ID, "chat:general:") {
			t.Errorf("chat.message = %s, want dave's, with the channel offset as id", e.data)
		}
		var snap struct{ Messages []payload }
		getJSON(t, alice.url+"/conversations/general/messages", &snap)
		if len(snap.Messages) != 1 || snap.Messages[0].Content != "hello from the backend" {
			t.Errorf("snapshot = %+v", snap.Messages)
		}
	})

	t.Run("POST /messages is published and seen by another client", func(t *testing.T) {
		say(t, alice, "a-1", "hello from alice")
		waitStatus(t, msgs, "a-1", "delivered")
		select {
		case data := <-carol.pubs:
			for !strings.Contains(string(data), "hello from alice") {
				data = <-carol.pubs
			}
			if !strings.Contains(string(data), `"client_message_id":"a-1"`) {
				t.Errorf("carol got %s", data)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("carol never got alice's message")
		}
	})

	t.Run("a restart while publications continue misses nothing and repeats nothing", func(t *testing.T) {
		const n = 30
		seen := map[string]int{}
		count := func(until string) {
			next(t, msgs, func(e event) bool {
				if e.name != "chat.message" {
					return false
				}
				p := decodeEvent(t, e)
				seen[p.Content]++
				return p.Content == until
			})
		}
		for i := range n / 2 {
			srv.publish(t, "chat:general", map[string]any{"text": fmt.Sprintf("pub %d", i), "user": "dave"})
		}
		count(fmt.Sprintf("pub %d", n/2-1)) // everything before the restart has arrived
		srv.kill()
		restarted := make(chan struct{})
		go func() { defer close(restarted); srv.start() }()
		for i := n / 2; i < n; i++ { // these wait for the server to be back
			srv.publish(t, "chat:general", map[string]any{"text": fmt.Sprintf("pub %d", i), "user": "dave"})
		}
		<-restarted
		count(fmt.Sprintf("pub %d", n-1))
		srv.publish(t, "chat:general", map[string]any{"text": "fence", "user": "dave"})
		count("fence")
		for i := range n {
			if c := seen[fmt.Sprintf("pub %d", i)]; c != 1 {
				t.Errorf("pub %d arrived %d times, want once (%v)", i, c, seen)
			}
		}
		// The memory engine lost the channel's history: the topic says so, for pages to reload.
		all, _ := openEvents(t, alice.url+"/events/messages?last_event_id="+firstID(t, alice))
		e := next(t, all, func(e event) bool { return e.name == "stream.reset" })
		if !strings.Contains(e.data, `"channel":"chat:general"`) || !strings.Contains(e.data, "started over") {
			t.Errorf("reset notice = %s", e.data)
		}
	})

	t.Run("an expired token is unauthorized until a new one", func(t *testing.T) {
		b := centrifugoBridge(t, srv, jwt("bob", time.Now().Add(-time.Minute)))
		states := connStates(t, b)
		e := waitState(t, states, "unauthorized")
		if !strings.Contains(e.data, "109") {
			t.Errorf("unauthorized state %s: want Centrifugo's token expired (109)", e.data)
		}
		body, _ := json.Marshal(map[string]string{"access_token": jwt("bob", time.Now().Add(time.Hour))})
		if code, _ := do(t, http.MethodPut, b.url+"/connection", string(body)); code != http.StatusAccepted {
			t.Fatalf("PUT /connection: %d", code)
		}
		waitState(t, states, "connected")
	})
}
