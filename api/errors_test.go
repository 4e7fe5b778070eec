package api

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/demo"
)

// wantProblem checks that ex is the problem answer of openapi.yaml: the status, the type
// urn:chatbridge:problem:<slug>, the status text as title, a detail, and for a 422 exactly one
// errors entry per broken field, named as in the JSON body.
func wantProblem(t *testing.T, ex exchange, status int, slug string, fields ...string) Problem {
	t.Helper()
	if ex.status != status {
		t.Fatalf("%s %s: status %d, want %d (body %.300s)", ex.req.Method, ex.req.URL.Path, ex.status, status, ex.body)
	}
	if ct := ex.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p Problem
	if err := json.Unmarshal(ex.body, &p); err != nil {
		t.Fatalf("problem body %.300q: %v", ex.body, err)
	}
	if p.Type != problemBase+slug {
		t.Errorf("type %q, want %q", p.Type, problemBase+slug)
	}
	if p.Title != http.StatusText(status) || p.Status != status {
		t.Errorf("title %q status %d, want %q %d", p.Title, p.Status, http.StatusText(status), status)
	}
	if strings.TrimSpace(p.Detail) == "" {
		t.Errorf("problem %+v has no detail", p)
	}
	if status == http.StatusUnprocessableEntity || len(fields) > 0 {
		var got []string
		for _, e := range p.Errors {
			got = append(got, e.Field)
			if !strings.Contains(e.Message, e.Field) {
				t.Errorf("errors entry %+v: the message does not name the field", e)
			}
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(fields))
		if !slices.Equal(got, want) {
			t.Errorf("errors fields %q, want exactly %q (body %.300s)", got, want, ex.body)
		}
	}
	return p
}

// wantJSON checks a JSON answer's status and decodes its body into dst.
func wantJSON(t *testing.T, ex exchange, status int, dst any) {
	t.Helper()
	if ex.status != status {
		t.Fatalf("%s %s: status %d, want %d (body %.300s)", ex.req.Method, ex.req.URL.Path, ex.status, status, ex.body)
	}
	if ct := ex.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if err := json.Unmarshal(ex.body, dst); err != nil {
		t.Fatalf("body %.300q: %v", ex.body, err)
	}
}

