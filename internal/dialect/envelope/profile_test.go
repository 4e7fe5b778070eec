package envelope

import (
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/internal/dialect"
)

func fromProfile(t *testing.T, doc, tokenIn string) *Dialect {
	t.Helper()
	p, err := dialect.ParseProfile("test.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	d, err := FromProfile(p, tokenIn)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestFlatFramesWithTheirOwnNames(t *testing.T) {
	d := fromProfile(t, `
envelope:
  type: event
  payload: ""
  fields: {conversation_id: room, content: text, sender_id: from, id: msgId, created_at: ts}
routes:
  message: messages
outbound:
  message: message
`, "")
	r := decode(d, `{"event":"message","room":"lobby","text":"hi","from":"bob","msgId":"m1","ts":"2026-12-01T09:00:00Z"}`)
	ev := domain(r)
	if len(r.Rejects) != 0 || len(ev) != 1 {
		t.Fatalf("rejects %v, events %+v", r.Rejects, r.Events)
	}
	if want := `{"conversation_id":"lobby","content":"hi","sender_id":"bob","id":"m1","created_at":"2026-12-01T09:00:00Z"}`; string(ev[0].Data) != want {
		t.Errorf("Data = %s, want %s", ev[0].Data, want)
	}
	if ev[0].Type != dialect.TypeChatMessage || ev[0].Key != "lobby" {
		t.Errorf("event %s key %s", ev[0].Type, ev[0].Key)
	}
	frame, _ := d.EncodeMessage(dialect.OutgoingMessage{ConversationID: "lobby", Content: "yo", ClientMessageID: "k"})
	if want := `{"event":"message","room":"lobby","text":"yo","client_message_id":"k"}`; string(frame) != want {
		t.Errorf("EncodeMessage = %s, want %s", frame, want)
	}
	if ping := string(d.Ping()); ping != `{"event":"ping"}` {
		t.Errorf("Ping = %s", ping)
	}
}

func TestNestedPaths(t *testing.T) {
	d := fromProfile(t, `envelope: {type: meta.kind, payload: body.data}`, "")
	r := decode(d, `{"meta":{"kind":"user.status"},"body":{"data":{"user_id":"u","status":"away"}}}`)
	if ev := domain(r); len(ev) != 1 || ev[0].Type != dialect.TypeUserStatus {
		t.Fatalf("events %+v rejects %v", r.Events, r.Rejects)
	}
	frame, _ := d.EncodeTyping(dialect.OutgoingTyping{ConversationID: "c", IsTyping: false})
	if want := `{"meta":{"kind":"typing.indicator"},"body":{"data":{"conversation_id":"c","is_typing":false}}}`; string(frame) != want {
		t.Errorf("EncodeTyping = %s, want %s", frame, want)
	}
}

func TestNDJSONFrames(t *testing.T) {
	d := fromProfile(t, "framing: ndjson\nenvelope: {lenient: true}\n", "")
	batch := `{"type":"chat.message","payload":{"conversation_id":"c","content":"one","client_message_id":"k1"}}` + "\n" +
		"not json\n" +
		`{"type":"chat.message","payload":{"conversation_id":"c","content":"two"}}` + "\n"
	r := decode(d, batch)
	var raws, msgs int
	for _, e := range r.Events {
		if e.RawKind != "" {
			raws++
		} else {
			msgs++
		}
	}
	if raws != 3 || msgs != 2 || len(r.Rejects) != 1 {
		t.Fatalf("raw %d, messages %d, rejects %v; want each line on raw, two messages, one reject", raws, msgs, r.Rejects)
	}
	// A JSON value spread over lines is one unit.
	r = decode(d, "{\"type\":\"pong\",\n\"payload\":{}}")
	if len(r.Events) != 2 || len(r.Rejects) != 0 {
		t.Errorf("pretty-printed frame: events %+v rejects %v, want one unit", r.Events, r.Rejects)
	}
}

func TestConnectFrame(t *testing.T) {
	d := fromProfile(t, `handshake: {connect: {type: auth, payload: {client: bridge}}}`, dialect.TokenInConnect)
	first, ready := d.Open("s3cret")
	if !ready || len(first) != 1 || string(first[0]) != `{"type":"auth","payload":{"client":"bridge","token":"s3cret"}}` {
		t.Errorf("Open = %q, %v", first, ready)
	}
	d = fromProfile(t, `token: {in: connect, name: jwt}`, dialect.TokenInConnect)
	if first, _ := d.Open("t"); len(first) != 1 || string(first[0]) != `{"type":"auth","payload":{"jwt":"t"}}` {
		t.Errorf("default connect frame = %q", first)
	}
	d = fromProfile(t, `handshake: {connect: {type: hello}}`, dialect.TokenInQuery)
	if first, _ := d.Open("t"); len(first) != 1 || strings.Contains(string(first[0]), `"t"`) {
		t.Errorf("connect frame without the token = %q", first)
	}
}

func TestProfileOfAnotherDialectIsRefused(t *testing.T) {
	p, err := dialect.ParseProfile("x.yaml", []byte("centrifugo: {channels: [a]}"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FromProfile(p, ""); err == nil || !strings.Contains(err.Error(), "key centrifugo") {
		t.Errorf("FromProfile = %v, want the centrifugo section named", err)
	}
}
