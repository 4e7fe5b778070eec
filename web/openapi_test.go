package web

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/internal/testparts"
)

// npmDir holds the npm tools the web package's tests run (package-lock.json pins them).
var npmDir = filepath.Join("testdata", "npm")

// TestTypesAreGeneratedFromOpenAPI: openapi.d.ts is what openapi-typescript makes of
// openapi.yaml today (regenerate it with the command this test names), and the streams'
// content has an event map, not a string.
func TestTypesAreGeneratedFromOpenAPI(t *testing.T) {
	testparts.NodeModules(t, npmDir)
	out := filepath.Join(t.TempDir(), "openapi.d.ts")
	cmd := exec.Command(filepath.Join("node_modules", ".bin", "openapi-typescript"), filepath.Join("..", "..", "..", "openapi.yaml"), "-o", out)
	cmd.Dir = npmDir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openapi-typescript: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("openapi.d.ts")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, committed) {
		t.Errorf("web/openapi.d.ts is stale: regenerate it with\n  (cd web/testdata/npm && npx openapi-typescript ../../../openapi.yaml -o ../../openapi.d.ts)")
	}
	if !strings.Contains(string(got), `"text/event-stream": components["schemas"]["StreamEvent"]`) {
		t.Error("the streams' content is not typed as StreamEvent")
	}
}

// TestOpenAPILintsClean: Redocly's recommended rules find nothing in openapi.yaml (no unused
// component, every operation answered, ...).
func TestOpenAPILintsClean(t *testing.T) {
	testparts.NodeModules(t, npmDir)
	cmd := exec.Command(filepath.Join("node_modules", ".bin", "redocly"), "lint", "--format", "json", filepath.Join("..", "..", "..", "openapi.yaml"))
	cmd.Dir = npmDir
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	b, err := cmd.Output() // the report; banners go to stderr
	var report struct {
		Totals   struct{ Errors, Warnings int }
		Problems []struct {
			RuleID  string `json:"ruleId"`
			Message string
		}
	}
	if jerr := json.Unmarshal(b, &report); jerr != nil {
		t.Fatalf("redocly lint: %v %v\n%s", err, jerr, b)
	}
	if report.Totals.Errors+report.Totals.Warnings > 0 {
		t.Errorf("redocly lint reports %d errors and %d warnings: %+v", report.Totals.Errors, report.Totals.Warnings, report.Problems)
	}
}

// TestClientTypeChecks: client.js, the modules it imports and its worker type-check with
// TypeScript (checkJs) against openapi.d.ts, and so does testdata/typecheck/page.js, a page
// that uses it: event details carry openapi.yaml's types, and its deliberate misuses
// (@ts-expect-error) are refused.
func TestClientTypeChecks(t *testing.T) {
	testparts.NodeModules(t, npmDir)
	common := []string{"--noEmit", "--allowJs", "--checkJs", "--strict", "false", "--target", "es2022",
		"--module", "es2022", "--moduleResolution", "bundler"}
	for _, check := range []struct{ file, lib string }{
		{filepath.Join("..", "typecheck", "page.js"), "es2022,dom,dom.iterable"},
		{filepath.Join("..", "..", "client-worker.js"), "es2022,webworker"},
	} {
		args := append(append([]string{}, common...), "--lib", check.lib, check.file)
		cmd := exec.Command(filepath.Join("node_modules", ".bin", "tsc"), args...)
		cmd.Dir = npmDir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("tsc %s: %v\n%s", check.file, err, b)
		}
	}
}
