// Command bridgebench measures the bridge under load against a floor: a minimal SSE fan-out on
// net/http alone, serving the same frames to the same number of subscribers. It starts the demo
// upstream in-process, the bridge and the floor as child processes (one after the other), opens
// raw SSE subscribers, drives frames through the upstream as the user bob and POST /messages
// into the bridge, and reports a Markdown table and JSON. See docs/BENCHMARKS.md.
//
//	bridgebench --scenario a|b|c|d|e|f|all [--subscribers N] [--rate R] [--payload BYTES]
//	            [--duration D] [--peers r3labs,centrifugo] [--json FILE] [--markdown FILE]
//	            [--bridge-bin PATH] [--bridge ADDR --upstream URL]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		err = runFloor(ctx, os.Args[2:], os.Stderr)
	} else if len(os.Args) > 1 && os.Args[1] == "r3labs" {
		err = runR3labs(ctx, os.Args[2:], os.Stderr)
	} else {
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bridgebench: %v\n", err)
		os.Exit(1)
	}
}

// run parses the command line, runs the scenarios and writes the reports: Markdown on stdout
// (and --markdown FILE), JSON to --json FILE.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bridgebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "all", "a, b, c, d, e, f or all (comma separated)")
	var p params
	fs.IntVar(&p.Subscribers, "subscribers", 0, "subscribers (default: a 1000, b 10000, d 100, e 1000, f 10000)")
	fs.Float64Var(&p.Rate, "rate", 0, "frames or POSTs per second (default: a 100, c 5000, d 500, e 2000, f 1000)")
	fs.IntVar(&p.Payload, "payload", 0, "message content bytes (default 200; d 1000)")
	fs.DurationVar(&p.Duration, "duration", 0, "how long frames or POSTs are sent (default: a 20s, c 10s, d 20s, f 60s)")
	fs.IntVar(&p.Posters, "posters", 0, "(c) concurrent POST clients (default 50)")
	fs.IntVar(&p.Frames, "frames", 0, "(e) events published before the storm (default 2000)")
	fs.IntVar(&p.Back, "back", 0, "(e) how many events back the storm resumes (default 1000)")
	fs.BoolVar(&p.Memory, "memory", false, "(c) run the bridge without --state-dir (the outbox in memory only)")
	fs.IntVar(&p.Repeat, "repeat", 0, "(d) pairs of runs without and with the stalled subscriber; medians compared (default 3)")
	jsonFile := fs.String("json", "", "write the JSON report to this file")
	mdFile := fs.String("markdown", "", "write the Markdown report to this file")
	bridgeBin := fs.String("bridge-bin", "", "bridge binary (default: go build ./cmd/bridge into a temporary directory)")
	bridgeAddr := fs.String("bridge", "", "HOST:PORT of a running bridge (its RSS and CPU are then not measured)")
	upstream := fs.String("upstream", "", "ws:// URL of a running demo upstream (default: one in-process)")
	peers := fs.String("peers", peerR3labs, "peers measured beside the bridge and the floor in (a), (b) and (d), comma separated: r3labs (r3labs/sse's Server), centrifugo (Centrifugo "+centrifugoVersion+", built with go install when missing; not in (d)); none for none")
	centrifugoBin := fs.String("centrifugo-bin", "", "the Centrifugo binary (default: $CHATBRIDGE_CENTRIFUGO, or a build in the user cache directory)")
	drain := fs.Duration("drain", 30*time.Second, "how long subscribers may lag after the last frame")
	settle := fs.Duration("settle", 2*time.Second, "(b) wait before reading the memory with every subscriber connected")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("parse the command line: %w", err)
	}
	raiseFileLimit(stderr)

	b := &bench{p: p, drain: *drain, settle: *settle, log: stderr, upstream: *upstream}
	for _, name := range strings.Split(*peers, ",") {
		switch name = strings.TrimSpace(name); name {
		case "", "none":
		case peerR3labs:
			b.peers = append(b.peers, name)
		case peerCentrifugo:
			bin, err := centrifugoBinary(ctx, *centrifugoBin, stderr)
			if err != nil {
				return err
			}
			b.peers, b.centrifugo = append(b.peers, name), bin
		default:
			return fmt.Errorf("--peers: unknown peer %q: want r3labs, centrifugo or none", name)
		}
	}
	b.opt = targetOptions{bridgeBin: *bridgeBin, bridgeAddr: *bridgeAddr,
		maxStreams: max(p.Subscribers, 10000) + 100}
	if *bridgeAddr != "" && *upstream == "" {
		return errors.New("--bridge needs --upstream: the URL of the upstream that bridge is connected to")
	}
	if b.upstream == "" {
		srv, url, stop, err := startDemo()
		if err != nil {
			return err
		}
		defer stop()
		b.demo, b.upstream = srv, url
	}
	if b.opt.bridgeBin == "" && b.opt.bridgeAddr == "" {
		dir, err := os.MkdirTemp("", "bridgebench")
		if err != nil {
			return fmt.Errorf("make a temporary directory: %w", err)
		}
		defer os.RemoveAll(dir)
		b.opt.bridgeBin = filepath.Join(dir, "bridge")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.opt.bridgeBin, "github.com/chatbridge/chatbridge/cmd/bridge")
		cmd.Stderr = stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build the bridge: %w", err)
		}
	}

	rep := &Report{Machine: machine()}
	for _, s := range strings.Split(*scenario, ",") {
		ids := []string{s}
		if s == "all" {
			ids = []string{"a", "b", "c", "d", "e", "f"}
		}
		for _, id := range ids {
			r, err := b.scenario(ctx, strings.TrimSpace(id))
			if err != nil {
				return fmt.Errorf("scenario %s: %w", id, err)
			}
			rep.Results = append(rep.Results, r)
		}
	}
	if err := rep.writeMarkdown(stdout); err != nil {
		return err
	}
	for _, out := range []struct {
		file  string
		write func(io.Writer) error
	}{{*mdFile, rep.writeMarkdown}, {*jsonFile, rep.writeJSON}} {
		if out.file == "" {
			continue
		}
		f, err := os.Create(out.file)
		if err != nil {
			return fmt.Errorf("create %s: %w", out.file, err)
		}
		err = out.write(f)
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", out.file, cerr)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) scenario(ctx context.Context, id string) (Result, error) {
	switch id {
	case "a":
		return b.scenarioA(ctx)
	case "b":
		return b.scenarioB(ctx)
	case "c":
		return b.scenarioC(ctx)
	case "d":
		return b.scenarioD(ctx)
	case "e":
		return b.scenarioE(ctx)
	case "f":
		return b.scenarioF(ctx)
	}
	return Result{}, fmt.Errorf("unknown scenario %q: want a, b, c, d, e, f or all", id)
}

// raiseFileLimit lifts the open-file limit to 65536 (the children inherit it): 10,000
// subscribers need 10,000 sockets on each side.
func raiseFileLimit(stderr io.Writer) {
	want := syscall.Rlimit{Cur: 65536, Max: 65536}
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur); err == nil && cur.Cur >= want.Cur {
		return
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur); err == nil {
			cur.Cur = cur.Max
			_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &cur)
		}
		fmt.Fprintf(stderr, "bridgebench: open-file limit %d (raising it to 65536: %v)\n", cur.Cur, err)
	}
}

// machine describes this computer from /proc.
func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.Atoi(f[1])
				m.MemoryMiB = kb / 1024
			}
		}
	}
	return m
}
