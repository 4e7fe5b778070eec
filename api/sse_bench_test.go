package api

import (
	"bufio"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// BenchmarkIdleStreamMemory opens 1,000 idle streams (GET /events/messages, read up to the
// first event and then left alone) and reports what each costs the server: goroutine stack and
// heap in use, after a collection, per stream. The clients are raw TCP connections with no
// goroutine of their own, so the figures are the server's. Run it with -benchtime=1x.
func BenchmarkIdleStreamMemory(b *testing.B) {
	const n = 1000
	r := newRig(b)
	addr := strings.TrimPrefix(r.url, "http://")
	before := serverMemory()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := c.Write([]byte("GET /events/messages HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("open a stream: %v %v", resp, err)
		}
	}
	after := serverMemory()
	b.ReportMetric(float64(after.StackInuse-before.StackInuse)/n, "stack-B/stream")
	b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/n, "heap-B/stream")
	b.ReportMetric(float64(after.goroutines-before.goroutines)/n, "goroutines/stream")
}

type memory struct {
	runtime.MemStats
	goroutines int
}

// serverMemory reads the process's memory after two collections (the second one also shrinks
// the stacks that the first found oversized).
func serverMemory() memory {
	runtime.GC()
	runtime.GC()
	var m memory
	runtime.ReadMemStats(&m.MemStats)
	m.goroutines = runtime.NumGoroutine()
	return m
}
