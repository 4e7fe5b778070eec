package hub

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

func TestFilter(t *testing.T) {
	h := New(Config{})
	type pub struct{ topic, key string }
	var pubs []pub
	for _, topic := range []string{"messages", "typing", "calls"} {
		for _, key := range []string{"general", "other", ""} {
			pubs = append(pubs, pub{topic, key})
		}
	}
	tests := []struct {
		name  string
		match func(*Event) bool
		want  int
	}{
		{"all", nil, 10},
		{"topic", func(e *Event) bool { return e.Topic == "messages" }, 3},
		{"key", func(e *Event) bool { return e.Key == "general" }, 3},
		{"topics and key", func(e *Event) bool {
			return (e.Topic == "messages" || e.Topic == "calls") && e.Key == "general"
		}, 2},
		{"nothing but the last", func(e *Event) bool { return e.Topic == "last" }, 1},
	}
	subs := make([]*Sub, len(tests))
	for i, tt := range tests {
		subs[i] = h.Subscribe(tt.match, "")
		defer subs[i].Close()
	}
	var all []*Event
	for _, p := range pubs {
		all = append(all, h.Publish(p.topic, "x", p.key, []byte("{}")))
	}
	all = append(all, h.Publish("last", "x", "", []byte("{}")))
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []*Event
			for _, e := range all {
				if tt.match == nil || tt.match(e) {
					want = append(want, e)
				}
			}
			got := readN(t, subs[i], tt.want)
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", seqs(got), seqs(want))
			}
			// Caught up: its cursor passed the skipped events too.
			if subs[i].LastID() != h.LastID() {
				t.Fatalf("LastID %q, hub LastID %q", subs[i].LastID(), h.LastID())
			}
		})
	}
}

// Resuming from an id in the middle while another goroutine keeps publishing: every matching
// event after the id arrives exactly once, in order, with no gap.
func TestResumeWhilePublishing(t *testing.T) {
	const before, during = 1000, 5000
	h := New(Config{History: 1 << 14, Buffer: 1 << 14})
	topicOf := func(i int) string { return []string{"b", "a", "a", "a"}[i%4] }
	var from *Event
	for i := range before {
		ev := h.Publish(topicOf(i), "x", "", []byte("{}"))
		if i == before/2+1 {
			from = ev
		}
	}
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range during {
			if i == 100 {
				close(started)
			}
			h.Publish(topicOf(before+i), "x", "", []byte("{}"))
		}
		h.Publish("a", "end", "", []byte("{}"))
	})
	<-started
	matchers := []func(*Event) bool{nil, func(e *Event) bool { return e.Topic == "a" }}
	got := make([][]*Event, len(matchers))
	for i, match := range matchers {
		s := h.Subscribe(match, from.ID) // while the publisher runs
		if s.Reset() != "" || s.StartID() != from.ID {
			t.Fatalf("Reset %q StartID %q", s.Reset(), s.StartID())
		}
		wg.Go(func() {
			defer s.Close()
			ctx := boundCtx(t)
			var batch []*Event
			for {
				var err error
				if batch, err = s.Next(ctx, batch[:0]); err != nil {
					t.Errorf("Next: %v", err)
					return
				}
				got[i] = append(got[i], batch...)
				if batch[len(batch)-1].Type == "end" {
					return
				}
			}
		})
	}
	wg.Wait()

	all := got[0]
	if len(all) != before+during-int(from.Seq)+1 {
		t.Fatalf("got %d events, want %d", len(all), before+during-int(from.Seq)+1)
	}
	var wantA []*Event
	for i, e := range all {
		if e.Seq != from.Seq+uint64(i)+1 {
			t.Fatalf("event %d has seq %d, want %d", i, e.Seq, from.Seq+uint64(i)+1)
		}
		if e.Topic == "a" {
			wantA = append(wantA, e)
		}
	}
	if !slices.Equal(got[1], wantA) {
		t.Fatalf("topic a: got %d events, want %d", len(got[1]), len(wantA))
	}
}

