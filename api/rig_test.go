package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	chatbridge "github.com/chatbridge/chatbridge"
	"github.com/chatbridge/chatbridge/internal/chat"
	"github.com/chatbridge/chatbridge/internal/demo"
	"github.com/chatbridge/chatbridge/internal/dialect/envelope"
	"github.com/chatbridge/chatbridge/internal/hub"
	"github.com/chatbridge/chatbridge/internal/ws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is the API served over real HTTP, wired to a real demo upstream over a real WebSocket,
// the way cmd/bridge wires it.
type rig struct {
	url    string // the API's base URL
	demo   *demo.Server
	topics *hub.Hub
	svc    *chat.Service
	client *ws.Client
	api    *Server
	tokens *ws.SettableToken
}

// rigOption adjusts the API config before the rig starts.
type rigOption func(*Config)

func newRig(t testing.TB, opts ...rigOption) *rig {
	t.Helper()
	d := demo.New(demo.Config{})
	mux := http.NewServeMux()
	mux.Handle(demo.Path, d)
	up := httptest.NewServer(mux)

	r := &rig{demo: d, topics: hub.New(hub.Config{History: 1000, Buffer: 256}), tokens: ws.NewSettableToken(demo.DemoToken)}
	dl := envelope.New(envelope.Config{})
	client, err := ws.New(ws.Config{
		URL:   "ws" + strings.TrimPrefix(up.URL, "http") + demo.Path,
		Token: r.tokens, PingFrame: dl.Ping(),
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.client = client
	if r.svc, err = chat.NewService(chat.Config{Topics: r.topics, Transport: client, Dialect: dl}); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Chat: r.svc, Connection: &testConnection{client: client, tokens: r.tokens},
		Topics: r.topics, Snapshots: r.svc.Snapshots(), OpenAPI: chatbridge.OpenAPI}
	for _, o := range opts {
		o(&cfg)
	}
	r.api = New(cfg)
	srv := httptest.NewUnstartedServer(r.api.Handler())
	srv.Config.RegisterOnShutdown(r.api.Close)
	srv.Start()
	r.url = srv.URL

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { defer func() { done <- struct{}{} }(); _ = client.Run(ctx, r.svc) }()
	go func() { defer func() { done <- struct{}{} }(); _ = r.svc.Run(ctx) }()
	t.Cleanup(func() {
		r.api.Close()
		srv.Close()
		cancel()
		<-done
		<-done
		_, _ = r.svc.Close()
		_ = d.Close()
		up.Close()
		r.topics.Close()
	})
	r.waitState(t, "connected")
	return r
}

// waitState polls GET /connection until the upstream is in state, within a generous bound.
func (r *rig) waitState(t testing.TB, state string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.client.Status().State != ws.State(state) {
		if time.Now().After(deadline) {
			t.Fatalf("upstream never reached state %s (now %s)", state, r.client.Status().State)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testConnection is the Connection the bridge command provides, over a SettableToken.
type testConnection struct {
	client *ws.Client
	tokens *ws.SettableToken
}

func (c *testConnection) State() chat.ConnectionState {
	return chat.ConnectionStateOf(c.client.Status())
}
func (c *testConnection) SetToken(token string) { c.tokens.Set(token); c.client.Reconnect() }
func (c *testConnection) Disconnect()           { c.client.Disconnect() }

// topicsOnly is a Chat for tests that need only the topic list of the default dialect.
type topicsOnly struct{ Chat }

func (topicsOnly) Topics() []chat.TopicInfo { return defaultTopicList }

// defaultTopicList is the topic list of a Service on the default dialect.
var defaultTopicList = func() []chat.TopicInfo {
	topics := hub.New(hub.Config{})
	defer topics.Close()
	svc, err := chat.NewService(chat.Config{Topics: topics, Dialect: envelope.New(envelope.Config{})})
	if err != nil {
		panic(err)
	}
	defer svc.Close()
	return svc.Topics()
}()

// exchange is one request and its answer, as a test saw them.
type exchange struct {
	req     *http.Request
	reqBody []byte
	status  int
	header  http.Header
	body    []byte
}

// do sends a request to the API and returns the whole answer. contentType "" sends none.
// Every exchange is checked against openapi.yaml (see spec_test.go).
func (r *rig) do(t *testing.T, method, path, contentType, body string, headers ...string) exchange {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, r.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	ex := exchange{req: req, reqBody: []byte(body), status: resp.StatusCode, header: resp.Header, body: respBody}
	checkAgainstSpec(t, ex)
	return ex
}

// postJSON is do with Content-Type: application/json.
func (r *rig) postJSON(t *testing.T, path, body string) exchange {
	t.Helper()
	return r.do(t, http.MethodPost, path, "application/json", body)
}
