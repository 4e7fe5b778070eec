package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/go-chi/chi/v5"

	chatbridge "github.com/chatbridge/chatbridge"
	"github.com/chatbridge/chatbridge/internal/hub"
	"github.com/chatbridge/chatbridge/web"
)

// plannedKey marks an operation of openapi.yaml that is part of the contract but not served yet.
const plannedKey = "x-chatbridge-planned"

// specHost is the host of openapi.yaml's server entry; requests are routed as if sent to it.
const specHost = "127.0.0.1:8080"

// spec is openapi.yaml, loaded once for every test of the package and read-only afterwards.
var spec = sync.OnceValues(func() (*loadedSpec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(chatbridge.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route openapi.yaml: %w", err)
	}
	problem := doc.Components.Schemas["Problem"]
	if problem == nil || problem.Value == nil {
		return nil, errors.New("openapi.yaml has no components.schemas.Problem")
	}
	event := doc.Components.Schemas["StreamEvent"]
	if event == nil || event.Value == nil {
		return nil, errors.New("openapi.yaml has no components.schemas.StreamEvent")
	}
	return &loadedSpec{doc: doc, router: router, problem: problem.Value, event: event.Value, validateCtx: loader.Context}, nil
})

type loadedSpec struct {
	doc         *openapi3.T
	router      routers.Router
	problem     *openapi3.Schema
	event       *openapi3.Schema // one SSE event
	validateCtx context.Context
}

// checkEvent validates one SSE event of a built-in topic against openapi.yaml's StreamEvent.
func checkEvent(t *testing.T, e sseEvent) {
	t.Helper()
	var data any
	if err := json.Unmarshal([]byte(e.Data), &data); err != nil {
		t.Errorf("openapi.yaml: event %s: data %.200q is not JSON: %v", e.Event, e.Data, err)
		return
	}
	v := map[string]any{"event": e.Event, "data": data}
	if e.HasID {
		v["id"] = e.ID
	}
	if err := mustSpec(t).event.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		t.Errorf("openapi.yaml: event %s %.300s does not match StreamEvent: %v", e.Event, e.Data, err)
	}
}

func mustSpec(t *testing.T) *loadedSpec {
	t.Helper()
	s, err := spec()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOpenAPIDocumentValidates(t *testing.T) {
	s := mustSpec(t)
	if err := s.doc.Validate(s.validateCtx); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	if !strings.HasPrefix(s.doc.OpenAPI, "3.0") {
		t.Errorf("openapi.yaml declares openapi %q; the tooling here checks 3.0", s.doc.OpenAPI)
	}
}

// routeKey is one (method, path template) pair.
type routeKey struct{ method, path string }

func (k routeKey) String() string { return k.method + " " + k.path }

// chiTemplate turns a chi pattern into an OpenAPI path template: "{id:[0-9]+}" becomes "{id}" and
// a trailing catch-all "/*" (a file server) is documented by its root.
func chiTemplate(pattern string) string {
	var b strings.Builder
	for rest := pattern; rest != ""; {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:open])
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			b.WriteString(rest[open:])
			break
		}
		name, _, _ := strings.Cut(rest[open+1:open+end], ":")
		b.WriteString("{" + name + "}")
		rest = rest[open+end+1:]
	}
	p := b.String()
	if strings.HasSuffix(p, "/*") {
		p = strings.TrimSuffix(p, "*")
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	return p
}

func isPlanned(op *openapi3.Operation) bool {
	v, ok := op.Extensions[plannedKey].(bool)
	return ok && v
}

