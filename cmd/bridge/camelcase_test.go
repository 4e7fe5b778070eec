package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// camelServer is a small chat server that speaks the envelope with camelCase field names, as
// JavaScript and Dart backends often do. It echoes every chat.message it receives with the ids a
// server assigns, and keeps the frames it received.
type camelServer struct {
	url string

	mu       sync.Mutex
	received []string
	conns    []*websocket.Conn
}

func newCamelServer(t *testing.T) *camelServer {
	t.Helper()
	s := &camelServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != "camel-token" {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, conn)
		s.mu.Unlock()
		defer conn.Close()
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.received = append(s.received, string(data))
			s.mu.Unlock()
			var f struct {
				Type    string
				Payload map[string]any
			}
			if json.Unmarshal(data, &f) != nil || f.Type != "chat.message" {
				continue
			}
			p := f.Payload
			p["id"], p["senderId"], p["createdAt"] = "srv-"+p["clientMessageId"].(string), "me-user", time.Now().UTC().Format(time.RFC3339)
			s.send(t, "chat.message", p)
		}
	}))
	t.Cleanup(func() {
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		srv.Close()
	})
	s.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	return s
}

// send writes one frame to every connection.
func (s *camelServer) send(t *testing.T, typ string, payload map[string]any) {
	b, _ := json.Marshal(map[string]any{"type": typ, "payload": payload})
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		if err := c.WriteMessage(websocket.TextMessage, b); err != nil {
			t.Errorf("camel server write: %v", err)
		}
	}
}

func (s *camelServer) receivedFrames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.received...)
}

func TestCamelCaseUpstreamThroughFields(t *testing.T) {
	up := newCamelServer(t)
	args := append(profileArgs(up.url, filepath.Join("..", "..", "docs", "dialects", "camelcase.yaml")), "--token", "camel-token")
	b := startBridge(t, nil, args...)
	waitReady(t, b)
	all, _ := openEvents(t, b.url+"/events?topics=messages,typing,conversations")

	say(t, b, "k-1", "hello camels")
	waitStatus(t, all, "k-1", "delivered")
	sent := up.receivedFrames()
	if len(sent) == 0 || !strings.Contains(sent[len(sent)-1], `"conversationId":"general"`) || !strings.Contains(sent[len(sent)-1], `"clientMessageId":"k-1"`) {
		t.Errorf("the server received %q, want its own field names", sent)
	}

	now := time.Now().UTC().Format(time.RFC3339)
	up.send(t, "chat.message", map[string]any{"id": "m-9", "conversationId": "general", "senderId": "bob",
		"content": "hi", "createdAt": now, "reactions": []string{"+1"}})
	up.send(t, "typing.indicator", map[string]any{"conversationId": "general", "userId": "bob", "isTyping": true})
	up.send(t, "conversation.update", map[string]any{"conversationId": "general", "unreadCount": 3,
		"lastMessage": map[string]any{"id": "m-9", "conversationId": "general", "senderId": "bob", "content": "hi", "createdAt": now}})

	e := next(t, all, func(e event) bool { return e.name == "chat.message" && strings.Contains(e.data, `"m-9"`) })
	if !strings.Contains(e.data, `"conversation_id":"general"`) || !strings.Contains(e.data, `"sender_id":"bob"`) || !strings.Contains(e.data, `"reactions":["+1"]`) {
		t.Errorf("chat.message = %s, want our field names and the unknown field kept", e.data)
	}
	e = next(t, all, func(e event) bool { return e.name == "typing.indicator" })
	if !strings.Contains(e.data, `"user_id":"bob"`) || !strings.Contains(e.data, `"is_typing":true`) {
		t.Errorf("typing.indicator = %s", e.data)
	}
	next(t, all, func(e event) bool { return e.name == "conversation.update" })
	var convs struct {
		Conversations []struct {
			ConversationID string          `json:"conversation_id"`
			UnreadCount    int             `json:"unread_count"`
			LastMessage    json.RawMessage `json:"last_message"`
		}
	}
	getJSON(t, b.url+"/conversations", &convs)
	if len(convs.Conversations) != 1 || convs.Conversations[0].UnreadCount != 3 ||
		!strings.Contains(string(convs.Conversations[0].LastMessage), `"sender_id":"bob"`) {
		t.Errorf("conversations snapshot = %+v, want general with 3 unread and bob's last message", convs)
	}
}
