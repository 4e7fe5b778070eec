package api

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chatbridge/chatbridge/internal/chat"
)

// failingStore is the real Chat, with a state directory that fails while fail is set.
type failingStore struct {
	Chat
	fail atomic.Bool
}

func (f *failingStore) Submit(ctx context.Context, m chat.OutgoingMessage) (string, error) {
	if f.fail.Load() {
		return "", fmt.Errorf("submit message: store message %s: %w: no space left on device", m.ClientMessageID, chat.ErrStorage)
	}
	return f.Chat.Submit(ctx, m)
}

// TestStorageFailureIs503: while the state directory fails, POST /messages answers 503
// storage-unavailable with Retry-After, and the log says so once, then once when it recovers.
func TestStorageFailureIs503(t *testing.T) {
	logs := &syncBuffer{}
	fs := &failingStore{}
	r := newRig(t, func(c *Config) {
		fs.Chat = c.Chat
		c.Chat = fs
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	fs.fail.Store(true)
	for i := range 3 {
		ex := r.postJSON(t, "/messages", fmt.Sprintf(`{"conversation_id": "general", "content": "x", "client_message_id": "full-%d"}`, i))
		wantProblem(t, ex, http.StatusServiceUnavailable, "storage-unavailable")
		if secs, err := strconv.Atoi(ex.header.Get("Retry-After")); err != nil || secs < 1 {
			t.Errorf("Retry-After %q", ex.header.Get("Retry-After"))
		}
	}
	fs.fail.Store(false)
	if ex := r.postJSON(t, "/messages", `{"conversation_id": "general", "content": "x"}`); ex.status != http.StatusAccepted {
		t.Fatalf("POST /messages after recovery: %d", ex.status)
	}
	if n := strings.Count(logs.String(), "cannot store accepted messages"); n != 1 {
		t.Errorf("the failure was logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "works again") {
		t.Errorf("no line says storing works again:\n%s", logs)
	}
}

// syncBuffer is a log output a test reads while the server writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