// msg builds a JSON object of string fields from key, value pairs.
func msg(kv ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestPostMessageErrors(t *testing.T) {
	r := newRig(t)
	const jsonType = "application/json"
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		slug        string   // "" for a 202
		fields      []string // the errors entries of a 422
	}{
		{"malformed JSON", jsonType, `{"conversation_id": "general", "content": "hi"`, 400, "malformed-body", nil},
		{"not JSON at all", jsonType, `hello`, 400, "malformed-body", nil},
		{"wrong type", jsonType, `{"conversation_id": "general", "content": 5}`, 400, "malformed-body", nil},
		{"array body", jsonType, `[{"conversation_id": "general", "content": "hi"}]`, 400, "malformed-body", nil},
		{"unknown field", jsonType, `{"conversation_id": "general", "content": "hi", "colour": "red"}`, 400, "malformed-body", nil},
		{"trailing object", jsonType, `{"conversation_id": "general", "content": "hi"} {}`, 400, "malformed-body", nil},
		{"trailing garbage", jsonType, `{"conversation_id": "general", "content": "hi"}x`, 400, "malformed-body", nil},
		{"empty body", jsonType, ``, 400, "malformed-body", nil},
		{"blank body", jsonType, " \n", 400, "malformed-body", nil},
		{"invalid UTF-8", jsonType, "{\"conversation_id\": \"general\", \"content\": \"caf\xe9\"}", 400, "malformed-body", nil},
		{"two broken fields", jsonType, `{"content": ""}`, 422, "validation", []string{"conversation_id", "content"}},
		{"empty object", jsonType, `{}`, 422, "validation", []string{"conversation_id", "content"}},
		{"content only whitespace", jsonType, msg("conversation_id", "general", "content", " \t\r\n "), 422, "validation", []string{"content"}},
		{"content with a control character", jsonType, msg("conversation_id", "general", "content", "a\x00b"), 422, "validation", []string{"content"}},
		{"content of 10001 code points", jsonType, msg("conversation_id", "general", "content", strings.Repeat("é", 10001)), 422, "validation", []string{"content"}},
		{"content of 10000 four-byte code points", jsonType, msg("conversation_id", "general", "content", strings.Repeat("😀", 10000)), 202, "", nil},
		{"content with tab and newlines", jsonType, msg("conversation_id", "general", "content", "line one\r\n\tline two"), 202, "", nil},
		{"conversation_id with a space", jsonType, msg("conversation_id", "gen eral", "content", "hi"), 422, "validation", []string{"conversation_id"}},
		{"conversation_id with a unicode space", jsonType, msg("conversation_id", "gen\u3000eral", "content", "hi"), 422, "validation", []string{"conversation_id"}},
		{"conversation_id with a control character", jsonType, msg("conversation_id", "gen\x01eral", "content", "hi"), 422, "validation", []string{"conversation_id"}},
		{"conversation_id of 129 characters", jsonType, msg("conversation_id", strings.Repeat("c", 129), "content", "hi"), 422, "validation", []string{"conversation_id"}},
		{"conversation_id of 128 characters", jsonType, msg("conversation_id", strings.Repeat("c", 128), "content", "hi"), 202, "", nil},
		{"conversation_id and content broken", jsonType, msg("conversation_id", "a b", "content", "  "), 422, "validation", []string{"conversation_id", "content"}},
		{"client_message_id with a slash", jsonType, msg("conversation_id", "general", "content", "hi", "client_message_id", "abc/def"), 422, "validation", []string{"client_message_id"}},
		{"client_message_id empty", jsonType, msg("conversation_id", "general", "content", "hi", "client_message_id", ""), 422, "validation", []string{"client_message_id"}},
		{"client_message_id of 65 characters", jsonType, msg("conversation_id", "general", "content", "hi", "client_message_id", strings.Repeat("a", 65)), 422, "validation", []string{"client_message_id"}},
		{"client_message_id of 64 characters", jsonType, msg("conversation_id", "general", "content", "hi", "client_message_id", "A.b_c:d-"+strings.Repeat("9", 56)), 202, "", nil},
		{"all three broken", jsonType, `{"conversation_id": "", "content": "", "client_message_id": "?"}`, 422, "validation", []string{"conversation_id", "content", "client_message_id"}},
		{"text/plain", "text/plain", msg("conversation_id", "general", "content", "hi"), 415, "unsupported-media-type", nil},
		{"form", "application/x-www-form-urlencoded", "conversation_id=general&content=hi", 415, "unsupported-media-type", nil},
		{"no Content-Type", "", msg("conversation_id", "general", "content", "hi"), 415, "unsupported-media-type", nil},
		{"json suffix type", "application/problem+json", msg("conversation_id", "general", "content", "hi"), 415, "unsupported-media-type", nil},
		{"charset parameter", "application/json; charset=utf-8", msg("conversation_id", "general", "content", "hi"), 202, "", nil},
		{"upper-case media type", "Application/JSON", msg("conversation_id", "general", "content", "hi"), 202, "", nil},
		{"body over 64 KiB", jsonType, msg("conversation_id", "general", "content", strings.Repeat("a", 64<<10)), 413, "body-too-large", nil},
		{"a key in other case", jsonType, `{"conversation_id": "general", "Content": "x"}`, 400, "malformed-body", nil},
		{"a key in other case after the real one", jsonType, `{"conversation_id": "general", "content": "x", "Conversation_ID": "g2"}`, 400, "malformed-body", nil},
		{"a key given twice", jsonType, `{"conversation_id": "a", "conversation_id": "b", "content": "x"}`, 400, "malformed-body", nil},
		{"a lone surrogate", jsonType, `{"conversation_id": "general", "content": "x\ud800y"}`, 422, "validation", []string{"content"}},
		{"a lone low surrogate", jsonType, `{"conversation_id": "general", "content": "\udc00"}`, 422, "validation", []string{"content"}},
		{"a surrogate pair", jsonType, `{"conversation_id": "general", "content": "x\ud83d\ude00y \\ud800"}`, 202, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := r.do(t, http.MethodPost, "/messages", tt.contentType, tt.body)
			if tt.slug == "" {
				var got messageAccepted
				wantJSON(t, ex, tt.status, &got)
				if got.Status != "sent" || !clientIDPattern.MatchString(got.ClientMessageID) {
					t.Errorf("answer %+v, want status sent and a valid client_message_id", got)
				}
				return
			}
			wantProblem(t, ex, tt.status, tt.slug, tt.fields...)
		})
	}
}

// TestPostMessageDeepJSON sends JSON nested 10000 deep: a 400, and the bridge still answers.
func TestPostMessageDeepJSON(t *testing.T) {
	r := newRig(t)
	for _, body := range []string{
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		`{"conversation_id": "general", "content": ` + strings.Repeat(`{"a":`, 10000) + `1` + strings.Repeat("}", 10000) + `}`,
		strings.Repeat("[", 20000), // never closed
	} {
		wantProblem(t, r.postJSON(t, "/messages", body), http.StatusBadRequest, "malformed-body")
	}
	var got messageAccepted
	wantJSON(t, r.postJSON(t, "/messages", msg("conversation_id", "general", "content", "still here")), http.StatusAccepted, &got)
	if ex := r.do(t, http.MethodGet, "/healthz", "", ""); ex.status != http.StatusOK {
		t.Fatalf("healthz after deep JSON: %d", ex.status)
	}
}

