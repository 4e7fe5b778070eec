package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// missing reports an outside part a test needs and this machine lacks: the test skips, naming
// the command that installs it, except under CHATBRIDGE_REQUIRE_ALL (set by .ci/run, which
// installs every part), where a missing part fails the test.
func missing(t *testing.T, what, install string) {
	t.Helper()
	if os.Getenv("CHATBRIDGE_REQUIRE_ALL") != "" {
		t.Fatalf("%s is missing; .ci/run installs it with: %s", what, install)
	}
	t.Skipf("%s is missing; install it with: %s", what, install)
}

var npmOnce sync.Map // folder -> *npmResult

type npmResult struct {
	once sync.Once
	err  error
	out  []byte
}

// nodeModules makes sure the npm packages of a test folder (its package-lock.json) are
// installed, with npm ci into the folder itself, once per test binary. It skips (or fails, see
// missing) where Node.js or npm is missing.
func nodeModules(t *testing.T, dir string) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, tool, "apt-get install -y nodejs npm")
		}
	}
	v, _ := npmOnce.LoadOrStore(dir, &npmResult{})
	r := v.(*npmResult)
	r.once.Do(func() {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		r.out, r.err = cmd.CombinedOutput()
	})
	if r.err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, r.err, r.out)
	}
}
