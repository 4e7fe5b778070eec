package hub

import (
	"regexp"
	"testing"
)

var idPattern = regexp.MustCompile(`^[a-z2-7]{8}-[0-9a-f]{16}$`)

func TestIDsIncreaseAndDifferAcrossHubs(t *testing.T) {
	a, b := New(Config{}), New(Config{})
	if a.LastID() == b.LastID() {
		t.Fatalf("two hubs start at the same id %q", a.LastID())
	}
	seen := map[string]bool{}
	for _, h := range []*Hub{a, b} {
		prev := h.LastID()
		if seq, ok := h.ParseID(prev); !ok || seq != 0 {
			t.Fatalf("LastID before any event = %q, ParseID = %d, %v; want seq 0", prev, seq, ok)
		}
		for i := range 300 { // crosses every hex digit width that matters for string order
			ev := h.Publish("t", "x", "", []byte(`{}`))
			if !idPattern.MatchString(ev.ID) {
				t.Fatalf("id %q does not look like <run>-<16 hex>", ev.ID)
			}
			if ev.ID <= prev {
				t.Fatalf("id %q is not after %q (as strings)", ev.ID, prev)
			}
			if seq, ok := h.ParseID(ev.ID); !ok || seq != uint64(i+1) || seq != ev.Seq {
				t.Fatalf("ParseID(%q) = %d, %v; want %d", ev.ID, seq, ok, i+1)
			}
			if seen[ev.ID] {
				t.Fatalf("id %q appears in both hubs", ev.ID)
			}
			seen[ev.ID] = true
			if got := h.LastID(); got != ev.ID {
				t.Fatalf("LastID = %q after publishing %q", got, ev.ID)
			}
			prev = ev.ID
		}
	}
	if _, ok := a.ParseID(b.LastID()); ok {
		t.Fatalf("hub a accepts hub b's id %q", b.LastID())
	}
}

func TestClassify(t *testing.T) {
	h := New(Config{})
	other := New(Config{})
	run := h.prefix[:runLen]
	tests := []struct {
		name   string
		id     string
		seq    uint64
		reason string
	}{
		{"this run", run + "-00000000000000ff", 255, ""},
		{"this run zero", run + "-0000000000000000", 0, ""},
		{"max seq", run + "-ffffffffffffffff", ^uint64(0), ""},
		{"other run", other.prefix + "0000000000000001", 0, ResetUnknownRun},
		{"other well-formed run", "abcdefgh-0000000000000001", 0, ResetUnknownRun},
		{"empty", "", 0, ResetInvalid},
		{"number", "42", 0, ResetInvalid},
		{"short seq", run + "-ff", 0, ResetInvalid},
		{"upper hex", run + "-00000000000000FF", 0, ResetInvalid},
		{"long seq", run + "-000000000000000001", 0, ResetInvalid},
		{"sign", run + "-+000000000000001", 0, ResetInvalid},
		{"bad run chars", "ABCDEFGH-0000000000000001", 0, ResetInvalid},
		{"short run", "abc-0000000000000001", 0, ResetInvalid},
		{"no dash", run + "0000000000000001", 0, ResetInvalid},
		{"trailing space", run + "-0000000000000001 ", 0, ResetInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq, reason := h.classify(tt.id)
			if seq != tt.seq || reason != tt.reason {
				t.Fatalf("classify(%q) = %d, %q; want %d, %q", tt.id, seq, reason, tt.seq, tt.reason)
			}
		})
	}
}

func FuzzParseID(f *testing.F) {
	h := New(Config{})
	f.Add(h.LastID())
	f.Add(h.prefix + "00000000000000ff")
	f.Add("abcdefgh-0000000000000001")
	f.Add("")
	f.Add("-")
	f.Fuzz(func(t *testing.T, id string) {
		seq, ok := h.ParseID(id)
		if ok && formatID(h.prefix, seq) != id {
			t.Fatalf("ParseID(%q) = %d, but that formats as %q", id, seq, formatID(h.prefix, seq))
		}
		cseq, reason := h.classify(id)
		if ok != (reason == "") || cseq != seq {
			t.Fatalf("classify(%q) = %d, %q disagrees with ParseID = %d, %v", id, cseq, reason, seq, ok)
		}
		if reason != "" && reason != ResetUnknownRun && reason != ResetInvalid {
			t.Fatalf("classify(%q) reason %q", id, reason)
		}
	})
}
