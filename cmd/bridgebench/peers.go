package main

// Peers: other SSE servers measured in the same run as the bridge and the floor, on the same
// machine, frames and subscribers, so that a decision that names them stands on figures.
//
//   - r3labs: r3labs/sse's own Server, as shipped (sse.New(), its defaults), fed by the same
//     upstream reader as the floor; `bridgebench r3labs` is this program re-executed.
//   - centrifugo: a real Centrifugo (v6.9.1), its unidirectional SSE endpoint
//     (/connection/uni_sse) with a server-side subscription from the connection token, and the
//     frames published over its server HTTP API instead of the demo upstream.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/r3labs/sse/v2"

	"github.com/chatbridge/chatbridge/internal/demo"
)

// The peers a run can measure, by the name --peers takes.
const (
	peerR3labs     = "r3labs"
	peerCentrifugo = "centrifugo"
)

// r3labsEnv marks a child that must run the r3labs/sse peer (the test binary has no subcommand).
const r3labsEnv = "BRIDGEBENCH_R3LABS"

// runR3labs is `bridgebench r3labs --listen ADDR --upstream URL`: r3labs/sse's Server as
// shipped, one stream "messages" that every chat.message from the upstream is published to,
// served at GET /events?stream=messages, with GET /stats as the floor's.
func runR3labs(ctx context.Context, args []string, stderr io.Writer) error {
	server := sse.New() // as shipped: AutoReplay on, a 1024-event buffer per stream
	server.CreateStream("messages")
	defer server.Close()
	return serveSelf(ctx, peerR3labs, args, stderr, func(mux *http.ServeMux) func([]byte) {
		mux.Handle("/events", server)
		var seq int64 // only the upstream reader publishes
		return func(data []byte) {
			seq++
			server.Publish("messages", &sse.Event{ID: []byte(strconv.FormatInt(seq, 10)), Event: []byte(eventChat),
				Data: bytes.Clone(data)})
		}
	})
}

// startR3labs starts this program again as the r3labs/sse peer.
func startR3labs(ctx context.Context, upstream string) (*target, error) {
	return startSelf(ctx, peerR3labs, r3labsEnv, "/events?stream=messages", upstream)
}

// Centrifugo, as the peer runs it.
const (
	centrifugoVersion = "v6.9.1"
	centrifugoSecret  = "bridgebench-hmac-secret"
	centrifugoAPIKey  = "bridgebench-api-key"
	centrifugoChannel = "bench"
)

// centrifugoBinary finds Centrifugo: --centrifugo-bin, $CHATBRIDGE_CENTRIFUGO, or the build in
// the user's cache directory, made now with go install when it is not there (a few minutes).
func centrifugoBinary(ctx context.Context, flagged string, log io.Writer) (string, error) {
	if flagged != "" {
		return flagged, nil
	}
	if p := os.Getenv("CHATBRIDGE_CENTRIFUGO"); p != "" {
		return p, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find a cache directory for Centrifugo (or pass --centrifugo-bin): %w", err)
	}
	dir := filepath.Join(cache, "chatbridge", "centrifugo-"+centrifugoVersion)
	bin := filepath.Join(dir, "centrifugo")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	fmt.Fprintf(log, "bridgebench: building Centrifugo %s into %s (once; a few minutes)\n", centrifugoVersion, dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/centrifugal/centrifugo/v6@"+centrifugoVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install Centrifugo %s: %w\n%s", centrifugoVersion, err, out)
	}
	return bin, nil
}

// startCentrifugo runs Centrifugo on a free loopback port with a config of its own: uni_sse on,
// the server API under a key, Prometheus metrics (for heap, stacks and goroutines), no usage
// stats (nothing leaves the machine), no history on the channel (the bridge's and the floor's
// figures are for live fan-out too).
func startCentrifugo(ctx context.Context, bin string) (*target, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	dir, err := os.MkdirTemp("", "bridgebench-centrifugo")
	if err != nil {
		return nil, err
	}
	conf, _ := json.Marshal(map[string]any{
		"http_server": map[string]any{"address": host, "port": port},
		"client": map[string]any{"token": map[string]any{"hmac_secret_key": centrifugoSecret},
			"allowed_origins": []string{"*"}},
		"uni_sse":     map[string]any{"enabled": true},
		"http_api":    map[string]any{"key": centrifugoAPIKey},
		"prometheus":  map[string]any{"enabled": true},
		"health":      map[string]any{"enabled": true},
		"usage_stats": map[string]any{"disabled": true},
		"log":         map[string]any{"level": "error"},
	})
	confFile := filepath.Join(dir, "config.json")
	if err := os.WriteFile(confFile, conf, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--config", confFile)
	cmd.Dir = dir
	connect, _ := json.Marshal(map[string]string{"token": centrifugoToken()})
	t, err := startChild(ctx, peerCentrifugo, cmd, addr, "/connection/uni_sse?cf_connect="+url.QueryEscape(string(connect)), "/health")
	if t != nil {
		t.event = "" // uni_sse events carry no event: line
		t.sender = func(ctx context.Context, _ string) (frameSender, error) { return newAPISender(addr), nil }
		t.cleanup = func() { _ = os.RemoveAll(dir) }
	} else {
		_ = os.RemoveAll(dir)
	}
	return t, err
}

// centrifugoToken is the connection JWT (HS256) of every subscriber: user "bench", subscribed
// by the server to the bench channel.
func centrifugoToken() string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{"sub": "bench", "channels": []string{centrifugoChannel}})
	body := head + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte(centrifugoSecret))
	mac.Write([]byte(body))
	return body + "." + enc.EncodeToString(mac.Sum(nil))
}

// frameSender sends the numbered chat messages of a run to a target.
type frameSender interface {
	send(ctx context.Context, prefix string, n int, rate float64, size int) error
	Close()
}

// apiSender publishes the frames to Centrifugo's server HTTP API, one POST /api/publish each,
// with the same payload the demo broadcasts for a chat message.
type apiSender struct {
	url    string
	client *http.Client
}

func newAPISender(addr string) *apiSender {
	return &apiSender{url: "http://" + addr + "/api/publish",
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}}
}

func (s *apiSender) Close() { s.client.CloseIdleConnections() }

func (s *apiSender) send(ctx context.Context, prefix string, n int, rate float64, size int) error {
	start := time.Now()
	for i := int64(1); i <= int64(n); i++ {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(float64(i-1) / rate * float64(time.Second)))); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		id := prefix + strconv.FormatInt(i, 10)
		body, _ := json.Marshal(map[string]any{"channel": centrifugoChannel, "data": map[string]any{
			"id": id, "conversation_id": demo.General, "sender_id": "bob", "content": content(i, time.Now(), size),
			"client_message_id": id, "created_at": time.Now().UTC().Format(time.RFC3339Nano)}})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
		req.Header.Set("X-API-Key", centrifugoAPIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.client.Do(req)
		if err != nil {
			return fmt.Errorf("publish frame %d: %w", i, err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || bytes.Contains(answer, []byte(`"error"`)) {
			return fmt.Errorf("publish frame %d: %d %s", i, resp.StatusCode, answer)
		}
	}
	return nil
}
