package socketio

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/dialect"
)

func TestParsePacket(t *testing.T) {
	tests := []struct {
		in          string
		typ         byte
		nsp         string
		id          int64
		attachments int
		data        string
	}{
		{`0`, socketConnect, "/", -1, 0, ``},
		{`0{"sid":"x"}`, socketConnect, "/", -1, 0, `{"sid":"x"}`},
		{`0/chat,{"sid":"x"}`, socketConnect, "/chat", -1, 0, `{"sid":"x"}`},
		{`0/chat`, socketConnect, "/chat", -1, 0, ``},
		{`2["a",1]`, socketEvent, "/", -1, 0, `["a",1]`},
		{`213["a"]`, socketEvent, "/", 13, 0, `["a"]`},
		{`2/chat,7["a"]`, socketEvent, "/chat", 7, 0, `["a"]`},
		{`37[{"ok":true}]`, socketAck, "/", 7, 0, `[{"ok":true}]`},
		{`51-["a",{"_placeholder":true,"num":0}]`, socketBinaryEvent, "/", -1, 1, `["a",{"_placeholder":true,"num":0}]`},
		{`4{"message":"no"}`, socketConnectError, "/", -1, 0, `{"message":"no"}`},
		{`1`, socketDisconnect, "/", -1, 0, ``},
	}
	for _, tt := range tests {
		p, err := parsePacket([]byte(tt.in))
		if err != nil || p.typ != tt.typ || p.nsp != tt.nsp || p.id != tt.id || p.attachments != tt.attachments || string(p.data) != tt.data {
			t.Errorf("parsePacket(%q) = %+v, %v", tt.in, p, err)
		}
	}
	for _, bad := range []string{``, `9`, `5["a"]`, `5x-[]`, `299999999999999999999["a"]`} {
		if _, err := parsePacket([]byte(bad)); err == nil {
			t.Errorf("parsePacket(%q) took it", bad)
		}
	}
}

func decode(d *Dialect, frame string) dialect.Result {
	var r dialect.Result
	d.Decode(dialect.Frame{Data: []byte(frame)}, dialect.Env{At: time.Now()}, &r)
	return r
}

