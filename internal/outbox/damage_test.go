package outbox

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// logBuffer is a slog handler's output a test reads.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// filledStateDir makes a state dir whose outbox holds n queued messages, closed.
func filledStateDir(t testing.TB, n int) string {
	t.Helper()
	dir := t.TempDir()
	o, err := Open(Config{Sender: nopSender{}, Dir: dir, Capacity: n})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := o.Submit(t.Context(), Message{ClientMessageID: fmt.Sprint("m", i), ConversationID: "c",
			Content: strings.Repeat("x", 40)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := o.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// reopen opens the state dir again, with the log kept.
func reopen(dir string) (*Outbox, *logBuffer, error) {
	lb := &logBuffer{}
	o, err := Open(Config{Sender: nopSender{}, Dir: dir, Capacity: 1000,
		Logger: slog.New(slog.NewTextHandler(lb, nil))})
	return o, lb, err
}

// overwrite writes n bytes from rng at off in the state file.
func overwrite(t *testing.T, dir string, off int64, n int, seed uint64) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, FileName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	junk := make([]byte, n)
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	if _, err := f.WriteAt(junk, off); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedStateFiles(t *testing.T) {
	page := int64(os.Getpagesize())
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"truncated after two pages", func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, FileName), 2*page); err != nil {
				t.Fatal(err)
			}
		}},
		{"random bytes over the third page", func(t *testing.T, dir string) { overwrite(t, dir, 2*page, int(page), 1) }},
		{"random bytes over both meta pages", func(t *testing.T, dir string) { overwrite(t, dir, 0, int(2*page), 2) }},
		{"random bytes deep inside", func(t *testing.T, dir string) { overwrite(t, dir, 5*page, int(3*page), 3) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filledStateDir(t, 200)
			tt.damage(t, dir)
			o, _, err := reopen(dir)
			if err == nil {
				_, _ = o.Close()
				t.Fatal("Open took a damaged file")
			}
			path := filepath.Join(dir, FileName)
			msg := err.Error()
			t.Log(msg)
			if !errors.Is(err, ErrDamaged) || !strings.Contains(msg, "state file "+path+" is damaged") ||
				!strings.Contains(msg, "mv "+path) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming the file, the damage and what to do", msg)
			}
		})
	}
}

func TestEmptyStateFileStartsFresh(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	o, lb, err := reopen(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if !strings.Contains(lb.String(), "level=WARN") || !strings.Contains(lb.String(), "empty") {
		t.Errorf("log %q, want a warning that the file was empty", lb)
	}
	if d := o.Depth(); d != 0 {
		t.Errorf("Depth = %d", d)
	}
}

// TestDamagedMetaPageIsSaid: bbolt opens a file whose newer meta page is damaged as of the older
// one, silently; the outbox says so in a warning.
func TestDamagedMetaPageIsSaid(t *testing.T) {
	dir := filledStateDir(t, 200)
	page := int64(os.Getpagesize())
	// The newer of the two meta pages holds the last commit: damage that one.
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	m0 := readMeta(data, 0)
	newer := int64(0)
	if m1 := readMeta(data, int(m0.pageSize)); m1.txid > m0.txid {
		newer = page
	}
	overwrite(t, dir, newer+boltPageHeader, 64, 4)
	o, lb, err := reopen(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer o.Close()
	if !strings.Contains(lb.String(), "level=WARN") || !strings.Contains(lb.String(), "meta pages is damaged") {
		t.Errorf("log %q, want a warning about the meta page", lb)
	}
	if d := o.Depth(); d < 199 {
		t.Errorf("Depth = %d, want the messages of the commit before (199)", d)
	}
}

// FuzzOpenDamagedStateFile writes fuzzed bytes over a real state file at a fuzzed place: Open
// may refuse the file or take it, but never panics, and what it takes it can close.
func FuzzOpenDamagedStateFile(f *testing.F) {
	f.Add(uint16(0), []byte{0xff, 0xff})
	f.Add(uint16(2*4096/16), bytes.Repeat([]byte{0}, 64))
	f.Add(uint16(4096/16), []byte("garbage over the second meta page"))
	f.Add(uint16(3*4096/16), bytes.Repeat([]byte{0xa5}, 4096))
	base := filledStateDir(f, 30)
	good, err := os.ReadFile(filepath.Join(base, FileName))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, at uint16, junk []byte) {
		data := bytes.Clone(good)
		off := int(at) * 16 % len(data)
		copy(data[off:], junk)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		o, _, err := reopen(dir)
		if err != nil {
			return
		}
		if d := o.Depth(); d > 30 {
			t.Errorf("Depth = %d from a file of 30 messages", d)
		}
		if _, err := o.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

// TestStorageFailureIsErrStorage: a state file that cannot take a message makes Submit fail
// with ErrStorage, and the message is not accepted.
func TestStorageFailureIsErrStorage(t *testing.T) {
	o, err := Open(Config{Sender: nopSender{}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	_ = o.store.db.Close() // the disk goes away under the outbox
	_, err = o.Submit(t.Context(), Message{ClientMessageID: "lost-1", ConversationID: "c", Content: "x"})
	if !errors.Is(err, ErrStorage) {
		t.Fatalf("Submit = %v, want ErrStorage", err)
	}
	if o.Depth() != 0 || o.Known("lost-1") {
		t.Error("a message that could not be stored was accepted")
	}
}

// TestCycleInThePageTree: a branch page that points back at itself would make bbolt's own
// check recurse without end; the outbox refuses the file first.
func TestCycleInThePageTree(t *testing.T) {
	dir := filledStateDir(t, 300)
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := readMeta(data, 0)
	if m1 := readMeta(data, int(m.pageSize)); m1.txid > m.txid {
		m = m1
	}
	ps := uint64(m.pageSize)
	// The root bucket's page lists the buckets; find one whose tree starts with a branch page.
	root := data[m.root*ps:]
	branch := uint64(0)
	for i := range int(ne.Uint16(root[10:])) {
		e := root[boltPageHeader+i*boltElement:]
		pos, ksize := int(ne.Uint32(e[4:])), int(ne.Uint32(e[8:]))
		v := root[boltPageHeader+i*boltElement+pos+ksize:]
		if id := ne.Uint64(v); id != 0 && ne.Uint16(data[id*ps+8:])&boltBranch != 0 {
			branch = id
		}
	}
	if branch == 0 {
		t.Fatal("no bucket of 300 messages has a branch page: the test needs one")
	}
	ne.PutUint64(data[branch*ps+boltPageHeader+8:], branch) // its first child is itself
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = reopen(dir)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "used twice") {
		t.Fatalf("Open = %v, want the cycle refused", err)
	}
}
