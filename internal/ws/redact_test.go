package ws

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ws://host/chat", "ws://host/chat"},
		{"ws://host/chat?token=abc", "ws://host/chat?token=REDACTED"},
		{"wss://host:8443/chat?room=1&token=abc", "wss://host:8443/chat?room=REDACTED&token=REDACTED"},
		{"ws://host/chat?abc", "ws://host/chat?REDACTED"},
		{"ws://host/chat?a=1&&b", "ws://host/chat?a=REDACTED&&REDACTED"},
		{"ws://user:pw@host/chat", "ws://REDACTED@host/chat"},
		{"ws://host/chat#frag", "ws://host/chat"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := redactURL(u); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactRawURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ws://host:bad/chat?token=abc", "ws://host:bad/chat?REDACTED"},
		{"ws://host:bad/chat#abc", "ws://host:bad/chat?REDACTED"},
		{"ws://user:pw@host:bad/chat", "ws://REDACTED@host:bad/chat"},
		{"ws://user:pw@host:bad?x=@y", "ws://REDACTED@host:bad?REDACTED"},
		{"host/a@b", "host/a@b"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := redactRawURL(tt.in); got != tt.want {
			t.Errorf("redactRawURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactError(t *testing.T) {
	const secret = "tok en/+"
	safe := "ws://host/chat?token=REDACTED"
	tests := []struct {
		name string
		err  error
	}{
		{"url.Error", &url.Error{Op: "Get", URL: "ws://host/chat?token=" + url.QueryEscape(secret), Err: context.Canceled}},
		{"raw text", errors.Join(errors.New("boom with "+secret), context.Canceled)},
		{"escaped text", errors.Join(errors.New("boom with "+url.QueryEscape(secret)), context.Canceled)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redactError(tt.err, safe, secret)
			if strings.Contains(got.Error(), secret) || strings.Contains(got.Error(), url.QueryEscape(secret)) {
				t.Errorf("redactError = %q, still holds the secret", got)
			}
			if !errors.Is(got, context.Canceled) {
				t.Errorf("redactError lost the chain: %v", got)
			}
		})
	}
	if redactError(nil, safe, secret) != nil {
		t.Error("redactError(nil) != nil")
	}
	plain := errors.New("plain")
	if got := redactError(plain, safe, secret); got != plain {
		t.Errorf("redactError changed an error without secrets: %v", got)
	}
}
