package api

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestSecurityAPIToken(t *testing.T) {
	s := newSecRig(t, SecurityConfig{APIToken: testAPIToken, AllowOrigins: []string{"http://localhost:5173"}})
	var seen []exchange
	send := func(t *testing.T, c call) exchange {
		t.Helper()
		ex := s.send(t, c)
		seen = append(seen, ex)
		return ex
	}
	bearer := []string{"Authorization", "Bearer " + testAPIToken}
	cookie := []string{"Cookie", "theme=dark; chatbridge_token=" + testAPIToken}

	refused := []struct {
		name   string
		c      call
		reason string // "" for a missing token, else invalid_token
	}{
		{"no token", call{method: "GET", path: "/connection"}, ""},
		{"no token on a post", call{method: "POST", path: "/messages", contentType: secJSON, body: secMessage}, ""},
		{"no token on a stream", call{method: "GET", path: "/events"}, ""},
		{"no token on the web app", call{method: "GET", path: "/"}, ""},
		{"no token on an unknown path", call{method: "GET", path: "/nope"}, ""},
		{"wrong bearer", call{method: "GET", path: "/connection", header: []string{"Authorization", "Bearer wrong"}}, "invalid_token"},
		{"bearer with a longer token", call{method: "GET", path: "/connection", header: []string{"Authorization", "Bearer " + testAPIToken + "x"}}, "invalid_token"},
		{"bearer with a prefix", call{method: "GET", path: "/connection", header: []string{"Authorization", "Bearer " + testAPIToken[:5]}}, "invalid_token"},
		{"the token as Basic", call{method: "GET", path: "/connection", header: []string{"Authorization", "Basic " + testAPIToken}}, "invalid_token"},
		{"wrong query", call{method: "GET", path: "/events?access_token=wrong"}, "invalid_token"},
		{"wrong cookie", call{method: "GET", path: "/connection", header: []string{"Cookie", "chatbridge_token=wrong"}}, "invalid_token"},
		{"wrong token on the web app", call{method: "GET", path: "/?access_token=wrong"}, "invalid_token"},
		{"from an allowed origin", call{method: "GET", path: "/connection", header: []string{"Origin", "http://localhost:5173"}}, ""},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			ex := send(t, tt.c)
			wantProblem(t, ex, http.StatusUnauthorized, "unauthorized")
			want := `Bearer realm="chatbridge"`
			if tt.reason != "" {
				want += `, error="` + tt.reason + `"`
			}
			if got := ex.header.Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate %q, want %q", got, want)
			}
			if len(ex.header.Values("Set-Cookie")) > 0 {
				t.Errorf("Set-Cookie %q on a refusal", ex.header.Values("Set-Cookie"))
			}
			if o := tt.c.header; len(o) == 2 && o[0] == "Origin" {
				wantCORS(t, ex.header, o[1]) // so that the page can read the 401
			}
		})
	}

	accepted := []struct {
		name   string
		c      call
		status int
	}{
		{"healthz without a token", call{method: "GET", path: "/healthz"}, http.StatusOK},
		{"bearer", call{method: "GET", path: "/connection", header: bearer}, http.StatusOK},
		{"bearer in lower case", call{method: "GET", path: "/connection", header: []string{"Authorization", "bearer " + testAPIToken}}, http.StatusOK},
		{"bearer on a post", call{method: "POST", path: "/messages", contentType: secJSON, body: secMessage, header: bearer}, http.StatusAccepted},
		{"query", call{method: "GET", path: "/connection?access_token=" + testAPIToken}, http.StatusOK},
		{"cookie", call{method: "GET", path: "/connection", header: cookie}, http.StatusOK},
		{"a wrong bearer and a good cookie", call{method: "GET", path: "/connection", header: append([]string{"Authorization", "Bearer wrong"}, cookie...)}, http.StatusOK},
		{"bearer on an unknown path", call{method: "GET", path: "/nope?access_token=" + testAPIToken}, http.StatusNotFound},
		{"bearer on a wrong method", call{method: "PATCH", path: "/connection", header: bearer}, http.StatusMethodNotAllowed},
		{"bearer from an allowed origin", call{method: "GET", path: "/connection", header: append([]string{"Origin", "http://localhost:5173"}, bearer...)}, http.StatusOK},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			ex := send(t, tt.c)
			if ex.status != tt.status {
				t.Fatalf("status %d, want %d (body %.300s)", ex.status, tt.status, ex.body)
			}
		})
	}

	for _, via := range []struct {
		name, path string
		header     []string
	}{
		{"query", "/events/connection?access_token=" + url.QueryEscape(testAPIToken), nil},
		{"query among others", "/events?topics=connection&access_token=" + testAPIToken + "&last_event_id=", nil},
		{"cookie", "/events/connection", cookie},
		{"bearer", "/events/connection", bearer},
	} {
		t.Run("stream with the token in the "+via.name, func(t *testing.T) {
			c := s.openStream(t, via.path, via.header...)
			if e := c.nextEvent(t); e.Event != "connection.state" || strings.Contains(e.Data, testAPIToken) {
				t.Errorf("first event %+v, want connection.state without the token", e)
			}
		})
	}

	t.Run("the web app trades the query token for a cookie", func(t *testing.T) {
		for _, tt := range []struct{ query, location string }{
			{"?access_token=" + testAPIToken, "/"},
			{"?lang=en&access_token=" + testAPIToken + "&x=%2F", "/?lang=en&x=%2F"},
			{"?access_token=wrong&access_token=" + testAPIToken, "/"},
		} {
			ex := send(t, call{method: "GET", path: "/" + tt.query})
			if ex.status != http.StatusSeeOther || ex.header.Get("Location") != tt.location {
				t.Fatalf("status %d Location %q, want 303 to %q", ex.status, ex.header.Get("Location"), tt.location)
			}
			cookies := (&http.Response{Header: ex.header}).Cookies()
			if len(cookies) != 1 {
				t.Fatalf("cookies %q, want one", ex.header.Values("Set-Cookie"))
			}
			c := cookies[0]
			if c.Name != "chatbridge_token" || c.Value != base64.RawURLEncoding.EncodeToString([]byte(testAPIToken)) || !c.HttpOnly ||
				c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
				t.Errorf("Set-Cookie %q, want chatbridge_token=base64url(TOKEN); Path=/; HttpOnly; SameSite=Strict", ex.header.Get("Set-Cookie"))
			}
			if ex.header.Get("Cache-Control") != "no-store" || ex.header.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("Cache-Control %q Referrer-Policy %q, want no-store and no-referrer",
					ex.header.Get("Cache-Control"), ex.header.Get("Referrer-Policy"))
			}
			got := send(t, call{method: "GET", path: "/connection", header: []string{"Cookie", c.String()}})
			if got.status != http.StatusOK {
				t.Errorf("with the cookie it received: status %d, want 200", got.status)
			}
		}
	})

	for _, ex := range seen {
		wantNoToken(t, ex)
	}
}

