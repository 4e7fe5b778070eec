package hub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// bound keeps a hung test from hanging; no test relies on it being short.
const bound = 10 * time.Second

func boundCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), bound)
	t.Cleanup(cancel)
	return ctx
}

// next calls Next once and fails the test on an error.
func next(t testing.TB, s *Sub) []*Event {
	t.Helper()
	evs, err := s.Next(boundCtx(t), nil)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return evs
}

// readN reads exactly n events with Next.
func readN(t testing.TB, s *Sub, n int) []*Event {
	t.Helper()
	var got []*Event
	for len(got) < n {
		got = append(got, next(t, s)...)
	}
	if len(got) != n {
		t.Fatalf("read %d events, want %d", len(got), n)
	}
	return got
}

func seqs(evs []*Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		cfg             Config
		history, buffer uint64
	}{
		{Config{}, DefaultHistory, DefaultBuffer},
		{Config{History: -5, Buffer: -1}, DefaultHistory, DefaultBuffer},
		{Config{History: 1}, 2, 1},
		{Config{History: 8}, 8, 7},
		{Config{History: 100, Buffer: 100}, 100, 99},
		{Config{History: 100, Buffer: 10}, 100, 10},
	}
	for _, tt := range tests {
		h := New(tt.cfg)
		if h.history != tt.history || h.buffer != tt.buffer || len(h.ring) != int(tt.history) {
			t.Errorf("New(%+v): history %d buffer %d; want %d %d", tt.cfg, h.history, h.buffer, tt.history, tt.buffer)
		}
	}
}

// A slow or stalled subscriber costs Publish no allocation: allocations per event do not depend
// on how many subscribers there are.
func TestPublishAllocsIndependentOfSubscribers(t *testing.T) {
	data := []byte(`{"conversation_id":"general","content":"hello"}`)
	allocs := func(subs int) float64 {
		h := New(Config{})
		for range subs {
			defer h.Subscribe(nil, "").Close()
		}
		return testing.AllocsPerRun(200, func() { h.Publish("messages", "chat.message", "general", data) })
	}
	none, many := allocs(0), allocs(500)
	if none != many || none > 3 {
		t.Fatalf("allocations per Publish: %v with no subscriber, %v with 500; want equal and at most 3", none, many)
	}
}

func TestStalledSubscriberIsCut(t *testing.T) {
	const buffer = 16
	h := New(Config{History: 64, Buffer: buffer})
	stalled := h.Subscribe(nil, "")
	defer stalled.Close()
	active := h.Subscribe(nil, "")
	defer active.Close()

	var all []*Event
	for i := range buffer + 1 {
		if i == buffer {
			select {
			case <-stalled.Done():
				t.Fatalf("cut after %d events, want after %d", i, buffer+1)
			default:
			}
		}
		ev := h.Publish("t", "x", "", fmt.Appendf(nil, "%d", i))
		all = append(all, ev)
		if got := next(t, active); len(got) != 1 || got[0] != ev {
			t.Fatalf("active subscriber got %v, want [%d]", seqs(got), ev.Seq)
		}
	}
	select {
	case <-stalled.Done():
	default:
		t.Fatalf("stalled subscriber not cut after %d events", buffer+1)
	}
	if _, err := stalled.Next(boundCtx(t), nil); !errors.Is(err, ErrCut) {
		t.Fatalf("stalled Next = %v, want ErrCut", err)
	}
	if _, err := stalled.Poll(nil); !errors.Is(err, ErrCut) {
		t.Fatalf("stalled Poll = %v, want ErrCut", err)
	}
	if st := h.Stats(); st.Cut != 1 || st.Subscribers != 1 || st.Published != buffer+1 {
		t.Fatalf("Stats = %+v", st)
	}

	// It resumes from where it stood and gets everything, then follows live.
	re := h.Subscribe(nil, stalled.LastID())
	defer re.Close()
	if re.Reset() != "" {
		t.Fatalf("Reset = %q", re.Reset())
	}
	if got := readN(t, re, len(all)); fmt.Sprint(seqs(got)) != fmt.Sprint(seqs(all)) {
		t.Fatalf("resumed with %v, want %v", seqs(got), seqs(all))
	}
	ev := h.Publish("t", "x", "", []byte("live"))
	if got := next(t, re); len(got) != 1 || got[0] != ev {
		t.Fatalf("live after resume: %v", seqs(got))
	}
}

