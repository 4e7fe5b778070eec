package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/chatbridge/chatbridge/internal/demo"
)

// demoUpstream is the built-in demo chat server running in-process on a loopback port, used when
// no --upstream is given.
type demoUpstream struct {
	url, token string
	srv        *demo.Server
	http       *http.Server
	done       chan struct{} // closed when the bots and the HTTP server have stopped
	stopBots   context.CancelFunc
}

// startDemoUpstream starts the demo server with its bots on 127.0.0.1 and a free port.
func startDemoUpstream(log *slog.Logger) (*demoUpstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start demo upstream: %w", err)
	}
	d := newDemoUpstream(ln, true, log.With("component", "demo"))
	log.Warn("no --upstream given: running the built-in DEMO chat server in-process; pass --upstream to use a real chat server",
		"demo_url", "ws://"+ln.Addr().String()+demo.Path)
	return d, nil
}

func newDemoUpstream(ln net.Listener, bots bool, log *slog.Logger) *demoUpstream {
	srv := demo.New(demo.Config{Bots: bots, Logger: log})
	mux := http.NewServeMux()
	mux.Handle(demo.Path, srv)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	d := &demoUpstream{url: "ws://" + ln.Addr().String() + demo.Path, token: demo.DemoToken,
		srv: srv, http: hs, done: make(chan struct{}), stopBots: cancel}
	botsDone := make(chan struct{})
	go func() {
		defer close(botsDone)
		if err := srv.Run(ctx); err != nil && !errors.Is(err, demo.ErrClosed) && !errors.Is(err, context.Canceled) {
			log.Warn("demo bots stopped", "err", err)
		}
	}()
	go func() {
		defer close(d.done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("demo server stopped", "err", err)
		}
		<-botsDone
	}()
	return d
}

// close stops the demo server: its connections get close 1001, then its listener and bots end.
func (d *demoUpstream) close() {
	d.stopBots()
	_ = d.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	_ = d.http.Shutdown(ctx)
	<-d.done
}

// runDemoServer is `bridge demo-server [--listen ADDR]`: the demo chat server alone, for trying
// other clients against it.
func runDemoServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bridge demo-server", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", "127.0.0.1:8081", "address to serve the demo WebSocket on")
	bots := fs.Bool("bots", true, "run the demo bots")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		msg := "unexpected argument"
		if err != nil {
			msg = err.Error()
		}
		fmt.Fprintf(stderr, "bridge demo-server: %s\nusage: bridge demo-server [--listen ADDR] [--bots=false]\n", msg)
		return &usageError{msg}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	d := newDemoUpstream(ln, *bots, log)
	fmt.Fprintf(stdout, "demo chat server on %s\nconnect with token %s (user %s), e.g.\n  bridge --upstream %s --token %s\n",
		d.url, d.token, demo.DemoUser, d.url, d.token)
	<-ctx.Done()
	d.close()
	return nil
}
