// Package testparts is for tests only: it finds or installs the outside parts some tests need
// (Node.js packages, Chromium, a server binary) and says, for one that is missing, either that
// the test skips (naming the command that installs it) or, under CHATBRIDGE_REQUIRE_ALL (set by
// .ci/run, which installs every part), that it fails.
package testparts

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Missing reports an outside part the test needs and this machine lacks.
func Missing(t testing.TB, what, install string) {
	t.Helper()
	if os.Getenv("CHATBRIDGE_REQUIRE_ALL") != "" {
		t.Fatalf("%s is missing; .ci/run installs it with: %s", what, install)
	}
	t.Skipf("%s is missing; install it with: %s", what, install)
}

var installs sync.Map // folder -> *install

type install struct {
	once sync.Once
	err  error
	out  []byte
}

// NodeModules makes sure the npm packages of a test folder (its package-lock.json) are
// installed, with npm ci into the folder itself, once per test binary. Where Node.js or npm is
// missing it calls Missing.
func NodeModules(t testing.TB, dir string) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			Missing(t, tool, "apt-get install -y nodejs npm")
		}
	}
	v, _ := installs.LoadOrStore(dir, &install{})
	in := v.(*install)
	in.once.Do(func() {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		in.out, in.err = cmd.CombinedOutput()
	})
	if in.err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, in.err, in.out)
	}
}