// waitFrame waits for the frame of type typ that the demo upstream received with the payload
// field key set to value.
func waitFrame(t *testing.T, r *rig, typ, key, value string) demo.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	f, err := r.demo.WaitReceived(ctx, func(f demo.Frame) bool {
		if f.Type != typ {
			return false
		}
		var p map[string]any
		return json.Unmarshal(f.Payload, &p) == nil && p[key] == value
	})
	if err != nil {
		t.Fatalf("no %s frame with %s=%q reached the upstream: %v", typ, key, value, err)
	}
	return f
}

// wantEnvelope checks that a frame is exactly {"type": typ, "payload": payload}.
func wantEnvelope(t *testing.T, f demo.Frame, typ string, payload map[string]any) {
	t.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(f.Raw, &env); err != nil {
		t.Fatalf("frame %s is not a JSON object: %v", f.Raw, err)
	}
	if len(env) != 2 || string(env["type"]) != strconv.Quote(typ) {
		t.Errorf("frame %s, want the envelope {\"type\": %q, \"payload\": {...}}", f.Raw, typ)
	}
	var got map[string]any
	if err := json.Unmarshal(env["payload"], &got); err != nil {
		t.Fatalf("frame %s: payload: %v", f.Raw, err)
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(payload)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("payload %s, want %s", gotJSON, wantJSON)
	}
	if f.User != demo.DemoUser {
		t.Errorf("frame sent as %q, want %q", f.User, demo.DemoUser)
	}
}

var generatedIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

func TestPostMessageReachesUpstream(t *testing.T) {
	r := newRig(t)

	t.Run("with client_message_id", func(t *testing.T) {
		ex := r.postJSON(t, "/messages", `{"conversation_id": "general", "content": "hello, upstream", "client_message_id": "t-1.a:b_c"}`)
		var got messageAccepted
		wantJSON(t, ex, http.StatusAccepted, &got)
		if got != (messageAccepted{ClientMessageID: "t-1.a:b_c", Status: "sent"}) {
			t.Errorf("answer %+v", got)
		}
		f := waitFrame(t, r, "chat.message", "client_message_id", "t-1.a:b_c")
		wantEnvelope(t, f, "chat.message", map[string]any{
			"conversation_id": "general", "content": "hello, upstream", "client_message_id": "t-1.a:b_c"})
	})

	t.Run("generated client_message_id", func(t *testing.T) {
		ex := r.postJSON(t, "/messages", `{"conversation_id": "general", "content": "no id"}`)
		var got messageAccepted
		wantJSON(t, ex, http.StatusAccepted, &got)
		if !generatedIDPattern.MatchString(got.ClientMessageID) || got.Status != "sent" {
			t.Fatalf("answer %+v, want a generated id matching %s and status sent", got, generatedIDPattern)
		}
		f := waitFrame(t, r, "chat.message", "client_message_id", got.ClientMessageID)
		wantEnvelope(t, f, "chat.message", map[string]any{
			"conversation_id": "general", "content": "no id", "client_message_id": got.ClientMessageID})

		var again messageAccepted
		wantJSON(t, r.postJSON(t, "/messages", `{"conversation_id": "general", "content": "no id"}`), http.StatusAccepted, &again)
		if again.ClientMessageID == got.ClientMessageID {
			t.Errorf("two messages without an id both got %q", got.ClientMessageID)
		}
	})
}

