package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain doubles as the floor's entry point: the benchmark re-executes this binary (here the
// test binary) in floor mode.
func TestMain(m *testing.M) {
	if os.Getenv(floorEnv) == "1" && len(os.Args) > 1 && os.Args[1] == "floor" ||
		os.Getenv(r3labsEnv) == "1" && len(os.Args) > 1 && os.Args[1] == "r3labs" {
		main()
		return
	}
	goleak.VerifyTestMain(m)
}

// TestSmoke runs every scenario briefly on a few subscribers and checks that the report is
// well-formed and that every event was delivered exactly once. It asserts logic, not timing.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the bridge and the floor as processes")
	}
	bin := filepath.Join(t.TempDir(), "bridge")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/chatbridge/chatbridge/cmd/bridge")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the bridge: %v\n%s", err, out)
	}
	jsonFile := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	args := []string{"--scenario", "a,b,c,d,e", "--repeat", "1", "--subscribers", "5", "--rate", "200", "--duration", "500ms",
		"--frames", "100", "--back", "40", "--posters", "4", "--bridge-bin", bin, "--json", jsonFile,
		"--drain", "10s", "--settle", "200ms"}
	if err := run(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr: %s", err, stderr.String())
	}
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("decode the JSON report: %v", err)
	}
	if got := len(rep.Results); got != 5 {
		t.Fatalf("got %d results, want 5", got)
	}
	figure := func(r Result, name string) Metric {
		t.Helper()
		for _, m := range r.Metrics {
			if m.Name == name {
				return m
			}
		}
		t.Fatalf("scenario %s has no figure %q", r.Scenario, name)
		return Metric{}
	}
	for _, r := range rep.Results {
		if len(r.Metrics) == 0 || len(r.Checks) == 0 {
			t.Errorf("scenario %s: %d metrics, %d checks", r.Scenario, len(r.Metrics), len(r.Checks))
		}
		if !strings.Contains(stdout.String(), "### ("+r.Scenario+")") {
			t.Errorf("the Markdown has no table for scenario %s", r.Scenario)
		}
		switch r.Scenario {
		case "a", "d":
			name, want := "events delivered", "events expected"
			if r.Scenario == "d" {
				name, want = "healthy events delivered, with the stalled one", "healthy events expected"
			}
			d, e := figure(r, name), figure(r, want)
			if d.Bridge != e.Bridge || d.Floor == nil || *d.Floor != *e.Floor || e.Bridge == 0 {
				t.Errorf("scenario %s: delivered %+v, expected %+v", r.Scenario, d, e)
			}
		case "b":
			if g := figure(r, "goroutines per idle subscriber"); g.Bridge <= 0 || g.Floor == nil || *g.Floor <= 0 {
				t.Errorf("scenario b: goroutines per subscriber %+v", g)
			}
		case "c":
			if e := figure(r, "POST errors (transport or not 202)"); e.Bridge != 0 {
				t.Errorf("scenario c: %v POST errors", e.Bridge)
			}
			if m := figure(r, "messages never read upstream"); m.Bridge != 0 {
				t.Errorf("scenario c: %v messages never read upstream", m.Bridge)
			}
		case "e":
			if x := figure(r, "subscribers with exactly the missed events"); x.Bridge != 5 {
				t.Errorf("scenario e: %v of 5 subscribers got exactly the missed events", x.Bridge)
			}
		}
	}
}

func TestParseContent(t *testing.T) {
	sent := time.Unix(1700000000, 123456789)
	c := content(42, sent, 60)
	if len(c) != 60 {
		t.Errorf("content is %d bytes, want 60", len(c))
	}
	data, _ := json.Marshal(map[string]string{"id": "m1", "content": c})
	seq, at, ok := parseContent(data)
	if !ok || seq != 42 || at != sent.UnixNano() {
		t.Errorf("parseContent = %d, %d, %v", seq, at, ok)
	}
	if _, _, ok := parseContent([]byte(`{"content":"hello"}`)); ok {
		t.Error("parseContent accepted a content without numbers")
	}
}