func TestEveryRouteIsDocumentedAndEveryPathRouted(t *testing.T) {
	s := mustSpec(t)
	topics := hub.New(hub.Config{})
	defer topics.Close()
	api := New(Config{Topics: topics, OpenAPI: chatbridge.OpenAPI})
	defer api.Close()
	routes, ok := api.Handler().(chi.Routes)
	if !ok {
		t.Fatalf("Handler() is a %T, not a chi.Routes; walk the router behind the middleware instead", api.Handler())
	}
	routed := map[routeKey]bool{}
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routed[routeKey{method, chiTemplate(route)}] = true
		return nil
	})
	if err != nil {
		t.Fatalf("walk the router: %v", err)
	}
	if len(routed) == 0 {
		t.Fatal("the router has no routes")
	}

	documented := map[routeKey]*openapi3.Operation{}
	for path, item := range s.doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[routeKey{method, path}] = op
		}
	}

	var problems []string
	for k := range routed {
		op, ok := documented[k]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s is routed but not in openapi.yaml", k))
		case isPlanned(op):
			problems = append(problems, fmt.Sprintf("%s (%s) is routed now: remove its %s marker from openapi.yaml",
				k, op.OperationID, plannedKey))
		}
	}
	for k, op := range documented {
		if !routed[k] && !isPlanned(op) {
			problems = append(problems, fmt.Sprintf("%s (%s) is in openapi.yaml but not routed (mark it %s: true if it is not served yet)",
				k, op.OperationID, plannedKey))
		}
	}
	slices.Sort(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

// TestSpecCheckerCatchesMismatches feeds the checker made-up exchanges, so that a checker that
// passes everything cannot hide behind the other tests.
func TestSpecCheckerCatchesMismatches(t *testing.T) {
	s := mustSpec(t)
	const (
		okMessage = `{"conversation_id": "general", "content": "hi"}`
		jsonType  = "application/json"
		probType  = "application/problem+json"
	)
	problem := func(status int, slug string) string {
		return fmt.Sprintf(`{"type": %q, "title": %q, "status": %d, "detail": "d"}`, problemBase+slug, http.StatusText(status), status)
	}
	tests := []struct {
		name                  string
		method, path, reqType string
		reqBody               string
		status                int
		respType, respBody    string
		retryAfter            string
		wantFinding           bool
	}{
		{"a conforming answer", "POST", "/messages", jsonType, okMessage, 202, jsonType, `{"client_message_id": "a", "status": "sent"}`, "", false},
		{"a status outside the enum", "POST", "/messages", jsonType, okMessage, 202, jsonType, `{"client_message_id": "a", "status": "done"}`, "", true},
		{"a missing required field", "POST", "/messages", jsonType, okMessage, 202, jsonType, `{"status": "sent"}`, "", true},
		{"an undocumented status", "POST", "/messages", jsonType, okMessage, 418, probType, problem(418, "teapot"), "", true},
		{"a problem as plain JSON", "POST", "/messages", jsonType, "{", 400, jsonType, problem(400, "malformed-body"), "", true},
		{"a problem with another title", "GET", "/nope", "", "", 404, probType, `{"type": "urn:chatbridge:problem:not-found", "title": "Nope", "status": 404}`, "", true},
		{"a problem with another status", "GET", "/nope", "", "", 404, probType, problem(410, "not-found"), "", true},
		{"a problem outside the urn", "GET", "/nope", "", "", 404, probType, `{"type": "about:blank", "title": "Not Found", "status": 404}`, "", true},
		{"an invalid request accepted", "POST", "/messages", jsonType, `{"content": ""}`, 202, jsonType, `{"client_message_id": "a", "status": "sent"}`, "", true},
		{"a valid request refused", "POST", "/messages", jsonType, okMessage, 422, probType, problem(422, "validation"), "", true},
		{"a 503 without Retry-After", "POST", "/typing", jsonType, `{"conversation_id": "general", "is_typing": true}`, 503, probType, problem(503, "upstream-unavailable"), "", true},
		{"a 503 with Retry-After", "POST", "/typing", jsonType, `{"conversation_id": "general", "is_typing": true}`, 503, probType, problem(503, "upstream-unavailable"), "2", false},
		{"a 204 with a body", "POST", "/typing", jsonType, `{"conversation_id": "general", "is_typing": true}`, 204, jsonType, `{}`, "", true},
		{"an unknown path answered 405", "GET", "/nope", "", "", 405, probType, problem(405, "method-not-allowed"), "", true},
		{"a wrong method answered 404", "DELETE", "/messages", "", "", 404, probType, problem(404, "not-found"), "", true},
		{"a wrong method answered 405", "DELETE", "/messages", "", "", 405, probType, problem(405, "method-not-allowed"), "", false},
		{"an undocumented media type", "GET", "/openapi.yaml", "", "", 200, "text/html", "<html>", "", true},
		{"the documented media type", "GET", "/openapi.yaml", "", "", 200, "application/yaml", "openapi: 3.0.3", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://127.0.0.1:1"+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.reqType != "" {
				req.Header.Set("Content-Type", tt.reqType)
			}
			header := http.Header{"Content-Type": {tt.respType}}
			if tt.retryAfter != "" {
				header.Set("Retry-After", tt.retryAfter)
			}
			ex := exchange{req: req, reqBody: []byte(tt.reqBody), status: tt.status, header: header, body: []byte(tt.respBody)}
			got := specFindings(s, ex)
			if tt.wantFinding && len(got) == 0 {
				t.Errorf("no finding, want one")
			}
			if !tt.wantFinding && len(got) > 0 {
				t.Errorf("findings %q, want none", got)
			}
		})
	}
}