// A subscriber that read a while, then stalled, resumes from the last event it delivered.
func TestCutSubscriberResumesFromLastDelivered(t *testing.T) {
	h := New(Config{History: 64, Buffer: 8})
	isA := func(e *Event) bool { return e.Topic == "a" }
	s := h.Subscribe(isA, "")
	defer s.Close()
	topic := func(i int) string { return []string{"a", "b", "b"}[i%3] }
	var wantA []*Event
	for i := range 40 {
		ev := h.Publish(topic(i), "x", "", []byte("{}"))
		if ev.Topic == "a" && i >= 6 {
			wantA = append(wantA, ev)
		}
		if i < 6 && ev.Topic == "a" {
			next(t, s) // delivers i == 0, then i == 3 (skipping 1 and 2)
		}
	}
	got, err := s.Next(boundCtx(t), nil)
	if !errors.Is(err, ErrCut) || len(got) != 0 {
		t.Fatalf("Next = %v, %v; want ErrCut", seqs(got), err)
	}
	// Last delivered: event 3 (i == 3). Every a-event after it must come, once, in order.
	re := h.Subscribe(isA, formatID(h.prefix, 4))
	defer re.Close()
	if re.Reset() != "" {
		t.Fatalf("Reset = %q", re.Reset())
	}
	if got := readN(t, re, len(wantA)); fmt.Sprint(seqs(got)) != fmt.Sprint(seqs(wantA)) {
		t.Fatalf("resumed with %v, want %v", seqs(got), seqs(wantA))
	}
}

func TestEndWakesNext(t *testing.T) {
	tests := []struct {
		name string
		end  func(h *Hub, s *Sub, cancel context.CancelFunc)
		want error
	}{
		{"hub closed", func(h *Hub, _ *Sub, _ context.CancelFunc) { h.Close(); h.Close() }, ErrClosed},
		{"sub closed", func(_ *Hub, s *Sub, _ context.CancelFunc) { s.Close(); s.Close() }, ErrClosed},
		{"context cancelled", func(_ *Hub, _ *Sub, cancel context.CancelFunc) { cancel() }, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(Config{})
			s := h.Subscribe(nil, "")
			defer s.Close()
			ctx, cancel := context.WithCancel(boundCtx(t))
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				_, err := s.Next(ctx, nil)
				errc <- err
			}()
			tt.end(h, s, cancel)
			if err := <-errc; !errors.Is(err, tt.want) {
				t.Fatalf("Next = %v, want %v", err, tt.want)
			}
			if tt.want == ErrClosed {
				h.Publish("t", "x", "", []byte("{}"))
				if _, err := s.Next(t.Context(), nil); !errors.Is(err, ErrClosed) {
					t.Fatalf("Next again = %v, want ErrClosed", err)
				}
				if h.Subscribers() != 0 {
					t.Fatalf("Subscribers = %d", h.Subscribers())
				}
			}
		})
	}
}

func TestReadyWakesOnEnd(t *testing.T) {
	h := New(Config{})
	s := h.Subscribe(nil, "")
	if got, err := s.Poll(nil); len(got) != 0 || err != nil {
		t.Fatalf("Poll = %v, %v", got, err)
	}
	h.Close()
	select {
	case <-s.Ready():
	case <-time.After(bound):
		t.Fatal("Ready not signalled by Close")
	}
	if _, err := s.Poll(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Poll = %v, want ErrClosed", err)
	}
	late := h.Subscribe(nil, "")
	if _, err := late.Next(t.Context(), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after hub Close = %v, want ErrClosed", err)
	}
	<-late.Done()
	if ev := h.Publish("t", "x", "", []byte("{}")); h.LastID() != ev.ID {
		t.Fatal("Publish after Close is not recorded")
	}
}

func TestRingWrapAround(t *testing.T) {
	const history = 8
	h := New(Config{History: history})
	s := h.Subscribe(nil, "")
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	all := []*Event{nil} // all[seq]
	for range 300 {
		k := 1 + rng.IntN(history-1) // never more than Buffer (history-1) behind
		for range k {
			all = append(all, h.Publish("t", "x", "", fmt.Appendf(nil, "%d", len(all))))
		}
		if got := readN(t, s, k); got[0] != all[len(all)-k] || got[k-1] != all[len(all)-1] {
			t.Fatalf("read %v, want %d..%d", seqs(got), len(all)-k, len(all)-1)
		}
		head := uint64(len(all) - 1)
		for back := uint64(0); back <= history+1 && back <= head; back++ {
			r := h.Subscribe(nil, formatID(h.prefix, head-back))
			got, err := r.Poll(nil)
			r.Close()
			if back > history {
				if r.Reset() != ResetExpired || len(got) != 0 || err != nil {
					t.Fatalf("resume %d behind: Reset %q, %v, %v; want expired", back, r.Reset(), seqs(got), err)
				}
				continue
			}
			if r.Reset() != "" || err != nil || fmt.Sprint(seqs(got)) != fmt.Sprint(seqs(all[head-back+1:])) {
				t.Fatalf("resume %d behind at head %d: Reset %q, %v, %v", back, head, r.Reset(), seqs(got), err)
			}
		}
	}
}

