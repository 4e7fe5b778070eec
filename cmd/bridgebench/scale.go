package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// scenarioF: the bridge at scale for a long run. N subscribers across many conversations and
// topics: most follow one conversation's messages (/events/messages?conversation_id=conv-K),
// some several quiet topics of one conversation (/events?topics=typing,presence&...), a few
// every message and conversation update (/events?topics=messages,conversations). Frames go to
// the conversations in turn at a rate for a duration; every window the tool samples the bridge
// (RSS, heap, goroutines, CPU, events delivered), so that growth over time shows. Bridge only.
func (b *bench) scenarioF(ctx context.Context) (Result, error) {
	p := b.p
	n, rate, dur := or(p.Subscribers, 10000), orF(p.Rate, 1000), orD(p.Duration, 60*time.Second)
	payload := or(p.Payload, 200)
	const convCount = 1000 // 10 followers each at 10,000 subscribers: 1 event a second per stream
	window := max(dur/6, time.Second)
	frames := max(int(rate*dur.Seconds()), convCount)
	all, quiet := max(n/1000, 1), max(n/100, 1) // every message; quiet topics
	filtered := n - all - quiet
	r := Result{Scenario: "f", Title: "scale: many subscribers, topics and conversation filters, over time",
		Params: map[string]any{"subscribers": n, "conversations": convCount, "rate": rate, "duration": dur.String(),
			"payload": payload, "one_conversation": filtered, "quiet_topics": quiet, "every_message": all}}
	convs := make([]string, convCount)
	for i := range convs {
		convs[i] = "conv-" + strconv.Itoa(i)
	}
	var (
		samples  []sample
		counts   []float64 // events delivered (the bridge's counter) at each sample
		goals    []float64 // the GC's heap goal at each sample: twice the heap live after the last GC
		cuts     float64
		subs     []*subscriber
		complete int
	)
	b.logf("bridge: %d subscribers over %d conversations, %d frames at %g/s", n, convCount, frames, rate)
	err := b.withTarget(ctx, "bridge", func(t *target) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if err := joinConversations(ctx, t.addr, convs); err != nil {
			return err
		}
		var goalConv, goalAll, goalNone, done atomic.Int64
		perConv := int64(frames / convCount)
		goalConv.Store(perConv)
		goalAll.Store(int64(frames))
		subs = make([]*subscriber, n)
		for i := range subs {
			k := i % convCount
			var s *subscriber
			switch {
			case i < filtered:
				s = newSubscriber(1, &goalConv, int(perConv))
				s.path = "/events/messages?conversation_id=" + convs[k]
			case i < filtered+quiet:
				s = newSubscriber(0, &goalNone, 0)
				s.path = "/events?topics=typing,presence&conversation_id=" + convs[k]
			default:
				s = newSubscriber(0, &goalAll, frames)
				s.path, s.anyOrder = "/events?topics=messages,conversations", true
			}
			s.done = &done
			subs[i] = s
		}
		var wg sync.WaitGroup
		defer wg.Wait()
		defer cancel()
		errs := make(chan error, 1)
		if _, err := connectAll(ctx, t, subs, "", false, &wg, errs); err != nil {
			return err
		}
		snd, err := dialSender(ctx, b.upstream)
		if err != nil {
			return err
		}
		defer snd.Close()
		time.Sleep(time.Second) // let the connections settle
		sendErr := make(chan error, 1)
		go func() { sendErr <- snd.sendSpread(ctx, b.prefix("f"), frames, rate, payload, convs) }()
		sampleNow := func() error {
			s, err := t.read(ctx)
			if err != nil {
				return err
			}
			m, err := t.metrics(ctx)
			if err != nil {
				return err
			}
			samples, counts = append(samples, s), append(counts, m["bridge_sse_events_delivered_total"])
			goals = append(goals, m["go_memstats_next_gc_bytes"])
			cuts = m["bridge_sse_subscribers_cut_total"]
			return nil
		}
		if err := sampleNow(); err != nil {
			return err
		}
		tick := time.NewTicker(window)
		defer tick.Stop()
		for sending := true; sending; {
			select {
			case err := <-sendErr:
				if err != nil {
					return err
				}
				sending = false
			case <-tick.C:
				if err := sampleNow(); err != nil {
					return err
				}
				b.logf("bridge: %d of %d windows sampled", len(samples)-1, int(dur/window))
			}
		}
		// Let the subscribers drain, then the last sample.
		deadline := time.Now().Add(b.drain)
		for time.Now().Before(deadline) && done.Load() < int64(filtered+all) {
			time.Sleep(50 * time.Millisecond)
		}
		if err := sampleNow(); err != nil {
			return err
		}
		for i, s := range subs {
			want := perConv
			switch {
			case i < filtered:
			case i < filtered+quiet:
				want = 0
			default:
				want = int64(frames)
			}
			if s.count == want && s.gaps+s.dups == 0 {
				complete++
			}
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	var delays []int32
	for _, s := range subs {
		delays = append(delays, s.delays...)
	}
	q := quantiles(delays, 0.5, 0.99, 1)
	r.add("subscribers that got exactly their events", "", float64(complete), nil)
	r.add("subscribers", "", float64(n), nil)
	r.add("delay p50", "ms", q[0], nil)
	r.add("delay p99", "ms", q[1], nil)
	r.add("delay max", "ms", q[2], nil)
	r.add("streams cut for falling behind", "", cuts, nil)
	// Windows: from sample i-1 to i. The first and the last are partial (start, drain).
	var cpuPer []float64
	for i := 1; i < len(samples); i++ {
		s, ev := samples[i], counts[i]-counts[i-1]
		label := fmt.Sprintf("window %d: ", i)
		r.add(label+"RSS at its end", "MiB", s.RSS/(1<<20), nil)
		r.add(label+"Go heap in use at its end", "MiB", s.Heap/(1<<20), nil)
		r.add(label+"GC heap goal at its end", "MiB", goals[i]/(1<<20), nil)
		r.add(label+"goroutines at its end", "", s.Goroutines, nil)
		r.add(label+"events delivered", "", ev, nil)
		if ev > 0 {
			c := (s.CPU - samples[i-1].CPU) / ev * 1e5
			cpuPer = append(cpuPer, c)
			r.add(label+"CPU per 100k events", "s", c, nil)
		}
	}
	r.check("every subscriber got exactly its events, none cut", complete == n && cuts == 0,
		"%d of %d, %v cut", complete, n, cuts)
	if len(samples) >= 4 {
		first, last := samples[1], samples[len(samples)-2] // full windows
		r.check("no goroutine growth", last.Goroutines <= first.Goroutines,
			"%.0f goroutines after the first window, %.0f after the last full one", first.Goroutines, last.Goroutines)
		g0, g1 := goals[1], goals[len(goals)-2]
		r.check("memory flat: the GC heap goal after the last full window within 1.10x of the first's", g1 <= 1.10*g0,
			"%.1f MiB vs %.1f MiB (RSS %.1f vs %.1f MiB)", g1/(1<<20), g0/(1<<20), last.RSS/(1<<20), first.RSS/(1<<20))
		if len(cpuPer) >= 3 {
			a, z := cpuPer[0], cpuPer[len(cpuPer)-2]
			r.check("CPU per event flat: the last full window's within 1.20x of the first's", z <= 1.20*a,
				"%.3f s vs %.3f s per 100k events", z, a)
		}
	}
	r.Notes = append(r.Notes, fmt.Sprintf("Subscribers: %d follow one conversation's messages, %d two quiet topics of one "+
		"conversation, %d every message and conversation update (counted in any order); frames go to the %d "+
		"conversations in turn. Windows are %s; the last one includes the drain. The memory check reads the GC's heap goal "+
		"(twice the heap live after the last collection): heap in use and RSS swing with the collection cycle, and RSS keeps "+
		"the highest peak until the runtime returns pages.", filtered, quiet, all, convCount, window))
	return r, nil
}

// joinConversations makes the bridge's user a member of each conversation (the demo sends a
// conversation's messages to its members), with one POST /messages in each.
func joinConversations(ctx context.Context, addr string, convs []string) error {
	for _, c := range convs {
		body := `{"conversation_id":"` + c + `","content":"joining","client_message_id":"join-` + c + `-` +
			strconv.FormatInt(time.Now().UnixNano(), 36) + `"}`
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/messages", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := plainClient.Do(req)
		if err != nil {
			return fmt.Errorf("join %s: %w", c, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("join %s: status %d", c, resp.StatusCode)
		}
	}
	return nil
}
