package dialect

import "testing"

func TestPendingForgetsTheOldestBeyondItsBound(t *testing.T) {
	p := NewPending[int](2)
	p.Put(1, "a")
	p.Put(2, "b")
	if got, ok := p.Take(2); !ok || got != "b" {
		t.Fatalf("Take(2) = %q, %v; want b", got, ok)
	}
	if _, ok := p.Take(2); ok {
		t.Fatal("Take(2) twice found it again")
	}
	p.Put(3, "c")
	p.Put(4, "d") // three put since 1: it is forgotten
	if _, ok := p.Take(1); ok {
		t.Error("the oldest id is still remembered beyond the bound")
	}
	for id, want := range map[int]string{3: "c", 4: "d"} {
		if got, ok := p.Take(id); !ok || got != want {
			t.Errorf("Take(%d) = %q, %v; want %q", id, got, ok, want)
		}
	}
}

func TestWithPath(t *testing.T) {
	for _, tt := range []struct{ base, path, want string }{
		{"ws://h:1", "", "ws://h:1/def"},
		{"ws://h:1/", "", "ws://h:1/def"},
		{"ws://h:1/own", "", "ws://h:1/own"},
		{"ws://h:1/own", "/given", "ws://h:1/given"},
	} {
		u, err := WithPath(tt.base, tt.path, "/def")
		if err != nil || u.String() != tt.want {
			t.Errorf("WithPath(%q, %q) = %v, %v; want %s", tt.base, tt.path, u, err, tt.want)
		}
	}
}