// Several publishers and subscribers at once, with cut-offs (small Buffer) and resumes, and
// subscriptions opened and closed at random: every subscriber gets exactly the events it
// matches, once each, in order.
func TestStress(t *testing.T) {
	const publishers, perPublisher = 4, 3000
	h := New(Config{History: 1 << 15, Buffer: 32}) // the history holds every event: resuming never expires
	matchers := []func(*Event) bool{
		nil,
		func(e *Event) bool { return e.Topic == "a" || e.Topic == "end" },
		func(e *Event) bool { return e.Key == "k1" || e.Topic == "end" },
		func(e *Event) bool { return e.Topic == "b" && e.Key == "k2" || e.Topic == "end" },
		func(e *Event) bool { return e.Topic == "end" },
	}
	got := make([][]uint64, len(matchers))
	var pubs, subs sync.WaitGroup
	var stop atomic.Bool
	for i, match := range matchers {
		s := h.Subscribe(match, "") // before any event
		subs.Go(func() {
			ctx := boundCtx(t)
			var batch []*Event
			for {
				var err error
				batch, err = s.Next(ctx, batch[:0])
				if errors.Is(err, ErrCut) {
					resume := s.LastID() // odd subscribers resume from the last delivered event
					if i%2 == 1 && len(got[i]) > 0 {
						resume = formatID(h.prefix, got[i][len(got[i])-1])
					}
					s = h.Subscribe(match, resume)
					if s.Reset() != "" {
						t.Errorf("subscriber %d: resume reset: %s", i, s.Reset())
					}
					continue
				}
				if err != nil {
					t.Errorf("subscriber %d: %v", i, err)
					return
				}
				for _, e := range batch {
					got[i] = append(got[i], e.Seq)
					if e.Topic == "end" {
						s.Close()
						return
					}
				}
			}
		})
	}
	subs.Go(func() { // churn
		rng := rand.New(rand.NewPCG(3, 4))
		for !stop.Load() {
			s := h.Subscribe(nil, formatID(h.prefix, rng.Uint64N(h.published.Load()+2)))
			_, _ = s.Poll(nil)
			s.Close()
			runtime.Gosched()
		}
	})
	for p := range publishers {
		pubs.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(p), 5))
			for range perPublisher {
				h.Publish([]string{"a", "b", "c"}[rng.IntN(3)], "x", fmt.Sprintf("k%d", rng.IntN(4)), []byte("{}"))
			}
		})
	}
	pubs.Wait()
	h.Publish("end", "end", "", []byte("{}"))
	stop.Store(true)
	subs.Wait()

	const total = publishers*perPublisher + 1
	history := h.Subscribe(nil, formatID(h.prefix, 0))
	var all []*Event
	for len(all) < total {
		n := len(all)
		var err error
		if all, err = history.Poll(all); err != nil || len(all) == n {
			t.Fatalf("reading the history: %d of %d events, %v", n, total, err)
		}
	}
	for i, match := range matchers {
		var want []uint64
		for _, e := range all {
			if match == nil || match(e) {
				want = append(want, e.Seq)
			}
		}
		if fmt.Sprint(got[i]) != fmt.Sprint(want) {
			t.Errorf("subscriber %d got %d events, want %d (first difference matters)", i, len(got[i]), len(want))
		}
	}
	t.Logf("stats: %+v", h.Stats())
	h.Close()
}

// TestHistoryByteBudget: large events leave the history by size before its count is reached;
// a resume from an id whose successors left answers expired, a subscriber whose next events left
// is cut, and a subscriber within the kept window is unaffected.
func TestHistoryByteBudget(t *testing.T) {
	h := New(Config{History: 1000, Buffer: 500, MaxBytes: 10 << 10}) // 10 KiB
	defer h.Close()
	big := []byte(`"` + strings.Repeat("x", 1000) + `"`) // ~1 KiB per event
	start := h.LastID()
	slow := h.Subscribe(nil, "") // never reads
	defer slow.Close()
	var ids []string
	for i := 0; i < 50; i++ {
		ids = append(ids, h.Publish("t", "e", "", big).ID)
	}
	h.mu.RLock()
	bytes, oldest, head := h.bytes, h.oldest, h.head
	h.mu.RUnlock()
	if bytes > 10<<10 || head-oldest+1 >= 50 {
		t.Fatalf("history holds %d bytes in %d events, want at most 10 KiB", bytes, head-oldest+1)
	}
	if _, err := slow.Poll(nil); !errors.Is(err, ErrCut) {
		t.Fatalf("a subscriber whose next events left the history: Poll = %v, want ErrCut", err)
	}
	if s := h.Subscribe(nil, start); s.Reset() != ResetExpired {
		t.Fatalf("resume from before the kept window: reset %q, want expired", s.Reset())
	} else {
		s.Close()
	}
	recent := h.Subscribe(nil, ids[len(ids)-3])
	defer recent.Close()
	evs, err := recent.Poll(nil)
	if err != nil || len(evs) != 2 || evs[1].ID != ids[len(ids)-1] {
		t.Fatalf("resume within the kept window: %d events, %v", len(evs), err)
	}
}
