package api

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSlowBodyIsCut: a body that trickles in is cut after RequestTimeout with a 408 problem,
// while a stream opened before it lives on.
func TestSlowBodyIsCut(t *testing.T) {
	r := newRig(t, func(c *Config) { c.RequestTimeout = 300 * time.Millisecond })
	stream := r.openStream(t, "/events/presence")

	conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "POST /messages HTTP/1.1\r\nHost: " + strings.TrimPrefix(r.url, "http://") +
		"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // one byte every 50 ms, until the server hangs up
		defer close(done)
		for {
			time.Sleep(50 * time.Millisecond)
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the slow body: %v", err)
	}
	resp.Body.Close()
	conn.Close()
	<-done
	if resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("answer %d %s, want a 408 problem", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// The stream, open for longer than RequestTimeout by now, lives on.
	time.Sleep(400 * time.Millisecond)
	if err := r.demo.Broadcast("user.status", map[string]any{"user_id": "after", "status": "online"}); err != nil {
		t.Fatal(err)
	}
	for e := stream.nextEvent(t); !strings.Contains(e.Data, `"after"`); e = stream.nextEvent(t) {
	}
	if ex := r.do(t, http.MethodGet, "/connection", "", ""); ex.status != http.StatusOK {
		t.Errorf("GET /connection after the slow body: %d", ex.status)
	}
}

func TestLargeHeaderIsAProblem(t *testing.T) {
	r := newRig(t)
	ex := r.do(t, http.MethodGet, "/connection", "", "", "X-Padding", strings.Repeat("p", 70<<10))
	wantProblem(t, ex, http.StatusRequestHeaderFieldsTooLarge, "header-too-large")
}
