package dialect

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fullProfile = `
dialect: envelope
user_id: alice
token: {in: query, name: access_token}
handshake: {headers: {X-Client: chatbridge}, subprotocols: [chat.v1], origin: "http://localhost"}
heartbeat: ws
ack: echo
framing: ndjson
envelope:
  type: event
  payload: data
  lenient: true
  fields:
    conversation_id: conversationId
    sender_id: user.id
  defaults: {conversation_id: general}
routes:
  chat.message: messages
  message.new: messages
  order.created: orders
  ring: {topic: calls, as: call.incoming}
  noise: raw
outbound:
  message: {type: message.send}
  typing: typing.set
`

func TestParseProfile(t *testing.T) {
	p, err := ParseProfile("p.yaml", []byte(fullProfile))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"dialect", p.Dialect, DialectEnvelope},
		{"user_id", p.UserID, "alice"},
		{"token.in", p.TokenIn, TokenInQuery},
		{"token.name", p.TokenName, "access_token"},
		{"header", p.Headers["X-Client"], "chatbridge"},
		{"subprotocols", strings.Join(p.Subprotocols, ","), "chat.v1"},
		{"origin", p.Origin, "http://localhost"},
		{"heartbeat", p.Heartbeat, HeartbeatWS},
		{"ack", p.Ack, AckEcho},
		{"framing", p.Framing, FramingNDJSON},
		{"envelope.type", p.TypePath.String(), "event"},
		{"envelope.payload", p.PayloadPath.String(), "data"},
		{"fields.sender_id", p.Mapper.Fields["sender_id"].String(), "user.id"},
		{"defaults", string(p.Mapper.Defaults["conversation_id"]), `"general"`},
		{"route message.new", p.Mapper.Routes["message.new"].As, TypeChatMessage},
		{"route order.created", p.Mapper.Routes["order.created"].Topic, "orders"},
		{"route ring", p.Mapper.Routes["ring"].As, TypeCallIncoming},
		{"route noise", p.Mapper.Routes["noise"].Topic, ""},
		{"outbound message", p.Outbound[ActionMessage], "message.send"},
		{"outbound typing", p.Outbound[ActionTyping], "typing.set"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !p.Mapper.Lenient || p.Mapper.UserID != "alice" || !p.PayloadSet {
		t.Errorf("lenient %v, user %q, payload set %v", p.Mapper.Lenient, p.Mapper.UserID, p.PayloadSet)
	}
}

func TestParseProfileJSON(t *testing.T) {
	p, err := ParseProfile("p.json", []byte(`{"envelope": {"payload": "", "fields": {"content": "text"}}, "ack": "write"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !p.PayloadSet || p.PayloadPath != nil || p.Ack != AckWrite || p.Mapper.Fields["content"].String() != "text" {
		t.Errorf("profile %+v: want flat frames, ack write, content aliased", p)
	}
}

func TestProfileErrorsNameTheKey(t *testing.T) {
	tests := []struct{ doc, key, msg string }{
		{"dialect: mqtt", "dialect", `"mqtt" is not one of envelope, socketio, centrifugo`},
		{"heartbeat: sometimes", "heartbeat", "is not one of ws, json, off"},
		{"ack: maybe", "ack", "is not one of echo, write, reply"},
		{"token: {in: cookie}", "token.in", "is not one of query, header, none, connect"},
		{"envelope: {lenient: perhaps}", "envelope.lenient", "must be true or false"},
		{"envelope: {typ: kind}", "envelope.typ", "is not a known key"},
		{"envelope: {fields: {content: ''}}", "envelope.fields.content", "must be a dotted path"},
		{"routes: {x: Bad Topic}", "routes.x", "must be 1-64 of a-z 0-9"},
		{"routes: {x: connection}", "routes.x", "the connection topic"},
		{"routes: {x: {topic: calls}}", "routes.x", "needs as: call.incoming"},
		{"routes: {x: {topic: t, as: chat.msg}}", "routes.x", "is not a type the bridge knows"},
		{"outbound: {reaction: {type: r}}", "outbound.reaction", "is not a known key"},
		{"outbound: {message: {}}", "outbound.message", "must name the type"},
		{"handshake: {headers: {Upgrade: x}}", "handshake.headers", "is set by the WebSocket handshake itself"},
		{"handshake: {path: chat}", "handshake.path", "must start with /"},
		{"handshake: {subprotocols: {a: b}}", "handshake.subprotocols", "must be a list of strings"},
		{"colour: blue", "colour", "is not a known key"},
		{"envelope: [1]", "envelope", "must be a mapping"},
	}
	for _, tt := range tests {
		_, err := ParseProfile("bad.yaml", []byte(tt.doc))
		var pe *ProfileError
		if !errors.As(err, &pe) || pe.Key != tt.key || !strings.Contains(pe.Msg, tt.msg) {
			t.Errorf("%s: error %v, want key %s: %s", tt.doc, err, tt.key, tt.msg)
			continue
		}
		if !strings.HasPrefix(err.Error(), "profile bad.yaml: key "+tt.key+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error text %q is not one line naming the file and the key", tt.doc, err)
		}
	}
	for _, doc := range []string{"", "{", "- a\n- b"} {
		if _, err := ParseProfile("bad.yaml", []byte(doc)); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v, want one line", doc, err)
		}
	}
}

func TestLoadProfile(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadProfile(filepath.Join(dir, "none.yaml")); err == nil || !strings.Contains(err.Error(), "none.yaml: does not exist") {
		t.Errorf("missing file: %v", err)
	}
	path := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(path, []byte("dialect: socketio\nsocketio: {namespace: /chat}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := LoadProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckSections(DialectEnvelope); err == nil || !strings.Contains(err.Error(), "key socketio") {
		t.Errorf("CheckSections(envelope) = %v, want the socketio section refused", err)
	}
	s := p.Section(DialectSocketIO)
	if ns := s.String("namespace", "/"); ns != "/chat" || s.Done() != nil {
		t.Errorf("section namespace %q, err %v", ns, s.Done())
	}
}
