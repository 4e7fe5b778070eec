package main

import (
	"context"
	"sync"

	"github.com/chatbridge/chatbridge/internal/chat"
	"github.com/chatbridge/chatbridge/internal/ws"
)

// tokenSource is the bridge's upstream token: the --token value or the --token-file (re-read at
// every dial) until PUT /connection sets one, which wins from then on. Safe for concurrent use.
type tokenSource struct {
	base ws.TokenSource
	set  *ws.SettableToken

	mu         sync.Mutex
	overridden bool
}

func newTokenSource(token, file string) *tokenSource {
	var base ws.TokenSource = ws.StaticToken(token)
	if file != "" {
		base = ws.FileToken{Path: file}
	}
	return &tokenSource{base: base, set: ws.NewSettableToken("")}
}

// Token returns the token set at run time, else the configured one.
func (t *tokenSource) Token(ctx context.Context) (string, error) {
	t.mu.Lock()
	overridden := t.overridden
	t.mu.Unlock()
	if overridden {
		return t.set.Token(ctx)
	}
	return t.base.Token(ctx)
}

// Set makes token the one used from the next dial on.
func (t *tokenSource) Set(token string) {
	t.mu.Lock()
	t.overridden = true
	t.mu.Unlock()
	t.set.Set(token)
}

// Changed lets the ws client wake at once when Set is called.
func (t *tokenSource) Changed() <-chan struct{} { return t.set.Changed() }

// upstream steers the ws client for the API's /connection endpoints.
type upstream struct {
	client *ws.Client
	tokens *tokenSource
}

func (u *upstream) State() chat.ConnectionState { return chat.ConnectionStateOf(u.client.Status()) }

func (u *upstream) SetToken(token string) {
	u.tokens.Set(token)
	u.client.Reconnect()
}

func (u *upstream) Disconnect() { u.client.Disconnect() }
