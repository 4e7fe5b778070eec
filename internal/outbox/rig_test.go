package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/demo"
	"github.com/chatbridge/chatbridge/internal/ws"
)

// The test rig: a real demo upstream, a real ws.Client wired to an Outbox as
// the bridge wires them, and logs that tests wait on.

// upstream is a demo chat server served on 127.0.0.1.
type upstream struct {
	srv  *demo.Server
	ts   *httptest.Server
	addr string
	url  string
	once sync.Once
}

// startUpstream serves a new demo server on addr ("" = a free port). It is
// closed when the test ends, or earlier by close.
func startUpstream(t *testing.T, addr string) *upstream {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	srv := demo.New(demo.Config{})
	mux := http.NewServeMux()
	mux.Handle(demo.Path, srv)
	ts := httptest.NewUnstartedServer(mux)
	ts.Listener = ln
	ts.Start()
	u := &upstream{srv: srv, ts: ts, addr: ln.Addr().String()}
	u.url = "ws://" + u.addr + demo.Path
	t.Cleanup(u.close)
	return u
}

func (u *upstream) close() {
	u.once.Do(func() {
		_ = u.srv.Close()
		u.ts.Close()
	})
}

// received returns the client_message_ids of the chat.message frames the
// server read, in order, duplicates included.
func (u *upstream) received(t *testing.T) []string {
	t.Helper()
	var ids []string
	for _, f := range u.srv.Received() {
		if f.Type != "chat.message" {
			continue
		}
		var p struct {
			ID string `json:"client_message_id"`
		}
		if err := json.Unmarshal(f.Payload, &p); err != nil {
			t.Fatalf("decode received frame %s: %v", f.Raw, err)
		}
		ids = append(ids, p.ID)
	}
	return ids
}

// waitConnections waits until the server has n client connections.
func waitConnections(t *testing.T, u *upstream, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), bound)
	defer cancel()
	if err := u.srv.WaitConnections(ctx, n); err != nil {
		t.Fatalf("waiting for %d server connections: %v", n, err)
	}
}

// posted returns the client_message_ids of the messages the server holds in
// conv, oldest first: what was delivered, once each.
func (u *upstream) posted(conv string) []string {
	var ids []string
	for _, m := range u.srv.Messages(conv) {
		ids = append(ids, m.ClientMessageID)
	}
	return ids
}

// wsSender is the bridge's adapter from the outbox to the WebSocket client.
type wsSender struct{ c *ws.Client }

func (s wsSender) SendMessage(ctx context.Context, m Message) error {
	type payload struct {
		ConversationID  string `json:"conversation_id"`
		Content         string `json:"content"`
		ClientMessageID string `json:"client_message_id"`
	}
	frame, err := json.Marshal(struct {
		Type    string  `json:"type"`
		Payload payload `json:"payload"`
	}{"chat.message", payload{m.ConversationID, m.Content, m.ClientMessageID}})
	if err != nil {
		return err
	}
	return s.c.Send(ctx, frame)
}

// route is the bridge's wiring of upstream frames to the outbox: the echo of
// a chat.message acknowledges it, an error frame with a ref fails it.
func route(o *Outbox, frame []byte) {
	var env struct {
		Type    string `json:"type"`
		Payload struct {
			ClientMessageID string `json:"client_message_id"`
			Ref             string `json:"ref"`
			Code            string `json:"code"`
			Message         string `json:"message"`
		} `json:"payload"`
	}
	if json.Unmarshal(frame, &env) != nil {
		return
	}
	switch p := env.Payload; {
	case env.Type == "chat.message" && p.ClientMessageID != "":
		o.Ack(p.ClientMessageID)
	case env.Type == "error" && p.Ref != "":
		o.Fail(p.Ref, p.Code+": "+p.Message)
	}
}

// rig is an outbox wired to a real ws.Client as the bridge wires them, both
// running until stop (called at the end of the test at the latest).
type rig struct {
	t      *testing.T
	ob     *Outbox
	ups    *waitLog[Update]
	states *waitLog[ws.State]
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

func newRig(t *testing.T, url string, cfg Config) *rig {
	t.Helper()
	r := &rig{t: t, ups: newWaitLog[Update](), states: newWaitLog[ws.State]()}
	cfg.OnUpdate = r.ups.add
	sender := &wsSender{}
	cfg.Sender = sender
	ob, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	r.ob = ob
	client, err := ws.New(ws.Config{
		URL:          url,
		Token:        ws.StaticToken(demo.DemoToken),
		ReconnectMin: 5 * time.Millisecond,
		ReconnectMax: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("ws.New: %v", err)
	}
	sender.c = client
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		if err := client.Run(ctx, rigHandler{r}); err != nil {
			t.Errorf("ws Run: %v", err)
		}
	}()
	go func() {
		defer r.wg.Done()
		if err := ob.Run(ctx); err != nil {
			t.Errorf("outbox Run: %v", err)
		}
	}()
	t.Cleanup(r.stop)
	return r
}

// rigHandler is the bridge's wiring of the connection to the outbox.
type rigHandler struct{ r *rig }

func (rigHandler) OpenConn(string) ws.Opening { return ws.Opening{Ready: true} }

func (h rigHandler) HandleFrame(f ws.Frame) ws.Reaction {
	route(h.r.ob, f.Data)
	return ws.Reaction{}
}

func (h rigHandler) HandleState(s ws.Status) {
	h.r.ob.SetConnected(s.State == ws.StateConnected)
	h.r.states.add(s.State)
}

// stop ends the client and the flusher and closes the outbox.
func (r *rig) stop() {
	r.once.Do(func() {
		r.cancel()
		r.wg.Wait()
		if _, err := r.ob.Close(); err != nil {
			r.t.Errorf("Close: %v", err)
		}
	})
}

// waitState waits until the client has entered state st since the last
// count states (0 = ever).
func (r *rig) waitState(st ws.State, after int) int {
	r.t.Helper()
	return r.states.wait(r.t, "state "+string(st), func(s []ws.State) bool {
		for i := after; i < len(s); i++ {
			if s[i] == st {
				return true
			}
		}
		return false
	})
}

// waitStatus waits until every id has reached status st.
func (r *rig) waitStatus(st Status, ids ...string) {
	r.t.Helper()
	r.ups.wait(r.t, fmt.Sprintf("%d messages %s", len(ids), st), func(us []Update) bool {
		seen := map[string]bool{}
		for _, u := range us {
			if u.Status == st {
				seen[u.Message.ClientMessageID] = true
			}
		}
		for _, id := range ids {
			if !seen[id] {
				return false
			}
		}
		return true
	})
}

// statuses returns the updates of one message, in order.
func (r *rig) statuses(id string) []Status {
	var out []Status
	for _, u := range r.ups.all() {
		if u.Message.ClientMessageID == id {
			out = append(out, u.Status)
		}
	}
	return out
}

// submit submits one message to conv and returns its status.
func (r *rig) submit(id, conv string) Status {
	r.t.Helper()
	st, err := r.ob.Submit(r.t.Context(), Message{ClientMessageID: id, ConversationID: conv, Content: "text of " + id})
	if err != nil {
		r.t.Fatalf("Submit %s: %v", id, err)
	}
	return st
}

// nopSender is a Sender for tests that never connect.
type nopSender struct{}

func (nopSender) SendMessage(context.Context, Message) error { return errors.New("not connected") }
