package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	chatbridge "github.com/chatbridge/chatbridge"
	"github.com/chatbridge/chatbridge/internal/demo"
)

// scrape returns the bridge's metrics as name{labels} -> value.
func scrape(t *testing.T, base string) (map[string]float64, string) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out, string(body)
}

func waitMetric(t *testing.T, base, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m, _ := scrape(t, base)
		if m[name] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v (published %v, delivered %v, connects %v)", name, m[name], want,
				m["bridge_events_published_total"], m["bridge_sse_events_delivered_total"], m["bridge_upstream_connects_total"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsAfterAScriptedSession drives messages both ways, a malformed frame, a reconnect and
// a slow subscriber, then checks each counter against what that session implies.
func TestMetricsAfterAScriptedSession(t *testing.T) {
	const secret = "SECRET-upstream-token-4f1d"
	up, upURL := newUpstream(t)
	up.SetToken(secret, demo.DemoUser)
	args := []string{"--listen", "127.0.0.1:0", "--upstream", upURL, "--token", secret,
		"--reconnect-min", "10ms", "--reconnect-max", "100ms", "--log-level", "debug"}
	b := startBridge(t, nil, args...)
	messages, _ := openEvents(t, b.url+"/events/messages")
	waitConnected(t, b.url)

	// Two messages out, their two echoes in, and one message from someone else.
	for i := 0; i < 2; i++ {
		if status, _ := postMessage(t, b.url, "general", "out", fmt.Sprintf("mx-%d", i)); status != http.StatusAccepted {
			t.Fatalf("POST = %d", status)
		}
		next(t, messages, func(e event) bool { return e.name == "message.status" && strings.Contains(e.data, "delivered") })
	}
	if err := up.Broadcast("chat.message", map[string]any{"id": "m-bob", "conversation_id": "general",
		"sender_id": "bob", "content": "in", "created_at": time.Now().UTC().Format(time.RFC3339)}); err != nil {
		t.Fatal(err)
	}
	next(t, messages, func(e event) bool { return strings.Contains(e.data, "m-bob") })

	// One malformed frame, then a reconnect.
	up.SendRaw(demo.DemoUser, []byte(`{"type":"chat.message","payload":{"content":"no ids"}}`))
	waitMetric(t, b.url, "bridge_upstream_frames_malformed_total", 1)
	up.DropAll()
	waitMetric(t, b.url, "bridge_upstream_connects_total", 2)

	// A subscriber that stops reading is cut once it falls far enough behind.
	host := strings.TrimPrefix(b.url, "http://")
	stalled, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if tc, ok := stalled.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	fmt.Fprintf(stalled, "GET /events/raw HTTP/1.1\r\nHost: %s\r\n\r\n", host)
	waitMetric(t, b.url, `bridge_sse_subscribers{topic="raw"}`, 1)
	pad := strings.Repeat("p", 32<<10)
	// The demo server drops a client whose queue of 256 frames fills up, so each frame waits
	// until a healthy subscriber has it: the pace is the bridge's own, race detector or not.
	follower, _ := openEvents(t, b.url+"/events/typing")
	typing := func(n int, pad string) {
		for i := 0; i < n; i++ {
			_ = up.Broadcast("typing.indicator", map[string]any{"conversation_id": "c", "user_id": "bob", "is_typing": true, "pad": pad})
			next(t, follower, func(e event) bool { return e.name == "typing.indicator" })
		}
	}
	typing(300, pad) // 10 MB: more than the socket buffers between the bridge and the stalled client
	typing(1200, "") // then more events than a subscriber may lag behind
	waitMetric(t, b.url, "bridge_sse_subscribers_cut_total", 1)

	m, body := scrape(t, b.url)
	for name, want := range map[string]float64{
		`bridge_upstream_connects_total`:                                         2,
		`bridge_upstream_reconnects_total`:                                       1,
		`bridge_upstream_state{state="connected"}`:                               1,
		`bridge_upstream_frames_received_total{type="chat.message"}`:             3,
		`bridge_upstream_frames_malformed_total`:                                 1,
		`bridge_upstream_frames_sent_total{type="chat.message"}`:                 2,
		`bridge_outbox_messages`:                                                 0,
		`bridge_sse_subscribers_cut_total`:                                       1,
		`bridge_sse_subscribers{topic="messages"}`:                               1,
		`bridge_http_requests_total{code="202",method="POST",route="/messages"}`: 2,
		`bridge_message_send_delay_seconds_count`:                                2,
	} {
		if got := m[name]; got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if m[`bridge_upstream_connected_seconds_total`] <= 0 || m[`bridge_upstream_frame_publish_delay_seconds_count`] < 3 {
		t.Errorf("time connected %v, publish delays observed %v", m[`bridge_upstream_connected_seconds_total`], m[`bridge_upstream_frame_publish_delay_seconds_count`])
	}
	if !strings.Contains(body, "go_goroutines") {
		t.Error("no Go runtime metrics")
	}
	if strings.Contains(body, secret) || strings.Contains(b.stderr.String(), secret) {
		t.Error("the upstream token appears in the metrics or the log")
	}
	if !strings.Contains(b.stderr.String(), `msg="http request" component=api method=POST route=/messages status=202`) {
		t.Errorf("no access log line for POST /messages:\n%.2000s", b.stderr.String())
	}
}

// TestMetricsExampleIsReal: every sample in openapi.yaml's example of GET /metrics is one the
// bridge serves.
func TestMetricsExampleIsReal(t *testing.T) {
	_, upURL := newUpstream(t)
	b := startBridge(t, nil, fastArgs(upURL)...)
	waitConnected(t, b.url)
	got, _ := scrape(t, b.url)
	doc := string(chatbridge.OpenAPI)
	i := strings.Index(doc, "# HELP ")
	if i < 0 {
		t.Fatal("openapi.yaml has no /metrics example")
	}
	n := 0
	for _, line := range strings.Split(doc[i:], "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "'") || strings.HasSuffix(line, ":") {
			break // the end of the example's block
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, " ")
		if _, ok := got[name]; !ok {
			t.Errorf("the example names %s, which /metrics does not serve", name)
		}
		n++
	}
	if n == 0 {
		t.Error("the example has no sample")
	}
}