// checkAgainstSpec validates one exchange against openapi.yaml (see specFindings) and reports
// every finding with t.Errorf, so that a test goes on to its own checks.
func checkAgainstSpec(t *testing.T, ex exchange) {
	t.Helper()
	s := mustSpec(t)
	for _, f := range specFindings(s, ex) {
		t.Errorf("openapi.yaml: %s %s answered %d: %s", ex.req.Method, ex.req.URL.RequestURI(), ex.status, f)
	}
}

// specFindings lists how an exchange disagrees with the document: the route is not documented
// (an undocumented path must answer 404, a method the path lacks 405), a request the bridge
// accepted is invalid by the document or a body the bridge refused is valid by it, the status is
// not documented for the operation, the answer's Content-Type, headers or JSON body do not match,
// or an error is not an application/problem+json Problem.
func specFindings(s *loadedSpec, ex exchange) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	if ex.status >= 400 {
		problemFindings(s, ex, add)
	}
	if ex.req.Method == http.MethodOptions {
		return out // CORS preflight: answered by the middleware, not an operation of the API
	}
	if ex.req.URL.Path != "/" && web.Has(ex.req.URL.Path) {
		return out // a file of the web app (/app.js, ...): documented as part of GET /, not an operation
	}

	req := ex.req.Clone(context.Background())
	req.URL.Scheme, req.URL.Host, req.Host = "http", specHost, specHost
	req.Body = io.NopCloser(bytes.NewReader(ex.reqBody))
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		switch ex.status {
		case http.StatusUnauthorized, http.StatusForbidden: // security checks run before routing
		case http.StatusNotFound:
			if m := documentedMethod(s, req); m != "" {
				add("the document has %s on this path: a wrong method is 405, not 404", m)
			}
		case http.StatusMethodNotAllowed:
			if documentedMethod(s, req) == "" {
				add("the document has no such path: an unknown path is 404, not 405")
			}
		default:
			add("the document has no such operation (%v)", err)
		}
		return out
	}
	for name, v := range params { // the router hands them over still percent-encoded
		if u, err := url.PathUnescape(v); err == nil {
			params[name] = u
		}
	}
	if isPlanned(route.Operation) && (ex.status == http.StatusNotFound || ex.status == http.StatusMethodNotAllowed) {
		return out // documented ahead of the code
	}

	reqIn := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
			SkipSettingDefaults: true,
			MultiError:          true,
		},
	}
	reqErr := openapi3filter.ValidateRequest(context.Background(), reqIn)
	switch {
	case ex.status < 300 && reqErr != nil:
		add("the bridge accepted a request the document calls invalid (body %.200q): %v", ex.reqBody, reqErr)
	case refusesInput(ex) && reqErr == nil && wellFormedBody(ex):
		add("the bridge refused (%s) a request the document calls valid (body %.200q): the document is looser than the bridge",
			problemType(ex), ex.reqBody)
	}

	contentType := ex.header.Get("Content-Type")
	mediaType, _, _ := mime.ParseMediaType(contentType)
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	if len(ex.body) > 0 && !isJSONMedia(mediaType) {
		// SSE, YAML, HTML, Prometheus text: the schema is of the text; check the media type only.
		opts.ExcludeResponseBody = true
		if ref := route.Operation.Responses.Status(ex.status); ref != nil && ref.Value != nil &&
			len(ref.Value.Content) > 0 && ref.Value.Content.Get(contentType) == nil {
			add("Content-Type %q is not documented for this answer", contentType)
		}
	}
	respIn := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: reqIn,
		Status:                 ex.status,
		Header:                 ex.header,
		Body:                   io.NopCloser(bytes.NewReader(ex.body)),
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), respIn); err != nil {
		add("the document does not describe this answer (body %.300q): %v", ex.body, err)
	}
	if ex.status == http.StatusNoContent && len(ex.body) > 0 {
		add("a 204 with a body %.100q", ex.body)
	}
	return out
}