func TestResumeResets(t *testing.T) {
	const history, published = 8, 20
	other := New(Config{})
	tests := []struct {
		name   string
		lastID func(h *Hub) string
		reset  string
		replay []uint64
	}{
		{"none", func(*Hub) string { return "" }, "", nil},
		{"head", func(h *Hub) string { return h.LastID() }, "", nil},
		{"oldest kept", func(h *Hub) string { return formatID(h.prefix, published-history) }, "", []uint64{13, 14, 15, 16, 17, 18, 19, 20}},
		{"middle", func(h *Hub) string { return formatID(h.prefix, 18) }, "", []uint64{19, 20}},
		{"too old", func(h *Hub) string { return formatID(h.prefix, published-history-1) }, ResetExpired, nil},
		{"start of run", func(h *Hub) string { return formatID(h.prefix, 0) }, ResetExpired, nil},
		{"future", func(h *Hub) string { return formatID(h.prefix, published+1) }, ResetInvalid, nil},
		{"other run", func(*Hub) string { return other.LastID() }, ResetUnknownRun, nil},
		{"garbage", func(*Hub) string { return "garbage" }, ResetInvalid, nil},
		{"number", func(*Hub) string { return "17" }, ResetInvalid, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(Config{History: history})
			for range published {
				h.Publish("t", "x", "", []byte("{}"))
			}
			head := h.LastID()
			lastID := tt.lastID(h)
			s := h.Subscribe(nil, lastID)
			defer s.Close()
			if s.Reset() != tt.reset {
				t.Fatalf("Reset = %q, want %q", s.Reset(), tt.reset)
			}
			wantStart := lastID
			if tt.reset != "" || lastID == "" {
				wantStart = head
			}
			if s.StartID() != wantStart {
				t.Fatalf("StartID = %q, want %q", s.StartID(), wantStart)
			}
			if got, err := s.Poll(nil); err != nil || !slices.Equal(seqs(got), tt.replay) {
				t.Fatalf("replay = %v, %v; want %v", seqs(got), err, tt.replay)
			}
			ev := h.Publish("t", "x", "", []byte("{}")) // then live
			if got := next(t, s); len(got) != 1 || got[0] != ev {
				t.Fatalf("live: got %v, want [%d]", seqs(got), ev.Seq)
			}
			wantResets := uint64(0)
			if tt.reset != "" {
				wantResets = 1
			}
			if h.Stats().Resets != wantResets {
				t.Fatalf("Stats().Resets = %d, want %d", h.Stats().Resets, wantResets)
			}
		})
	}
}

// Poll never hands back more than dst has room for (when it has room) nor more than MaxBatch.
func TestPollBatches(t *testing.T) {
	h := New(Config{})
	s := h.Subscribe(nil, "")
	defer s.Close()
	for range 10 {
		h.Publish("t", "x", "", []byte("{}"))
	}
	dst := make([]*Event, 0, 3)
	var sizes []int
	var all []*Event
	for {
		got, err := s.Poll(dst[:0])
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			break
		}
		sizes = append(sizes, len(got))
		all = append(all, got...)
	}
	if fmt.Sprint(sizes) != "[3 3 3 1]" || all[0].Seq != 1 || all[9].Seq != 10 {
		t.Fatalf("batch sizes %v, seqs %v", sizes, seqs(all))
	}

	for range 2*MaxBatch + 1 {
		h.Publish("t", "x", "", []byte("{}"))
	}
	sizes = nil
	for got, _ := s.Poll(nil); len(got) > 0; got, _ = s.Poll(got[:0]) {
		sizes = append(sizes, len(got))
	}
	if fmt.Sprint(sizes) != fmt.Sprint([]int{MaxBatch, MaxBatch, 1}) {
		t.Fatalf("batch sizes %v", sizes)
	}
}