func TestPostTypingErrors(t *testing.T) {
	r := newRig(t)
	tests := []struct {
		name   string
		body   string
		status int
		slug   string
		fields []string
	}{
		{"is_typing absent is not false", `{"conversation_id": "general"}`, 422, "validation", []string{"is_typing"}},
		{"is_typing a string", `{"conversation_id": "general", "is_typing": "yes"}`, 400, "malformed-body", nil},
		{"is_typing a number", `{"conversation_id": "general", "is_typing": 1}`, 400, "malformed-body", nil},
		{"both missing", `{}`, 422, "validation", []string{"conversation_id", "is_typing"}},
		{"conversation_id with a space", `{"conversation_id": "a b", "is_typing": true}`, 422, "validation", []string{"conversation_id"}},
		{"unknown field", `{"conversation_id": "general", "is_typing": true, "user_id": "x"}`, 400, "malformed-body", nil},
		{"typing", `{"conversation_id": "general", "is_typing": true}`, 204, "", nil},
		{"stopped typing", `{"conversation_id": "general", "is_typing": false}`, 204, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := r.postJSON(t, "/typing", tt.body)
			if tt.slug == "" {
				if ex.status != tt.status || len(ex.body) != 0 {
					t.Fatalf("status %d body %q, want %d and no body", ex.status, ex.body, tt.status)
				}
				return
			}
			wantProblem(t, ex, tt.status, tt.slug, tt.fields...)
		})
	}
	wantProblem(t, r.do(t, http.MethodPost, "/typing", "text/plain", `{"conversation_id": "general", "is_typing": true}`),
		http.StatusUnsupportedMediaType, "unsupported-media-type")

	f := waitFrame(t, r, "typing.indicator", "conversation_id", "general")
	wantEnvelope(t, f, "typing.indicator", map[string]any{"conversation_id": "general", "is_typing": true})
}

// TestTypingWhileDisconnected: typing is never queued, so a stopped upstream is a 503.
func TestTypingWhileDisconnected(t *testing.T) {
	r := newRig(t)
	if ex := r.do(t, http.MethodDelete, "/connection", "", ""); ex.status != http.StatusNoContent {
		t.Fatalf("DELETE /connection: %d %s", ex.status, ex.body)
	}
	r.waitState(t, "stopped")
	ex := r.postJSON(t, "/typing", `{"conversation_id": "general", "is_typing": true}`)
	wantProblem(t, ex, http.StatusServiceUnavailable, "upstream-unavailable")
	if secs, err := strconv.Atoi(ex.header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After %q, want a positive number of seconds", ex.header.Get("Retry-After"))
	}
	// The input rules still come first.
	wantProblem(t, r.postJSON(t, "/typing", `{"conversation_id": "general"}`), http.StatusUnprocessableEntity, "validation", "is_typing")
}

func TestCallActions(t *testing.T) {
	r := newRig(t)
	const jsonType = "application/json"
	long := strings.Repeat("k", 129)
	tests := []struct {
		name        string
		path        string
		contentType string
		body        string
		status      int
		slug        string // "" for a 202
		fields      []string
	}{
		{"accept without a body", "/calls/k9/accept", jsonType, "", 202, "", nil},
		{"accept {}", "/calls/k9/accept", jsonType, "{}", 202, "", nil},
		{"accept with a reason", "/calls/k9/accept", jsonType, `{"reason": "x"}`, 400, "malformed-body", nil},
		{"accept without Content-Type", "/calls/k9/accept", "", "", 415, "unsupported-media-type", nil},
		{"accept as a form", "/calls/k9/accept", "application/x-www-form-urlencoded", "", 415, "unsupported-media-type", nil},
		{"accept malformed", "/calls/k9/accept", jsonType, "{", 400, "malformed-body", nil},
		{"reject with a reason", "/calls/k9/reject", jsonType, `{"reason": "busy"}`, 202, "", nil},
		{"reject without a body", "/calls/k9/reject", jsonType, "", 202, "", nil},
		{"reject reason not a string", "/calls/k9/reject", jsonType, `{"reason": 1}`, 400, "malformed-body", nil},
		{"reject reason too long", "/calls/k9/reject", jsonType, `{"reason": "` + strings.Repeat("r", 501) + `"}`, 422, "validation", []string{"reason"}},
		{"end with a reason", "/calls/k9/end", jsonType, `{"reason": "hung up"}`, 202, "", nil},
		{"end unknown field", "/calls/k9/end", jsonType, `{"why": "x"}`, 400, "malformed-body", nil},
		{"call_id too long", "/calls/" + long + "/accept", jsonType, "", 422, "validation", []string{"call_id"}},
		{"call_id with a space", "/calls/k%209/end", jsonType, "", 422, "validation", []string{"call_id"}},
		{"call_id with a control character", "/calls/k%019/reject", jsonType, "", 422, "validation", []string{"call_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := r.do(t, http.MethodPost, tt.path, tt.contentType, tt.body)
			if tt.slug == "" {
				var got callAccepted
				wantJSON(t, ex, tt.status, &got)
				action := "call." + tt.path[strings.LastIndexByte(tt.path, '/')+1:]
				if got != (callAccepted{CallID: "k9", Action: action}) {
					t.Errorf("answer %+v, want call k9 action %s", got, action)
				}
				return
			}
			wantProblem(t, ex, tt.status, tt.slug, tt.fields...)
		})
	}

	f := waitFrame(t, r, "call.reject", "reason", "busy")
	wantEnvelope(t, f, "call.reject", map[string]any{"call_id": "k9", "reason": "busy"})
}