// documentedMethod returns a method that the document serves on req's path, or "".
func documentedMethod(s *loadedSpec, req *http.Request) string {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		r := req.Clone(context.Background())
		r.Method = m
		if _, _, err := s.router.FindRoute(r); err == nil {
			return m
		}
	}
	return ""
}

// problemFindings checks an error answer: application/problem+json, the Problem schema, a type
// under urn:chatbridge:problem:, the status text as title and the status code as status.
func problemFindings(s *loadedSpec, ex exchange, add func(string, ...any)) {
	if mt, _, _ := mime.ParseMediaType(ex.header.Get("Content-Type")); mt != "application/problem+json" {
		add("Content-Type %q, want application/problem+json (body %.200q)", ex.header.Get("Content-Type"), ex.body)
		return
	}
	var v any
	if err := json.Unmarshal(ex.body, &v); err != nil {
		add("the problem is not JSON: %v (body %.200q)", err, ex.body)
		return
	}
	if err := s.problem.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		add("the body is not a Problem: %v", err)
		return
	}
	p := v.(map[string]any)
	if typ, _ := p["type"].(string); !strings.HasPrefix(typ, problemBase) || len(typ) == len(problemBase) {
		add("problem type %q, want %s<slug>", typ, problemBase)
	}
	if title, _ := p["title"].(string); title != http.StatusText(ex.status) {
		add("problem title %q, want %q", title, http.StatusText(ex.status))
	}
	if status, _ := p["status"].(float64); int(status) != ex.status {
		add("problem status %v", p["status"])
	}
}

// refusesInput reports whether the bridge refused the request for its body or parameters: the
// cases the document must reject too. A Content-Type without a body is outside what a document
// can say (the bridge requires application/json even then; the document says so in prose).
func refusesInput(ex exchange) bool {
	switch problemType(ex) {
	case problemBase + "malformed-body", problemBase + "validation":
		return true
	case problemBase + "unsupported-media-type":
		return len(ex.reqBody) > 0
	}
	return false
}

// wellFormedBody reports whether the request body is what the document's JSON decoder can judge:
// one UTF-8 JSON value with nothing after it. The document says application/json, so anything
// else is invalid by it, but the validator reads only the first value and mends bad UTF-8.
func wellFormedBody(ex exchange) bool {
	body := ex.reqBody
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	return utf8.Valid(body) && json.Valid(body) && iJSON(body)
}

// iJSON reports whether a JSON object body is also I-JSON (RFC 7493), as the document's
// introduction requires and no schema can say: no member name given twice, no lone surrogate
// escape in a string.
func iJSON(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return true // not an object: the schema speaks to it
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if seen[key] || dec.Decode(&v) != nil || (len(v) > 0 && v[0] == '"' && hasLoneSurrogate(v)) {
			return false
		}
		seen[key] = true
	}
	return true
}

// problemType is the type of a problem answer, or "".
func problemType(ex exchange) string {
	var p struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(ex.body, &p)
	return p.Type
}

func isJSONMedia(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}
