package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBridge compiles the bridge once into a temp dir, for tests that need a real process.
func buildBridge(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the bridge as a child process")
	}
	bin := filepath.Join(t.TempDir(), "bridge")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// child is the bridge running as a separate process.
type child struct {
	cmd    *exec.Cmd
	url    string
	stderr *lines
	exited chan error
}

func startChild(t *testing.T, bin string, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(bin, args...), stderr: newLines(), exited: make(chan error, 1)}
	c.cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	pipe, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(c.stderr, bufio.NewReader(pipe)); close(copied) }()
	go func() { <-copied; c.exited <- c.cmd.Wait() }()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.exited
	})
	return c
}

func (c *child) waitListening(t *testing.T) {
	t.Helper()
	c.url = c.stderr.wait(t, listeningRE)
}

func TestSIGKILLLosesNoAcceptedMessage(t *testing.T) {
	bin := buildBridge(t)
	up := newRestartable(t) // down for now
	stateDir := t.TempDir()
	args := []string{"--listen", "127.0.0.1:0", "--upstream", up.url(), "--token", "demo-token",
		"--state-dir", stateDir, "--reconnect-min", "10ms", "--reconnect-max", "100ms"}

	first := startChild(t, bin, args...)
	first.waitListening(t)
	const n = 50
	for i := 0; i < n; i++ {
		status, a := postMessage(t, first.url, "c-kill", fmt.Sprintf("k%02d", i), fmt.Sprintf("kill-%02d", i))
		if status != http.StatusAccepted || a.Status != "queued" {
			t.Fatalf("POST %d = %d %+v", i, status, a)
		}
	}

	// A second bridge on the same state directory refuses to start.
	second := startChild(t, bin, args...)
	select {
	case err := <-second.exited:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("second bridge: %v, want exit status 1", err)
		}
		second.exited <- err
	case <-time.After(20 * time.Second):
		t.Fatal("a second bridge on the same --state-dir kept running")
	}
	out := strings.TrimSpace(second.stderr.String())
	if !regexp.MustCompile(`(?m)^bridge: .*` + regexp.QuoteMeta(stateDir) + `.*in use`).MatchString(out) {
		t.Errorf("second bridge said %q, want a one-line error naming the state dir", out)
	}

	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited
	first.exited <- nil

	d := up.start()
	third := startChild(t, bin, args...)
	third.waitListening(t)
	waitMessages(t, d, "c-kill", n)
	waitQueued(t, third.url, 0) // every message acknowledged: nothing is left to resend
	msgs := d.Messages("c-kill")
	if len(msgs) != n {
		t.Fatalf("the upstream got %d messages, want exactly %d", len(msgs), n)
	}
	for i, m := range msgs {
		if m.ClientMessageID != fmt.Sprintf("kill-%02d", i) {
			t.Fatalf("message %d is %s: order lost", i, m.ClientMessageID)
		}
	}
	// Asked again after the restart, a delivered id is remembered and not sent again.
	if status, a := postMessage(t, third.url, "c-kill", "k00", "kill-00"); status != http.StatusAccepted || a.Status != "delivered" {
		t.Errorf("repeat after restart = %d %+v, want 202 delivered", status, a)
	}
}
