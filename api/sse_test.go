package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/r3labs/sse/v2"

	"github.com/chatbridge/chatbridge/internal/chat"
	"github.com/chatbridge/chatbridge/internal/dialect"
	"github.com/chatbridge/chatbridge/internal/ws"
)

// sseEvent is one parsed Server-Sent Event (or a comment, with Comment set).
type sseEvent struct {
	ID, Event, Data, Comment, Retry string
	HasID                           bool
}

// sseClient is a raw SSE client: one HTTP GET read with r3labs/sse's event stream reader.
type sseClient struct {
	resp   *http.Response
	reader *sse.EventStreamReader
	cancel context.CancelFunc
}

func (r *rig) openStream(t *testing.T, path string, headers ...string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.url+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: status %d: %s", path, resp.StatusCode, b)
	}
	c := &sseClient{resp: resp, reader: sse.NewEventStreamReader(resp.Body, 1<<20), cancel: cancel}
	t.Cleanup(c.close)
	return c
}

func (c *sseClient) close() {
	c.cancel()
	c.resp.Body.Close()
}

// next returns the next event or comment; it fails the test after a generous bound.
func (c *sseClient) next(t *testing.T) sseEvent {
	t.Helper()
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := c.reader.ReadEvent()
		ch <- result{b, err}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			t.Fatalf("reading the stream: %v", res.err)
		}
		return parseSSE(res.b)
	case <-time.After(10 * time.Second):
		c.close()
		<-ch
		t.Fatal("no event within 10s")
		return sseEvent{}
	}
}

// nextEvent skips comments; every event it returns has been checked against openapi.yaml.
func (c *sseClient) nextEvent(t *testing.T) sseEvent {
	t.Helper()
	for {
		if e := c.next(t); e.Comment == "" && e.Retry == "" || e.Event != "" {
			if e.Event != "" {
				checkEvent(t, e)
			}
			return e
		}
	}
}

func parseSSE(b []byte) sseEvent {
	var e sseEvent
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			e.Comment = value
		case "id":
			e.ID, e.HasID = value, true
		case "event":
			e.Event = value
		case "data":
			if e.Data != "" {
				e.Data += "\n"
			}
			e.Data += value
		case "retry":
			e.Retry = value
		}
	}
	return e
}

// publishTyping routes n typing frames numbered from first, with a field "n" the bridge must
// keep, through the chat service's upstream read path (as if the socket delivered them; the
// demo server would drop a bridge that cannot keep up with a tight loop of broadcasts).
func (r *rig) publishTyping(t *testing.T, first, n int, conv string) {
	t.Helper()
	for i := first; i < first+n; i++ {
		r.svc.HandleFrame(ws.Frame{Data: typingFrame(conv, i, "")})
	}
}

func typingFrame(conv string, n int, pad string) []byte {
	b, _ := json.Marshal(map[string]any{"type": dialect.TypeTypingIndicator, "payload": map[string]any{
		"conversation_id": conv, "user_id": "bob", "is_typing": true, "n": n, "pad": pad}})
	return b
}

func typingN(t *testing.T, e sseEvent) int {
	t.Helper()
	var p struct{ N *int }
	if err := json.Unmarshal([]byte(e.Data), &p); err != nil || p.N == nil {
		t.Fatalf("event %s %q is not a numbered typing event", e.Event, e.Data)
	}
	return *p.N
}

func TestStreamHeadersRetryAndConnectionFirst(t *testing.T) {
	r := newRig(t)
	c := r.openStream(t, "/events/connection")
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := c.resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if e := c.next(t); e.Retry == "" {
		t.Errorf("first block = %+v, want a retry: hint", e)
	}
	e := c.next(t)
	if e.Event != chat.EventConnectionState || !strings.Contains(e.Data, `"state":"connected"`) || e.HasID {
		t.Fatalf("first event = %+v, want the current connection.state without an id", e)
	}
	// A change of state arrives as it happens.
	r.client.Disconnect()
	for {
		e = c.nextEvent(t)
		if strings.Contains(e.Data, `"state":"stopped"`) {
			break
		}
	}
	if !e.HasID {
		t.Errorf("a live connection.state has no id: %+v", e)
	}
}

