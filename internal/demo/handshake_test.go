package demo

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandshake(t *testing.T) {
	tests := []struct {
		name   string
		token  string
		header bool
		want   int // 0 = upgraded
	}{
		{name: "query token", token: DemoToken},
		{name: "header token", token: DemoToken, header: true},
		{name: "bot token", token: "ada-token"},
		{name: "unknown token", token: "nope", want: http.StatusUnauthorized},
		{name: "unknown header token", token: "nope", header: true, want: http.StatusUnauthorized},
		{name: "no token", want: http.StatusUnauthorized},
	}
	s, u := startServer(t, Config{})
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, resp, err := dialRaw(t, u, tt.token, tt.header)
			if tt.want == 0 {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				newClient(t, ws).barrier()
			} else if err == nil || resp == nil || resp.StatusCode != tt.want {
				t.Fatalf("dial: err %v, resp %v; want HTTP %d", err, resp, tt.want)
			}
			if got := s.Dials(); got != i+1 {
				t.Errorf("Dials() = %d, want %d", got, i+1)
			}
		})
	}
}

func TestHandshakeNotWebSocket(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	tests := []struct {
		name  string
		token string
		want  int
	}{
		{name: "bad token answers 401 before the upgrade check", token: "nope", want: http.StatusUnauthorized},
		{name: "good token but no upgrade", token: DemoToken, want: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path+"?token="+tt.token, nil))
			if rec.Code != tt.want {
				t.Errorf("status %d, want %d", rec.Code, tt.want)
			}
		})
	}
}

func TestTokenOf(t *testing.T) {
	tests := []struct {
		name, query, auth, want string
	}{
		{name: "query", query: "?token=a", want: "a"},
		{name: "bearer", auth: "Bearer b", want: "b"},
		{name: "bearer any case", auth: "bearer c", want: "c"},
		{name: "query wins", query: "?token=a", auth: "Bearer b", want: "a"},
		{name: "basic is not a token", auth: "Basic eA==", want: ""},
		{name: "empty bearer", auth: "Bearer ", want: ""},
		{name: "none", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, Path+tt.query, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			if got := tokenOf(r); got != tt.want {
				t.Errorf("tokenOf = %q, want %q", got, tt.want)
			}
		})
	}
}
