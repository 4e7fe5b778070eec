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
	run      int      // numbers the client_message_id prefixes
	peers    []string // measured beside the bridge and the floor (peers.go)
	// centrifugo is the Centrifugo binary, when it is a peer.
	centrifugo string
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
	switch name {
	case "bridge":
		t, err = startBridge(ctx, opt, b.upstream)
	case "floor":
		t, err = startFloor(ctx, b.upstream)
	case peerR3labs:
		t, err = startR3labs(ctx, b.upstream)
	case peerCentrifugo:
		t, err = startCentrifugo(ctx, b.centrifugo)
	default:
		err = fmt.Errorf("no target %q", name)
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

// fanouts runs one fan-out spec on each named target, one after the other.
func (b *bench) fanouts(ctx context.Context, sp fanoutSpec, names []string) (map[string]fanoutFigures, error) {
	figs := make(map[string]fanoutFigures, len(names))
	for _, name := range names {
		b.logf("%s: %d subscribers, %d frames at %g/s, stalled=%v", name, sp.n, sp.frames, sp.rate, sp.stalled)
		err := b.withTarget(ctx, name, func(t *target) error {
			fig, err := b.fanout(ctx, t, sp, b.prefix(name))
			figs[name] = fig
			return err
		})
		if err != nil {
			return figs, err
		}
	}
	return figs, nil
}

// targets is the bridge, the floor and the given peers of b, as withTarget names them.
func (b *bench) targets(peers []string) []string {
	return append([]string{"bridge", "floor"}, peers...)
}

// of reads one figure of every target.
func of(figs map[string]fanoutFigures, f func(fanoutFigures) float64) map[string]float64 {
	v := make(map[string]float64, len(figs))
	for name, fig := range figs {
		v[name] = f(fig)
	}
	return v
}

// addFanout puts the fan-out figures of every target into r.
func addFanout(r *Result, figs map[string]fanoutFigures) {
	r.row("events expected", "", of(figs, func(f fanoutFigures) float64 { return float64(f.Expected) }))
	r.row("events delivered", "", of(figs, func(f fanoutFigures) float64 { return float64(f.Delivered) }))
	r.row("gaps + duplicates", "", of(figs, func(f fanoutFigures) float64 { return float64(f.Gaps + f.Dups) }))
	r.row("events delivered per second", "1/s", of(figs, func(f fanoutFigures) float64 { return f.EventsPerSec }))
	r.row("delay p50", "ms", of(figs, func(f fanoutFigures) float64 { return f.P50 }))
	r.row("delay p90", "ms", of(figs, func(f fanoutFigures) float64 { return f.P90 }))
	r.row("delay p99", "ms", of(figs, func(f fanoutFigures) float64 { return f.P99 }))
	r.row("delay max", "ms", of(figs, func(f fanoutFigures) float64 { return f.Max }))
	r.row("RSS per subscriber, under load", "KiB", of(figs, func(f fanoutFigures) float64 { return f.RSSPerSub / 1024 }))
	r.row("Go heap per subscriber, under load", "KiB", of(figs, func(f fanoutFigures) float64 { return f.HeapPerSub / 1024 }))
	r.row("goroutines per subscriber", "", of(figs, func(f fanoutFigures) float64 { return f.GorPerSub }))
	r.row("CPU per 100k delivered events", "s", of(figs, func(f fanoutFigures) float64 { return f.CPUPer100k }))
	r.add("streams cut for falling behind", "", float64(figs["bridge"].Cut), nil)
}

// scenarioA: N subscribers, frames at a rate, for a duration.
func (b *bench) scenarioA(ctx context.Context) (Result, error) {
	p := b.p
	sp := fanoutSpec{n: or(p.Subscribers, 1000), rate: orF(p.Rate, 100), payload: or(p.Payload, 200)}
	dur := orD(p.Duration, 20*time.Second)
	sp.frames = max(int(sp.rate*dur.Seconds()), 1)
	r := Result{Scenario: "a", Title: "fan-out throughput and delay", Peers: b.peers,
		Params: map[string]any{"subscribers": sp.n, "rate": sp.rate, "payload": sp.payload, "duration": dur.String()}}
	figs, err := b.fanouts(ctx, sp, b.targets(b.peers))
	if err != nil {
		return r, err
	}
	addFanout(&r, figs)
	br, fl := figs["bridge"], figs["floor"]
	r.check("every event delivered", br.Delivered == br.Expected && br.Gaps+br.Dups == 0,
		"%d of %d, %d gaps/duplicates", br.Delivered, br.Expected, br.Gaps+br.Dups)
	r.check("throughput >= 0.9x the floor's", br.EventsPerSec >= 0.9*fl.EventsPerSec,
		"%.0f/s vs %.0f/s (%.3fx)", br.EventsPerSec, fl.EventsPerSec, br.EventsPerSec/fl.EventsPerSec)
	r.check("p99 delay <= 1.25x the floor's", br.P99 <= 1.25*fl.P99,
		"%.2f ms vs %.2f ms (%.2fx)", br.P99, fl.P99, br.P99/fl.P99)
	r.check("CPU per event <= 1.05x the floor's", br.CPUPer100k <= 1.05*fl.CPUPer100k,
		"%.3f s vs %.3f s per 100k events (%.3fx)", br.CPUPer100k, fl.CPUPer100k, br.CPUPer100k/fl.CPUPer100k)
	for _, peer := range b.peers {
		pf := figs[peer]
		r.check("ahead of "+peerTitle(peer)+": every event, lower p99 delay, CPU per event and RSS per subscriber",
			br.Delivered >= pf.Delivered && br.P99 < pf.P99 && br.CPUPer100k < pf.CPUPer100k && br.RSSPerSub < pf.RSSPerSub,
			"delivered %d vs %d; p99 %.2f vs %.2f ms; CPU %.3f vs %.3f s per 100k; RSS %.1f vs %.1f KiB",
			br.Delivered, pf.Delivered, br.P99, pf.P99, br.CPUPer100k, pf.CPUPer100k, br.RSSPerSub/1024, pf.RSSPerSub/1024)
	}
	r.Notes = append(r.Notes, "Delay: from the frame's send (bob's WebSocket write to the demo; for Centrifugo, the start of "+
		"its HTTP API publish) to the subscriber's read of the event, on one clock.")
	return r, nil
}

// scenarioB: N idle subscribers, memory per subscriber.
func (b *bench) scenarioB(ctx context.Context) (Result, error) {
	n := or(b.p.Subscribers, 10000)
	r := Result{Scenario: "b", Title: "idle subscribers: memory", Params: map[string]any{"subscribers": n}, Peers: b.peers}
	figs := map[string]sample{}
	for _, name := range b.targets(b.peers) {
		b.logf("%s: %d idle subscribers", name, n)
		err := b.withTarget(ctx, name, func(t *target) error {
			s, err := b.idle(ctx, t, n)
			figs[name] = s
			return err
		})
		if err != nil {
			return r, err
		}
	}
	each := func(f func(sample) float64) map[string]float64 {
		v := map[string]float64{}
		for name, s := range figs {
			v[name] = f(s)
		}
		return v
	}
	r.row("RSS per idle subscriber", "KiB", each(func(s sample) float64 { return s.RSS / 1024 }))
	r.row("Go heap in use per idle subscriber", "KiB", each(func(s sample) float64 { return s.Heap / 1024 }))
	r.row("goroutine stacks per idle subscriber", "KiB", each(func(s sample) float64 { return s.Stack / 1024 }))
	r.row("goroutines per idle subscriber", "", each(func(s sample) float64 { return s.Goroutines }))
	br, fl := figs["bridge"], figs["floor"]
	r.check("RSS per idle subscriber <= 1.10x the floor's", br.RSS <= 1.10*fl.RSS,
		"%.1f KiB vs %.1f KiB (%.2fx)", br.RSS/1024, fl.RSS/1024, br.RSS/fl.RSS)
	for _, peer := range b.peers {
		r.check("RSS per idle subscriber below "+peerTitle(peer)+"'s", br.RSS < figs[peer].RSS,
			"%.1f KiB vs %.1f KiB", br.RSS/1024, figs[peer].RSS/1024)
	}
	r.Notes = append(r.Notes, "Per subscriber = (reading with every subscriber connected - reading before any) / N, "+
		"--settle (2 s) after the last one connected. No target is forced to collect garbage (the bridge has no "+
		"way to ask it to); heap in use and stacks are what the runtime reports at that moment.")
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
	var names []string // Centrifugo has no place here: it takes its frames from its HTTP API
	if slices.Contains(b.peers, peerR3labs) {
		names = []string{peerR3labs}
	}
	r.Peers = names
	names = b.targets(names)
	baseP99, withP99 := map[string][]float64{}, map[string][]float64{}
	var base, with map[string]fanoutFigures
	var err error
	allDelivered := true
	for i := 0; i < repeat; i++ {
		sp.stalled = false
		if base, err = b.fanouts(ctx, sp, names); err != nil {
			return r, err
		}
		sp.stalled = true
		if with, err = b.fanouts(ctx, sp, names); err != nil {
			return r, err
		}
		for _, n := range names {
			baseP99[n], withP99[n] = append(baseP99[n], base[n].P99), append(withP99[n], with[n].P99)
		}
		br := with["bridge"]
		allDelivered = allDelivered && br.Delivered == br.Expected && br.Gaps+br.Dups == 0
		r.Notes = append(r.Notes, fmt.Sprintf("run %d: healthy p99 without / with the stalled one: bridge %.2f / %.2f ms (%.2fx), floor %.2f / %.2f ms; streams cut %d",
			i+1, base["bridge"].P99, br.P99, br.P99/base["bridge"].P99, base["floor"].P99, with["floor"].P99, br.Cut))
	}
	r.Params["repeat"] = repeat
	medBase, medWith := map[string]float64{}, map[string]float64{}
	for _, n := range names {
		medBase[n], medWith[n] = median(baseP99[n]), median(withP99[n])
	}
	r.row("healthy events delivered, with the stalled one", "", of(with, func(f fanoutFigures) float64 { return float64(f.Delivered) }))
	r.row("healthy events expected", "", of(with, func(f fanoutFigures) float64 { return float64(f.Expected) }))
	r.row("healthy delay p50, without a stalled one", "ms", of(base, func(f fanoutFigures) float64 { return f.P50 }))
	r.row("healthy delay p99, without a stalled one (median of the runs)", "ms", medBase)
	r.row("healthy delay p50, with the stalled one", "ms", of(with, func(f fanoutFigures) float64 { return f.P50 }))
	r.row("healthy delay p99, with the stalled one (median of the runs)", "ms", medWith)
	r.row("healthy delay max, with the stalled one", "ms", of(with, func(f fanoutFigures) float64 { return f.Max }))
	br, fl := with["bridge"], with["floor"]
	br.P99, fl.P99 = medWith["bridge"], medWith["floor"]
	baseBr, baseFl := medBase["bridge"], medBase["floor"]
	r.add("streams cut for falling behind", "", float64(br.Cut), nil)
	r.check("healthy p99 within 1.25x of the run without the stalled one", br.P99 <= 1.25*baseBr,
		"%.2f ms vs %.2f ms (%.2fx); floor: %.2f ms vs %.2f ms", br.P99, baseBr, br.P99/baseBr, fl.P99, baseFl)
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
