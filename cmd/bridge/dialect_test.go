package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/internal/dialect"
)

func writeProfile(t *testing.T, doc string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "profile.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBadDialectSettings(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown dialect", []string{"--dialect", "mqtt"}, "-dialect"},
		{"bad heartbeat mode", []string{"--heartbeat-mode", "sometimes"}, "-heartbeat-mode"},
		{"bad ack", []string{"--ack", "maybe"}, "-ack"},
		{"reply without replies", []string{"--ack", "reply"}, "-ack"},
		{"missing profile", []string{"--dialect-file", "/nonexistent/p.yaml"}, "profile /nonexistent/p.yaml: does not exist"},
		{"bad profile key", []string{"--dialect-file", writeProfile(t, "envelope:\n  lenient: perhaps\n")}, "key envelope.lenient: must be true or false (line 2)"},
		{"unknown profile key", []string{"--dialect-file", writeProfile(t, "routes: {a: b}\nframing: lines\n")}, "key framing"},
		{"bad message ttl", []string{"--message-ttl", "forever"}, "-message-ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(t.Context(), append([]string{"bridge", "--listen", "127.0.0.1:0"}, tt.args...),
				func(string) string { return "" }, io.Discard, &stderr)
			if code := exitCode(err, io.Discard); code != 2 {
				t.Fatalf("exit code %d (err %v), want 2", code, err)
			}
			if first, _, _ := strings.Cut(stderr.String(), "\n"); !strings.Contains(first, tt.want) {
				t.Errorf("first line %q does not say %s", first, tt.want)
			}
		})
	}
}

func TestFlagsWinOverTheProfile(t *testing.T) {
	path := writeProfile(t, "token: {in: header, name: X-Token}\nheartbeat: off\nack: write\n")
	cfg, err := parseConfig([]string{"--dialect-file", path, "--ack", "echo"}, func(k string) string {
		return map[string]string{"BRIDGE_HEARTBEAT_MODE": "ws"}[k]
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TokenIn != dialect.TokenInHeader || cfg.HeartbeatMode != dialect.HeartbeatWS || cfg.Ack != dialect.AckEcho {
		t.Errorf("token-in %q heartbeat %q ack %q: want the profile's header, the variable's ws, the flag's echo",
			cfg.TokenIn, cfg.HeartbeatMode, cfg.Ack)
	}
	u, err := newUpstreamSetup(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if u.ws.TokenName != "X-Token" || u.ws.PingFrame != nil || u.ws.NoHeartbeat || u.ack != dialect.AckEcho {
		t.Errorf("setup %+v", u.ws)
	}
}

// TestTopicOfItsOwn: a type the profile routes to a new topic is served like every topic:
// its own stream, the multi-topic stream, resume, and GET /topics.
func TestTopicOfItsOwn(t *testing.T) {
	up, upURL := newUpstream(t)
	path := writeProfile(t, "routes:\n  order.created: orders\n")
	b := startBridge(t, nil, append(fastArgs(upURL), "--dialect-file", path)...)
	waitReady(t, b)
	orders, _ := openEvents(t, b.url+"/events/orders")
	both, _ := openEvents(t, b.url+"/events?topics=orders,presence&conversation_id=c9")
	if err := up.Broadcast("order.created", map[string]any{"order": 7, "conversation_id": "c9"}); err != nil {
		t.Fatal(err)
	}
	e := next(t, orders, func(e event) bool { return e.name == "order.created" })
	if e.data != `{"conversation_id":"c9","order":7}` || e.id == "" { // as the server wrote it
		t.Errorf("orders event %+v, want the payload as it came, with an id", e)
	}
	next(t, both, func(e event) bool { return e.name == "order.created" })
	again, _ := openEvents(t, b.url+"/events/orders?last_event_id="+firstID(t, b))
	if r := next(t, again, func(event) bool { return true }); r.id != e.id {
		t.Errorf("resume replayed %+v, want the order again", r)
	}
	var topics struct {
		Topics []struct {
			Name  string
			Types []string
		}
	}
	getJSON(t, b.url+"/topics", &topics)
	last := topics.Topics[len(topics.Topics)-1]
	if last.Name != "orders" || len(last.Types) != 1 || last.Types[0] != "order.created" {
		t.Errorf("GET /topics ends with %+v, want orders: order.created", last)
	}
}
