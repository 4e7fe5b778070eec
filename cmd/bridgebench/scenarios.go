package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/internal/demo"
)

// bench runs the scenarios. The bridge and the floor are measured one after the other, each
// alone on the machine, against the same upstream, with the same subscribers and frames: run
// side by side on two cores they would take CPU from each other and the ratio would measure
// the scheduler.
type bench struct {
	opt      targetOptions
	upstream string       // ws:// URL of the upstream (the in-process demo, or --upstream)
	demo     *demo.Server // nil with --upstream
	p        params
	drain    time.Duration // how long subscribers may take after the last send
	settle   time.Duration // (b): the wait before each memory reading
	log      io.Writer
	run      int // numbers the client_message_id prefixes
}

// params are the scenario knobs; zero values take each scenario's defaults.
type params struct {
	Subscribers int
	Rate        float64
	Payload     int
	Duration    time.Duration
	Posters     int
	Frames      int  // (e): events published before the storm
	Back        int  // (e): how far back the storm resumes
	Repeat      int  // (d): pairs of runs (without, then with the stalled one); the median p99 is compared
	Memory      bool // (c): no --state-dir
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "bridgebench: "+format+"\n", args...)
}

func (b *bench) prefix(name string) string {
	b.run++
	return fmt.Sprintf("%s-%d-%d-", name, time.Now().UnixNano(), b.run)
}

// withTarget starts the named target, runs f on it and stops it.
func (b *bench) withTarget(ctx context.Context, name string, f func(*target) error) error {
	return b.withTargetOpt(ctx, name, b.opt, f)
}

// withTargetOpt is withTarget with other options for the bridge.
func (b *bench) withTargetOpt(ctx context.Context, name string, opt targetOptions, f func(*target) error) error {
	var t *target
	var err error
	if name == "bridge" {
		t, err = startBridge(ctx, opt, b.upstream)
	} else {
		t, err = startFloor(ctx, b.upstream)
	}
	if err != nil {
		return err
	}
	defer t.stop()
	if err := f(t); err != nil {
		return fmt.Errorf("%s: %w; its output: %s", name, err, t.output())
	}
	return nil
}

// bothFanout runs one fan-out spec on the bridge, then on the floor.
func (b *bench) bothFanout(ctx context.Context, sp fanoutSpec) (br, fl fanoutFigures, err error) {
	for _, name := range []string{"bridge", "floor"} {
		b.logf("%s: %d subscribers, %d frames at %g/s, stalled=%v", name, sp.n, sp.frames, sp.rate, sp.stalled)
		err = b.withTarget(ctx, name, func(t *target) error {
			fig, err := b.fanout(ctx, t, sp, b.prefix(name))
			if name == "bridge" {
				br = fig
			} else {
				fl = fig
			}
			return err
		})
		if err != nil {
			return br, fl, err
		}
	}
	return br, fl, nil
}

// addFanout puts the fan-out figures of both targets into r.
func addFanout(r *Result, br, fl fanoutFigures) {
	r.pair("events expected", "", float64(br.Expected), float64(fl.Expected))
	r.pair("events delivered", "", float64(br.Delivered), float64(fl.Delivered))
	r.pair("gaps + duplicates", "", float64(br.Gaps+br.Dups), float64(fl.Gaps+fl.Dups))
	r.pair("events delivered per second", "1/s", br.EventsPerSec, fl.EventsPerSec)
	r.pair("delay p50", "ms", br.P50, fl.P50)
	r.pair("delay p90", "ms", br.P90, fl.P90)
	r.pair("delay p99", "ms", br.P99, fl.P99)
	r.pair("delay max", "ms", br.Max, fl.Max)
	r.pair("RSS per subscriber, under load", "KiB", br.RSSPerSub/1024, fl.RSSPerSub/1024)
	r.pair("Go heap per subscriber, under load", "KiB", br.HeapPerSub/1024, fl.HeapPerSub/1024)
	r.pair("goroutines per subscriber", "", br.GorPerSub, fl.GorPerSub)
	r.pair("CPU per 100k delivered events", "s", br.CPUPer100k, fl.CPUPer100k)
	r.add("streams cut for falling behind", "", float64(br.Cut), nil)
}

