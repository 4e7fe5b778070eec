package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// eventChat is the SSE event name both the bridge and the floor give chat messages.
const eventChat = "chat.message"

// subscriber is one raw SSE client: a TCP connection, a hand-written GET, net/http's response
// parser (which undoes the chunked encoding) and a minimal event parser over a 4 KiB buffer. It
// checks that the sequence numbers the driver put into the content follow each other with no
// gap and no duplicate, and records the delay of each event (read time minus send time, both
// from this machine's clock). A subscriber is used by its own goroutine only, except for the
// atomics, which anyone may read.
type subscriber struct {
	first  int64 // the seq expected first; 0 means whatever comes first
	last   atomic.Int64
	target *atomic.Int64 // doneAt is set (and done counted) once last reaches it (when > 0)
	done   *atomic.Int64 // counts subscribers at their target; nil: none
	exit   bool          // run returns at the target instead of reading on

	count, gaps, dups int64
	delays            []int32  // µs
	ids               []string // event ids by seq-1, only when recordIDs
	recordIDs         bool
	event             string // the SSE event name of a chat message ("": events with no event: line)
	path              string // the stream's path when not the target's
	anyOrder          bool   // count the events and their delays, without checking their order
	reset             bool   // a stream.reset event arrived
	doneAt            time.Time
	headers           chan struct{} // closed once the response headers are read
}

func newSubscriber(first int64, target *atomic.Int64, capacity int) *subscriber {
	return &subscriber{first: first, target: target, delays: make([]int32, 0, capacity),
		headers: make(chan struct{}), event: eventChat}
}

// dialSSE opens the TCP connection of one subscriber; rcvBuf > 0 shrinks its receive buffer
// (a stalled client then fills the server's socket quickly).
func dialSSE(ctx context.Context, addr string, rcvBuf int) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if rcvBuf > 0 {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvBuf)
			})
			return errors.Join(err, serr)
		}
	}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return c, nil
}

// request writes the GET of an SSE stream on c.
func request(c net.Conn, addr, path, lastID string) error {
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nAccept: text/event-stream\r\n"
	if lastID != "" {
		req += "Last-Event-ID: " + lastID + "\r\n"
	}
	_, err := c.Write([]byte(req + "\r\n"))
	if err != nil {
		return fmt.Errorf("write the request: %w", err)
	}
	return nil
}

// run reads the stream on c until the stream ends or ctx is done (then it closes c), or with
// exit until the target seq arrived. Without reading events (idle) it returns once the headers are read,
// leaving c open.
func (s *subscriber) run(ctx context.Context, c net.Conn, addr, path, lastID string, idle bool) error {
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	if err := request(c, addr, path, lastID); err != nil {
		return err
	}
	br := bufio.NewReaderSize(c, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("read the response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
	}
	close(s.headers)
	if idle {
		return nil
	}
	lines := bufio.NewReaderSize(resp.Body, 4096)
	var id, event string
	var data, long []byte
	for {
		line, err := lines.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = lines.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read the stream: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if event == s.event && len(data) > 0 {
				s.take(id, data)
			} else if event == "stream.reset" {
				s.reset = true
			}
			event, data = "", data[:0]
			if t := s.target.Load(); t > 0 && s.last.Load() >= t && s.doneAt.IsZero() {
				s.doneAt = time.Now()
				if s.done != nil {
					s.done.Add(1)
				}
				if s.exit {
					return nil
				}
			}
		case bytes.HasPrefix(line, []byte("id: ")):
			id = string(line[4:])
		case bytes.HasPrefix(line, []byte("event: ")):
			event = string(line[7:])
		case bytes.HasPrefix(line, []byte("data: ")):
			data = append(data, line[6:]...)
		}
	}
}

// take handles one chat message: its content starts with "SEQ SENTUNIXNANO ".
func (s *subscriber) take(id string, data []byte) {
	now := time.Now().UnixNano()
	seq, sent, ok := parseContent(data)
	if !ok {
		return
	}
	if s.anyOrder {
		s.count++
		s.last.Store(s.count)
		s.delays = append(s.delays, int32(min((now-sent)/1000, 1<<31-1)))
		return
	}
	last := s.last.Load()
	switch {
	case last == 0 && (s.first == 0 || seq == s.first):
	case seq <= last:
		s.dups++
		return
	case seq != last+1 || last == 0:
		s.gaps++
	}
	s.count++
	s.last.Store(seq)
	s.delays = append(s.delays, int32(min((now-sent)/1000, 1<<31-1)))
	if s.recordIDs {
		for int64(len(s.ids)) < seq {
			s.ids = append(s.ids, "")
		}
		s.ids[seq-1] = id
	}
}

var contentKey = []byte(`"content":"`)

// parseContent finds the sequence number and the send time in a chat message's JSON.
func parseContent(data []byte) (seq, sent int64, ok bool) {
	i := bytes.Index(data, contentKey)
	if i < 0 {
		return 0, 0, false
	}
	rest := data[i+len(contentKey):]
	a := bytes.IndexByte(rest, ' ')
	if a < 0 {
		return 0, 0, false
	}
	b := bytes.IndexByte(rest[a+1:], ' ')
	if b < 0 {
		return 0, 0, false
	}
	seq, err1 := strconv.ParseInt(string(rest[:a]), 10, 64)
	sent, err2 := strconv.ParseInt(string(rest[a+1:a+1+b]), 10, 64)
	return seq, sent, err1 == nil && err2 == nil
}

// content builds the message text: "SEQ SENTUNIXNANO " padded with x to size bytes.
func content(seq int64, sent time.Time, size int) string {
	b := strconv.AppendInt(nil, seq, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, sent.UnixNano(), 10)
	b = append(b, ' ')
	for len(b) < size {
		b = append(b, 'x')
	}
	return string(b)
}
