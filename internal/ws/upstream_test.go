package ws

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// bound is how long a test waits for something before it fails instead of
// hanging. It is never a performance threshold.
const bound = 10 * time.Second

// upstream is a real in-process WebSocket server on 127.0.0.1 standing in for
// the chat server. Its hooks are set before the first dial.
type upstream struct {
	t   *testing.T
	srv *httptest.Server
	url string // ws://127.0.0.1:PORT/chat

	conns chan *serverConn // every upgraded connection, in order
	quit  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup

	mu    sync.Mutex
	dials []*http.Request
	live  []*serverConn
	// refuse, when it returns a non-zero status, answers handshake number n
	// (1-based) with that status and header instead of upgrading.
	refuse func(n int, r *http.Request) (int, http.Header)
	// silent makes connection number n go quiet after the upgrade: it never
	// reads (so never answers pings) and never writes.
	silent func(n int) bool
	// answer, when set, is written back for every text frame equal to ping.
	ping, answer []byte
}

// serverConn is the server side of one connection. Test code writes through
// write (one writer at a time); WriteControl and Close are safe anywhere.
type serverConn struct {
	*websocket.Conn
	wmu    sync.Mutex
	recv   chan []byte   // text frames from the client
	pings  atomic.Int32  // ping control frames from the client
	closed chan struct{} // closed when the server's reader ended
	err    error         // the read error that ended it; read after closed
}

func (sc *serverConn) write(t *testing.T, data []byte) {
	t.Helper()
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	sc.SetWriteDeadline(time.Now().Add(bound))
	if err := sc.WriteMessage(websocket.TextMessage, data); err != nil {
		t.Errorf("server write: %v", err)
	}
}

func (sc *serverConn) closeWith(code int) {
	sc.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, "bye"), time.Now().Add(bound))
}

// closeErr waits for the server's reader to end and returns its error.
func (sc *serverConn) closeErr(t *testing.T) error {
	t.Helper()
	select {
	case <-sc.closed:
		return sc.err
	case <-time.After(bound):
		t.Fatal("server connection did not end")
		return nil
	}
}

func newUpstream(t *testing.T, path string) *upstream {
	t.Helper()
	u := &upstream{
		t:     t,
		conns: make(chan *serverConn, 100),
		quit:  make(chan struct{}),
	}
	u.srv = httptest.NewServer(http.HandlerFunc(u.handle))
	u.url = "ws" + strings.TrimPrefix(u.srv.URL, "http") + path
	t.Cleanup(u.close)
	return u
}

// close stops the server and waits for every handler. Idempotent.
func (u *upstream) close() {
	u.once.Do(func() {
		close(u.quit)
		u.mu.Lock()
		for _, sc := range u.live {
			sc.Close()
		}
		u.mu.Unlock()
		u.srv.Close()
		u.wg.Wait()
	})
}

func (u *upstream) handle(w http.ResponseWriter, r *http.Request) {
	u.wg.Add(1)
	defer u.wg.Done()
	u.mu.Lock()
	u.dials = append(u.dials, r)
	n := len(u.dials)
	u.mu.Unlock()

	u.mu.Lock()
	refuse, silent, ping, answer := u.refuse, u.silent, u.ping, u.answer
	u.mu.Unlock()
	if refuse != nil {
		if status, hdr := refuse(n, r); status != 0 {
			for k, v := range hdr {
				w.Header()[k] = v
			}
			w.WriteHeader(status)
			return
		}
	}
	up := websocket.Upgrader{}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	sc := &serverConn{Conn: conn, recv: make(chan []byte, 1000), closed: make(chan struct{})}
	conn.SetPingHandler(func(data string) error {
		sc.pings.Add(1)
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(bound))
	})
	u.mu.Lock()
	select {
	case <-u.quit:
		u.mu.Unlock()
		conn.Close()
		return
	default:
	}
	u.live = append(u.live, sc)
	u.mu.Unlock()
	select {
	case u.conns <- sc:
	case <-u.quit:
	}

	defer conn.Close()
	defer close(sc.closed)
	if silent != nil && silent(n) {
		<-u.quit
		sc.err = errors.New("silent connection ended by the test server")
		return
	}
	for {
		mt, data, err := conn.ReadMessage()
		if err != nil {
			sc.err = err
			return
		}
		if mt != websocket.TextMessage {
			continue
		}
		if answer != nil && string(data) == string(ping) {
			sc.write(u.t, answer)
		}
		select {
		case sc.recv <- data:
		default:
		}
	}
}

// setSilent replaces the silent hook; safe while the server runs.
func (u *upstream) setSilent(f func(n int) bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.silent = f
}