func TestPutConnectionErrors(t *testing.T) {
	r := newRig(t)
	tests := []struct {
		name   string
		body   string
		status int
		slug   string
		fields []string
	}{
		{"empty access_token", `{"access_token": ""}`, 422, "validation", []string{"access_token"}},
		{"no access_token", `{}`, 422, "validation", []string{"access_token"}},
		{"access_token with a space", `{"access_token": "demo token"}`, 422, "validation", []string{"access_token"}},
		{"access_token of 4097 characters", `{"access_token": "` + strings.Repeat("t", 4097) + `"}`, 422, "validation", []string{"access_token"}},
		{"access_token not a string", `{"access_token": 1}`, 400, "malformed-body", nil},
		{"empty body", ``, 400, "malformed-body", nil},
		{"unknown field", `{"access_token": "demo-token", "user": "x"}`, 400, "malformed-body", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, r.do(t, http.MethodPut, "/connection", "application/json", tt.body), tt.status, tt.slug, tt.fields...)
		})
	}
	wantProblem(t, r.do(t, http.MethodPut, "/connection", "text/plain", `{"access_token": "demo-token"}`),
		http.StatusUnsupportedMediaType, "unsupported-media-type")
	// None of these may have touched the connection.
	if st := r.client.Status().State; st != "connected" {
		t.Errorf("state %s after refused PUTs, want connected", st)
	}
}

func TestRoutingErrors(t *testing.T) {
	r := newRig(t)
	tests := []struct {
		method, path string
		status       int
		slug         string
		allow        string // the Allow header a 405 must carry
	}{
		{http.MethodGet, "/events/nope", 404, "unknown-topic", ""},
		{http.MethodGet, "/events?topics=messages,nope", 404, "unknown-topic", ""},
		{http.MethodGet, "/events?topics=messages&topics=nope", 404, "unknown-topic", ""},
		{http.MethodDelete, "/messages", 405, "method-not-allowed", "POST"},
		{http.MethodGet, "/messages", 405, "method-not-allowed", "POST"},
		{http.MethodGet, "/typing", 405, "method-not-allowed", "POST"},
		{http.MethodPost, "/connection", 405, "method-not-allowed", "GET, PUT, DELETE"},
		{http.MethodGet, "/calls/k9/accept", 405, "method-not-allowed", "POST"},
		{http.MethodPost, "/healthz", 405, "method-not-allowed", "GET"},
		{http.MethodGet, "/nope", 404, "not-found", ""},
		{http.MethodGet, "/messages/extra", 405, "method-not-allowed", "DELETE"},
		{http.MethodGet, "/messages/extra/more", 404, "not-found", ""},
		{http.MethodPost, "/calls/k9/hold", 404, "not-found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			ct := ""
			if tt.method == http.MethodPost {
				ct = "application/json"
			}
			ex := r.do(t, tt.method, tt.path, ct, "")
			p := wantProblem(t, ex, tt.status, tt.slug)
			if got := ex.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if tt.slug == "unknown-topic" && !strings.Contains(p.Detail, `"nope"`) {
				t.Errorf("detail %q does not name the unknown topic", p.Detail)
			}
		})
	}
}

func TestBodyThatIsNotAnObject(t *testing.T) {
	r := newRig(t)
	for _, body := range []string{`null`, `[]`, `"text"`, `42`} {
		wantProblem(t, r.postJSON(t, "/messages", body), http.StatusBadRequest, "malformed-body")
	}
}

func TestCallWithBadIDAndBadReasonNamesBoth(t *testing.T) {
	r := newRig(t)
	ex := r.postJSON(t, "/calls/"+strings.Repeat("k", 129)+"/reject", `{"reason":"`+strings.Repeat("r", 501)+`"}`)
	wantProblem(t, ex, http.StatusUnprocessableEntity, "validation", "call_id", "reason")
}

func TestWebAppIsServed(t *testing.T) {
	r := newRig(t)
	ex := r.do(t, http.MethodGet, "/", "", "")
	if ex.status != http.StatusOK || !strings.HasPrefix(ex.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", ex.status, ex.header.Get("Content-Type"))
	}
	ex = r.do(t, http.MethodGet, "/app.js", "", "")
	if ex.status != http.StatusOK || !strings.HasPrefix(ex.header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("GET /app.js = %d %s", ex.status, ex.header.Get("Content-Type"))
	}
	wantProblem(t, r.do(t, http.MethodGet, "/nope.js", "", ""), http.StatusNotFound, "not-found")
}
