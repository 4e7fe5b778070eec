package outbox

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// instantSender writes nothing and succeeds at once.
type instantSender struct{}

func (instantSender) SendMessage(context.Context, Message) error { return nil }

// BenchmarkSubmit measures accepting one message: in memory and with Dir
// (one fsynced bbolt commit each) while the upstream is down, and in memory
// while connected (Submit waits for the flusher's write).
//
//	go test -run '^$' -bench Submit -benchmem ./internal/outbox
func BenchmarkSubmit(b *testing.B) {
	tests := []struct {
		name      string
		dir       bool
		connected bool
	}{
		{"memory", false, false},
		{"dir", true, false},
		{"memory connected", false, true},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			cfg := Config{Sender: instantSender{}, Capacity: b.N + 1, Window: b.N + 1}
			if tt.dir {
				cfg.Dir = b.TempDir()
			}
			o, err := Open(cfg)
			if err != nil {
				b.Fatalf("Open: %v", err)
			}
			ctx, cancel := context.WithCancel(b.Context())
			var wg sync.WaitGroup
			wg.Go(func() { _ = o.Run(ctx) })
			defer func() {
				cancel()
				wg.Wait()
				_, _ = o.Close()
			}()
			o.SetConnected(tt.connected)
			m := Message{ConversationID: "general", Content: "hello from the benchmark"}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				m.ClientMessageID = strconv.Itoa(i)
				if _, err := o.Submit(ctx, m); err != nil {
					b.Fatalf("Submit: %v", err)
				}
			}
		})
	}
}

// BenchmarkSubmitDurableParallel: Submits from 50 goroutines into an outbox with Dir, as
// concurrent POSTs arrive; they share commits (commit.go). It reports how many messages each
// commit held.
func BenchmarkSubmitDurableParallel(b *testing.B) {
	o, err := Open(Config{Sender: instantSender{}, Capacity: b.N + 1, Dir: b.TempDir()})
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	defer func() { _, _ = o.Close() }()
	var next atomic.Int64
	b.SetParallelism(25) // x GOMAXPROCS goroutines
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		m := Message{ConversationID: "general", Content: "hello from the benchmark"}
		for pb.Next() {
			m.ClientMessageID = strconv.FormatInt(next.Add(1), 10)
			if _, err := o.Submit(context.Background(), m); err != nil {
				b.Errorf("Submit: %v", err)
				return
			}
		}
	})
	b.StopTimer()
	if cs := o.CommitStats(); cs.Commits > 0 {
		b.ReportMetric(float64(cs.Changes)/float64(cs.Commits), "msgs/commit")
	}
}