// setAnswer makes the server write answer for every text frame equal to ping;
// safe while the server runs.
func (u *upstream) setAnswer(ping, answer []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.ping, u.answer = ping, answer
}

// setRefuse replaces the refuse hook; safe while the server runs.
func (u *upstream) setRefuse(f func(n int, r *http.Request) (int, http.Header)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.refuse = f
}

// next waits for the next upgraded connection.
func (u *upstream) next(t *testing.T) *serverConn {
	t.Helper()
	select {
	case sc := <-u.conns:
		return sc
	case <-time.After(bound):
		t.Fatal("no connection reached the server")
		return nil
	}
}

// dial returns handshake request number n (1-based).
func (u *upstream) dial(t *testing.T, n int) *http.Request {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if n > len(u.dials) {
		t.Fatalf("handshake %d not seen; %d so far", n, len(u.dials))
	}
	return u.dials[n-1]
}

func (u *upstream) dialCount() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.dials)
}

// recorder collects every Status passed to HandleState and lets a test walk
// them in order.
type recorder struct {
	mu     sync.Mutex
	all    []Status
	cursor int
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) add(s Status) {
	r.mu.Lock()
	r.all = append(r.all, s)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) states() []State {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]State, len(r.all))
	for i, s := range r.all {
		out[i] = s.State
	}
	return out
}

// waitFor returns the first recorded Status after the cursor that matches,
// and moves the cursor past it.
func (r *recorder) waitFor(t *testing.T, what string, match func(Status) bool) Status {
	t.Helper()
	deadline := time.After(bound)
	for {
		r.mu.Lock()
		for r.cursor < len(r.all) {
			s := r.all[r.cursor]
			r.cursor++
			if match(s) {
				r.mu.Unlock()
				return s
			}
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("no %s status; states so far: %v", what, r.states())
			return Status{}
		}
	}
}

func (r *recorder) waitState(t *testing.T, st State) Status {
	t.Helper()
	return r.waitFor(t, string(st), func(s Status) bool { return s.State == st })
}

// testConfig is a Config with short, test-friendly timings for url and token.
func testConfig(url string, token TokenSource) Config {
	return Config{
		URL:              url,
		Token:            token,
		HandshakeTimeout: bound,
		ReconnectMin:     5 * time.Millisecond,
		ReconnectMax:     20 * time.Millisecond,
		TokenPoll:        20 * time.Millisecond,
		WriteTimeout:     bound,
	}
}

// runningClient is a Client whose Run is active in a goroutine.
type runningClient struct {
	*Client
	rec    *recorder
	cancel context.CancelFunc
	done   chan error
}

// testHandler is a Handler made of optional funcs: a nil open is ready at once
// with nothing to write, a nil frame reacts with nothing, every state goes to
// the recorder (and to state when set).
type testHandler struct {
	open  func(token string) Opening
	frame func(f Frame) Reaction
	state func(Status)
	rec   *recorder
}

func (h *testHandler) OpenConn(token string) Opening {
	if h.open == nil {
		return Opening{Ready: true}
	}
	return h.open(token)
}

func (h *testHandler) HandleFrame(f Frame) Reaction {
	if h.frame == nil {
		return Reaction{}
	}
	return h.frame(f)
}

func (h *testHandler) HandleState(s Status) {
	h.rec.add(s)
	if h.state != nil {
		h.state(s)
	}
}

// onText is a testHandler that passes every text frame to fn.
func onText(fn func([]byte)) *testHandler {
	return &testHandler{frame: func(f Frame) Reaction {
		if !f.Binary {
			fn(f.Data)
		}
		return Reaction{}
	}}
}

// startClient runs a Client for cfg until the test ends (or stop is called),
// with h as its Handler (a plain testHandler when none is given).
func startClient(t *testing.T, cfg Config, h ...*testHandler) *runningClient {
	t.Helper()
	rec := newRecorder()
	th := &testHandler{}
	if len(h) > 0 {
		th = h[0]
	}
	th.rec = rec
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	rc := &runningClient{Client: c, rec: rec, cancel: cancel, done: make(chan error, 1)}
	go func() { rc.done <- c.Run(ctx, th) }()
	t.Cleanup(func() { rc.stop(t) })
	return rc
}

// stop cancels Run and waits for it; it returns Run's error. Idempotent.
func (rc *runningClient) stop(t *testing.T) error {
	t.Helper()
	rc.cancel()
	select {
	case err := <-rc.done:
		rc.done <- err
		return err
	case <-time.After(bound):
		t.Fatal("Run did not return")
		return nil
	}
}

// quietFor lets the client run for n token-poll periods; tests use it to show
// that something did NOT happen (no dial), never to measure speed.
func quietFor(n int, cfg Config) { time.Sleep(time.Duration(n) * cfg.TokenPoll) }