func TestSecurityTokenWithCookieUnsafeCharacters(t *testing.T) {
	const token = `a b;c"d\\e,f=`
	s := newSecRig(t, SecurityConfig{APIToken: token})
	ex := s.send(t, call{method: "GET", path: "/?access_token=" + url.QueryEscape(token)})
	cookies := (&http.Response{Header: ex.header}).Cookies()
	if ex.status != http.StatusSeeOther || len(cookies) != 1 {
		t.Fatalf("status %d cookies %q, want 303 and one cookie", ex.status, ex.header.Values("Set-Cookie"))
	}
	for _, c := range []call{
		{method: "GET", path: "/connection", header: []string{"Cookie", cookies[0].String()}},
		{method: "GET", path: "/connection", header: []string{"Authorization", "Bearer " + token}},
		{method: "GET", path: "/connection?access_token=" + url.QueryEscape(token)},
	} {
		if got := s.send(t, c); got.status != http.StatusOK {
			t.Errorf("%s %q: status %d, want 200", c.path, c.header, got.status)
		}
	}
}

func TestSecurityHandsNoTokenOn(t *testing.T) {
	sec, err := NewSecurity(SecurityConfig{APIToken: testAPIToken})
	if err != nil {
		t.Fatal(err)
	}
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s\n%s\n%q\n%q", r.RequestURI, r.URL.RawQuery, r.Header.Values("Authorization"), r.Header.Values("Cookie"))
	})
	srv := httptest.NewServer(sec.Middleware(echo))
	defer srv.Close()
	for _, tt := range []struct {
		name, path string
		header     []string
		want       string
	}{
		{"query", "/x?a=1&access_token=" + testAPIToken + "&b=%20", nil, "/x?a=1&b=%20\na=1&b=%20\n[]\n[]"},
		{"bearer", "/x", []string{"Authorization", "Bearer " + testAPIToken}, "/x\n\n[]\n[]"},
		{"cookie", "/x", []string{"Cookie", "a=1; chatbridge_token=" + testAPIToken + "; b=2"}, "/x\n\n[]\n[\"a=1; b=2\"]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+tt.path, nil)
			for i := 0; i+1 < len(tt.header); i += 2 {
				req.Header.Set(tt.header[i], tt.header[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || string(body) != tt.want {
				t.Errorf("the handler saw %d %q, want 200 %q", resp.StatusCode, body, tt.want)
			}
		})
	}
}

func TestSecurityWithoutTokenPassesCredentialsThrough(t *testing.T) {
	s := newSecRig(t, SecurityConfig{})
	for _, c := range []call{
		{method: "GET", path: "/connection"},
		{method: "GET", path: "/connection?access_token=anything", header: []string{"Authorization", "Bearer anything"}},
	} {
		if ex := s.send(t, c); ex.status != http.StatusOK {
			t.Errorf("%s: status %d, want 200 (no --api-token)", c.path, ex.status)
		}
	}
}
