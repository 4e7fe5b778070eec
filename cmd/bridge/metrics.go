package main

import (
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chatbridge/chatbridge/api"
	"github.com/chatbridge/chatbridge/internal/chat"
	"github.com/chatbridge/chatbridge/internal/dialect"
	"github.com/chatbridge/chatbridge/internal/hub"
	"github.com/chatbridge/chatbridge/internal/ws"
)

// metrics is the bridge's Prometheus registry (its own, never the global one) and the few
// instruments that are fed as things happen. Everything else is read at scrape time from the
// parts' own counters by collector, so the hot paths carry no Prometheus code.
type metrics struct {
	reg        *prometheus.Registry
	conn       *connTracker
	frameDelay prometheus.Histogram
	sendDelay  prometheus.Histogram
	requests   *prometheus.CounterVec
	durations  *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg:  prometheus.NewRegistry(),
		conn: &connTracker{},
		frameDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bridge_upstream_frame_publish_delay_seconds",
			Help:    "Time from an upstream frame's arrival to its publication on its topic.",
			Buckets: prometheus.ExponentialBuckets(0.000_005, 4, 10), // 5µs .. ~1.3s
		}),
		sendDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bridge_message_send_delay_seconds",
			Help:    "Time from POST /messages accepting a message to its write upstream (resends included).",
			Buckets: prometheus.ExponentialBuckets(0.000_05, 4, 12), // 50µs .. ~3.5min
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_http_requests_total",
			Help: "HTTP requests by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bridge_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests by route pattern (SSE streams: their whole life).",
			Buckets: prometheus.ExponentialBuckets(0.000_1, 4, 10),
		}, []string{"route"}),
	}
	m.reg.MustRegister(m.frameDelay, m.sendDelay, m.requests, m.durations,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeRequest is the API's RequestObserver.
func (m *metrics) observeRequest(method, route string, status int, d time.Duration, _ int64) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.durations.WithLabelValues(route).Observe(d.Seconds())
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// watch registers the collector that reads the running parts at scrape time.
func (m *metrics) watch(client *ws.Client, svc *chat.Service, topics *hub.Hub, apiSrv *api.Server) {
	m.reg.MustRegister(&collector{m: m, client: client, svc: svc, topics: topics, api: apiSrv})
}

// connTracker follows the upstream state changes (Handler.HandleState) for the counters that a
// single Status cannot give: connects, attempts, time connected. Safe for concurrent use.
type connTracker struct {
	mu         sync.Mutex
	state      ws.State
	since      time.Time
	connected  time.Duration // closed connected periods
	connects   uint64
	attempts   uint64
	authFailed uint64
}

func (c *connTracker) observe(st ws.Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.State == c.state {
		return
	}
	if c.state == ws.StateConnected {
		c.connected += st.Since.Sub(c.since)
	}
	switch st.State {
	case ws.StateConnected:
		c.connects++
	case ws.StateConnecting:
		c.attempts++
	case ws.StateUnauthorized:
		c.authFailed++
	}
	c.state, c.since = st.State, st.Since
}

// read returns the counters, with the current connected period counted up to now.
func (c *connTracker) read(now time.Time) (connects, attempts, authFailed uint64, connected time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	connected = c.connected
	if c.state == ws.StateConnected {
		connected += now.Sub(c.since)
	}
	return c.connects, c.attempts, c.authFailed, connected
}

var states = []ws.State{ws.StateIdle, ws.StateConnecting, ws.StateConnected, ws.StateReconnecting,
	ws.StateUnauthorized, ws.StateStopped}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descState       = desc("bridge_upstream_state", "1 for the upstream connection's current state, 0 for the others.", "state")
	descConnects    = desc("bridge_upstream_connects_total", "Upstream connections established.")
	descReconnects  = desc("bridge_upstream_reconnects_total", "Upstream connections established after the first one.")
	descAttempts    = desc("bridge_upstream_connect_attempts_total", "Upstream dials started.")
	descAuthFailed  = desc("bridge_upstream_auth_failures_total", "Times the upstream refused the token.")
	descConnected   = desc("bridge_upstream_connected_seconds_total", "Time spent connected to the upstream.")
	descReceived    = desc("bridge_upstream_frames_received_total", "Well-formed upstream frames by type (unknown types as \"unknown\").", "type")
	descMalformed   = desc("bridge_upstream_frames_malformed_total", "Upstream frames (or lines of a batched frame) refused as malformed.")
	descFrames      = desc("bridge_upstream_frames_total", "Upstream WebSocket data frames received.")
	descRaw         = desc("bridge_upstream_raw_total", "Units published on the raw topic by kind: json, text (not JSON) or binary; a batched frame counts once per line.", "kind")
	descInvalidUTF8 = desc("bridge_upstream_invalid_utf8_total", "Upstream text frames that were not valid UTF-8 (each bad run replaced with U+FFFD before anything was published).")
	descResent      = desc("bridge_outbox_resends_total", "Messages written upstream again after a reconnect, their acknowledgement not seen.")
	descSent        = desc("bridge_upstream_frames_sent_total", "Frames written upstream by type (heartbeat pings not included).", "type")
	descOutbox      = desc("bridge_outbox_messages", "Messages waiting for the upstream (queued, or sent and not yet echoed).")
	descOutboxAge   = desc("bridge_outbox_oldest_message_age_seconds", "Age of the oldest message waiting in the outbox (0 when empty).")
	descCommits     = desc("bridge_outbox_commits_total", "Transactions committed to the --state-dir file (one fsync each).")
	descChanges     = desc("bridge_outbox_committed_changes_total", "Changes those transactions held: stored messages and status changes (changes / commits is the group size).")
	descSubscribers = desc("bridge_sse_subscribers", "Open SSE streams that include each topic.", "topic")
	descDelivered   = desc("bridge_sse_events_delivered_total", "Events written to SSE streams.")
	descCut         = desc("bridge_sse_subscribers_cut_total", "SSE streams cut off for falling behind.")
	descReplays     = desc("bridge_sse_replays_total", "SSE streams that resumed from an event id.")
	descResets      = desc("bridge_sse_resets_total", "SSE streams whose resume id was too old or from another run (stream.reset).")
	descPublished   = desc("bridge_events_published_total", "Events published on the topics.")
)

