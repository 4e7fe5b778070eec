package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/internal/chat"
	"github.com/chatbridge/chatbridge/internal/dialect"
	"github.com/chatbridge/chatbridge/internal/hub"
)

// EventStreamReset is the event that starts a stream whose resume id could not be honoured.
const EventStreamReset = "stream.reset"

// filter keeps the events one stream carries: its topics and, for the conversation-scoped
// topics, one conversation. It is read by the stream's own goroutine only.
type filter struct {
	topics       []string
	conversation string
}

func (f *filter) has(topic string) bool { return slices.Contains(f.topics, topic) }

// hubFilter is f as the hub's Filter, which Publish tests without a call: the conversation
// applies to the conversation-scoped topics only.
func (f *filter) hubFilter() hub.Filter {
	hf := hub.Filter{Topics: f.topics, Key: f.conversation}
	for _, t := range f.topics {
		if chat.ConversationScoped(t) {
			hf.KeyTopics = append(hf.KeyTopics, t)
		}
	}
	return hf
}

// handleTopicEvents serves GET /events/{topic}.
func (s *Server) handleTopicEvents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		topic := pathParam(r, "topic")
		if !slices.Contains(s.names, topic) {
			writeProblem(w, s.unknownTopic(topic))
			return
		}
		s.serveStream(w, r, []string{topic})
	})
}

// handleEvents serves GET /events?topics=a,b: several topics on one connection.
func (s *Server) handleEvents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		topics, p := s.parseTopics(r.URL.Query()["topics"])
		if p != nil {
			writeProblem(w, p)
			return
		}
		s.serveStream(w, r, topics)
	})
}

// parseTopics reads the topics query values (comma separated, possibly repeated); none means
// every topic but raw.
func (s *Server) parseTopics(values []string) ([]string, *Problem) {
	if len(values) == 0 {
		return s.defaults, nil
	}
	var topics []string
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			if !slices.Contains(s.names, t) {
				return nil, s.unknownTopic(t)
			}
			if !slices.Contains(topics, t) {
				topics = append(topics, t)
			}
		}
	}
	if len(topics) == 0 {
		p := newProblem(http.StatusBadRequest, "invalid-query", "topics names no topic")
		p.Errors = []FieldError{{Field: "topics", Message: "topics must list one or more of " + strings.Join(s.names, ", ")}}
		return nil, p
	}
	return topics, nil
}

func (s *Server) unknownTopic(t string) *Problem {
	if len(t) > 64 {
		t = t[:64] + "..."
	}
	return newProblem(http.StatusNotFound, "unknown-topic",
		strconv.Quote(t)+" is not a topic; topics are "+strings.Join(s.names, ", "))
}

// topicList is the answer of GET /topics.
type topicList struct {
	Topics []chat.TopicInfo `json:"topics"`
}

// handleTopics serves GET /topics: every topic, with the event names it carries.
func (s *Server) handleTopics() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, topicList{Topics: s.topics})
	})
}

// serveStream runs one SSE stream until the client leaves, the stream falls too far behind, or
// the Server is closed. It is the only goroutine of the stream.
//
// It is split in two so that an idle stream's goroutine rests on a shallow stack: openStream's
// large frame (the checks, the first events) is gone by the time loop waits, and with a resting
// stack under a quarter of its size the runtime shrinks it at the next collection. That halves
// the stack an idle stream keeps (16 KiB to 8 KiB, measured by BenchmarkIdleStreamMemory).
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request, topics []string) {
	st := s.openStream(w, r, topics)
	if st == nil {
		return
	}
	defer st.close()
	st.loop()
}

// openStream checks the request, admits the stream, subscribes it and writes its first bytes;
// nil means it answered already (a problem, or a client gone before the first flush).
func (s *Server) openStream(w http.ResponseWriter, r *http.Request, topics []string) *stream {
	f := &filter{topics: topics}
	if conv, ok := r.URL.Query()["conversation_id"]; ok {
		if len(conv) != 1 || !validIdent(conv[0]) {
			p := newProblem(http.StatusBadRequest, "invalid-query", "conversation_id is not a valid conversation id")
			p.Errors = []FieldError{{Field: "conversation_id", Message: "conversation_id " + ruleMessages["ident"]}}
			writeProblem(w, p)
			return nil
		}
		f.conversation = conv[0]
	}
	select {
	case s.open <- struct{}{}:
	default:
		p := newProblem(http.StatusServiceUnavailable, "too-many-streams", "the bridge serves as many streams as it may; retry later")
		p.retryAfter = s.cfg.Retry
		writeProblem(w, p)
		return nil
	}

	lastID := r.Header.Get("Last-Event-ID") // an EventSource's own reconnect: newer than the URL's
	if lastID == "" {
		lastID = r.URL.Query().Get("last_event_id")
	}
	sub := s.cfg.Topics.SubscribeTo(f.hubFilter(), lastID)
	s.stats.opened(topics, lastID != "", sub.Reset() != "")
	st := &stream{s: s, topics: topics, sub: sub, w: w, rc: http.NewResponseController(w), timeout: s.cfg.StreamWriteTimeout,
		clientGone: r.Context().Done()}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	_ = st.rc.SetReadDeadline(time.Time{}) // a stream lives as long as its client: see bound
	// A client that stopped reading blocks the write in progress; when the hub cuts it off, end
	// that write at once instead of waiting for the write deadline.
	sub.OnCut(func() { _ = st.rc.SetWriteDeadline(time.Now()) })
	st.buf = append(st.buf, "retry: "...)
	st.buf = strconv.AppendInt(st.buf, s.cfg.Retry.Milliseconds(), 10)
	st.buf = append(st.buf, "\n\n"...)
	if reason := sub.Reset(); reason != "" {
		data, _ := json.Marshal(map[string]string{"reason": reason})
		st.event(sub.StartID(), EventStreamReset, data)
	}
	if f.has(dialect.TopicConnection) {
		data, _ := json.Marshal(s.cfg.Connection.State())
		st.event("", chat.EventConnectionState, data)
	}
	if st.flush() != nil {
		st.close()
		return nil
	}
	st.keepAlive = time.NewTicker(s.cfg.KeepAlive)
	return st
}

