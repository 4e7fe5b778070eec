package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/demo"
)

// connStates follows the connection topic of a running bridge.
func connStates(t *testing.T, b *bridge) <-chan event {
	t.Helper()
	ch, _ := openEvents(t, b.url+"/events/connection")
	return ch
}

func waitState(t *testing.T, ch <-chan event, state string) event {
	t.Helper()
	return next(t, ch, func(e event) bool { return strings.Contains(e.data, `"state":"`+state+`"`) })
}

func TestReconnectAfterTheServerDropsConnections(t *testing.T) {
	up, upURL := newUpstream(t)
	b := startBridge(t, nil, fastArgs(upURL)...)
	states := connStates(t, b)
	waitState(t, states, "connected")
	up.DropAll()
	waitState(t, states, "reconnecting")
	waitState(t, states, "connected")
	if n := up.Dials(); n != 2 {
		t.Errorf("the upstream saw %d dials, want 2", n)
	}
}

func TestSilentUpstreamIsDetectedAndReplaced(t *testing.T) {
	up, upURL := newUpstream(t)
	b := startBridge(t, nil, append(fastArgs(upURL), "--heartbeat", "20ms", "--pong-timeout", "60ms")...)
	states := connStates(t, b)
	waitState(t, states, "connected")
	up.SetSilent(true)
	e := waitState(t, states, "reconnecting") // nothing came back after a ping: the connection is dead
	up.SetSilent(false)
	waitState(t, states, "connected")
	if !strings.Contains(e.data, "last_error") {
		t.Errorf("the reconnecting state does not say why: %s", e.data)
	}
}

func TestTokenFileIsReadAgainOnReconnect(t *testing.T) {
	up, upURL := newUpstream(t)
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(demo.DemoToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--listen", "127.0.0.1:0", "--upstream", upURL, "--token-file", file,
		"--reconnect-min", "10ms", "--reconnect-max", "100ms"}
	b := startBridge(t, nil, args...)
	states := connStates(t, b)
	waitState(t, states, "connected")

	// The token is rotated: the file gets the new one, and the server revokes the old one,
	// closing the connection with 4001.
	up.SetToken("rotated-token", demo.DemoUser)
	if err := os.WriteFile(file, []byte("rotated-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	up.RevokeToken(demo.DemoToken)
	waitState(t, states, "connected") // only the new token can connect now
	if strings.Contains(b.stderr.String(), "rotated-token") || strings.Contains(b.stderr.String(), demo.DemoToken) {
		t.Errorf("a token reached the log:\n%s", b.stderr.String())
	}
}

func TestAuthFailureStopsRetriesUntilANewToken(t *testing.T) {
	up, upURL := newUpstream(t)
	args := []string{"--listen", "127.0.0.1:0", "--upstream", upURL, "--token", "wrong-token",
		"--reconnect-min", "10ms", "--reconnect-max", "20ms"}
	b := startBridge(t, nil, args...)
	states := connStates(t, b)
	waitState(t, states, "unauthorized")
	// With a 10-20ms backoff, an ordinary failure would have redialled dozens of times by now.
	time.Sleep(300 * time.Millisecond)
	if n := up.Dials(); n != 1 {
		t.Fatalf("the bridge dialled %d times with a refused token, want 1", n)
	}
	req, _ := http.NewRequest(http.MethodPut, b.url+"/connection", strings.NewReader(`{"access_token":"`+demo.DemoToken+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("PUT /connection = %d", resp.StatusCode)
	}
	waitState(t, states, "connected")
	if strings.Contains(b.stderr.String(), "wrong-token") {
		t.Errorf("the refused token reached the log:\n%s", b.stderr.String())
	}
}

func TestDisconnectAndReconnectThroughTheAPI(t *testing.T) {
	up, upURL := newUpstream(t)
	b := startBridge(t, nil, fastArgs(upURL)...)
	states := connStates(t, b)
	waitState(t, states, "connected")
	req, _ := http.NewRequest(http.MethodDelete, b.url+"/connection", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE /connection = %d", resp.StatusCode)
	}
	waitState(t, states, "stopped")
	if status, _ := post(t, b.url+"/typing", `{"conversation_id":"general","is_typing":true}`); status != http.StatusServiceUnavailable {
		t.Errorf("typing while stopped = %d, want 503", status)
	}
	// The outbox is kept while stopped: a message waits and goes out after the reconnect.
	if status, a := postMessage(t, b.url, "general", "while stopped", "stopped-1"); status != http.StatusAccepted || a.Status != "queued" {
		t.Errorf("POST while stopped = %d %+v, want 202 queued", status, a)
	}
	waitQueued(t, b.url, 1)
	req, _ = http.NewRequest(http.MethodPut, b.url+"/connection", strings.NewReader(`{"access_token":"`+demo.DemoToken+`"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitState(t, states, "connected")
	waitQueued(t, b.url, 0)
	if ids := chatMessages(up); len(ids) != 1 || ids[0] != "stopped-1" {
		t.Errorf("the upstream received %v, want stopped-1 once", ids)
	}
	if up.Dials() != 2 {
		t.Errorf("dials = %d, want 2", up.Dials())
	}
}
