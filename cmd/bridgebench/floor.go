package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// The floor is the least an SSE fan-out can cost: net/http alone, one upstream reader, a set of
// subscriber channels (a full one drops the frame for that subscriber), and a handler that
// writes and flushes each frame. No router, no history, no middleware, no write deadline. It
// serves GET /events (chat messages only, as the bridge's /events/messages does, with the same
// id/event/data lines and headers) and GET /stats (heap in use, goroutines, upstream state).

// floorQueue is each subscriber's channel capacity (8 bytes a slot).
const floorQueue = 256

type floor struct {
	mu   sync.Mutex
	subs map[chan *[]byte]struct{}
	seq  int64
}

// runFloor is `bridgebench floor --listen ADDR --upstream URL`: it serves until ctx is done.
func runFloor(ctx context.Context, args []string, stderr io.Writer) error {
	return serveSelf(ctx, "floor", args, stderr, func(mux *http.ServeMux) func([]byte) {
		f := &floor{subs: make(map[chan *[]byte]struct{})}
		mux.HandleFunc("/events", f.serveEvents)
		return f.publish
	})
}

// serveSelf is the part of `bridgebench floor` and `bridgebench r3labs` they share: the flags
// --listen and --upstream, GET /stats, and the upstream reader that hands each chat message's
// payload to the publish function setup returns (setup adds the server's own routes to mux).
// It serves until ctx is done.
func serveSelf(ctx context.Context, name string, args []string, stderr io.Writer,
	setup func(mux *http.ServeMux) (publish func([]byte))) error {
	fs := flag.NewFlagSet("bridgebench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address to serve on")
	upstream := fs.String("upstream", "", "upstream ws:// URL with its token")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if *upstream == "" {
		return fmt.Errorf("%s: --upstream is required", name)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("%s: listen: %w", name, err)
	}
	var connected atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) { serveStats(w, &connected) })
	publish := setup(mux)
	hs := &http.Server{Handler: mux}
	go func() { _ = hs.Serve(ln) }()
	fmt.Fprintf(stderr, "listening on http://%s\n", ln.Addr())
	go readUpstream(ctx, *upstream, stderr, &connected, publish)
	<-ctx.Done()
	return hs.Close()
}

// readUpstream holds the upstream WebSocket (redialling after a second when it drops) and hands
// each chat.message's payload to publish; it pings every 20 s, as the demo closes silent
// connections. connected says whether it is connected. The floor and the r3labs/sse peer use it.
func readUpstream(ctx context.Context, upstream string, stderr io.Writer, connected *atomic.Bool, publish func([]byte)) {
	for ctx.Err() == nil {
		c, _, err := websocket.DefaultDialer.DialContext(ctx, upstream, nil)
		if err != nil {
			fmt.Fprintf(stderr, "dial upstream: %v\n", err)
			time.Sleep(time.Second)
			continue
		}
		connected.Store(true)
		stopPing := make(chan struct{})
		go func() {
			t := time.NewTicker(20 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping","payload":{}}`))
				case <-stopPing:
					return
				}
			}
		}()
		stop := context.AfterFunc(ctx, func() { _ = c.Close() })
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				break
			}
			var env struct {
				Type    string          `json:"type"`
				Payload json.RawMessage `json:"payload"`
			}
			if json.Unmarshal(msg, &env) != nil || env.Type != eventChat {
				continue
			}
			publish(env.Payload)
		}
		stop()
		close(stopPing)
		connected.Store(false)
		_ = c.Close()
	}
}

// publish encodes one SSE frame and offers it to every subscriber.
func (f *floor) publish(data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	b := make([]byte, 0, len(data)+48)
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, f.seq, 10)
	b = append(b, "\nevent: "+eventChat+"\ndata: "...)
	b = append(b, data...)
	b = append(b, "\n\n"...)
	for ch := range f.subs {
		select {
		case ch <- &b:
		default: // this subscriber is too slow: it misses the frame
		}
	}
}

func (f *floor) serveEvents(w http.ResponseWriter, r *http.Request) {
	ch := make(chan *[]byte, floorQueue)
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flusher := w.(http.Flusher)
	_, _ = io.WriteString(w, "retry: 2000\n\n")
	flusher.Flush()
	for {
		select {
		case b := <-ch:
			if _, err := w.Write(*b); err != nil {
				return
			}
			for more := true; more; { // write what else waits, then flush once
				select {
				case b := <-ch:
					if _, err := w.Write(*b); err != nil {
						return
					}
				default:
					more = false
				}
			}
			flusher.Flush()
		case <-r.Context().Done():
			return
		}
	}
}

// floorStats is the floor's GET /stats.
type floorStats struct {
	HeapInuse  uint64 `json:"heap_inuse_bytes"`
	StackInuse uint64 `json:"stack_inuse_bytes"`
	Goroutines int    `json:"goroutines"`
	Connected  bool   `json:"connected"`
}

// serveStats answers GET /stats of the floor and of the r3labs/sse peer.
func serveStats(w http.ResponseWriter, connected *atomic.Bool) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms) // like the bridge's Prometheus Go collector: no forced GC
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(floorStats{HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, Goroutines: runtime.NumGoroutine(),
		Connected: connected.Load()})
}
