package api

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	testAPIToken = "s3cret-Api-Token-4711"
	secMessage   = `{"conversation_id": "general", "content": "hi"}`
	secJSON      = "application/json"
)

// secRig is the rig's API behind the Security middleware, served over real HTTP.
type secRig struct {
	*rig
	port string // the port of url, as in the Host the client sends
	addr string // host:port for raw TCP requests
}

func newSecRig(t *testing.T, cfg SecurityConfig) *secRig {
	t.Helper()
	sec, err := NewSecurity(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, func(c *Config) { c.Security = sec })
	u, err := url.Parse(r.url)
	if err != nil {
		t.Fatal(err)
	}
	return &secRig{rig: r, port: u.Port(), addr: u.Host}
}

// call is one request a test sends; header holds name, value pairs (a name may repeat).
type call struct {
	method, path, host, contentType, body string
	header                                []string
}

// noRedirect shows a redirect instead of following it, and keeps no cookies.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// send makes the call and returns the whole answer, checked against openapi.yaml.
func (s *secRig) send(t *testing.T, c call) exchange {
	t.Helper()
	// A bound, so that a stream answered where a refusal was due fails instead of hanging.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.method, s.url+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.host != "" {
		req.Host = c.host
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	for i := 0; i+1 < len(c.header); i += 2 {
		req.Header.Add(c.header[i], c.header[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", c.method, c.path, err)
	}
	ex := exchange{req: req, reqBody: []byte(c.body), status: resp.StatusCode, header: resp.Header, body: body}
	checkAgainstSpec(t, ex)
	return ex
}

// raw writes request on a fresh TCP connection and returns the status and body of the answer.
func (s *secRig) raw(t *testing.T, request string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the answer to %q: %v", request, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// wantNoToken fails if the API token appears in the answer's headers or body (the cookie of
// GET /?access_token= carries it base64url-encoded).
func wantNoToken(t *testing.T, ex exchange) {
	t.Helper()
	if strings.Contains(string(ex.body), testAPIToken) {
		t.Errorf("%s %s: the token is in the body %.300q", ex.req.Method, ex.req.URL.Path, ex.body)
	}
	for name, values := range ex.header {
		for _, v := range values {
			if strings.Contains(v, testAPIToken) {
				t.Errorf("%s %s: the token is in the header %s: %q", ex.req.Method, ex.req.URL.Path, name, v)
			}
		}
	}
}

// wantCORS checks the CORS answer for an allowed origin: exactly that origin, never *.
func wantCORS(t *testing.T, h http.Header, origin string) {
	t.Helper()
	if got := h.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != origin {
		t.Errorf("Access-Control-Allow-Origin %q, want exactly %q", got, origin)
	}
	if !headerHas(h, "Vary", "Origin") {
		t.Errorf("Vary %q, want it to name Origin", h.Values("Vary"))
	}
	if got := h.Get("Access-Control-Allow-Credentials"); got != "true" {
		t.Errorf("Access-Control-Allow-Credentials %q, want true", got)
	}
}

// wantNoCORS checks that a refused origin learns nothing through CORS.
func wantNoCORS(t *testing.T, h http.Header) {
	t.Helper()
	for _, name := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods"} {
		if v := h.Values(name); len(v) > 0 {
			t.Errorf("%s %q on a refusal", name, v)
		}
	}
}

// headerHas reports whether the comma-separated values of name in h include want.
func headerHas(h http.Header, name, want string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), want) {
				return true
			}
		}
	}
	return false
}

