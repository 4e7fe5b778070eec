// Command bridge runs chatbridge: one reconnecting WebSocket to an upstream chat server, served
// to browsers as a REST API and Server-Sent Events. `bridge demo-server` runs only the built-in
// demo chat server. See README.md for the flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode maps run's error to the process status: 0 for a clean stop, 2 for a bad command line
// (already reported with the usage), 1 for anything else (reported here on one line).
func exitCode(err error, stderr io.Writer) int {
	var usage *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage):
		return 2
	default:
		fmt.Fprintf(stderr, "bridge: %v\n", err)
		return 1
	}
}

// run is the whole program: main only adds the process's signals, arguments, environment and
// standard streams, so tests call run directly. args[0] is the program name. run returns when
// ctx is done (nil after a clean shutdown) or when the bridge cannot start.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 1 && args[1] == "demo-server" {
		return runDemoServer(ctx, args[2:], stdout, stderr)
	}
	cfg, err := parseConfig(args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.Version {
		fmt.Fprintln(stdout, versionLine())
		return nil
	}
	return serve(ctx, cfg, stdout, stderr)
}
