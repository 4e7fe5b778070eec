package outbox

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// waitLog is a log of values that a test can wait on.
type waitLog[T any] struct {
	mu      sync.Mutex
	items   []T
	changed chan struct{}
}

func newWaitLog[T any]() *waitLog[T] { return &waitLog[T]{changed: make(chan struct{})} }

func (l *waitLog[T]) add(v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, v)
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *waitLog[T]) all() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.items...)
}

// wait waits until pred holds for the log and returns the log's length then.
func (l *waitLog[T]) wait(t *testing.T, what string, pred func([]T) bool) int {
	t.Helper()
	timer := time.NewTimer(bound)
	defer timer.Stop()
	for {
		l.mu.Lock()
		items, changed := l.items, l.changed
		ok := pred(items)
		l.mu.Unlock()
		if ok {
			return len(items)
		}
		select {
		case <-changed:
		case <-timer.C:
			buf := make([]byte, 1<<20)
			t.Fatalf("timed out waiting for %s; goroutines:\n%s", what, buf[:runtime.Stack(buf, true)])
		}
	}
}
