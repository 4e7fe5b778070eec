package hub

import (
	"bytes"
	"strings"
	"testing"
)

// sseEvent is one event as a browser's EventSource dispatches it.
type sseEvent struct {
	id, typ, data string
}

// parseSSE reads a stream the way the WHATWG EventSource algorithm does ("event stream
// interpretation"), so that the tests check what a browser would see, not our own encoder.
func parseSSE(stream string) (events []sseEvent, lastID string) {
	var typ, data strings.Builder
	var idBuf string
	for len(stream) > 0 {
		i := strings.IndexAny(stream, "\r\n")
		if i < 0 {
			break // an unterminated line is never processed
		}
		line := stream[:i]
		if stream[i] == '\r' && i+1 < len(stream) && stream[i+1] == '\n' {
			i++
		}
		stream = stream[i+1:]
		if line == "" { // dispatch
			lastID = idBuf
			if data.Len() == 0 {
				typ.Reset()
				continue
			}
			d := strings.TrimSuffix(data.String(), "\n")
			name := typ.String()
			if name == "" {
				name = "message"
			}
			events = append(events, sseEvent{id: lastID, typ: name, data: d})
			typ.Reset()
			data.Reset()
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			typ.Reset()
			typ.WriteString(value)
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
		case "id":
			if !strings.Contains(value, "\x00") {
				idBuf = value
			}
		}
	}
	return events, lastID
}

func TestWire(t *testing.T) {
	tests := []struct {
		name     string
		typ      string
		data     string
		wantTyp  string // Event.Type
		wantData string // Event.Data
		rest     string // Wire after "id: <ID>\n"
	}{
		{"json", "chat.message", `{"a":1}`, "chat.message", `{"a":1}`, "event: chat.message\ndata: {\"a\":1}\n\n"},
		{"no type", "", `{}`, "", `{}`, "data: {}\n\n"},
		{"encoder newline", "x", "{\"a\":1}\n", "x", `{"a":1}`, "event: x\ndata: {\"a\":1}\n\n"},
		{"crlf tail", "x", "{}\r\n\r\n", "x", `{}`, "event: x\ndata: {}\n\n"},
		{"lf inside", "x", "{\n\"a\": 1\n}", "x", "{\n\"a\": 1\n}", "event: x\ndata: {\ndata: \"a\": 1\ndata: }\n\n"},
		{"cr and crlf inside", "x", "a\r\nb\rc", "x", "a\r\nb\rc", "event: x\ndata: a\ndata: b\ndata: c\n\n"},
		{"blank line inside", "x", "a\n\nb", "x", "a\n\nb", "event: x\ndata: a\ndata: \ndata: b\n\n"},
		{"type with newline", "chat\nid: 0\r\n", "{}", "chat id: 0  ", "{}", "event: chat id: 0  \ndata: {}\n\n"},
		{"empty data", "x", "", "x", "", "event: x\ndata: \n\n"},
	}
	h := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.data)
			ev := h.Publish("topic", tt.typ, "key", in)
			want := "id: " + ev.ID + "\n" + tt.rest
			if string(ev.Wire) != want {
				t.Fatalf("Wire = %q, want %q", ev.Wire, want)
			}
			if ev.Type != tt.wantTyp || string(ev.Data) != tt.wantData || ev.Topic != "topic" || ev.Key != "key" {
				t.Fatalf("event = %+v", ev)
			}
			// Publish copied its input, and Data cannot be grown into Wire.
			for i := range in {
				in[i] = '#'
			}
			_ = append(ev.Data, "XXXX"...)
			if string(ev.Wire) != want || string(ev.Data) != tt.wantData {
				t.Fatalf("event changed after publish: Wire %q, Data %q", ev.Wire, ev.Data)
			}
		})
	}
}

func FuzzWire(f *testing.F) {
	f.Add("chat.message", []byte(`{"a":1}`))
	f.Add("", []byte("a\r\nb\rc\n"))
	f.Add("a\nb", []byte("\n\n"))
	f.Add("x", []byte("data: y\n\nid: z"))
	h := New(Config{History: 2})
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		ev := h.Publish("t", typ, "", data)
		events, lastID := parseSSE(string(ev.Wire))
		if lastID != ev.ID {
			t.Fatalf("a browser's last event id is %q, want %q (wire %q)", lastID, ev.ID, ev.Wire)
		}
		wantData := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(bytes.TrimRight(data, "\r\n")))
		wantTyp := ev.Type
		if wantTyp == "" {
			wantTyp = "message"
		}
		if len(events) != 1 || events[0] != (sseEvent{id: ev.ID, typ: wantTyp, data: wantData}) {
			t.Fatalf("wire %q dispatches %+v, want one event %q %q", ev.Wire, events, wantTyp, wantData)
		}
		if strings.ContainsAny(ev.Type, "\r\n") {
			t.Fatalf("Type %q has a line break", ev.Type)
		}
	})
}
