package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/internal/demo"
)

// scenarioC: POST /messages at a rate for a duration from concurrent keep-alive clients; the
// delay from each POST's start to the demo reading the frame (demo.Frame.At, matched by
// client_message_id), the POST's answer time, and errors. Bridge only: the floor has no POST.
func (b *bench) scenarioC(ctx context.Context) (Result, error) {
	p := b.p
	rate, dur, posters := orF(p.Rate, 5000), orD(p.Duration, 10*time.Second), or(p.Posters, 50)
	payload := or(p.Payload, 200)
	total := max(int(rate*dur.Seconds()), 1)
	r := Result{Scenario: "c", Title: "POST /messages to upstream",
		Params: map[string]any{"rate": rate, "duration": dur.String(), "posters": posters, "payload": payload}}
	var (
		sentAt          = make([]time.Time, total)
		answer          = make([]int32, 0, total) // µs
		errCount, codes atomic.Int64
		upstream        []int32 // µs
		resent, missing int
		achieved        float64
		hist            map[string]float64
		mu              sync.Mutex
		firstErr        string
	)
	b.logf("bridge: %d POST /messages at %g/s from %d clients", total, rate, posters)
	err := b.withTarget(ctx, "bridge", func(t *target) error {
		if b.demo != nil {
			b.demo.ClearReceived()
		}
		prefix := b.prefix("c")
		tr := &http.Transport{MaxIdleConnsPerHost: posters, MaxConnsPerHost: posters}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		url := "http://" + t.addr + "/messages"
		text := strings.Repeat("x", payload)
		jobs := make(chan int, posters)
		var wg sync.WaitGroup
		for range posters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					body := `{"conversation_id":"general","content":"` + text + `","client_message_id":"` +
						prefix + strconv.Itoa(i) + `"}`
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					t0 := time.Now()
					sentAt[i] = t0
					resp, err := client.Do(req)
					d := int32(time.Since(t0).Microseconds())
					if err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusAccepted {
							codes.Add(1)
							err = fmt.Errorf("status %d", resp.StatusCode)
						}
					}
					mu.Lock()
					answer = append(answer, d)
					if err != nil {
						errCount.Add(1)
						if firstErr == "" {
							firstErr = err.Error()
						}
					}
					mu.Unlock()
				}
			}()
		}
		start := time.Now()
		for i := range total {
			if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
				time.Sleep(d)
			}
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		achieved = float64(total) / time.Since(start).Seconds()
		if b.demo != nil {
			upstream, resent, missing = b.upstreamDelays(ctx, prefix, sentAt)
		}
		m, err := t.metrics(ctx)
		if err != nil {
			return err
		}
		hist = m
		return nil
	})
	if err != nil {
		return r, err
	}
	aq := quantiles(answer, 0.5, 0.99, 1)
	r.add("POSTs sent", "", float64(total), nil)
	r.add("POST rate achieved", "1/s", achieved, nil)
	r.add("POST errors (transport or not 202)", "", float64(errCount.Load()), nil)
	r.add("POST answer time p50", "ms", aq[0], nil)
	r.add("POST answer time p99", "ms", aq[1], nil)
	r.add("POST answer time max", "ms", aq[2], nil)
	p99 := promQuantile(hist, "bridge_message_send_delay_seconds", 0.99) * 1000
	if b.demo != nil {
		uq := quantiles(upstream, 0.5, 0.99, 1)
		p99 = uq[1]
		r.add("POST to upstream read p50", "ms", uq[0], nil)
		r.add("POST to upstream read p99", "ms", uq[1], nil)
		r.add("POST to upstream read max", "ms", uq[2], nil)
		r.add("messages never read upstream", "", float64(missing), nil)
		r.add("messages written upstream twice", "", float64(resent), nil)
	}
	r.add("bridge histogram: accept to upstream write p50 (bucket bound)", "ms",
		promQuantile(hist, "bridge_message_send_delay_seconds", 0.5)*1000, nil)
	r.add("bridge histogram: accept to upstream write p99 (bucket bound)", "ms",
		promQuantile(hist, "bridge_message_send_delay_seconds", 0.99)*1000, nil)
	r.check("no error and p99 <= 5 ms", errCount.Load() == 0 && missing == 0 && p99 <= 5,
		"%d errors, %d never upstream, p99 %.2f ms", errCount.Load(), missing, p99)
	if firstErr != "" {
		r.Notes = append(r.Notes, "first error: "+firstErr)
	}
	r.Notes = append(r.Notes, "Bridge only: the floor has no POST path.",
		"POST to upstream read: from the start of the POST to the demo reading the frame (its Frame.At), "+
			"matched by client_message_id.")
	return r, nil
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