// scenarioA: N subscribers, frames at a rate, for a duration.
func (b *bench) scenarioA(ctx context.Context) (Result, error) {
	p := b.p
	sp := fanoutSpec{n: or(p.Subscribers, 1000), rate: orF(p.Rate, 100), payload: or(p.Payload, 200)}
	dur := orD(p.Duration, 20*time.Second)
	sp.frames = max(int(sp.rate*dur.Seconds()), 1)
	r := Result{Scenario: "a", Title: "fan-out throughput and delay",
		Params: map[string]any{"subscribers": sp.n, "rate": sp.rate, "payload": sp.payload, "duration": dur.String()}}
	br, fl, err := b.bothFanout(ctx, sp)
	if err != nil {
		return r, err
	}
	addFanout(&r, br, fl)
	r.check("every event delivered", br.Delivered == br.Expected && br.Gaps+br.Dups == 0,
		"%d of %d, %d gaps/duplicates", br.Delivered, br.Expected, br.Gaps+br.Dups)
	r.check("throughput >= 0.9x the floor's", br.EventsPerSec >= 0.9*fl.EventsPerSec,
		"%.0f/s vs %.0f/s (%.3fx)", br.EventsPerSec, fl.EventsPerSec, br.EventsPerSec/fl.EventsPerSec)
	r.check("p99 delay <= 1.25x the floor's", br.P99 <= 1.25*fl.P99,
		"%.2f ms vs %.2f ms (%.2fx)", br.P99, fl.P99, br.P99/fl.P99)
	r.check("CPU per event <= 1.05x the floor's", br.CPUPer100k <= 1.05*fl.CPUPer100k,
		"%.3f s vs %.3f s per 100k events (%.3fx)", br.CPUPer100k, fl.CPUPer100k, br.CPUPer100k/fl.CPUPer100k)
	r.Notes = append(r.Notes, "Delay: from bob's WebSocket write to the demo, to the subscriber's read of the event "+
		"(through the demo, the target and loopback TCP), on one clock.")
	return r, nil
}

// scenarioB: N idle subscribers, memory per subscriber.
func (b *bench) scenarioB(ctx context.Context) (Result, error) {
	n := or(b.p.Subscribers, 10000)
	r := Result{Scenario: "b", Title: "idle subscribers: memory", Params: map[string]any{"subscribers": n}}
	var figs [2]sample
	for i, name := range []string{"bridge", "floor"} {
		b.logf("%s: %d idle subscribers", name, n)
		err := b.withTarget(ctx, name, func(t *target) error {
			s, err := b.idle(ctx, t, n)
			figs[i] = s
			return err
		})
		if err != nil {
			return r, err
		}
	}
	br, fl := figs[0], figs[1]
	r.pair("RSS per idle subscriber", "KiB", br.RSS/1024, fl.RSS/1024)
	r.pair("Go heap in use per idle subscriber", "KiB", br.Heap/1024, fl.Heap/1024)
	r.pair("goroutine stacks per idle subscriber", "KiB", br.Stack/1024, fl.Stack/1024)
	r.pair("goroutines per idle subscriber", "", br.Goroutines, fl.Goroutines)
	r.check("RSS per idle subscriber <= 1.10x the floor's", br.RSS <= 1.10*fl.RSS,
		"%.1f KiB vs %.1f KiB (%.2fx)", br.RSS/1024, fl.RSS/1024, br.RSS/fl.RSS)
	r.Notes = append(r.Notes, "Per subscriber = (reading with every subscriber connected - reading before any) / N, "+
		"--settle (2 s) after the last one connected. Neither target is forced to collect garbage (the bridge has no "+
		"way to ask it to); heap in use is what the runtime reports at that moment.")
	return r, nil
}

