package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/internal/demo"
	"github.com/chatbridge/chatbridge/internal/outbox"
)

// scenarioC: POST /messages into a bridge with --state-dir (every message committed to disk
// before its 202), in three phases:
//
//  1. at a rate for a duration from concurrent keep-alive clients: the delay from each POST's
//     start to the demo reading the frame (demo.Frame.At, matched by client_message_id), the
//     POST's answer time, and errors;
//  2. the ceiling: as many POSTs as the clients get answered, for a few seconds;
//  3. durability: with the upstream refusing the bridge, a full outbox's worth of POSTs, then
//     SIGKILL, and the state file opened: every message answered 202 must be in it.
//
// Bridge only: the floor has no POST.
func (b *bench) scenarioC(ctx context.Context) (Result, error) {
	p := b.p
	rate, dur, posters := orF(p.Rate, 5000), orD(p.Duration, 10*time.Second), or(p.Posters, 50)
	payload := or(p.Payload, 200)
	ceilingFor := min(dur, 3*time.Second)
	total := max(int(rate*dur.Seconds()), 1)
	r := Result{Scenario: "c", Title: "POST /messages to upstream, with --state-dir",
		Params: map[string]any{"rate": rate, "duration": dur.String(), "posters": posters, "payload": payload,
			"ceiling_duration": ceilingFor.String(), "ceiling_posters": 2 * posters}}
	opt := b.opt
	if p.Memory {
		r.Title = "POST /messages to upstream, outbox in memory"
	}
	if opt.bridgeAddr == "" && !p.Memory {
		dir, err := os.MkdirTemp("", "bridgebench-state")
		if err != nil {
			return r, fmt.Errorf("make a state dir: %w", err)
		}
		defer os.RemoveAll(dir)
		opt.stateDir = dir
		opt.outbox = maxCeilingPosts // the persisted ceiling queues every message it posts
	}
	var (
		run, ceiling     postRun
		upstream         []int32 // µs
		resent, missing  int
		hist, afterCeil  map[string]float64
		durable, written = -1, 0
		persisted        durableRun
	)
	b.logf("bridge (--state-dir): %d POST /messages at %g/s from %d clients", total, rate, posters)
	err := b.withTargetOpt(ctx, "bridge", opt, func(t *target) error {
		if b.demo != nil {
			b.demo.ClearReceived()
		}
		prefix := b.prefix("c")
		run = postMessages(ctx, t.addr, prefix, total, posters, rate, payload, time.Time{})
		if b.demo != nil {
			upstream, resent, missing = b.upstreamDelays(ctx, prefix, run.sentAt[:run.n])
		}
		var err error
		if hist, err = t.metrics(ctx); err != nil {
			return err
		}

		b.logf("bridge: POST /messages as fast as %d clients get answers, %s", 2*posters, ceilingFor)
		ceiling = postMessages(ctx, t.addr, b.prefix("c-ceiling"), maxCeilingPosts, 2*posters, 0, payload, time.Now().Add(ceilingFor))
		if afterCeil, err = t.metrics(ctx); err != nil {
			return err
		}

		if b.demo == nil || t.pid == 0 || opt.stateDir == "" {
			return nil
		}
		persisted, err = b.durability(ctx, t, opt.stateDir, 2*posters, payload, ceilingFor)
		durable, written = persisted.found, persisted.run.accepted
		return err
	})
	if err != nil {
		return r, err
	}
	aq := quantiles(run.answer, 0.5, 0.99, 1)
	r.add("POSTs sent", "", float64(run.n), nil)
	r.add("POST rate achieved", "1/s", float64(run.n)/run.elapsed.Seconds(), nil)
	r.add("POST errors (transport or not 202)", "", float64(run.errs), nil)
	r.add("POST answer time p50", "ms", aq[0], nil)
	r.add("POST answer time p99", "ms", aq[1], nil)
	r.add("POST answer time max", "ms", aq[2], nil)
	if b.demo != nil {
		uq := quantiles(upstream, 0.5, 0.99, 1)
		r.add("POST to upstream read p50", "ms", uq[0], nil)
		r.add("POST to upstream read p99", "ms", uq[1], nil)
		r.add("POST to upstream read max", "ms", uq[2], nil)
		r.add("messages never read upstream", "", float64(missing), nil)
		r.add("messages written upstream twice", "", float64(resent), nil)
	}
	r.add("bridge histogram: accept to upstream write p99 (bucket bound)", "ms",
		promQuantile(hist, "bridge_message_send_delay_seconds", 0.99)*1000, nil)
	commits, changes := hist["bridge_outbox_commits_total"], hist["bridge_outbox_committed_changes_total"]
	r.add("state-file commits (one fsync each)", "", commits, nil)
	if commits > 0 {
		r.add("changes per commit (messages stored + status changes)", "", changes/commits, nil)
	}
	cq := quantiles(ceiling.answer, 0.5, 0.99)
	r.add("end to end ceiling: POSTs accepted per second, upstream connected", "1/s", float64(ceiling.accepted)/ceiling.elapsed.Seconds(), nil)
	r.add("end to end ceiling: POSTs refused (outbox full: the upstream is slower)", "", float64(ceiling.errs), nil)
	r.add("end to end ceiling: POST answer time p50", "ms", cq[0], nil)
	r.add("end to end ceiling: POST answer time p99", "ms", cq[1], nil)
	if c := afterCeil["bridge_outbox_commits_total"] - commits; c > 0 {
		r.add("end to end ceiling: changes per commit", "", (afterCeil["bridge_outbox_committed_changes_total"]-changes)/c, nil)
	}
	p99 := aq[1]
	r.check("no error and POST p99 <= 5 ms", run.errs == 0 && missing == 0 && p99 <= 5,
		"%d errors, %d never upstream, p99 %.2f ms", run.errs, missing, p99)
	if durable >= 0 {
		pr := persisted.run
		ceil := float64(pr.accepted) / pr.elapsed.Seconds()
		pq := quantiles(pr.answer, 0.5, 0.99)
		r.add("persisted ceiling: POSTs accepted per second, upstream down (each committed, then queued)", "1/s", ceil, nil)
		r.add("persisted ceiling: POST errors", "", float64(pr.errs), nil)
		r.add("persisted ceiling: POST answer time p50", "ms", pq[0], nil)
		r.add("persisted ceiling: POST answer time p99", "ms", pq[1], nil)
		r.add("persisted ceiling: messages per commit", "", persisted.perCommit, nil)
		r.add("answered 202 in that run, then SIGKILL", "", float64(written), nil)
		r.add("of those, found in the state file after the kill", "", float64(durable), nil)
		r.check("persisted ceiling >= 20,000 POSTs/s", ceil >= 20000, "%.0f/s", ceil)
		r.check("every message answered 202 is in the state file after SIGKILL", durable == written && written > 0,
			"%d of %d", durable, written)
		if pr.firstErr != "" {
			r.Notes = append(r.Notes, "first error (persisted ceiling): "+pr.firstErr)
		}
	}
	for _, e := range []string{run.firstErr, ceiling.firstErr} {
		if e != "" {
			r.Notes = append(r.Notes, "first error: "+e)
		}
	}
	r.Notes = append(r.Notes, "Bridge only: the floor has no POST path. The bridge runs with --state-dir on a fresh "+
		"directory of the machine's disk: every 202 comes after the message's commit (group commit: the POSTs "+
		"that arrive while a commit runs share the next one).",
		"POST to upstream read: from the start of the POST to the demo reading the frame (its Frame.At), "+
			"matched by client_message_id. The ceiling's POSTs are delivered upstream too.")
	return r, nil
}

