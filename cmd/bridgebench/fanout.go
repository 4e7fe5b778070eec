package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// fanoutFigures is what one target did in one fan-out run.
type fanoutFigures struct {
	Subscribers                      int
	Sent                             int
	Expected, Delivered              int64
	Gaps, Dups                       int64
	EventsPerSec                     float64
	P50, P90, P99, Max               float64 // ms
	RSSPerSub, HeapPerSub, GorPerSub float64 // bytes, bytes, goroutines
	CPUPer100k                       float64 // seconds
	Cut                              int64   // bridge only: streams cut off
}

// fanoutSpec is one fan-out run: n subscribers read frames sent at rate, payload bytes each.
type fanoutSpec struct {
	n, frames int
	rate      float64
	payload   int
	stalled   bool // one more subscriber that never reads
}

// connectAll opens n subscribers of t concurrently and waits until each has its response
// headers. Each runs in a goroutine of wg; reading ones return once they have the target seq
// (or ctx ends), idle ones return after the headers and leave their connection in conns.
func connectAll(ctx context.Context, t *target, subs []*subscriber, lastID string, idle bool,
	wg *sync.WaitGroup, errs chan error) ([]net.Conn, error) {
	conns := make([]net.Conn, len(subs))
	sem := make(chan struct{}, 200)
	for i, s := range subs {
		sem <- struct{}{}
		c, err := dialSSE(ctx, t.addr, 0)
		if err != nil {
			<-sem
			return conns, err
		}
		conns[i] = c
		s.event = t.event
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !idle {
				defer c.Close()
			}
			path := t.path
			if s.path != "" {
				path = s.path
			}
			if err := s.run(ctx, c, t.addr, path, lastID, idle); err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		}()
		go func() {
			select {
			case <-s.headers:
			case <-ctx.Done():
			}
			<-sem
		}()
	}
	for _, s := range subs {
		select {
		case <-s.headers:
		case err := <-errs:
			return conns, fmt.Errorf("a subscriber of the %s failed: %w", t.name, err)
		case <-ctx.Done():
			return conns, ctx.Err()
		}
	}
	return conns, nil
}

// fanout runs one fan-out measurement against t.
func (b *bench) fanout(ctx context.Context, t *target, sp fanoutSpec, prefix string) (fanoutFigures, error) {
	fig := fanoutFigures{Subscribers: sp.n, Sent: sp.frames}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s0, err := t.read(ctx)
	if err != nil {
		return fig, err
	}
	var goal, done atomic.Int64
	goal.Store(int64(sp.frames))
	subs := make([]*subscriber, sp.n)
	for i := range subs {
		subs[i] = newSubscriber(1, &goal, sp.frames)
		subs[i].done = &done
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	errs := make(chan error, 1)
	if _, err := connectAll(ctx, t, subs, "", false, &wg, errs); err != nil {
		return fig, err
	}
	if sp.stalled {
		c, err := dialSSE(ctx, t.addr, 4096)
		if err != nil {
			return fig, err
		}
		defer c.Close()
		if err := request(c, t.addr, t.path, ""); err != nil {
			return fig, err
		}
	}
	snd, err := t.dial(ctx, b.upstream)
	if err != nil {
		return fig, err
	}
	defer snd.Close()
	time.Sleep(200 * time.Millisecond) // let the connections settle
	s1, err := t.read(ctx)
	if err != nil {
		return fig, err
	}
	start := time.Now()
	if err := snd.send(ctx, prefix, sp.frames, sp.rate, sp.payload); err != nil {
		return fig, err
	}
	end := time.Now()
	deadline := end.Add(b.drain)
	for done.Load() < int64(sp.n) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if done.Load() < int64(sp.n) {
		b.logf("%s: %d of %d subscribers got every event within %v of the last send", t.name, done.Load(), sp.n, b.drain)
		end = time.Now()
	}
	loaded, err := t.read(ctx) // every subscriber is still connected: memory under load
	if err != nil {
		return fig, err
	}
	cancel()
	wg.Wait()
	var all []int32
	last := start
	for _, s := range subs {
		fig.Delivered += s.count
		fig.Gaps += s.gaps
		fig.Dups += s.dups
		all = append(all, s.delays...)
		if s.doneAt.After(last) {
			last = s.doneAt
		}
	}
	if fig.Delivered < int64(sp.n*sp.frames) {
		last = end
	}
	fig.Expected = int64(sp.n * sp.frames)
	fig.EventsPerSec = float64(fig.Delivered) / last.Sub(start).Seconds()
	q := quantiles(all, 0.5, 0.9, 0.99, 1)
	fig.P50, fig.P90, fig.P99, fig.Max = q[0], q[1], q[2], q[3]
	n := float64(sp.n)
	fig.RSSPerSub = (loaded.RSS - s0.RSS) / n
	fig.HeapPerSub = (loaded.Heap - s0.Heap) / n
	fig.GorPerSub = (loaded.Goroutines - s0.Goroutines) / n
	if fig.Delivered > 0 {
		fig.CPUPer100k = (loaded.CPU - s1.CPU) / float64(fig.Delivered) * 1e5
	}
	if t.name == "bridge" {
		if m, err := t.metrics(context.Background()); err == nil {
			fig.Cut = int64(m["bridge_sse_subscribers_cut_total"])
		}
	}
	select {
	case err := <-errs:
		if !errors.Is(err, context.Canceled) {
			b.logf("%s: a subscriber ended with: %v", t.name, err)
		}
	default:
	}
	return fig, nil
}
