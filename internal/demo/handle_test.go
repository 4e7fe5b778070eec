package demo

import (
	"bytes"
	"testing"

	"github.com/gorilla/websocket"
)

func TestPingFrameGetsPong(t *testing.T) {
	_, u := startServer(t, Config{})
	c, _ := dial(t, u, DemoToken)
	c.sendRaw([]byte(`{"type":"ping"}`)) // a missing payload reads as {}
	if g := c.expect("pong"); string(g.Payload) != "{}" {
		t.Errorf("pong payload %s", g.Payload)
	}
}

func TestBadFramesAreAnsweredAndKeepTheConnection(t *testing.T) {
	tests := []struct {
		name    string
		frame   string
		code    string
		ref     string
		recType string // the Type recorded by Received
	}{
		{name: "not JSON", frame: `hello`, code: CodeBadFrame},
		{name: "truncated JSON", frame: `{"type":"ping"`, code: CodeBadFrame},
		{name: "array", frame: `[1,2]`, code: CodeBadFrame},
		{name: "no type", frame: `{"payload":{}}`, code: CodeBadFrame},
		{name: "empty type", frame: `{"type":""}`, code: CodeBadFrame},
		{name: "number type", frame: `{"type":5}`, code: CodeBadFrame},
		{name: "payload not an object", frame: `{"type":"ping","payload":[1]}`, code: CodeBadFrame, recType: "ping"},
		{name: "unknown type", frame: `{"type":"weird.thing","payload":{}}`, code: CodeUnknownType, recType: "weird.thing"},
		{name: "server type from a client", frame: `{"type":"pong","payload":{}}`, code: CodeUnknownType, recType: "pong"},
		{
			name:  "message without content",
			frame: `{"type":"chat.message","payload":{"conversation_id":"general","client_message_id":"r-1"}}`,
			code:  CodeInvalidMessage, ref: "r-1", recType: "chat.message",
		},
		{
			name:  "message with empty content",
			frame: `{"type":"chat.message","payload":{"conversation_id":"general","content":"","client_message_id":"r-2"}}`,
			code:  CodeInvalidMessage, ref: "r-2", recType: "chat.message",
		},
		{
			name:  "message without client_message_id",
			frame: `{"type":"chat.message","payload":{"conversation_id":"general","content":"x"}}`,
			code:  CodeInvalidMessage, recType: "chat.message",
		},
		{
			name:  "message with number conversation_id",
			frame: `{"type":"chat.message","payload":{"conversation_id":7,"content":"x","client_message_id":"r-3"}}`,
			code:  CodeInvalidMessage, ref: "r-3", recType: "chat.message",
		},
		{
			name:  "typing without is_typing",
			frame: `{"type":"typing.indicator","payload":{"conversation_id":"general"}}`,
			code:  CodeInvalidTyping, recType: "typing.indicator",
		},
		{
			name:  "typing with string is_typing",
			frame: `{"type":"typing.indicator","payload":{"conversation_id":"general","is_typing":"yes"}}`,
			code:  CodeInvalidTyping, recType: "typing.indicator",
		},
		{name: "accept without call_id", frame: `{"type":"call.accept","payload":{}}`, code: CodeInvalidCall, recType: "call.accept"},
		{name: "end with empty call_id", frame: `{"type":"call.end","payload":{"call_id":""}}`, code: CodeInvalidCall, recType: "call.end"},
	}
	s, u := startServer(t, Config{})
	c, _ := dial(t, u, DemoToken)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.ClearReceived()
			c.sendRaw([]byte(tt.frame))
			g := c.expect("error")
			if code := g.str(t, "code"); code != tt.code {
				t.Errorf("code %q, want %q", code, tt.code)
			}
			if g.str(t, "message") == "" {
				t.Error("error without message")
			}
			var ref string
			if bytes.Contains(g.Payload, []byte(`"ref"`)) {
				ref = g.str(t, "ref")
			}
			if ref != tt.ref {
				t.Errorf("ref %q, want %q", ref, tt.ref)
			}
			if before := c.barrier(); len(before) != 0 { // still connected
				t.Errorf("unexpected frames %v", types(before))
			}
			rec := s.Received()
			if len(rec) != 2 || string(rec[0].Raw) != tt.frame || rec[0].Type != tt.recType || rec[0].User != DemoUser {
				t.Errorf("Received() = %+v", rec)
			}
		})
	}
}

func TestBinaryFrameIsAnsweredAndKeepsTheConnection(t *testing.T) {
	_, u := startServer(t, Config{})
	c, _ := dial(t, u, DemoToken)
	if err := c.ws.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	if code := c.expect("error").str(t, "code"); code != CodeBadFrame {
		t.Errorf("code %q", code)
	}
	c.barrier()
}
