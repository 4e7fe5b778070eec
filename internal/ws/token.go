package ws

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
)

// TokenSource yields the access token used for the next dial. The Client asks it
// before every dial, so a source that changes (a file, a settable token) is picked
// up on the next reconnect. An empty token with a nil error means "no token yet".
// Implementations must be safe for concurrent use.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// tokenNotifier is the optional capability of a TokenSource that can tell the
// Client at once that its token changed, so the Client does not wait for the
// next TokenPoll tick.
type tokenNotifier interface {
	// Changed returns a channel that is closed at the next change after the call.
	Changed() <-chan struct{}
}

// StaticToken is a fixed token. It is safe for concurrent use.
type StaticToken string

// Token returns the token itself.
func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }

// FileToken reads the token from a file on every call, trimmed of surrounding
// whitespace, so rewriting the file refreshes the token used at the next dial.
// It is safe for concurrent use.
type FileToken struct {
	Path string
}

// Token reads and trims the file. A missing or unreadable file is an error
// naming the path (never the content).
func (f FileToken) Token(context.Context) (string, error) {
	b, err := os.ReadFile(f.Path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// SettableToken is a token set at run time (for example over the bridge's HTTP
// API). All its methods are safe for concurrent use. The zero value holds no
// token; NewSettableToken is the usual constructor.
type SettableToken struct {
	mu      sync.Mutex
	token   string
	changed chan struct{} // closed and replaced by Set; nil until first needed
}

// NewSettableToken returns a SettableToken holding initial ("" for none yet).
func NewSettableToken(initial string) *SettableToken {
	return &SettableToken{token: initial}
}

// Set replaces the token (trimmed of surrounding whitespace) and wakes every
// Changed channel handed out before this call.
func (s *SettableToken) Set(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = strings.TrimSpace(token)
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// Token returns the current token ("" if none has been set).
func (s *SettableToken) Token(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token, nil
}

// Changed returns a channel closed by the next Set after this call. Take the
// channel before reading Token to not miss a Set in between.
func (s *SettableToken) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}
