package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbridge/chatbridge/internal/demo"
)

// sender is the load generator's upstream client: it connects as bob and posts chat messages
// to general, which the demo broadcasts to every member, demo-user (the bridge or the floor)
// included. It owns one reader goroutine that discards what the demo sends back (else the
// demo would drop bob for being slow); Close ends it.
type sender struct {
	conn *websocket.Conn
	done chan struct{}
}

// dialSender connects to the upstream URL (ws://HOST/chat) as bob.
func dialSender(ctx context.Context, upstream string) (*sender, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, fmt.Errorf("parse the upstream URL: %w", err)
	}
	q := u.Query()
	q.Set("token", "bob-token")
	u.RawQuery = q.Encode()
	c, _, err := websocket.DefaultDialer.DialContext(ctx, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("dial the upstream as bob: %w", err)
	}
	s := &sender{conn: c, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			if _, _, err := c.NextReader(); err != nil {
				return
			}
		}
	}()
	return s, nil
}

// Close closes the connection and waits for the reader.
func (s *sender) Close() {
	_ = s.conn.Close()
	<-s.done
}

type outFrame struct {
	Type    string     `json:"type"`
	Payload outPayload `json:"payload"`
}

type outPayload struct {
	ConversationID  string `json:"conversation_id"`
	Content         string `json:"content"`
	ClientMessageID string `json:"client_message_id"`
}

// send posts n messages at rate per second (0: as fast as the socket takes them), numbered
// 1..n, each content padded to size bytes; prefix makes the client_message_ids unique per run
// (the demo de-duplicates by them). It returns when the last one is written.
func (s *sender) send(ctx context.Context, prefix string, n int, rate float64, size int) error {
	start := time.Now()
	for i := int64(1); i <= int64(n); i++ {
		if rate > 0 {
			due := start.Add(time.Duration(float64(i-1) / rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		now := time.Now()
		f := outFrame{Type: "chat.message", Payload: outPayload{ConversationID: demo.General,
			Content: content(i, now, size), ClientMessageID: prefix + strconv.FormatInt(i, 10)}}
		b, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("encode frame %d: %w", i, err)
		}
		_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := s.conn.WriteMessage(websocket.TextMessage, b); err != nil {
			return fmt.Errorf("write frame %d: %w", i, err)
		}
	}
	return nil
}

// sendSpread is send over several conversations: message i goes to convs[i % len(convs)], and
// each conversation's messages are numbered 1, 2, ... on their own, so that a stream filtered to
// one conversation sees its numbers follow each other.
func (s *sender) sendSpread(ctx context.Context, prefix string, n int, rate float64, size int, convs []string) error {
	start := time.Now()
	seq := make([]int64, len(convs))
	for i := 0; i < n; i++ {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		k := i % len(convs)
		seq[k]++
		f := outFrame{Type: "chat.message", Payload: outPayload{ConversationID: convs[k],
			Content: content(seq[k], time.Now(), size), ClientMessageID: prefix + strconv.Itoa(i)}}
		b, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("encode frame %d: %w", i, err)
		}
		_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := s.conn.WriteMessage(websocket.TextMessage, b); err != nil {
			return fmt.Errorf("write frame %d: %w", i, err)
		}
	}
	return nil
}

// startDemo runs the demo upstream in-process on a loopback port, without bots. The caller
// must call the returned stop function, which closes the server and waits for it.
func startDemo() (srv *demo.Server, wsURL string, stop func(), err error) {
	srv = demo.New(demo.Config{})
	mux := http.NewServeMux()
	mux.Handle(demo.Path, srv)
	ln, err := listenLoopback()
	if err != nil {
		return nil, "", nil, err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln)
	}()
	stop = func() {
		_ = srv.Close()
		_ = hs.Close()
		<-done
	}
	return srv, "ws://" + ln.Addr().String() + demo.Path, stop, nil
}

// withToken returns the upstream URL with ?token= set.
func withToken(upstream, token string) string {
	sep := "?"
	if strings.Contains(upstream, "?") {
		sep = "&"
	}
	return upstream + sep + "token=" + url.QueryEscape(token)
}
