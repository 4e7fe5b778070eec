package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// target is one server under test, the bridge or the floor, normally a child process of the
// tool so that its RSS and CPU time are its own. pid is 0 for a server the tool did not start
// (--bridge): then RSS and CPU are not measured. A target is used by one goroutine.
type target struct {
	name   string // "bridge", "floor" or a peer's name
	addr   string // host:port
	path   string // the SSE stream of chat messages
	event  string // the SSE event name of a chat message there ("": events without an event: line)
	stats  string // where heap, stacks and goroutines are read: statsMetrics or statsJSON
	cmd    *exec.Cmd
	pid    int
	stderr *tailBuffer

	// sender connects the frames' sender; nil: as bob to the demo upstream.
	sender  func(ctx context.Context, upstream string) (frameSender, error)
	cleanup func() // after the child stopped; nil: nothing
}

// Where a target's memory figures are read.
const (
	statsMetrics = "metrics" // GET /metrics, Prometheus's Go collector
	statsJSON    = "json"    // GET /stats, floorStats
)

// dial connects the sender of t's frames.
func (t *target) dial(ctx context.Context, upstream string) (frameSender, error) {
	if t.sender != nil {
		return t.sender(ctx, upstream)
	}
	return dialSender(ctx, upstream)
}

// options of the targets, from the command line.
type targetOptions struct {
	bridgeBin  string // the bridge binary; empty builds it
	bridgeAddr string // a running bridge; empty starts one
	maxStreams int
	stateDir   string // --state-dir of the bridge; empty: memory only
	outbox     int    // --outbox of the bridge; 0: its default
}

// startBridge starts `bridge` on a free loopback port, connected to upstream as demo-user, and
// waits until it is ready (its /readyz says the upstream is connected).
func startBridge(ctx context.Context, opt targetOptions, upstream string) (*target, error) {
	if opt.bridgeAddr != "" {
		t := &target{name: "bridge", addr: opt.bridgeAddr, path: "/events/messages", event: eventChat, stats: statsMetrics}
		return t, t.waitReady(ctx, "/readyz")
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(opt.bridgeBin, "--listen", addr, "--upstream", upstream, "--token", "demo-token",
		"--log-level", "warn", "--max-streams", strconv.Itoa(opt.maxStreams))
	if opt.stateDir != "" {
		cmd.Args = append(cmd.Args, "--state-dir", opt.stateDir)
	}
	if opt.outbox > 0 {
		cmd.Args = append(cmd.Args, "--outbox", strconv.Itoa(opt.outbox))
	}
	return startChild(ctx, "bridge", cmd, addr, "/events/messages", "/readyz")
}

// startFloor starts this program again in floor mode.
func startFloor(ctx context.Context, upstream string) (*target, error) {
	return startSelf(ctx, "floor", floorEnv, "/events", upstream)
}

// startSelf starts this program again as `bridgebench MODE` (the floor or the r3labs/sse peer,
// see serveSelf), with env=1 set (so that a test binary knows to run it), on a free port,
// serving its stream at path; its memory figures come from /stats.
func startSelf(ctx context.Context, mode, env, path, upstream string) (*target, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this executable: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, mode, "--listen", addr, "--upstream", withToken(upstream, "demo-token"))
	cmd.Env = append(os.Environ(), env+"=1")
	t, err := startChild(ctx, mode, cmd, addr, path, "/stats?ready")
	if t != nil {
		t.stats = statsJSON
	}
	return t, err
}

// floorEnv marks a child that must run the floor (the test binary has no floor subcommand).
const floorEnv = "BRIDGEBENCH_FLOOR"

func startChild(ctx context.Context, name string, cmd *exec.Cmd, addr, path, ready string) (*target, error) {
	t := &target{name: name, addr: addr, path: path, event: eventChat, stats: statsMetrics, cmd: cmd, stderr: &tailBuffer{max: 8 << 10}}
	cmd.Stderr = t.stderr
	cmd.Stdout = t.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the %s: %w", name, err)
	}
	t.pid = cmd.Process.Pid
	if err := t.waitReady(ctx, ready); err != nil {
		t.stop()
		return nil, err
	}
	return t, nil // the caller sets what differs from the bridge's (stats, event, sender)
}

