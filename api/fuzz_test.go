package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/internal/dialect"
	"github.com/chatbridge/chatbridge/internal/hub"
)

// FuzzRequestBodies feeds arbitrary bytes to the body decoder of every request type: nothing may
// panic, every refusal is a 4xx problem, and an accepted body satisfies the input rules.
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"conversation_id":"general","content":"hi","client_message_id":"k-1"}`,
		`{"conversation_id":"general","is_typing":true}`,
		`{"access_token":"t"}`, `{"reason":"busy"}`, `{}`, ``, `null`, `[]`,
		`{"conversation_id":"a b","content":" "}`, `{"content":"\u0000"}`, "{\"content\":\"\xff\"}",
		`{"conversation_id":"c","content":"x"} trailing`, `{"is_typing":"yes"}`,
		strings.Repeat("[", 1000), `{"conversation_id":"c","content":"x","extra":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		targets := []func() any{
			func() any { return &postMessage{} }, func() any { return &postTyping{} },
			func() any { return &putConnection{} }, func() any { return &callAction{} },
		}
		for _, newDst := range targets {
			req := httptest.NewRequest(http.MethodPost, "/x", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			dst := newDst()
			p := decodeBody(req, dst, true)
			if p == nil {
				if m, ok := dst.(*postMessage); ok && (!validIdent(m.ConversationID) || !validContent(m.Content)) {
					t.Fatalf("accepted a message that breaks the rules: %+v", m)
				}
				continue
			}
			if p.Status < 400 || p.Status > 499 || p.Type == "" || p.Title == "" {
				t.Fatalf("refusal %+v is not a 4xx problem", p)
			}
			if _, err := json.Marshal(p); err != nil {
				t.Fatalf("problem does not encode: %v", err)
			}
		}
	})
}

// FuzzStreamQuery feeds arbitrary topics, conversation_id and Last-Event-ID values to what the
// SSE endpoints parse: nothing may panic, refusals are 4xx, and an accepted topic list only
// names real topics.
func FuzzStreamQuery(f *testing.F) {
	h := hub.New(hub.Config{History: 16})
	valid := h.LastID()
	for _, s := range [][3]string{
		{"messages,typing", "general", ""}, {"", "", valid}, {",,,", "a b", "garbage"},
		{"raw", strings.Repeat("c", 200), "zzzzzzzz-0000000000000001"}, {"nope", "\x00", valid + "1"},
		{"messages, typing ,connection", "c1", "-"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	srv := New(Config{Chat: topicsOnly{}, Topics: h})
	f.Fuzz(func(t *testing.T, topics, conv, lastID string) {
		list, p := srv.parseTopics([]string{topics})
		if p != nil {
			if p.Status != http.StatusNotFound && p.Status != http.StatusBadRequest {
				t.Fatalf("topics %q refused with %d", topics, p.Status)
			}
		} else {
			for _, tp := range list {
				if !slices.Contains(srv.names, tp) || !dialect.IsBuiltinTopic(tp) {
					t.Fatalf("topics %q accepted %q", topics, tp)
				}
			}
		}
		if validIdent(conv) && (conv == "" || strings.ContainsAny(conv, " \t\n\x00")) {
			t.Fatalf("conversation_id %q accepted", conv)
		}
		sub := h.Subscribe(nil, lastID)
		defer sub.Close()
		if lastID != "" && lastID != valid && sub.Reset() == "" {
			if _, ok := h.ParseID(lastID); !ok {
				t.Fatalf("Last-Event-ID %q resumed without being an id", lastID)
			}
		}
	})
}
