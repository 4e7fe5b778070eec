package demo

import "testing"

func TestParseFrame(t *testing.T) {
	tests := []struct {
		name, raw, typ, payload string
		wantErr                 bool
	}{
		{name: "full", raw: `{"type":"ping","payload":{"a":1}}`, typ: "ping", payload: `{"a":1}`},
		{name: "extra top-level fields", raw: `{"id":"x","type":"t","ts":1,"payload":{}}`, typ: "t", payload: `{}`},
		{name: "no payload", raw: `{"type":"ping"}`, typ: "ping", payload: `{}`},
		{name: "null payload", raw: `{"type":"ping","payload":null}`, typ: "ping", payload: `{}`},
		{name: "spaces", raw: " \n{\"type\":\"t\" , \"payload\" : { } }\n", typ: "t", payload: `{ }`},
		{name: "payload array", raw: `{"type":"t","payload":[]}`, typ: "t", wantErr: true},
		{name: "payload string", raw: `{"type":"t","payload":"x"}`, typ: "t", wantErr: true},
		{name: "no type", raw: `{"payload":{}}`, wantErr: true},
		{name: "null type", raw: `{"type":null}`, wantErr: true},
		{name: "empty type", raw: `{"type":""}`, wantErr: true},
		{name: "number type", raw: `{"type":1}`, wantErr: true},
		{name: "array", raw: `[{"type":"t"}]`, wantErr: true},
		{name: "string", raw: `"t"`, wantErr: true},
		{name: "empty", raw: ``, wantErr: true},
		{name: "trailing data", raw: `{"type":"t"}x`, wantErr: true},
		{name: "truncated", raw: `{"type":"t"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, payload, err := parseFrame([]byte(tt.raw))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tt.wantErr)
			}
			if typ != tt.typ || !tt.wantErr && string(payload) != tt.payload {
				t.Errorf("parseFrame = %q, %s; want %q, %s", typ, payload, tt.typ, tt.payload)
			}
		})
	}
}

func FuzzParseFrame(f *testing.F) {
	for _, seed := range []string{
		`{"type":"chat.message","payload":{"conversation_id":"c","content":"x","client_message_id":"1"}}`,
		`{"type":"ping"}`, `{"type":5}`, `[]`, `nul`, `{"type":"t","payload":[1]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		typ, payload, err := parseFrame(raw)
		if err != nil {
			return
		}
		if typ == "" || len(payload) == 0 || payload[0] != '{' {
			t.Fatalf("accepted %q as type %q payload %q", raw, typ, payload)
		}
		m := fields(payload)
		str(m, "content")
		boolean(m, "is_typing")
	})
}

func TestPayloadFields(t *testing.T) {
	m := fields([]byte(`{"s":"x","e":"","n":1,"b":true,"f":false,"z":null,"bs":"true"}`))
	strs := []struct {
		key  string
		want string
		ok   bool
	}{
		{"s", "x", true}, {"e", "", false}, {"n", "", false}, {"z", "", false}, {"missing", "", false},
	}
	for _, tt := range strs {
		if got, ok := str(m, tt.key); got != tt.want || ok != tt.ok {
			t.Errorf("str(%q) = %q, %v", tt.key, got, ok)
		}
	}
	bools := []struct {
		key    string
		want   bool
		wantOK bool
	}{
		{"b", true, true}, {"f", false, true}, {"z", false, false}, {"bs", false, false}, {"missing", false, false},
	}
	for _, tt := range bools {
		if got, ok := boolean(m, tt.key); got != tt.want || ok != tt.wantOK {
			t.Errorf("boolean(%q) = %v, %v", tt.key, got, ok)
		}
	}
}