func TestSecurityHostAllowlist(t *testing.T) {
	s := newSecRig(t, SecurityConfig{AllowHosts: []string{"bridge.example", "pinned.example:8443", "[fd00::5]"}})
	p := s.port
	tests := []struct {
		host  string // "" sends the URL's own 127.0.0.1:port
		allow bool
	}{
		{"", true},
		{"localhost:" + p, true},
		{"LocalHost:" + p, true},
		{"localhost.:" + p, true},
		{"127.0.0.1:" + p, true},
		{"[::1]:" + p, true},
		{"localhost", true},
		{"127.0.0.1", true},
		{"[::1]", true},
		{"localhost:1", true}, // any port: a proxy may forward another one
		{"bridge.example", true},
		{"Bridge.Example.:443", true},
		{"pinned.example:8443", true},
		{"[fd00::5]:" + p, true},
		{"pinned.example", false},
		{"pinned.example:8444", false},
		{"evil.example", false},
		{"evil.example:" + p, false},
		{"localhost.evil.example:" + p, false},
		{"127.0.0.1.nip.io:" + p, false},
		{"bridge.example.evil.example", false},
		{"[::ffff:127.0.0.1]:" + p, false},
		{"127.0.0.2:" + p, false},
		{"localhost:99999", false},
		{"localhost:http", false},
	}
	requests := []call{
		{method: "GET", path: "/healthz"},
		{method: "GET", path: "/connection"},
		{method: "POST", path: "/messages", contentType: secJSON, body: secMessage},
		{method: "GET", path: "/nope"},
	}
	for _, tt := range tests {
		for _, c := range requests {
			c.host = tt.host
			t.Run(fmt.Sprintf("%s %s Host %s", c.method, c.path, tt.host), func(t *testing.T) {
				ex := s.send(t, c)
				if !tt.allow {
					wantProblem(t, ex, http.StatusForbidden, "forbidden-host")
					return
				}
				if ex.status == http.StatusForbidden {
					t.Fatalf("Host %q refused: %s", tt.host, ex.body)
				}
			})
		}
	}
}

func TestSecurityRebindingHostRefusedEverywhere(t *testing.T) {
	s := newSecRig(t, SecurityConfig{AllowOrigins: []string{"http://localhost:5173"}})
	for _, c := range []call{
		{method: "GET", path: "/events"},
		{method: "GET", path: "/events/messages", header: []string{"Accept", "text/event-stream"}},
		{method: "GET", path: "/healthz"},
		{method: "POST", path: "/messages", contentType: secJSON, body: secMessage},
		{method: "PUT", path: "/connection", contentType: secJSON, body: `{"access_token": "x"}`},
		{method: "DELETE", path: "/connection"},
		{method: "OPTIONS", path: "/messages", header: []string{"Origin", "http://localhost:5173", "Access-Control-Request-Method", "POST"}},
		{method: "OPTIONS", path: "/messages", header: []string{"Origin", "http://evil.example:" + s.port, "Access-Control-Request-Method", "POST"}},
	} {
		c.host = "evil.example:" + s.port
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			ex := s.send(t, c)
			wantProblem(t, ex, http.StatusForbidden, "forbidden-host")
			wantNoCORS(t, ex.header)
		})
	}
	// The refusals changed nothing: the upstream is still connected.
	if st := s.client.Status().State; st != "connected" {
		t.Errorf("upstream state %s after refused requests, want connected", st)
	}
}

func TestSecurityMissingOrForeignHostOnTheWire(t *testing.T) {
	s := newSecRig(t, SecurityConfig{})
	tests := []struct {
		name, request string
		status        int
	}{
		{"HTTP/1.0 without Host", "GET /healthz HTTP/1.0\r\n\r\n", http.StatusForbidden},
		{"HTTP/1.0 with an empty Host", "GET /healthz HTTP/1.0\r\nHost:\r\n\r\n", http.StatusForbidden},
		{"HTTP/1.0 with Host", "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", http.StatusOK},
		// net/http itself refuses HTTP/1.1 without Host, before any handler.
		{"HTTP/1.1 without Host", "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", http.StatusBadRequest},
		// An absolute request target names the host, and net/http takes it over the header.
		{"absolute target on a foreign host", "GET http://evil.example/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", http.StatusForbidden},
		{"absolute target on localhost", "GET http://localhost/healthz HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := s.raw(t, tt.request)
			if status != tt.status {
				t.Fatalf("status %d, want %d (body %.300q)", status, tt.status, body)
			}
			if status == http.StatusForbidden && !strings.Contains(body, problemBase+"forbidden-host") {
				t.Errorf("body %.300q is not the forbidden-host problem", body)
			}
		})
	}
}