func TestHandshake(t *testing.T) {
	d := New(Config{Namespace: "/chat", AuthToken: "token"})
	if first, ready := d.Open("s3cret"); first != nil || ready {
		t.Fatalf("Open = %q %v: nothing is written before the server's open packet", first, ready)
	}
	r := decode(d, `0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)
	if len(r.Replies) != 1 || string(r.Replies[0]) != `40/chat,{"token":"s3cret"}` || r.Idle != 45*time.Second || r.Ready {
		t.Fatalf("after open: replies %q idle %v ready %v", r.Replies, r.Idle, r.Ready)
	}
	if r := decode(d, `40/chat,{"sid":"def"}`); !r.Ready {
		t.Error("the namespace connect did not make the connection ready")
	}
	if r := decode(d, `2`); len(r.Replies) != 1 || string(r.Replies[0]) != "3" {
		t.Errorf("ping answered with %q, want 3", r.Replies)
	}
	r = decode(d, `44/chat,{"message":"not authorized"}`)
	if !errors.Is(r.Err, dialect.ErrUnauthorized) || !strings.Contains(r.Err.Error(), "not authorized") {
		t.Errorf("connect error = %v, want an auth failure naming the reason", r.Err)
	}
	if r := decode(d, `41/chat,`); r.Err == nil {
		t.Error("a server disconnect did not end the connection")
	}
	if r := decode(d, `42["elsewhere"]`); r.Unknown != 1 {
		t.Errorf("an event of another namespace: %+v", r)
	}
}

func TestEventsAndAcks(t *testing.T) {
	m := dialect.NewMapper(dialect.MapperConfig{Lenient: true,
		Fields:   map[string]dialect.Path{"content": {"text"}, "sender_id": {"username"}, "user_id": {"username"}},
		Defaults: map[string]json.RawMessage{"conversation_id": []byte(`"general"`)},
		Routes: map[string]dialect.Route{
			"chat message": {Topic: dialect.TopicMessages, As: dialect.TypeChatMessage},
			"said":         {Topic: dialect.TopicMessages, As: dialect.TypeChatMessage},
			"user left":    {Topic: dialect.TopicPresence, As: dialect.TypeUserStatus, Set: map[string]json.RawMessage{"status": []byte(`"offline"`)}},
		}})
	d := New(Config{Mapper: m, AckIDs: true, Args: map[string][]string{"said": {"sender_id", "content"}},
		Emit: map[string]Emit{dialect.ActionTyping: {Event: "typing", Args: []string{"is_typing"}}}})
	d.Open("")
	decode(d, `0{"sid":"a","pingInterval":1000,"pingTimeout":1000,"maxPayload":300}`)

	r := decode(d, `42["chat message",{"username":"bob","text":"hi","id":"m1","createdAt":"2026-12-01T10:00:00Z"}]`)
	if len(r.Events) != 2 || r.Events[1].Type != dialect.TypeChatMessage || r.Events[1].Value.(*dialect.Message).SenderID != "bob" {
		t.Fatalf("chat message: %+v %v", r.Events, r.Rejects)
	}
	if raw := string(r.Events[0].Data); !strings.HasPrefix(raw, `{"text":"42[`) {
		t.Errorf("raw = %s", raw)
	}
	r = decode(d, `42["said","carol","positional"]`)
	if len(r.Events) != 2 || r.Events[1].Value.(*dialect.Message).Content != "positional" {
		t.Errorf("positional args: %+v %v", r.Events, r.Rejects)
	}
	r = decode(d, `42["user left",{"username":"bob"}]`)
	if us, ok := r.Events[1].Value.(*dialect.UserStatus); !ok || us.Status != "offline" || us.UserID != "bob" {
		t.Errorf("user left: %+v", r.Events[1])
	}
	r = decode(d, `42["chat message","a bare string"]`)
	if len(r.Rejects) != 1 || !strings.Contains(r.Rejects[0].Reason, "args") {
		t.Errorf("a bare string argument: %+v", r.Rejects)
	}
	if r := decode(d, `451-["chat message",{"_placeholder":true,"num":0}]`); len(r.Rejects) != 1 || !strings.Contains(r.Rejects[0].Reason, "binary") {
		t.Errorf("binary event: %+v", r.Rejects)
	}

	frame, err := d.EncodeMessage(dialect.OutgoingMessage{ConversationID: "general", Content: "yo", ClientMessageID: "k1"})
	if err != nil || !strings.HasPrefix(string(frame), `421["chat message",{`) || !strings.Contains(string(frame), `"text":"yo"`) {
		t.Fatalf("EncodeMessage = %s, %v", frame, err)
	}
	frame2, _ := d.EncodeMessage(dialect.OutgoingMessage{ConversationID: "general", Content: "no", ClientMessageID: "k2"})
	if !strings.HasPrefix(string(frame2), `422[`) {
		t.Fatalf("second message %s, want ack id 2", frame2)
	}
	if r := decode(d, `431[{"ok":true,"id":"m9"}]`); len(r.Acks) != 1 || r.Acks[0] != (dialect.Ack{ClientMessageID: "k1"}) {
		t.Errorf("ack of k1: %+v", r.Acks)
	}
	if r := decode(d, `432[{"error":"slow down"}]`); len(r.Acks) != 1 || r.Acks[0].ClientMessageID != "k2" || !strings.Contains(r.Acks[0].Error, "slow down") {
		t.Errorf("refusal of k2: %+v", r.Acks)
	}
	if r := decode(d, `431[{}]`); len(r.Acks) != 0 {
		t.Errorf("a second ack of one id: %+v", r.Acks)
	}
	if _, err := d.EncodeMessage(dialect.OutgoingMessage{ConversationID: "general", Content: strings.Repeat("x", 400), ClientMessageID: "k3"}); !errors.Is(err, dialect.ErrRefused) {
		t.Errorf("a message above maxPayload: %v, want ErrRefused", err)
	}
	typing, _ := d.EncodeTyping(dialect.OutgoingTyping{ConversationID: "general", IsTyping: true})
	if string(typing) != `42["typing",true]` {
		t.Errorf("EncodeTyping = %s", typing)
	}
}

func TestURL(t *testing.T) {
	tests := []struct{ base, path, want string }{
		{"ws://h:3000", "", "ws://h:3000/socket.io/?EIO=4&transport=websocket"},
		{"ws://h:3000/", "", "ws://h:3000/socket.io/?EIO=4&transport=websocket"},
		{"wss://h/custom/?room=1", "", "wss://h/custom/?EIO=4&room=1&transport=websocket"},
		{"ws://h", "/io/", "ws://h/io/?EIO=4&transport=websocket"},
	}
	for _, tt := range tests {
		if got, err := URL(tt.base, tt.path); err != nil || got != tt.want {
			t.Errorf("URL(%q, %q) = %q, %v; want %q", tt.base, tt.path, got, err, tt.want)
		}
	}
}

// FuzzDecode feeds arbitrary frames to the dialect: nothing panics, and every event is one line
// of valid JSON.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`0{"sid":"a","pingInterval":1,"pingTimeout":1,"maxPayload":9}`, `40`, `2`, `42["chat message",{"text":"x"}]`,
		`42/chat,5["a",1,2]`, `431[{"error":"no"}]`, `451-["x"]`, `44{"message":1}`, "4", "42[", `42[5]`, `42["said",{},[]]`} {
		f.Add([]byte(s))
	}
	d := New(Config{Args: map[string][]string{"said": {"content", "sender_id"}}, AckIDs: true})
	f.Fuzz(func(t *testing.T, frame []byte) {
		var r dialect.Result
		d.Decode(dialect.Frame{Data: frame}, dialect.Env{At: time.Now()}, &r)
		for _, e := range r.Events {
			if !json.Valid(e.Data) || strings.ContainsAny(string(e.Data), "\r\n") {
				t.Fatalf("event data %q", e.Data)
			}
		}
	})
}