// Next with a reused dst allocates nothing.
func TestNextAllocs(t *testing.T) {
	h := New(Config{})
	for range DefaultHistory {
		h.Publish("t", "x", "", []byte("{}"))
	}
	s := h.Subscribe(func(e *Event) bool { return e.Seq%2 == 0 }, formatID(h.prefix, 0))
	defer s.Close()
	ctx := t.Context()
	dst := make([]*Event, 0, MaxBatch)
	allocs := testing.AllocsPerRun(10, func() {
		var err error
		if dst, err = s.Next(ctx, dst[:0]); err != nil || len(dst) == 0 {
			t.Fatalf("Next: %d events, %v", len(dst), err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Next allocates %v times per call", allocs)
	}
}

var benchData = []byte(`{"id":"m1","conversation_id":"general","sender_id":"u1","content":"hello, world","created_at":"2025-01-01T00:00:00Z"}`)

// BenchmarkPublish publishes while n subscribers wait whose filter matches nothing: each event
// still wakes each of them (once per batch when they lag), so ns/op is the whole cost per event
// of idle streams, wake-ups included. The publisher waits when the slowest one is half a Buffer
// behind, so nobody is cut.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{0, 100, 1000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			h := New(Config{})
			var wg sync.WaitGroup
			never := func(*Event) bool { return false }
			subs := make([]*Sub, n)
			for i := range subs {
				subs[i] = h.Subscribe(never, "")
				wg.Go(func() { _, _ = subs[i].Next(context.Background(), nil) }) // ends at h.Close
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i%64 == 0 {
					for _, s := range subs {
						for slotCursor(s)+DefaultBuffer/2 < uint64(i) {
							runtime.Gosched()
						}
					}
				}
				h.Publish("messages", "chat.message", "general", benchData)
			}
			b.StopTimer()
			if c := h.Stats().Cut; c != 0 {
				b.Fatalf("%d subscribers cut", c)
			}
			h.Close()
			wg.Wait()
		})
	}
}

// slotCursor reads the cursor of a live subscription, as Publish moves it.
func slotCursor(s *Sub) uint64 {
	s.h.mu.RLock()
	defer s.h.mu.RUnlock()
	if s.idx < 0 {
		return s.cursor.Load()
	}
	return s.h.slots[s.idx].cursor
}

// BenchmarkPublishIdleFiltered publishes to 10,000 idle subscriptions that each follow one of
// 100 conversations, by Filter (tested by masks) and by match function: the cost Publish pays
// for the streams an event is not for.
func BenchmarkPublishIdleFiltered(b *testing.B) {
	const n, convs = 10000, 100
	keys := make([]string, convs)
	for i := range keys {
		keys[i] = fmt.Sprint("conv-", i)
	}
	for _, how := range []string{"filter", "func"} {
		b.Run(how, func(b *testing.B) {
			h := New(Config{})
			defer h.Close()
			for i := range n {
				f := Filter{Topics: []string{"messages"}, Key: keys[i%convs], KeyTopics: []string{"messages"}}
				var s *Sub
				if how == "filter" {
					s = h.SubscribeTo(f, "")
				} else {
					s = h.Subscribe(f.Matches, "")
				}
				defer s.Close()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				// An event for no subscriber: nobody is woken, every cursor moves past it.
				h.Publish("messages", "chat.message", "elsewhere", benchData)
			}
		})
	}
}

// BenchmarkNextReplay reads a full history with Next: the cost of delivering one event to one
// subscriber, and (allocs/op) the allocations of a Subscribe, spread over History events.
func BenchmarkNextReplay(b *testing.B) {
	h := New(Config{})
	for range DefaultHistory {
		h.Publish("messages", "chat.message", "general", benchData)
	}
	from := formatID(h.prefix, 0)
	ctx := context.Background()
	dst := make([]*Event, 0, MaxBatch)
	b.ReportAllocs()
	for b.Loop() {
		s := h.Subscribe(nil, from)
		for n := 0; n < DefaultHistory; n += len(dst) {
			var err error
			if dst, err = s.Next(ctx, dst[:0]); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*DefaultHistory), "ns/event")
}

// BenchmarkFanout publishes b.N events to n live subscribers that read every event: ns/op is
// the cost of one event delivered to all of them, allocs/op shows no allocation per subscriber.
// The publisher waits when the slowest reader is half a history behind, so nobody is cut.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			const history = 1 << 16
			h := New(Config{History: history, Buffer: history - 1})
			progress := make([]atomic.Uint64, n)
			var wg sync.WaitGroup
			for i := range n {
				s := h.Subscribe(nil, "")
				wg.Go(func() {
					defer s.Close()
					var batch []*Event
					for progress[i].Load() < uint64(b.N) {
						var err error
						if batch, err = s.Next(context.Background(), batch[:0]); err != nil {
							b.Error(err)
							return
						}
						progress[i].Store(batch[len(batch)-1].Seq)
					}
				})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i%1024 == 0 {
					for j := range progress {
						for progress[j].Load()+history/2 < uint64(i) {
							runtime.Gosched()
						}
					}
				}
				h.Publish("messages", "chat.message", "general", benchData)
			}
			wg.Wait()
			b.StopTimer()
			if c := h.Stats().Cut; c != 0 {
				b.Fatalf("%d subscribers cut", c)
			}
		})
	}
}