// close releases what openStream took.
func (st *stream) close() {
	if st.keepAlive != nil {
		st.keepAlive.Stop()
	}
	st.sub.Close()
	st.s.stats.closed(st.topics)
	<-st.s.open
}

// loop writes the stream's events as they come, and a comment line when it has been idle for
// KeepAlive, until the client leaves, the hub cuts the stream, or the Server closes.
func (st *stream) loop() {
	s := st.s
	// The channels the loop waits on, taken once: Done() of a context costs a lock per call.
	ready, clientGone, closing := st.sub.Ready(), st.clientGone, s.streamsCtx.Done()
	var batch []*hub.Event
	for {
		var err error
		batch, err = st.sub.Poll(batch[:0])
		if err != nil {
			if errors.Is(err, hub.ErrCut) {
				s.log.Debug("stream cut: client fell behind", "topics", strings.Join(st.topics, ","))
			}
			return
		}
		if len(batch) > 0 {
			for _, e := range batch {
				st.buf = append(st.buf, e.Wire...)
			}
			n := len(batch)
			clear(batch) // let the ring's events go
			if st.flush() != nil {
				return
			}
			s.stats.delivered.Add(uint64(n))
			continue
		}
		select {
		case <-ready:
		case <-st.keepAlive.C:
			st.buf = append(st.buf, ": keep-alive\n\n"...)
			if st.flush() != nil {
				return
			}
		case <-clientGone:
			return
		case <-closing:
			return
		}
	}
}

// stream is one SSE response: what it follows, and the bytes it batches and writes with a
// deadline.
type stream struct {
	s          *Server
	topics     []string
	sub        *hub.Sub
	keepAlive  *time.Ticker
	clientGone <-chan struct{}

	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	armed   time.Time // when the write deadline was last set
	buf     []byte
}

// event appends one event; id "" writes none (the client keeps its last id).
func (st *stream) event(id, name string, data []byte) {
	if id != "" {
		st.buf = append(st.buf, "id: "...)
		st.buf = append(st.buf, id...)
		st.buf = append(st.buf, '\n')
	}
	st.buf = append(st.buf, "event: "...)
	st.buf = append(st.buf, name...)
	st.buf = append(st.buf, "\ndata: "...)
	st.buf = append(st.buf, data...)
	st.buf = append(st.buf, "\n\n"...)
}

// flush writes and flushes what is buffered; an error means the client is gone or too slow.
// The write deadline is moved only when a tenth of its span has passed since it was last set:
// every write still gets at least 90% of the timeout, and a busy stream does not pay for
// re-arming the connection's timer at every batch. The hub's cut hook may set a past deadline at
// any time; a later flush keeps it unless it re-arms, and then the next cut sets it again.
func (st *stream) flush() error {
	if now := time.Now(); now.Sub(st.armed) >= st.timeout/10 {
		if err := st.rc.SetWriteDeadline(now.Add(st.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		st.armed = now
	}
	_, err := st.w.Write(st.buf)
	if err == nil {
		err = st.rc.Flush()
	}
	if cap(st.buf) > 1<<20 {
		st.buf = nil // a large replay should not pin its buffer for the stream's life
	} else {
		st.buf = st.buf[:0]
	}
	return err
}

// streamStats counts what the SSE streams do, for metrics. Safe for concurrent use.
type streamStats struct {
	subscribers map[string]*atomic.Int64 // by topic; fixed keys (every topic), filled by New
	delivered   atomic.Uint64
	replays     atomic.Uint64
	resets      atomic.Uint64
}

func newStreamStats(topics []string) *streamStats {
	st := &streamStats{subscribers: make(map[string]*atomic.Int64, len(topics))}
	for _, t := range topics {
		st.subscribers[t] = new(atomic.Int64)
	}
	return st
}

func (st *streamStats) opened(topics []string, resumed, reset bool) {
	for _, t := range topics {
		st.subscribers[t].Add(1)
	}
	switch {
	case reset:
		st.resets.Add(1)
	case resumed:
		st.replays.Add(1)
	}
}

func (st *streamStats) closed(topics []string) {
	for _, t := range topics {
		st.subscribers[t].Add(-1)
	}
}

// StreamStats is a reading of the SSE counters.
type StreamStats struct {
	// Subscribers is the number of open streams that include each topic (a multi-topic stream
	// counts once for each of its topics).
	Subscribers map[string]int64
	// Delivered counts events written to streams.
	Delivered uint64
	// Replays counts streams that resumed from an event id; Resets those whose id could not be
	// honoured (they started with stream.reset).
	Replays, Resets uint64
}

// Stats reads the SSE counters. It is safe for concurrent use.
func (s *Server) Stats() StreamStats {
	out := StreamStats{Subscribers: make(map[string]int64, len(s.stats.subscribers)),
		Delivered: s.stats.delivered.Load(), Replays: s.stats.replays.Load(), Resets: s.stats.resets.Load()}
	for t, n := range s.stats.subscribers {
		out.Subscribers[t] = n.Load()
	}
	return out
}