// idle connects n subscribers that only read the headers, and returns the growth per subscriber.
func (b *bench) idle(ctx context.Context, t *target, n int) (sample, error) {
	var per sample
	time.Sleep(b.settle / 4)
	s0, err := t.read(ctx)
	if err != nil {
		return per, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	subs := make([]*subscriber, n)
	for i := range subs {
		subs[i] = newSubscriber(0, nil, 0)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	conns, err := connectAll(ctx, t, subs, "", true, &wg, errs)
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
		wg.Wait()
	}()
	if err != nil {
		return per, err
	}
	time.Sleep(b.settle)
	s1, err := t.read(ctx)
	if err != nil {
		return per, err
	}
	f := float64(n)
	return sample{RSS: (s1.RSS - s0.RSS) / f, Heap: (s1.Heap - s0.Heap) / f, Stack: (s1.Stack - s0.Stack) / f,
		Goroutines: (s1.Goroutines - s0.Goroutines) / f}, nil
}

// scenarioD: one stalled subscriber among N healthy ones, against a run without it.
func (b *bench) scenarioD(ctx context.Context) (Result, error) {
	p := b.p
	// 500 frames/s of 1000 bytes: the stalled client's socket buffers (up to 4 MiB on Linux)
	// fill within a few seconds, so the stall bites well inside the run.
	sp := fanoutSpec{n: or(p.Subscribers, 100), rate: orF(p.Rate, 500), payload: or(p.Payload, 1000)}
	dur := orD(p.Duration, 20*time.Second)
	sp.frames = max(int(sp.rate*dur.Seconds()), 1)
	r := Result{Scenario: "d", Title: "one stalled subscriber among healthy ones",
		Params: map[string]any{"healthy": sp.n, "rate": sp.rate, "payload": sp.payload, "duration": dur.String()}}
	// The p99 of a 20 s run on a shared 2-core machine moves by tens of percent from run to run,
	// so the runs alternate (without, with) Repeat times and the medians are compared.
	repeat := or(p.Repeat, 3)
	var baseP99, withP99, baseFlP99, withFlP99 []float64
	var base, baseFl, br, fl fanoutFigures
	var err error
	allDelivered := true
	for i := 0; i < repeat; i++ {
		sp.stalled = false
		if base, baseFl, err = b.bothFanout(ctx, sp); err != nil {
			return r, err
		}
		sp.stalled = true
		if br, fl, err = b.bothFanout(ctx, sp); err != nil {
			return r, err
		}
		baseP99, baseFlP99 = append(baseP99, base.P99), append(baseFlP99, baseFl.P99)
		withP99, withFlP99 = append(withP99, br.P99), append(withFlP99, fl.P99)
		allDelivered = allDelivered && br.Delivered == br.Expected && br.Gaps+br.Dups == 0
		r.Notes = append(r.Notes, fmt.Sprintf("run %d: healthy p99 without / with the stalled one: bridge %.2f / %.2f ms (%.2fx), floor %.2f / %.2f ms; streams cut %d",
			i+1, base.P99, br.P99, br.P99/base.P99, baseFl.P99, fl.P99, br.Cut))
	}
	r.Params["repeat"] = repeat
	base.P99, baseFl.P99, br.P99, fl.P99 = median(baseP99), median(baseFlP99), median(withP99), median(withFlP99)
	r.pair("healthy events delivered, with the stalled one", "", float64(br.Delivered), float64(fl.Delivered))
	r.pair("healthy events expected", "", float64(br.Expected), float64(fl.Expected))
	r.pair("healthy delay p50, without a stalled one", "ms", base.P50, baseFl.P50)
	r.pair("healthy delay p99, without a stalled one (median of the runs)", "ms", base.P99, baseFl.P99)
	r.pair("healthy delay p50, with the stalled one", "ms", br.P50, fl.P50)
	r.pair("healthy delay p99, with the stalled one (median of the runs)", "ms", br.P99, fl.P99)
	r.pair("healthy delay max, with the stalled one", "ms", br.Max, fl.Max)
	r.add("streams cut for falling behind", "", float64(br.Cut), nil)
	r.check("healthy p99 within 1.25x of the run without the stalled one", br.P99 <= 1.25*base.P99,
		"%.2f ms vs %.2f ms (%.2fx); floor: %.2f ms vs %.2f ms", br.P99, base.P99, br.P99/base.P99, fl.P99, baseFl.P99)
	r.check("every healthy subscriber got every event, in every run", allDelivered,
		"last run: %d of %d", br.Delivered, br.Expected)
	r.Notes = append(r.Notes, "The stalled subscriber sends its GET with SO_RCVBUF 4096 and never reads; the target's socket send buffer "+
		"(up to 4 MiB) fills first, then its writes block.")
	return r, nil
}

// median of a non-empty list.
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func or(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func orF(v, def float64) float64 {
	if v > 0 {
		return v
	}
	return def
}

func orD(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}