// A subscriber that has caught up is neither woken nor cut by events its filter rejects.
func TestIdleSubscriberNotWokenNorCut(t *testing.T) {
	h := New(Config{History: 64, Buffer: 8})
	s := h.Subscribe(func(e *Event) bool { return e.Topic == "calls" }, "")
	defer s.Close()
	for range 100 {
		h.Publish("messages", "x", "", []byte("{}"))
	}
	select {
	case <-s.Ready():
		t.Fatal("woken by events it filters out")
	case <-s.Done():
		t.Fatal("cut by events it filters out")
	default:
	}
	if s.LastID() != h.LastID() {
		t.Fatalf("LastID %q, hub at %q", s.LastID(), h.LastID())
	}
	ev := h.Publish("calls", "x", "", []byte("{}"))
	h.Publish("messages", "x", "", []byte("{}"))
	select {
	case <-s.Ready():
	default:
		t.Fatal("not woken by an event it wants")
	}
	if got := next(t, s); len(got) != 1 || got[0] != ev {
		t.Fatalf("got %v, want [%d]", seqs(got), ev.Seq)
	}
}

func TestOnCutRunsOnceWhenCut(t *testing.T) {
	h := New(Config{History: 16, Buffer: 4})
	defer h.Close()
	stalled := h.Subscribe(nil, "")
	defer stalled.Close()
	calls := 0
	stalled.OnCut(func() { calls++ })
	for i := 0; i < 10; i++ {
		h.Publish("t", "e", "", []byte(`{}`))
	}
	if calls != 1 {
		t.Fatalf("OnCut ran %d times, want 1", calls)
	}
	late := 0
	stalled.OnCut(func() { late++ }) // registered after the cut: runs at once
	if late != 1 {
		t.Fatalf("a late OnCut ran %d times, want 1", late)
	}
	closed := h.Subscribe(nil, "")
	closed.OnCut(func() { t.Error("OnCut ran for a plain Close") })
	closed.Close()
}

// TestSubscribeToFilter: a subscription by Filter is woken by exactly the events Filter.Matches
// selects, and gets exactly those, whether Publish tests it by masks or (past 64 topics, when
// the filter's own get no bit) by calling Matches.
func TestSubscribeToFilter(t *testing.T) {
	for _, extra := range []int{0, 70} {
		t.Run(fmt.Sprintf("%d other topics first", extra), func(t *testing.T) {
			h := New(Config{})
			defer h.Close()
			for i := range extra {
				h.Publish(fmt.Sprintf("other-%d", i), "x", "", []byte(`{}`))
			}
			f := Filter{Topics: []string{"messages", "presence"}, Key: "c1", KeyTopics: []string{"messages"}}
			s := h.SubscribeTo(f, "")
			defer s.Close()
			all := h.Subscribe(nil, "")
			defer all.Close()
			events := []struct{ topic, key string }{
				{"messages", "c1"}, {"messages", "c2"}, {"messages", ""}, {"presence", "c2"}, {"presence", ""},
				{"typing", "c1"}, {"raw", ""},
			}
			selected := 0
			for _, e := range events {
				if evs, err := s.Poll(nil); err != nil || len(evs) != 0 { // caught up: it waits
					t.Fatalf("before %v: Poll = %d events, %v", e, len(evs), err)
				}
				select {
				case <-s.Ready():
				default:
				}
				ev := h.Publish(e.topic, "t", e.key, []byte(`{}`))
				woken := false
				select {
				case <-s.Ready():
					woken = true
				default:
				}
				want := f.Matches(ev)
				if woken != want {
					t.Errorf("%s/%q: woken %v, want %v", e.topic, e.key, woken, want)
				}
				got, err := s.Poll(nil)
				if err != nil || (len(got) == 1) != want || (want && got[0] != ev) {
					t.Errorf("%s/%q: Poll = %v, %v; want the event: %v", e.topic, e.key, got, err, want)
				}
				if want {
					selected++
				}
			}
			if selected != 3 {
				t.Errorf("Matches selected %d events, want 3 (messages c1, presence c2, presence)", selected)
			}
			if evs, _ := all.Poll(nil); len(evs) != len(events) {
				t.Errorf("the subscription to everything got %d events, want %d", len(evs), len(events))
			}
		})
	}
}
