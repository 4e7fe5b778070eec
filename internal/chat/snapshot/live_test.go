package snapshot

import (
	"encoding/json"
	"github.com/chatbridge/chatbridge/internal/dialect"
	"testing"
)

func TestProjectionPresence(t *testing.T) {
	f := newFeed(t, Config{})
	for _, u := range []string{
		`{"user_id":"carol","status":"online"}`,
		`{"user_id":"bob","status":"online","x":1}`,
		`{"user_id":"carol","status":"offline","last_seen":"2026-01-02T03:04:05Z"}`,
		`{"user_id":"alice","status":"away"}`,
		`{"status":"online"}`,       // malformed: ignored
		`{"user_id":"dan"}`,         // malformed: ignored
		`{"user_id":7,"status":""}`, // malformed: ignored
	} {
		f.pub(dialect.TopicPresence, dialect.TypeUserStatus, "", u)
	}
	id, users := f.p.Presence()
	got, _ := json.Marshal(users)
	want := `[{"user_id":"alice","status":"away"},{"user_id":"bob","status":"online"},` +
		`{"user_id":"carol","status":"offline","last_seen":"2026-01-02T03:04:05Z"}]`
	if string(got) != want || id != f.h.LastID() {
		t.Errorf("presence %s at %s\nwant %s at %s", got, id, want, f.h.LastID())
	}
}

func TestProjectionCalls(t *testing.T) {
	incoming := func(id string) string {
		return `{"call_id":"` + id + `","conversation_id":"c1","caller_id":"bob","media":"video","extra":1}`
	}
	tests := []struct {
		name   string
		events [][2]string // type, payload
		want   string      // the calls snapshot as JSON
	}{
		{"incoming", [][2]string{{dialect.TypeCallIncoming, incoming("k1")}},
			`[{"call_id":"k1","conversation_id":"c1","caller_id":"bob","media":"video","state":"incoming"}]`},
		{"accepted", [][2]string{{dialect.TypeCallIncoming, incoming("k1")}, {dialect.TypeCallAccepted, `{"call_id":"k1","user_id":"me"}`}},
			`[{"call_id":"k1","conversation_id":"c1","caller_id":"bob","media":"video","state":"accepted"}]`},
		{"incoming again keeps its state and place", [][2]string{
			{dialect.TypeCallIncoming, incoming("k1")}, {dialect.TypeCallIncoming, incoming("k2")},
			{dialect.TypeCallAccepted, `{"call_id":"k1"}`},
			{dialect.TypeCallIncoming, `{"call_id":"k1","conversation_id":"c1","caller_id":"bob","media":"audio","created_at":"2026-01-02T03:04:05Z"}`},
		}, `[{"call_id":"k1","conversation_id":"c1","caller_id":"bob","media":"audio","created_at":"2026-01-02T03:04:05Z","state":"accepted"},` +
			`{"call_id":"k2","conversation_id":"c1","caller_id":"bob","media":"video","state":"incoming"}]`},
		{"ended", [][2]string{{dialect.TypeCallIncoming, incoming("k1")}, {dialect.TypeCallEnded, `{"call_id":"k1","reason":"hangup"}`}}, `[]`},
		{"rejected", [][2]string{{dialect.TypeCallIncoming, incoming("k1")}, {dialect.TypeCallAccepted, `{"call_id":"k1"}`},
			{dialect.TypeCallRejected, `{"call_id":"k1"}`}}, `[]`},
		{"events of unknown calls", [][2]string{{dialect.TypeCallAccepted, `{"call_id":"k1"}`}, {dialect.TypeCallEnded, `{"call_id":"k2"}`}}, `[]`},
		{"malformed", [][2]string{{dialect.TypeCallIncoming, `{"call_id":"k1","conversation_id":"c1","media":"video"}`},
			{dialect.TypeCallIncoming, `{"call_id":"k1"`}, {dialect.TypeCallEnded, `{"call_id":5}`}}, `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFeed(t, Config{})
			for _, ev := range tt.events {
				f.pub(dialect.TopicCalls, ev[0], "c1", ev[1])
			}
			checkBooks(t, f.p)
			id, calls := f.p.Calls()
			got, _ := json.Marshal(calls)
			if string(got) != tt.want || id != f.h.LastID() {
				t.Errorf("calls %s at %s\nwant %s at %s", got, id, tt.want, f.h.LastID())
			}
		})
	}
}
