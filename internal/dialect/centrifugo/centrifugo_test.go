package centrifugo

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/dialect"
)

func newTestDialect() *Dialect {
	return New(Config{
		Subscribe: []string{"chat:general"},
		Channels:  []Channel{{Pattern: "chat:*", Route: dialect.Route{Topic: dialect.TopicMessages, As: dialect.TypeChatMessage}}},
		Publish:   map[string]string{dialect.ActionMessage: "chat:{conversation_id}"},
		Mapper: dialect.NewMapper(dialect.MapperConfig{Lenient: true,
			Fields: map[string]dialect.Path{"content": {"text"}},
			Routes: map[string]dialect.Route{"chat:*": {Topic: dialect.TopicMessages, As: dialect.TypeChatMessage}}}),
	})
}

func decode(d *Dialect, frame string) dialect.Result {
	var r dialect.Result
	d.Decode(dialect.Frame{Data: []byte(frame)}, dialect.Env{At: time.Now()}, &r)
	return r
}

func messages(r dialect.Result) []*dialect.Message {
	var out []*dialect.Message
	for _, e := range r.Events {
		if m, ok := e.Value.(*dialect.Message); ok {
			out = append(out, m)
		}
	}
	return out
}

// cmdID reads the id of an encoded command.
func cmdID(t *testing.T, frame []byte) int {
	var c struct{ ID int }
	if err := json.Unmarshal(frame, &c); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func TestChannelPatterns(t *testing.T) {
	for _, tt := range []struct {
		pattern, channel, wild string
		ok                     bool
	}{
		{"chat:*", "chat:general", "general", true},
		{"chat:*", "news:general", "", false},
		{"room.*.msgs", "room.7.msgs", "7", true},
		{"lobby", "lobby", "", true},
		{"lobby", "lobby2", "", false},
	} {
		if wild, ok := (Channel{Pattern: tt.pattern}).match(tt.channel); wild != tt.wild || ok != tt.ok {
			t.Errorf("%s ~ %s = %q %v", tt.pattern, tt.channel, wild, ok)
		}
	}
}

func TestSession(t *testing.T) {
	d := newTestDialect()
	first, ready := d.Open("jwt-token")
	if ready || len(first) != 1 || !strings.Contains(string(first[0]), `"connect":{"token":"jwt-token","name":"chatbridge"}`) {
		t.Fatalf("Open = %s %v", first, ready)
	}
	r := decode(d, `{"id":1,"connect":{"client":"c1","version":"6","ping":25,"pong":true}}`)
	if !r.Ready || r.Idle != 35*time.Second || len(r.Replies) != 1 || !strings.Contains(string(r.Replies[0]), `"subscribe":{"channel":"chat:general"}`) {
		t.Fatalf("connect reply: ready %v idle %v replies %s", r.Ready, r.Idle, r.Replies)
	}
	sub := cmdID(t, r.Replies[0])
	r = decode(d, `{}`)
	if len(r.Replies) != 1 || string(r.Replies[0]) != "{}" {
		t.Errorf("ping answered %q", r.Replies)
	}
	r = decode(d, `{"id":`+itoa(sub)+`,"subscribe":{"recoverable":true,"epoch":"e1","offset":4}}`+"\n"+
		`{"push":{"channel":"chat:general","pub":{"data":{"text":"hi"},"offset":5,"info":{"user":"bob"}}}}`)
	ms := messages(r)
	if len(ms) != 1 || ms[0].ID != "chat:general:5" || ms[0].SenderID != "bob" || ms[0].ConversationID != "general" || ms[0].Content != "hi" {
		t.Fatalf("publication: %+v (raw events %d)", ms, len(r.Events))
	}
	if r := decode(d, `{"push":{"channel":"chat:general","pub":{"data":{"text":"hi"},"offset":5}}}`); len(messages(r)) != 0 {
		t.Error("a publication seen already was published again")
	}
	if r := decode(d, `{"push":{"channel":"chat:general","join":{"info":{"user":"carol","client":"x"}}}}`); len(r.Events) != 2 || r.Events[1].Type != dialect.TypeUserStatus {
		t.Errorf("join: %+v", r.Events)
	}
	r = decode(d, `{"push":{"disconnect":{"code":3503,"reason":"force disconnect"}}}`)
	if !errors.Is(r.Err, dialect.ErrTerminal) {
		t.Errorf("disconnect 3503 = %v, want terminal", r.Err)
	}
	if r := decode(d, `{"push":{"disconnect":{"code":3005,"reason":"connection expired"}}}`); !errors.Is(r.Err, dialect.ErrUnauthorized) {
		t.Errorf("disconnect 3005 = %v, want unauthorized", r.Err)
	}
	if r := decode(d, `{"push":{"disconnect":{"code":3001,"reason":"shutdown"}}}`); r.Err == nil || errors.Is(r.Err, dialect.ErrTerminal) || errors.Is(r.Err, dialect.ErrUnauthorized) {
		t.Errorf("disconnect 3001 = %v, want a plain drop", r.Err)
	}
}

func TestRecovery(t *testing.T) {
	d := newTestDialect()
	d.Open("t")
	r := decode(d, `{"id":1,"connect":{"ping":25,"pong":true}}`)
	decode(d, `{"id":`+itoa(cmdID(t, r.Replies[0]))+`,"subscribe":{"recoverable":true,"epoch":"e1","offset":7}}`)

	// Reconnect: the bridge asks for what came after offset 7 of epoch e1.
	first, _ := d.Open("t")
	_ = first
	r = decode(d, `{"id":`+itoa(int(d.connectID))+`,"connect":{"ping":25,"pong":true}}`)
	if !strings.Contains(string(r.Replies[0]), `"recover":true`) || !strings.Contains(string(r.Replies[0]), `"epoch":"e1"`) || !strings.Contains(string(r.Replies[0]), `"offset":7`) {
		t.Fatalf("resubscribe = %s", r.Replies[0])
	}
	r = decode(d, `{"id":`+itoa(cmdID(t, r.Replies[0]))+`,"subscribe":{"recoverable":true,"epoch":"e1","offset":9,"recovered":true,"publications":[{"data":{"text":"a"},"offset":8},{"data":{"text":"b"},"offset":9}]}}`)
	if ms := messages(r); len(ms) != 2 || ms[0].Content != "a" || ms[1].Content != "b" {
		t.Fatalf("recovered %+v", ms)
	}

	// Reconnect to a server that lost its history: a new epoch.
	d.Open("t")
	r = decode(d, `{"id":`+itoa(int(d.connectID))+`,"connect":{"ping":25,"pong":true}}`)
	r = decode(d, `{"id":`+itoa(cmdID(t, r.Replies[0]))+`,"subscribe":{"recoverable":true,"epoch":"e2","offset":3}}`+"\n"+
		`{"push":{"channel":"chat:general","pub":{"data":{"text":"live"},"offset":4}}}`)
	var reset bool
	for _, e := range r.Events {
		reset = reset || (e.Type == EventReset && e.Topic == dialect.TopicMessages)
	}
	if !reset || len(messages(r)) != 0 || len(r.Replies) != 2 || !strings.Contains(string(r.Replies[0]), `"unsubscribe"`) ||
		!strings.Contains(string(r.Replies[1]), `"epoch":"e2"`) || strings.Contains(string(r.Replies[1]), `"offset"`) {
		t.Fatalf("after a new epoch: reset %v, messages %d, replies %s", reset, len(messages(r)), r.Replies)
	}
	r = decode(d, `{"id":`+itoa(cmdID(t, r.Replies[1]))+`,"subscribe":{"recoverable":true,"epoch":"e2","offset":4,"recovered":true,"publications":[{"data":{"text":"x"},"offset":1},{"data":{"text":"y"},"offset":2},{"data":{"text":"z"},"offset":3},{"data":{"text":"live"},"offset":4}]}}`)
	var got []string
	for _, m := range messages(r) {
		got = append(got, m.Content)
	}
	if strings.Join(got, ",") != "x,y,z,live" {
		t.Errorf("the new epoch from its start: %v, want x,y,z,live once each", got)
	}
}

func TestPublish(t *testing.T) {
	d := newTestDialect()
	d.Open("t")
	frame, err := d.EncodeMessage(dialect.OutgoingMessage{ConversationID: "general", Content: "yo", ClientMessageID: "k1"})
	if err != nil || !strings.Contains(string(frame), `"publish":{"channel":"chat:general","data":{"conversation_id":"general","text":"yo","client_message_id":"k1"}}`) {
		t.Fatalf("EncodeMessage = %s, %v", frame, err)
	}
	id := itoa(cmdID(t, frame))
	if r := decode(d, `{"id":`+id+`,"publish":{}}`); len(r.Acks) != 1 || r.Acks[0] != (dialect.Ack{ClientMessageID: "k1"}) {
		t.Errorf("publish reply: %+v", r.Acks)
	}
	frame, _ = d.EncodeMessage(dialect.OutgoingMessage{ConversationID: "general", Content: "no", ClientMessageID: "k2"})
	if r := decode(d, `{"id":`+itoa(cmdID(t, frame))+`,"error":{"code":103,"message":"permission denied"}}`); len(r.Acks) != 1 || !strings.Contains(r.Acks[0].Error, "103 permission denied") {
		t.Errorf("refused publish: %+v", r.Acks)
	}
	frame, _ = d.EncodeMessage(dialect.OutgoingMessage{ConversationID: "general", Content: "later", ClientMessageID: "k3"})
	if r := decode(d, `{"id":`+itoa(cmdID(t, frame))+`,"error":{"code":111,"message":"too many requests"}}`); len(r.Acks) != 0 {
		t.Errorf("a temporary error failed the message: %+v", r.Acks)
	}
	if _, err := d.EncodeTyping(dialect.OutgoingTyping{ConversationID: "general", IsTyping: true}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("typing without a channel: %v", err)
	}
	d.Open("t")
	if r := decode(d, `{"id":`+itoa(int(d.connectID))+`,"error":{"code":109,"message":"token expired"}}`); !errors.Is(r.Err, dialect.ErrUnauthorized) {
		t.Errorf("connect refused with 109: %v", r.Err)
	}
}

// FuzzDecode feeds arbitrary frames to the dialect: nothing panics, and every event is one line
// of valid JSON.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{}`, `{"id":1,"connect":{"ping":1,"pong":true,"subs":{"chat:x":{"publications":[{"data":{"text":"a"},"offset":1}]}}}}`,
		`{"push":{"channel":"chat:a","pub":{"data":{"text":"b"},"offset":2}}}` + "\n" + `{"push":{"channel":"chat:a","leave":{"info":{"user":"u"}}}}`,
		`{"id":2,"subscribe":{"epoch":"e","recovered":false}}`, `{"push":{"disconnect":{"code":4500}}}`, "{", "\xff", `{"id":9,"error":{"code":1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		d := newTestDialect()
		d.Open("t")
		var r dialect.Result
		d.Decode(dialect.Frame{Data: frame}, dialect.Env{At: time.Now()}, &r)
		for _, e := range r.Events {
			if !json.Valid(e.Data) || strings.ContainsAny(string(e.Data), "\r\n") {
				t.Fatalf("event data %q", e.Data)
			}
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