// collector reads the running parts at scrape time.
type collector struct {
	m      *metrics
	client *ws.Client
	svc    *chat.Service
	topics *hub.Hub
	api    *api.Server
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	now := time.Now()
	current := c.client.Status().State
	for _, s := range states {
		v := 0.0
		if s == current {
			v = 1
		}
		gauge(descState, v, string(s))
	}
	connects, attempts, authFailed, connected := c.m.conn.read(now)
	counter(descConnects, float64(connects))
	counter(descReconnects, float64(max(connects, 1)-1))
	counter(descAttempts, float64(attempts))
	counter(descAuthFailed, float64(authFailed))
	counter(descConnected, connected.Seconds())

	st := c.svc.Stats()
	for _, typ := range sortedKeys(st.Received) {
		counter(descReceived, float64(st.Received[typ]), typ)
	}
	counter(descMalformed, float64(st.Malformed))
	counter(descFrames, float64(st.Frames))
	for _, kind := range []string{dialect.RawJSON, dialect.RawText, dialect.RawBinary} {
		counter(descRaw, float64(st.Raw[kind]), kind)
	}
	counter(descResent, float64(st.Resent))
	counter(descInvalidUTF8, float64(st.InvalidUTF8))
	for _, typ := range sortedKeys(st.Sent) {
		counter(descSent, float64(st.Sent[typ]), typ)
	}

	ob := c.svc.Outbox()
	gauge(descOutbox, float64(ob.Depth()))
	age := 0.0
	if oldest, ok := ob.Oldest(); ok {
		age = now.Sub(oldest).Seconds()
	}
	gauge(descOutboxAge, age)
	cs := ob.CommitStats()
	counter(descCommits, float64(cs.Commits))
	counter(descChanges, float64(cs.Changes))

	ss := c.api.Stats()
	for _, t := range sortedKeys(ss.Subscribers) {
		gauge(descSubscribers, float64(ss.Subscribers[t]), t)
	}
	hs := c.topics.Stats()
	counter(descDelivered, float64(ss.Delivered))
	counter(descCut, float64(hs.Cut))
	counter(descReplays, float64(ss.Replays))
	counter(descResets, float64(ss.Resets))
	counter(descPublished, float64(hs.Published))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
