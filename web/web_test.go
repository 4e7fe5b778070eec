package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// serve starts Handler on a real loopback server.
func serve(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, srv *httptest.Server, method, target string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return res, body
}

func embedded(t *testing.T, name string) []byte {
	t.Helper()
	b, err := files.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHandlerServesTheApp(t *testing.T) {
	srv := serve(t)
	tests := []struct {
		path, file, contentType string
	}{
		{"/", "index.html", "text/html; charset=utf-8"},
		{"/index.html", "index.html", "text/html; charset=utf-8"},
		{"/app.js", "app.js", "text/javascript; charset=utf-8"},
		{"/api.js", "api.js", "text/javascript; charset=utf-8"},
		{"/client.js", "client.js", "text/javascript; charset=utf-8"},
		{"/client-worker.js", "client-worker.js", "text/javascript; charset=utf-8"},
		{"/stream.js", "stream.js", "text/javascript; charset=utf-8"},
		{"/openapi.d.ts", "openapi.d.ts", "text/plain; charset=utf-8"},
		{"/app.css", "app.css", "text/css; charset=utf-8"},
		{"/favicon.svg", "favicon.svg", "image/svg+xml"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, body := do(t, srv, http.MethodGet, tt.path, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", res.StatusCode)
			}
			for name, want := range map[string]string{
				"Content-Type":           tt.contentType,
				"Cache-Control":          "no-cache",
				"X-Content-Type-Options": "nosniff",
			} {
				if got := res.Header.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if res.Header.Get("ETag") == "" {
				t.Error("no ETag")
			}
			isPage := tt.file == "index.html"
			if csp := res.Header.Get("Content-Security-Policy"); (csp != "") != isPage {
				t.Errorf("Content-Security-Policy = %q on %s", csp, tt.path)
			}
			if string(body) != string(embedded(t, tt.file)) {
				t.Errorf("body is not %s", tt.file)
			}
		})
	}
}

func TestHandlerServesEveryEmbeddedFileWithItsType(t *testing.T) {
	srv := serve(t)
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		want, ok := contentTypes[path.Ext(name)]
		if !ok {
			t.Errorf("%s: no Content-Type for %q; add it to contentTypes", name, path.Ext(name))
			return nil
		}
		res, _ := do(t, srv, http.MethodGet, "/"+name, nil)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != want {
			t.Errorf("GET /%s = %d %q, want 200 %q", name, res.StatusCode, res.Header.Get("Content-Type"), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHandlerRefuses(t *testing.T) {
	srv := serve(t)
	tests := []struct {
		method, path string
		want         int
		allow        string
	}{
		{http.MethodGet, "/nope.js", http.StatusNotFound, ""},
		{http.MethodGet, "/web.go", http.StatusNotFound, ""},
		{http.MethodGet, "/app.js/", http.StatusNotFound, ""},
		{http.MethodGet, "/messages", http.StatusNotFound, ""},
		{http.MethodPost, "/", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodDelete, "/app.js", http.StatusMethodNotAllowed, "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res, _ := do(t, srv, tt.method, tt.path, nil)
			if res.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.want)
			}
			if got := res.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestHandlerHeadAndRevalidation(t *testing.T) {
	srv := serve(t)

	res, body := do(t, srv, http.MethodHead, "/", nil)
	if res.StatusCode != http.StatusOK || len(body) != 0 || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("HEAD / = %d, %d body bytes, %q", res.StatusCode, len(body), res.Header.Get("Content-Type"))
	}

	res, _ = do(t, srv, http.MethodGet, "/app.js", nil)
	etag := res.Header.Get("ETag")
	res, body = do(t, srv, http.MethodGet, "/app.js", http.Header{"If-None-Match": {etag}})
	if res.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("GET /app.js with its ETag = %d, %d body bytes; want 304, none", res.StatusCode, len(body))
	}
}

var (
	// src="..." and href="..." in index.html.
	htmlRef = regexp.MustCompile(`\b(?:src|href)\s*=\s*"([^"]*)"`)
	// import ... from './x.js', export ... from './x.js', import('./x.js') (also as a JSDoc type:
	// import('./openapi') is openapi.d.ts) and new URL('./x.js', import.meta.url) (a worker).
	jsImport = regexp.MustCompile(`(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+|\bnew URL\(\s*)['"]([^'"]+)['"]`)
)

// TestIndexReferencesEmbeddedFiles checks that the page loads nothing that is not embedded (no
// CDN, no web font, no missing file), following the module imports from app.js, and that every
// embedded file is used.
func TestIndexReferencesEmbeddedFiles(t *testing.T) {
	used := map[string]bool{"index.html": true}
	var queue []string
	ref := func(from, target string) {
		if strings.HasPrefix(target, "#") {
			return // a link inside the page
		}
		name := strings.TrimPrefix(target, "./")
		if path.Ext(name) == "" {
			name += ".d.ts" // a JSDoc type import
		}
		if strings.Contains(target, ":") || strings.HasPrefix(target, "/") || strings.Contains(name, "/") {
			t.Errorf("%s references %q: only files beside index.html, by relative name", from, target)
			return
		}
		if _, err := fs.Stat(files, name); err != nil {
			t.Errorf("%s references %q, which is not embedded", from, target)
			return
		}
		if !used[name] {
			used[name] = true
			if path.Ext(name) == ".js" {
				queue = append(queue, name)
			}
		}
	}

	for _, m := range htmlRef.FindAllStringSubmatch(string(embedded(t, "index.html")), -1) {
		ref("index.html", m[1])
	}
	if !used["app.js"] || !used["app.css"] {
		t.Fatalf("index.html does not load app.js and app.css (found %v)", used)
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		for _, line := range strings.Split(string(embedded(t, name)), "\n") {
			for _, m := range jsImport.FindAllStringSubmatch(line, -1) {
				ref(name, m[1])
			}
		}
	}

	all, err := fs.ReadDir(files, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		if !used[e.Name()] {
			t.Errorf("%s is embedded but nothing loads it", e.Name())
		}
	}
}

// TestNoExternalResources keeps the app self-contained: no absolute URL and no CSS import
// anywhere in the page, the stylesheet or the modules.
func TestNoExternalResources(t *testing.T) {
	all, err := fs.ReadDir(files, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		if path.Ext(e.Name()) == ".svg" {
			continue // its xmlns is a name, not a resource
		}
		text := string(embedded(t, e.Name()))
		for _, bad := range []string{"://", "@import"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s contains %q", e.Name(), bad)
			}
		}
	}
}

// TestTestIDs keeps the hooks that the browser tests use where they are documented.
func TestTestIDs(t *testing.T) {
	tests := []struct {
		file string
		ids  []string
	}{
		{"index.html", []string{"connection-state", "stream-state", "composer", "send", "typing", "errors"}},
		{"ui.js", []string{"conversation", "message", "person", "error", "retry"}},
		{"calls.js", []string{"call-notice", "call-accept", "call-reject", "call-end", "call-dismiss"}},
	}
	for _, tt := range tests {
		text := string(embedded(t, tt.file))
		for _, id := range tt.ids {
			if !strings.Contains(text, `data-testid="`+id+`"`) && !strings.Contains(text, `testid: '`+id+`'`) &&
				!strings.Contains(text, `button('`+id+`'`) {
				t.Errorf("%s: no data-testid %q", tt.file, id)
			}
		}
	}
}
