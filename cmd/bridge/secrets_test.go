package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/internal/demo"
)

// marker is in every secret of TestNoSecretInAnyOutput: it must appear in no output.
const marker = "SeCrEtMaRkEr"

// TestNoSecretInAnyOutput runs a bridge whose upstream and API tokens hold a marker, with debug
// logging, through auth failures, a token rotation, bad requests and every read endpoint, and
// checks that the marker appears in no log line, answer body or answer header.
func TestNoSecretInAnyOutput(t *testing.T) {
	up, upURL := newUpstream(t)
	upToken, apiToken, newToken := marker+"-up", marker+"-api", marker+"-rotated"
	up.SetToken(upToken, demo.DemoUser)
	b := startBridge(t, nil, "--listen", "127.0.0.1:0", "--upstream", upURL+"?room=x", "--token", upToken,
		"--api-token", apiToken, "--log-level", "debug", "--log-format", "json",
		"--reconnect-min", "10ms", "--reconnect-max", "50ms")

	var seen bytes.Buffer // every answer, headers and body
	do := func(method, path, body string, header ...string) int {
		req, _ := http.NewRequest(method, b.url+path, strings.NewReader(body))
		if body != "" || method == http.MethodPost || method == http.MethodPut {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_ = resp.Header.Write(&seen)
		_, _ = io.Copy(&seen, io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode
	}
	auth := []string{"Authorization", "Bearer " + apiToken}

	waitFor := func(state string) {
		t.Helper()
		ch, stop := openEvents(t, b.url+"/events/connection?access_token="+apiToken)
		defer stop()
		waitState(t, ch, state)
	}
	waitFor("connected")

	// Wrong and missing API tokens, in every place a token can travel.
	do(http.MethodGet, "/connection", "")
	do(http.MethodGet, "/connection", "", "Authorization", "Bearer "+marker+"-wrong")
	do(http.MethodGet, "/connection?access_token="+marker+"-wrong", "")
	do(http.MethodGet, "/connection", "", "Cookie", "chatbridge_token="+marker+"-wrong")
	// Bad requests that carry the token.
	do(http.MethodPost, "/messages", `{"conversation_id":"bad space","content":""}`, auth...)
	do(http.MethodPost, "/messages", `{"conversation_id":`, auth...)
	do(http.MethodPut, "/connection", `{"access_token":""}`, auth...)
	do(http.MethodGet, "/events/nope", "", auth...)
	do(http.MethodGet, "/?access_token="+apiToken, "")

	// The upstream refuses the token: unauthorized, with its last_error.
	up.RevokeToken(upToken)
	waitFor("unauthorized")
	do(http.MethodGet, "/connection", "", auth...)
	// A new token through the API.
	up.SetToken(newToken, demo.DemoUser)
	if code := do(http.MethodPut, "/connection", fmt.Sprintf(`{"access_token":%q}`, newToken), auth...); code != http.StatusAccepted {
		t.Fatalf("PUT /connection = %d", code)
	}
	waitFor("connected")
	for _, path := range []string{"/connection", "/conversations", "/presence", "/calls", "/metrics", "/healthz", "/readyz", "/openapi.yaml"} {
		do(http.MethodGet, path, "", auth...)
	}
	if err := b.shutdown(t); err != nil {
		t.Fatal(err)
	}

	for name, out := range map[string]string{"answers": seen.String(), "stderr": b.stderr.String(), "stdout": b.stdout.String()} {
		if i := strings.Index(out, marker); i >= 0 {
			t.Errorf("the %s carry a secret: ...%s...", name, strings.ReplaceAll(out[max(0, i-300):min(len(out), i+100)], "\r\n", " | "))
		}
	}
	if !strings.Contains(b.stderr.String(), "unauthorized") {
		t.Error("the auth failure was not logged at all")
	}
}
