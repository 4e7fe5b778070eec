package ws

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

func TestDialURL(t *testing.T) {
	tests := []struct {
		name       string
		url        string
		in         TokenPlacement
		wantURL    string
		wantHeader string
		wantSafe   string
	}{
		{"query", "ws://h/chat", TokenInQuery, "ws://h/chat?token=a+b%26c", "", "ws://h/chat?token=REDACTED"},
		{"query keeps params", "ws://h/chat?room=1", TokenInQuery, "ws://h/chat?room=1&token=a+b%26c", "", "ws://h/chat?room=REDACTED&token=REDACTED"},
		{"query replaces token", "ws://h/chat?token=old", TokenInQuery, "ws://h/chat?token=a+b%26c", "", "ws://h/chat?token=REDACTED"},
		{"header", "wss://h/chat?room=1", TokenInHeader, "wss://h/chat?room=1", "Bearer a b&c", "wss://h/chat?room=REDACTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Config{URL: tt.url, Token: StaticToken("x"), TokenIn: tt.in})
			if err != nil {
				t.Fatal(err)
			}
			gotURL, hdr := c.dialURL("a b&c")
			if gotURL != tt.wantURL || hdr.Get("Authorization") != tt.wantHeader {
				t.Errorf("dialURL = %q, %q; want %q, %q", gotURL, hdr.Get("Authorization"), tt.wantURL, tt.wantHeader)
			}
			if c.safeURL != tt.wantSafe {
				t.Errorf("safeURL = %q, want %q", c.safeURL, tt.wantSafe)
			}
		})
	}
}

func TestHandshakeErrorIsUnauthorized(t *testing.T) {
	for code, want := range map[int]bool{401: true, 403: true, 429: false, 500: false} {
		err := fmt.Errorf("dial: %w", &handshakeError{status: http.StatusText(code), code: code})
		if got := errors.Is(err, ErrUnauthorized); got != want {
			t.Errorf("status %d: Is(ErrUnauthorized) = %v, want %v", code, got, want)
		}
	}
	if d, ok := retryAfterOf(fmt.Errorf("x: %w", &handshakeError{code: 429, retryAfter: 5})); !ok || d != 5 {
		t.Errorf("retryAfterOf = %v, %v; want 5ns, true", d, ok)
	}
	if _, ok := retryAfterOf(errors.New("x")); ok {
		t.Error("retryAfterOf found a delay in a plain error")
	}
}

func TestClassifyDrop(t *testing.T) {
	const secret = "tok"
	tests := []struct {
		err      error
		wantAuth bool
	}{
		{&websocket.CloseError{Code: closeUnauthorized, Text: "expired"}, true},
		{&websocket.CloseError{Code: websocket.ClosePolicyViolation}, true},
		{fmt.Errorf("read frame: %w", &websocket.CloseError{Code: closeUnauthorized}), true},
		{&websocket.CloseError{Code: websocket.CloseGoingAway}, false},
		{&websocket.CloseError{Code: websocket.CloseServiceRestart}, false},
		{&websocket.CloseError{Code: websocket.CloseMessageTooBig}, false},
		{errPongTimeout, false},
		{&url.Error{Op: "read", URL: "ws://h/?token=" + secret, Err: errors.New("reset")}, false},
	}
	for _, tt := range tests {
		got := classifyDrop(tt.err, "ws://h/?token=REDACTED", secret, DefaultCloseCodes)
		if errors.Is(got, ErrUnauthorized) != tt.wantAuth {
			t.Errorf("classifyDrop(%v) = %v, auth %v; want auth %v", tt.err, got, !tt.wantAuth, tt.wantAuth)
		}
		if strings.Contains(got.Error(), "token="+secret) {
			t.Errorf("classifyDrop(%v) leaks the token: %v", tt.err, got)
		}
	}
}
