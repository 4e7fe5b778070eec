package outbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/internal/ws"
)

// waiting returns the ids of the waiting messages, in order, with their
// statuses checked to be queued.
func waiting(t *testing.T, o *Outbox) []string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	var ids []string
	for e := o.q.head; e != nil; e = e.next {
		if e.status != StatusQueued {
			t.Errorf("%s is %s after Open, want queued", e.msg.ClientMessageID, e.status)
		}
		ids = append(ids, e.msg.ClientMessageID)
	}
	return ids
}

// TestPersistence: with Dir, the waiting messages and the remembered ids
// survive Close and Open, in order; a second Open of the same Dir while the
// first is open fails with ErrLocked.
func TestPersistence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state") // created by Open
	up := startUpstream(t, "")
	r1 := newRig(t, up.url, Config{Dir: dir})
	r1.submit("d1", "conv")
	r1.waitStatus(StatusDelivered, "d1")

	up.srv.SetReject(503, 0)
	n := len(r1.states.all())
	up.srv.DropAll()
	r1.waitState(ws.StateReconnecting, n)
	queued := []string{"q1", "q2", "q3", "q4", "q5"}
	for _, id := range queued {
		if st := r1.submit(id, "conv"); st != StatusQueued {
			t.Fatalf("Submit %s while down = %s, want queued", id, st)
		}
	}
	first, _ := r1.ob.Oldest()
	r1.stop()
	if lost, err := r1.ob.Close(); lost != 0 || err != nil {
		t.Errorf("Close again = %d, %v; want 0, nil", lost, err)
	}

	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, FileName): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", path, fi.Mode().Perm(), err, want)
		}
	}

	r2 := newRig(t, up.url, Config{Dir: dir})
	if got := waiting(t, r2.ob); !slices.Equal(got, queued) {
		t.Fatalf("reopened queue %v, want %v", got, queued)
	}
	if at, ok := r2.ob.Oldest(); !ok || !at.Equal(first) {
		t.Errorf("Oldest after Open = %v, %v; want %v", at, ok, first)
	}
	if u, ok := r2.ob.lookup("q1"); !ok || u.Message.Content != "text of q1" {
		t.Errorf("lookup(q1) = %+v, %v; want its content kept", u, ok)
	}
	if st := r2.submit("d1", "conv"); st != StatusDelivered {
		t.Errorf("Submit of a delivered id after reopen = %s, want delivered", st)
	}

	_, err := Open(Config{Sender: nopSender{}, Dir: dir})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open of %s: %v, want ErrLocked", dir, err)
	}
	if want := "state dir " + dir + " is in use by another bridge"; err.Error() != want {
		t.Errorf("second Open error %q, want %q", err, want)
	}

	up.srv.SetReject(0, 0)
	r2.waitStatus(StatusDelivered, queued...)
	if got, want := up.posted("conv"), append([]string{"d1"}, queued...); !slices.Equal(got, want) {
		t.Errorf("upstream holds %v, want %v", got, want)
	}
	if got := up.received(t); slices.Index(got, "d1") != 0 || slices.Index(got[1:], "d1") != -1 {
		t.Errorf("upstream read %v, want d1 once", got)
	}
}

// TestRememberBoundPersisted: the remembered ids are bounded, oldest
// forgotten first, on disk as in memory.
func TestRememberBoundPersisted(t *testing.T) {
	dir := t.TempDir()
	o, err := Open(Config{Sender: nopSender{}, Dir: dir, Remember: 3})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for i := range 5 {
		id := fmt.Sprint("r", i)
		if _, err := o.Submit(t.Context(), Message{ClientMessageID: id}); err != nil {
			t.Fatalf("Submit: %v", err)
		}
		if !o.Ack(id) {
			t.Fatalf("Ack(%s) = false", id)
		}
	}
	if _, err := o.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, remember := range []int{3, 2} {
		o, err = Open(Config{Sender: nopSender{}, Dir: dir, Remember: remember})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		for i := range 5 {
			_, ok := o.lookup(fmt.Sprint("r", i))
			if want := i >= 5-remember; ok != want {
				t.Errorf("Remember %d: r%d remembered %v, want %v", remember, i, ok, want)
			}
		}
		if _, err := o.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// crashDirEnv names the state dir of the child process of TestSurvivesSIGKILL.
const crashDirEnv = "OUTBOX_TEST_CRASH_DIR"

// TestSurvivesSIGKILL runs a bridge-like child process that accepts messages
// (and acknowledges some), kills it with SIGKILL, and opens its state dir:
// every accepted, unacknowledged message is there, in order, and the ones
// reported delivered are remembered.
func TestSurvivesSIGKILL(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // also when the test fails early
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("read child: %v", err)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatalf("kill child: %v", err)
	}
	_ = cmd.Wait()
	if line != "accepted 50\n" {
		t.Fatalf("child said %q", line)
	}

	o, err := Open(Config{Sender: nopSender{}, Dir: dir})
	if err != nil {
		t.Fatalf("Open after the kill: %v", err)
	}
	defer o.Close()
	var want []string
	for i := 10; i < 50; i++ {
		want = append(want, "k"+strconv.Itoa(i))
	}
	if got := waiting(t, o); !slices.Equal(got, want) {
		t.Errorf("after SIGKILL the outbox holds %v, want %v", got, want)
	}
	for i := range 10 {
		if u, ok := o.lookup("k" + strconv.Itoa(i)); !ok || u.Status != StatusDelivered {
			t.Errorf("k%d: %+v, %v; want remembered as delivered", i, u, ok)
		}
	}
}

// crashChild accepts 50 messages, acknowledges the first 10, reports once
// the 10 are reported delivered, and waits to be killed.
func crashChild(dir string) {
	delivered := make(chan struct{}, 50)
	o, err := Open(Config{Sender: nopSender{}, Dir: dir, OnUpdate: func(u Update) {
		if u.Status == StatusDelivered {
			delivered <- struct{}{}
		}
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx := context.Background()
	for i := range 50 {
		id := "k" + strconv.Itoa(i)
		if _, err := o.Submit(ctx, Message{ClientMessageID: id, ConversationID: "c", Content: "x"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	for i := range 10 {
		o.Ack("k" + strconv.Itoa(i))
	}
	for range 10 {
		<-delivered // reported delivered: stored as delivered
	}
	fmt.Println("accepted 50")
	time.Sleep(time.Hour) // killed long before
}