// postRun is what postMessages measured.
type postRun struct {
	n        int           // POSTs sent
	accepted int           // answered 202
	sentAt   []time.Time   // by message index
	ok       []bool        // by message index: answered 202
	answer   []int32       // answer times, µs
	errs     int           // transport errors and answers other than 202
	firstErr string        //
	elapsed  time.Duration // first POST to last answer
}

// postMessages sends up to n POST /messages (client_message_id prefix+i) from `posters`
// keep-alive clients, at rate per second (0: as fast as they are answered), until n are sent
// or until the deadline (zero: none).
func postMessages(ctx context.Context, addr, prefix string, n, posters int, rate float64, payload int, deadline time.Time) postRun {
	res := postRun{sentAt: make([]time.Time, n), ok: make([]bool, n), answer: make([]int32, 0, min(n, 1<<20))}
	tr := &http.Transport{MaxIdleConnsPerHost: posters, MaxConnsPerHost: posters}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := "http://" + addr + "/messages"
	text := strings.Repeat("x", payload)
	var mu sync.Mutex
	jobs := make(chan int, posters)
	var wg sync.WaitGroup
	for range posters {
		wg.Go(func() {
			for i := range jobs {
				body := `{"conversation_id":"general","content":"` + text + `","client_message_id":"` +
					prefix + strconv.Itoa(i) + `"}`
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				res.sentAt[i] = t0
				resp, err := client.Do(req)
				d := int32(time.Since(t0).Microseconds())
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				mu.Lock()
				res.answer = append(res.answer, d)
				if err != nil {
					res.errs++
					if res.firstErr == "" {
						res.firstErr = err.Error()
					}
				} else {
					res.ok[i] = true
					res.accepted++
				}
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	for i := range n {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
				time.Sleep(d)
			}
		}
		if (!deadline.IsZero() && time.Now().After(deadline)) || ctx.Err() != nil {
			break
		}
		jobs <- i
		res.n = i + 1
	}
	close(jobs)
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// maxCeilingPosts bounds a ceiling run (and the outbox of the bridge that runs it).
const maxCeilingPosts = 500_000

// durableRun is the persisted ceiling: the POSTs, how many of those answered 202 the state file
// held after SIGKILL, and the messages per commit.
type durableRun struct {
	run       postRun
	found     int
	perCommit float64
}

// durability measures the persisted ceiling and checks it survives a crash: with the demo
// refusing the bridge, it posts as fast as `posters` clients are answered for `d` (each POST is
// a commit, then queued), kills the bridge with SIGKILL, and opens its state file.
func (b *bench) durability(ctx context.Context, t *target, dir string, posters, payload int, d time.Duration) (durableRun, error) {
	var res durableRun
	for deadline := time.Now().Add(30 * time.Second); ; { // an empty outbox first
		m, err := t.metrics(ctx)
		if err == nil && m["bridge_outbox_messages"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("the outbox still holds %v messages 30 s after the last POST", m["bridge_outbox_messages"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.demo.SetReject(http.StatusServiceUnavailable, 0)
	defer b.demo.SetReject(0, 0)
	b.demo.DropAll()
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := httpGet(ctx, "http://"+t.addr+"/connection")
		if err == nil && !bytes.Contains(resp.body, []byte(`"state":"connected"`)) {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("the bridge still says it is connected after the upstream dropped it")
		}
		time.Sleep(20 * time.Millisecond)
	}
	before, err := t.metrics(ctx)
	if err != nil {
		return res, err
	}
	b.logf("bridge (--state-dir): POSTs as fast as %d clients get answers with the upstream down, %s, then SIGKILL", posters, d)
	prefix := b.prefix("c-durable")
	res.run = postMessages(ctx, t.addr, prefix, maxCeilingPosts, posters, 0, payload, time.Now().Add(d))
	after, err := t.metrics(ctx)
	if err != nil {
		return res, err
	}
	if c := after["bridge_outbox_commits_total"] - before["bridge_outbox_commits_total"]; c > 0 {
		res.perCommit = (after["bridge_outbox_committed_changes_total"] - before["bridge_outbox_committed_changes_total"]) / c
	}
	if err := t.cmd.Process.Kill(); err != nil {
		return res, fmt.Errorf("kill the bridge: %w", err)
	}
	_ = t.cmd.Wait()
	t.cmd = nil // stopped
	o, err := outbox.Open(outbox.Config{Sender: refuseSender{}, Dir: dir, Capacity: maxCeilingPosts})
	if err != nil {
		return res, fmt.Errorf("open the killed bridge's state file: %w", err)
	}
	defer o.Close()
	for i, ok := range res.run.ok[:res.run.n] {
		if ok && o.Known(prefix+strconv.Itoa(i)) {
			res.found++
		}
	}
	return res, nil
}

// refuseSender is the Sender of an outbox opened only to read it.
type refuseSender struct{}

func (refuseSender) SendMessage(context.Context, outbox.Message) error {
	return errors.New("read only")
}

// upstreamDelays waits (up to 10 s) for the demo to have read every message, then returns the
// delay of each from its POST's start, how many were read more than once, and how many never.
func (b *bench) upstreamDelays(ctx context.Context, prefix string, sentAt []time.Time) (us []int32, twice, missing int) {
	var frames []demo.Frame
	deadline := time.Now().Add(10 * time.Second)
	for {
		frames = b.demo.Received()
		n := 0
		for _, f := range frames {
			if f.Type == "chat.message" && bytes.Contains(f.Payload, []byte(prefix)) {
				n++
			}
		}
		if n >= len(sentAt) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	seen := make([]bool, len(sentAt))
	for _, f := range frames {
		var pl struct {
			ClientMessageID string `json:"client_message_id"`
		}
		if f.Type != "chat.message" || json.Unmarshal(f.Payload, &pl) != nil || !strings.HasPrefix(pl.ClientMessageID, prefix) {
			continue
		}
		i, err := strconv.Atoi(pl.ClientMessageID[len(prefix):])
		if err != nil || i < 0 || i >= len(sentAt) {
			continue
		}
		if seen[i] {
			twice++
			continue
		}
		seen[i] = true
		us = append(us, int32(f.At.Sub(sentAt[i]).Microseconds()))
	}
	for _, s := range seen {
		if !s {
			missing++
		}
	}
	return us, twice, missing
}

// promQuantile estimates a quantile of a Prometheus histogram as the upper bound of the bucket
// that holds it (seconds); 0 when the histogram is absent or empty.
func promQuantile(m map[string]float64, name string, q float64) float64 {
	type bucket struct{ le, n float64 }
	var bs []bucket
	prefix := name + `_bucket{le="`
	for k, v := range m {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		le, err := strconv.ParseFloat(strings.TrimSuffix(k[len(prefix):], `"}`), 64)
		if err != nil {
			le = math.Inf(1)
		}
		bs = append(bs, bucket{le, v})
	}
	slices.SortFunc(bs, func(a, b bucket) int {
		if a.le < b.le {
			return -1
		}
		if a.le > b.le {
			return 1
		}
		return 0
	})
	if len(bs) == 0 || bs[len(bs)-1].n == 0 {
		return 0
	}
	want := q * bs[len(bs)-1].n
	for _, x := range bs {
		if x.n >= want {
			return x.le
		}
	}
	return bs[len(bs)-1].le
}