func TestSecurityOrigin(t *testing.T) {
	s := newSecRig(t, SecurityConfig{AllowOrigins: []string{"http://localhost:5173", "https://App.Example:443/"}})
	p := s.port
	tests := []struct {
		origin string
		allow  bool
	}{
		{"http://127.0.0.1:" + p, true}, // the bridge's own origins
		{"http://localhost:" + p, true},
		{"http://[::1]:" + p, true},
		{"http://LOCALHOST:" + p, true},
		{"http://localhost:5173", true}, // --allow-origin
		{"http://Localhost:5173", true},
		{"https://app.example", true},
		{"https://app.example:443", true},
		{"https://evil.example", false},
		{"http://evil.example:" + p, false},
		{"null", false},
		{"", false},
		{"http://localhost:5174", false},
		{"https://localhost:5173", false},
		{"http://app.example", false},
		{"http://127.0.0.1:" + p + "/path", false},
		{"http://user@127.0.0.1:" + p, false},
		{"file://", false},
		{"*", false},
	}
	for _, tt := range tests {
		for _, c := range []call{
			{method: "POST", path: "/messages", contentType: secJSON, body: secMessage},
			{method: "GET", path: "/connection"},
			{method: "GET", path: "/nope"},
		} {
			c.header = []string{"Origin", tt.origin}
			t.Run(fmt.Sprintf("%s %s from %q", c.method, c.path, tt.origin), func(t *testing.T) {
				ex := s.send(t, c)
				if !tt.allow {
					wantProblem(t, ex, http.StatusForbidden, "forbidden-origin")
					wantNoCORS(t, ex.header)
					return
				}
				if ex.status == http.StatusForbidden {
					t.Fatalf("origin %q refused: %s", tt.origin, ex.body)
				}
				wantCORS(t, ex.header, tt.origin)
				if !headerHas(ex.header, "Access-Control-Expose-Headers", "Retry-After") {
					t.Errorf("Access-Control-Expose-Headers %q, want Retry-After", ex.header.Values("Access-Control-Expose-Headers"))
				}
			})
		}
	}

	t.Run("two Origin headers", func(t *testing.T) {
		ex := s.send(t, call{method: "GET", path: "/connection", header: []string{"Origin", "http://localhost:5173", "Origin", "https://evil.example"}})
		wantProblem(t, ex, http.StatusForbidden, "forbidden-origin")
	})
	t.Run("a foreign origin on a stream", func(t *testing.T) {
		ex := s.send(t, call{method: "GET", path: "/events?topics=messages", header: []string{"Origin", "https://evil.example", "Accept", "text/event-stream"}})
		wantProblem(t, ex, http.StatusForbidden, "forbidden-origin")
	})
	t.Run("an allowed origin on a stream", func(t *testing.T) {
		c := s.openStream(t, "/events/connection", "Origin", "http://localhost:5173")
		wantCORS(t, c.resp.Header, "http://localhost:5173")
		if e := c.nextEvent(t); e.Event != "connection.state" {
			t.Errorf("first event %+v, want connection.state", e)
		}
	})
	t.Run("no Origin: no CORS answer", func(t *testing.T) {
		ex := s.send(t, call{method: "GET", path: "/connection"})
		if ex.status != http.StatusOK || ex.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("status %d, Access-Control-Allow-Origin %q; want 200 and none", ex.status, ex.header.Get("Access-Control-Allow-Origin"))
		}
	})
}

