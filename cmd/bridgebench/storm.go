package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// scenarioE: publish Frames events, then open N subscribers at once, each resuming Back events
// before the newest; time until every one has the newest, and check each got exactly the Back
// events after its id. Bridge only: the floor keeps no history.
func (b *bench) scenarioE(ctx context.Context) (Result, error) {
	p := b.p
	n, frames, back := or(p.Subscribers, 1000), or(p.Frames, 2000), or(p.Back, 1000)
	back = min(back, frames-1)
	rate := orF(p.Rate, 2000)
	r := Result{Scenario: "e", Title: "reconnect storm with Last-Event-ID",
		Params: map[string]any{"subscribers": n, "published": frames, "resume_back": back, "publish_rate": rate}}
	var (
		caughtUp, exact, resets int
		catchUp                 time.Duration
		p50, p99                float64
	)
	b.logf("bridge: storm of %d subscribers resuming %d of %d events", n, back, frames)
	err := b.withTarget(ctx, "bridge", func(t *target) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var goal atomic.Int64
		goal.Store(int64(frames))
		ref := newSubscriber(1, &goal, frames)
		ref.recordIDs, ref.exit = true, true
		var wg sync.WaitGroup
		defer wg.Wait()
		errs := make(chan error, 1)
		if _, err := connectAll(ctx, t, []*subscriber{ref}, "", false, &wg, errs); err != nil {
			return err
		}
		snd, err := dialSender(ctx, b.upstream)
		if err != nil {
			return err
		}
		defer snd.Close()
		if err := snd.send(ctx, b.prefix("e"), frames, rate, or(p.Payload, 200)); err != nil {
			return err
		}
		wg.Wait()
		if ref.count != int64(frames) {
			return fmt.Errorf("the reference subscriber got %d of %d events", ref.count, frames)
		}
		lastID := ref.ids[frames-back-1]

		subs := make([]*subscriber, n)
		for i := range subs {
			subs[i] = newSubscriber(int64(frames-back+1), &goal, back)
			subs[i].exit = true
		}
		start := make(chan struct{})
		var failed atomic.Int64
		for _, s := range subs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				c, err := dialSSE(ctx, t.addr, 0)
				if err != nil {
					failed.Add(1)
					return
				}
				defer c.Close()
				if s.run(ctx, c, t.addr, t.path, lastID, false) != nil {
					failed.Add(1)
				}
			}()
		}
		t0 := time.Now()
		close(start)
		done := make(chan struct{})
		go func() {
			wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cancel()
			<-done
		}
		var all []int32
		for _, s := range subs {
			if s.count == int64(back) && s.gaps == 0 && s.dups == 0 && !s.reset {
				exact++
			}
			if s.last.Load() == int64(frames) {
				caughtUp++
				catchUp = max(catchUp, s.doneAt.Sub(t0))
				all = append(all, int32(s.doneAt.Sub(t0).Microseconds()))
			}
			if s.reset {
				resets++
			}
		}
		q := quantiles(all, 0.5, 0.99)
		p50, p99 = q[0], q[1]
		if f := failed.Load(); f > 0 {
			b.logf("bridge: %d storm subscribers failed", f)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	r.add("subscribers caught up", "", float64(caughtUp), nil)
	r.add("subscribers with exactly the missed events", "", float64(exact), nil)
	r.add("stream.reset answers", "", float64(resets), nil)
	r.add("time until every subscriber caught up", "ms", float64(catchUp.Microseconds())/1000, nil)
	r.add("time to catch up p50", "ms", p50, nil)
	r.add("time to catch up p99", "ms", p99, nil)
	r.check("every subscriber caught up, no gap, no duplicate, within 0.5 s",
		caughtUp == n && exact == n && catchUp <= 500*time.Millisecond,
		"%d/%d caught up, %d/%d exact, in %v", caughtUp, n, exact, n, catchUp.Round(time.Millisecond))
	r.Notes = append(r.Notes, "Bridge only: the floor keeps no history, so it cannot resume.",
		"The clock starts when all N goroutines are released to dial at once; each stops at the newest event.")
	return r, nil
}