// waitReady polls path until it answers 200 (and, for the floor, says it is connected).
func (t *target) waitReady(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		ok := false
		if path == "/stats?ready" {
			st, err := t.floorStats(ctx)
			ok = err == nil && st.Connected
		} else if resp, err := httpGet(ctx, "http://"+t.addr+path); err == nil {
			ok = resp.StatusCode == http.StatusOK
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the %s on %s: %w; its output: %s", t.name, t.addr, ctx.Err(), t.output())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (t *target) output() string {
	if t.stderr == nil {
		return "(not started by us)"
	}
	return t.stderr.String()
}

// stop ends the child with SIGTERM (SIGKILL after 5 s) and waits for it.
func (t *target) stop() {
	if t.cleanup != nil {
		defer t.cleanup()
	}
	if t.cmd == nil {
		return
	}
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_ = t.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = t.cmd.Process.Kill()
		<-done
	}
}

// sample is one reading of a target's resources.
type sample struct {
	RSS        float64 // bytes
	CPU        float64 // seconds of user+system time
	Heap       float64 // Go heap in use, bytes
	Stack      float64 // goroutine stacks in use, bytes
	Goroutines float64
}

// read samples the target: /proc for RSS and CPU, /metrics (bridge) or /stats (floor).
func (t *target) read(ctx context.Context) (sample, error) {
	var s sample
	if t.pid > 0 {
		rss, cpu, err := procUsage(t.pid)
		if err != nil {
			return s, err
		}
		s.RSS, s.CPU = rss, cpu
	}
	if t.stats == statsJSON {
		st, err := t.floorStats(ctx)
		if err != nil {
			return s, err
		}
		s.Heap, s.Stack, s.Goroutines = float64(st.HeapInuse), float64(st.StackInuse), float64(st.Goroutines)
		return s, nil
	}
	m, err := t.metrics(ctx)
	if err != nil {
		return s, err
	}
	s.Heap, s.Stack, s.Goroutines = m["go_memstats_heap_inuse_bytes"], m["go_memstats_stack_inuse_bytes"], m["go_goroutines"]
	return s, nil
}

func (t *target) floorStats(ctx context.Context) (floorStats, error) {
	var st floorStats
	resp, err := httpGet(ctx, "http://"+t.addr+"/stats")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(resp.body, &st); err != nil {
		return st, fmt.Errorf("decode the floor's stats: %w", err)
	}
	return st, nil
}

// metrics reads the bridge's /metrics: every sample line "name{labels} value" keyed by
// "name{labels}" (or "name").
func (t *target) metrics(ctx context.Context) (map[string]float64, error) {
	resp, err := httpGet(ctx, "http://"+t.addr+"/metrics")
	if err != nil {
		return nil, err
	}
	return parseProm(resp.body), nil
}

func parseProm(b []byte) map[string]float64 {
	out := make(map[string]float64)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// procUsage reads a process's resident set (VmRSS) and its user+system CPU seconds.
func procUsage(pid int) (rss, cpu float64, err error) {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, fmt.Errorf("read the process status: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			rss = kb * 1024
		}
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("read the process stat: %w", err)
	}
	// Fields after the command name (which may hold spaces) start at field 3; utime and stime
	// are fields 14 and 15, in clock ticks of 1/100 s on Linux.
	rest := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(rest) < 13 {
		return 0, 0, errors.New("short /proc stat line")
	}
	ut, _ := strconv.ParseFloat(rest[11], 64)
	st, _ := strconv.ParseFloat(rest[12], 64)
	return rss, (ut + st) / 100, nil
}

type httpResult struct {
	StatusCode int
	body       []byte
}

var plainClient = &http.Client{Timeout: 10 * time.Second}

func httpGet(ctx context.Context, url string) (httpResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return httpResult{}, fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := plainClient.Do(req)
	if err != nil {
		return httpResult{}, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	return httpResult{StatusCode: resp.StatusCode, body: buf.Bytes()}, err
}

func listenLoopback() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	return ln, nil
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := listenLoopback()
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tailBuffer keeps the last max bytes written to it. It is safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