func TestEachTopicCarriesItsTypes(t *testing.T) {
	r := newRig(t)
	now := time.Now().UTC().Format(time.RFC3339)
	frames := []struct {
		topic, typ string
		payload    map[string]any
	}{
		{"messages", "chat.message", map[string]any{"id": "m1", "conversation_id": "c1", "sender_id": "bob", "content": "x", "created_at": now}},
		{"typing", "typing.indicator", map[string]any{"conversation_id": "c1", "user_id": "bob", "is_typing": true}},
		{"presence", "user.status", map[string]any{"user_id": "zed", "status": "away"}},
		{"conversations", "conversation.update", map[string]any{"conversation_id": "c1", "title": "T"}},
		{"calls", "call.incoming", map[string]any{"call_id": "k1", "conversation_id": "c1", "caller_id": "bob", "media": "audio"}},
		{"errors", "error", map[string]any{"code": "c", "message": "m"}},
	}
	for _, f := range frames {
		t.Run(f.topic, func(t *testing.T) {
			c := r.openStream(t, "/events/"+f.topic)
			raw := r.openStream(t, "/events/raw")
			c.next(t) // retry hint
			raw.next(t)
			if err := r.demo.Broadcast(f.typ, f.payload); err != nil {
				t.Fatal(err)
			}
			e := c.nextEvent(t)
			if e.Event != f.typ || !e.HasID {
				t.Fatalf("got %+v, want event %s with an id", e, f.typ)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(e.Data), &got); err != nil || len(got) != len(f.payload) {
				t.Errorf("data %s does not carry the payload", e.Data)
			}
			re := raw.nextEvent(t)
			if re.Event != "raw" || !strings.Contains(re.Data, `"type":"`+f.typ+`"`) {
				t.Errorf("raw got %+v", re)
			}
		})
	}
}

func TestMultiTopicStreamAndConversationFilter(t *testing.T) {
	r := newRig(t)
	c := r.openStream(t, "/events?topics=typing,presence&conversation_id=c2")
	c.next(t)
	r.publishTyping(t, 0, 1, "c1") // filtered out
	r.svc.HandleFrame(ws.Frame{Data: []byte(`{"type":"user.status","payload":{"user_id":"zed","status":"online"}}`)})
	r.publishTyping(t, 1, 1, "c2")
	if e := c.nextEvent(t); e.Event != "user.status" {
		t.Fatalf("first = %+v, want user.status (presence is not filtered by conversation)", e)
	}
	if e := c.nextEvent(t); e.Event != "typing.indicator" || typingN(t, e) != 1 {
		t.Fatalf("second = %+v, want the c2 typing event", e)
	}
}

func TestDefaultStreamHasEveryTopicButRaw(t *testing.T) {
	r := newRig(t)
	c := r.openStream(t, "/events")
	c.next(t)
	if e := c.nextEvent(t); e.Event != chat.EventConnectionState {
		t.Fatalf("first event %+v, want connection.state", e)
	}
	r.publishTyping(t, 0, 1, "c1")
	if e := c.nextEvent(t); e.Event != "typing.indicator" {
		t.Fatalf("got %+v; a raw event must not be on the default stream", e)
	}
}

// TestResumeWhilePublishing disconnects a client mid-stream while frames keep coming and resumes
// it with Last-Event-ID (and once with last_event_id): every event arrives exactly once.
func TestResumeWhilePublishing(t *testing.T) {
	r := newRig(t)
	const total = 600
	var wg sync.WaitGroup
	wg.Add(1)
	c := r.openStream(t, "/events/typing")
	go func() {
		defer wg.Done()
		for i := 0; i < total; i += 20 { // fast, but at a pace a reader keeps up with (no cut)
			r.publishTyping(t, i, 20, "c1")
			time.Sleep(time.Millisecond)
		}
	}()
	defer wg.Wait()

	next, lastID := 0, ""
	for round := 0; next < total; round++ {
		stop := next + 150 // read a while, then drop the connection
		for next < total && next < stop {
			e := c.nextEvent(t)
			if n := typingN(t, e); n != next {
				t.Fatalf("round %d: got event %d, want %d (gap or duplicate)", round, n, next)
			}
			next++
			lastID = e.ID
		}
		c.close()
		if next == total {
			break
		}
		if round%2 == 0 {
			c = r.openStream(t, "/events/typing", "Last-Event-ID", lastID)
		} else {
			c = r.openStream(t, "/events/typing?last_event_id="+lastID)
		}
	}
}

func TestHeaderIDWinsOverQueryID(t *testing.T) {
	r := newRig(t)
	first := r.topics.LastID()
	r.publishTyping(t, 0, 3, "c1")
	c := r.openStream(t, "/events/typing")
	c.next(t)
	r.publishTyping(t, 3, 1, "c1")
	e := c.nextEvent(t)
	// The URL still names the first id (as after an EventSource's own reconnect); the header is newer.
	c2 := r.openStream(t, "/events/typing?last_event_id="+first, "Last-Event-ID", e.ID)
	r.publishTyping(t, 4, 1, "c1")
	if n := typingN(t, c2.nextEvent(t)); n != 4 {
		t.Fatalf("resumed at %d, want 4 (after the header's id)", n)
	}
}

