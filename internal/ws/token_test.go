package ws

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestStaticToken(t *testing.T) {
	got, err := StaticToken("abc").Token(t.Context())
	if got != "abc" || err != nil {
		t.Errorf("Token = %q, %v; want abc, nil", got, err)
	}
}

func TestFileToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	src := FileToken{Path: path}
	if _, err := src.Token(t.Context()); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("missing file: err = %v, want one naming the path", err)
	}
	for _, tt := range []struct{ content, want string }{
		{"first", "first"},
		{"  second\n", "second"},
		{"\n\t\n", ""},
	} {
		writeFile(t, path, tt.content)
		if got, err := src.Token(t.Context()); got != tt.want || err != nil {
			t.Errorf("Token after writing %q = %q, %v; want %q", tt.content, got, err, tt.want)
		}
	}
}

func TestSettableToken(t *testing.T) {
	s := NewSettableToken("")
	if got, _ := s.Token(t.Context()); got != "" {
		t.Errorf("initial Token = %q, want empty", got)
	}
	ch := s.Changed()
	select {
	case <-ch:
		t.Fatal("Changed fired before Set")
	default:
	}
	s.Set(" new\n")
	select {
	case <-ch:
	default:
		t.Fatal("Changed did not fire on Set")
	}
	if got, _ := s.Token(t.Context()); got != "new" {
		t.Errorf("Token after Set = %q, want new", got)
	}
	select {
	case <-s.Changed():
		t.Fatal("a fresh Changed channel fired without a new Set")
	default:
	}
}

func TestSettableTokenConcurrent(t *testing.T) {
	var s SettableToken // the zero value works too
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				ch := s.Changed()
				s.Set("x")
				<-ch
				s.Token(t.Context())
			}
		})
	}
	wg.Wait()
}