func TestSecurityPreflight(t *testing.T) {
	s := newSecRig(t, SecurityConfig{AllowOrigins: []string{"http://localhost:5173"}, APIToken: testAPIToken})
	own := "http://localhost:" + s.port
	for _, path := range []string{"/messages", "/typing", "/calls/c1/accept", "/connection", "/events", "/events/messages", "/healthz", "/", "/nope"} {
		for _, origin := range []string{own, "http://localhost:5173"} {
			t.Run(path+" from "+origin, func(t *testing.T) {
				ex := s.send(t, call{method: "OPTIONS", path: path, header: []string{"Origin", origin,
					"Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "content-type,authorization"}})
				if ex.status != http.StatusNoContent || len(ex.body) != 0 {
					t.Fatalf("status %d body %.200q, want 204 and no body", ex.status, ex.body)
				}
				wantCORS(t, ex.header, origin)
				for name, want := range map[string]string{
					"Access-Control-Allow-Methods": "GET, POST, PUT, DELETE",
					"Access-Control-Allow-Headers": "Content-Type, Authorization, Last-Event-ID",
					"Access-Control-Max-Age":       "600",
				} {
					if got := ex.header.Get(name); got != want {
						t.Errorf("%s %q, want %q", name, got, want)
					}
				}
			})
		}
	}
	for _, origin := range []string{"https://evil.example", "null", "http://localhost:5174"} {
		t.Run("refused from "+origin, func(t *testing.T) {
			ex := s.send(t, call{method: "OPTIONS", path: "/messages", header: []string{"Origin", origin, "Access-Control-Request-Method", "POST"}})
			wantProblem(t, ex, http.StatusForbidden, "forbidden-origin")
			wantNoCORS(t, ex.header)
		})
	}
}

func TestNewSecurityRefusesBadEntries(t *testing.T) {
	tests := []struct {
		name string
		cfg  SecurityConfig
		flag string
	}{
		{"origin wildcard", SecurityConfig{AllowOrigins: []string{"*"}}, "--allow-origin"},
		{"origin null", SecurityConfig{AllowOrigins: []string{"null"}}, "--allow-origin"},
		{"origin without scheme", SecurityConfig{AllowOrigins: []string{"localhost:5173"}}, "--allow-origin"},
		{"origin with a path", SecurityConfig{AllowOrigins: []string{"http://localhost:5173/app"}}, "--allow-origin"},
		{"origin ftp", SecurityConfig{AllowOrigins: []string{"ftp://example.com"}}, "--allow-origin"},
		{"origin with a bad port", SecurityConfig{AllowOrigins: []string{"http://example.com:70000"}}, "--allow-origin"},
		{"empty origin", SecurityConfig{AllowOrigins: []string{""}}, "--allow-origin"},
		{"host wildcard", SecurityConfig{AllowHosts: []string{"*"}}, "--allow-host"},
		{"host with a scheme", SecurityConfig{AllowHosts: []string{"http://example.com"}}, "--allow-host"},
		{"host with a bad port", SecurityConfig{AllowHosts: []string{"example.com:x"}}, "--allow-host"},
		{"unbracketed IPv6 host", SecurityConfig{AllowHosts: []string{"fd00::5"}}, "--allow-host"},
		{"empty host", SecurityConfig{AllowHosts: []string{""}}, "--allow-host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.APIToken = testAPIToken
			_, err := NewSecurity(tt.cfg)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.flag) || strings.Contains(err.Error(), testAPIToken) {
				t.Errorf("error %q: want it to name %s and not the token", err, tt.flag)
			}
		})
	}
	if _, err := NewSecurity(SecurityConfig{}); err != nil {
		t.Errorf("the zero config: %v", err)
	}
}

func TestSplitHost(t *testing.T) {
	tests := []struct {
		in, name, port string
		ok             bool
	}{
		{"localhost", "localhost", "", true},
		{"LOCALHOST.:08080", "localhost", "8080", true},
		{"localhost:", "localhost", "", true},
		{"127.0.0.1:80", "127.0.0.1", "80", true},
		{"[::1]", "[::1]", "", true},
		{"[0:0:0:0:0:0:0:1]:8080", "[::1]", "8080", true},
		{"[::1]x", "", "", false},
		{"[::1", "", "", false},
		{"[fe80::1%25eth0]", "", "", false},
		{"[127.0.0.1]", "", "", false},
		{"::1", "", "", false},
		{"", "", "", false},
		{".", "", "", false},
		{"..", "", "", false},
		{"a..b", "", "", false},
		{".a", "", "", false},
		{":8080", "", "", false},
		{"a b", "", "", false},
		{"evil.example:65536", "", "", false},
		{"évil.example", "", "", false},
	}
	for _, tt := range tests {
		name, port, ok := splitHost(tt.in)
		if name != tt.name || port != tt.port || ok != tt.ok {
			t.Errorf("splitHost(%q) = %q, %q, %v; want %q, %q, %v", tt.in, name, port, ok, tt.name, tt.port, tt.ok)
		}
	}
}

// FuzzSecurityParsers checks that the Host and Origin parsers never panic and that what they
// accept is normalized: parsing their output again gives the same output.
func FuzzSecurityParsers(f *testing.F) {
	for _, s := range []string{"localhost:8080", "[::1]:1", "http://localhost:5173", "https://a.example:443", "null", "[", "a:b:c", "http://[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if name, port, ok := splitHost(s); ok {
			if n2, p2, ok2 := splitHost(joinHost(name, port)); !ok2 || n2 != name || p2 != port {
				t.Errorf("splitHost(%q) = %q %q, which parses to %q %q %v", s, name, port, n2, p2, ok2)
			}
		}
		if o, ok := parseOrigin(s); ok {
			if o2, ok2 := parseOrigin(o.String()); !ok2 || o2 != o {
				t.Errorf("parseOrigin(%q) = %v, which parses to %v %v", s, o, o2, ok2)
			}
		}
	})
}