func TestResumeFromUnknownIDResets(t *testing.T) {
	r := newRig(t)
	for _, id := range []string{"garbage", "zzzz-0000000000000001", r.topics.LastID() + "9"} {
		c := r.openStream(t, "/events/typing", "Last-Event-ID", id)
		c.next(t)
		e := c.nextEvent(t)
		if e.Event != EventStreamReset || !strings.Contains(e.Data, `"reason"`) || !e.HasID {
			t.Fatalf("id %q: first event %+v, want stream.reset with a reason and an id", id, e)
		}
		r.publishTyping(t, 0, 1, "c1")
		if e2 := c.nextEvent(t); e2.Event != "typing.indicator" {
			t.Fatalf("after the reset got %+v, want the live event", e2)
		}
		c.close()
	}
}

func TestResumeFromExpiredIDResets(t *testing.T) {
	r := newRig(t) // history 1000
	old := r.topics.LastID()
	r.publishTyping(t, 0, 1100, "c1") // routed synchronously: all in the history now
	c := r.openStream(t, "/events/typing", "Last-Event-ID", old)
	c.next(t)
	if e := c.nextEvent(t); e.Event != EventStreamReset || !strings.Contains(e.Data, "expired") {
		t.Fatalf("first event %+v, want stream.reset (expired)", e)
	}
}

func TestKeepAliveComment(t *testing.T) {
	r := newRig(t, func(c *Config) { c.KeepAlive = 20 * time.Millisecond })
	c := r.openStream(t, "/events/typing")
	c.next(t)
	if e := c.next(t); e.Comment != "keep-alive" {
		t.Fatalf("got %+v, want a keep-alive comment", e)
	}
}

// TestStalledClientIsCutAndOthersGetEverything opens a stream that never reads, publishes far
// more than its buffers hold, and checks that a healthy client gets every event and that the
// stalled one is disconnected (not merely left hanging until its write deadline).
func TestStalledClientIsCutAndOthersGetEverything(t *testing.T) {
	r := newRig(t, func(c *Config) { c.StreamWriteTimeout = time.Hour })
	host := strings.TrimPrefix(r.url, "http://")
	stalled, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if tc, ok := stalled.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	fmt.Fprintf(stalled, "GET /events/typing HTTP/1.1\r\nHost: %s\r\n\r\n", host)
	status, err := bufio.NewReader(io.LimitReader(stalled, 64)).ReadString('\n')
	if err != nil || !strings.Contains(status, "200") {
		t.Fatalf("stalled stream answer %q, %v", status, err)
	}
	healthy := r.openStream(t, "/events/typing")
	healthy.next(t)

	const total, chunk = 3000, 100
	pad := strings.Repeat("x", 4000) // ~12 MB in all: more than every socket buffer holds
	// Publish in chunks that the healthy client reads before the next, so that only the stalled
	// client falls behind.
	for i := 0; i < total; i += chunk {
		for j := i; j < i+chunk; j++ {
			r.svc.HandleFrame(ws.Frame{Data: typingFrame("c1", j, pad)})
		}
		for j := i; j < i+chunk; j++ {
			if n := typingN(t, healthy.nextEvent(t)); n != j {
				t.Fatalf("healthy client got %d, want %d", n, j)
			}
		}
	}
	// The stalled stream was cut and its handler has returned (it closes its subscription on the
	// way out), long before its hour-long write deadline.
	deadline := time.Now().Add(10 * time.Second)
	for r.topics.Subscribers() != 1 || r.topics.Stats().Cut != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the stalled stream was not cut: %+v", r.topics.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTooManyStreams(t *testing.T) {
	r := newRig(t, func(c *Config) { c.MaxStreams = 2 })
	r.openStream(t, "/events/typing").next(t)
	r.openStream(t, "/events/typing").next(t)
	ex := r.do(t, http.MethodGet, "/events/typing", "", "")
	if ex.status != http.StatusServiceUnavailable || ex.header.Get("Retry-After") == "" {
		t.Fatalf("third stream: %d %s, want 503 with Retry-After", ex.status, ex.body)
	}
}

// TestCloseEndsOpenStreams checks that Close (run by http.Server.Shutdown) ends every stream.
func TestCloseEndsOpenStreams(t *testing.T) {
	r := newRig(t)
	var streams []*sseClient
	for i := 0; i < 5; i++ {
		c := r.openStream(t, "/events?topics=typing,connection")
		c.next(t)
		streams = append(streams, c)
	}
	r.api.Close()
	for _, c := range streams {
		for {
			_, err := c.reader.ReadEvent()
			if err != nil {
				if err != io.EOF && !strings.Contains(err.Error(), "EOF") {
					t.Fatalf("stream ended with %v", err)
				}
				break
			}
		}
	}
	if n := r.topics.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers left after Close", n)
	}
}
