package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	chatbridge "github.com/chatbridge/chatbridge"
	"github.com/chatbridge/chatbridge/api"
	"github.com/chatbridge/chatbridge/internal/chat"
	"github.com/chatbridge/chatbridge/internal/chat/snapshot"
	"github.com/chatbridge/chatbridge/internal/hub"
	"github.com/chatbridge/chatbridge/internal/ws"
)

// shutdownTimeout bounds the graceful part of a shutdown; streams end at its start.
const shutdownTimeout = 5 * time.Second

// serve runs the bridge until ctx is done. Start order: logger, demo upstream (when no
// --upstream), topics, upstream client, chat service and outbox, API, listener, then the
// goroutines. Shutdown order (fixed): stop accepting and end the SSE streams
// (http.Server.Shutdown, which calls api.Server.Close), close the upstream with a 1000 close
// frame, stop the outbox flusher; then, as the deferred calls unwind, close the outbox (logging
// what a memory-only outbox loses), close the topics, and stop the demo server.
func serve(ctx context.Context, cfg *config, stdout, stderr io.Writer) error {
	log := newLogger(cfg, stderr)

	upstreamURL, token := cfg.Upstream, cfg.Token
	var demoUp *demoUpstream
	if upstreamURL == "" {
		d, err := startDemoUpstream(log)
		if err != nil {
			return err
		}
		defer d.close()
		demoUp = d
		upstreamURL = d.url
		if token == "" && cfg.TokenFile == "" {
			token = d.token
		}
	}

	tokens := newTokenSource(token, cfg.TokenFile)
	setup, err := newUpstreamSetup(cfg)
	if err != nil { // parseConfig checked it already; this is a bug if it happens
		return fmt.Errorf("upstream dialect: %w", err)
	}
	if token == "" && cfg.TokenFile == "" && setup.ws.TokenIn != ws.TokenInNone {
		log.Warn("no upstream token: the bridge waits in state idle until PUT /connection gives one; pass --token or --token-file, or --token-in none for a server that needs none")
	}
	mx := newMetrics()
	topics := hub.New(hub.Config{History: cfg.History})
	defer topics.Close()
	wsCfg := setup.ws
	wsCfg.URL, wsCfg.Token = upstreamURL, tokens
	if setup.url != "" {
		wsCfg.URL = setup.url // as the dialect dials it
	}
	wsCfg.Heartbeat, wsCfg.PongTimeout = cfg.Heartbeat, cfg.PongTimeout
	wsCfg.ReconnectMin, wsCfg.ReconnectMax = cfg.ReconnectMin, cfg.ReconnectMax
	wsCfg.Logger = log.With("component", "upstream")
	client, err := ws.New(wsCfg)
	if err != nil { // parseConfig checked the URL already; this is a bug if it happens
		return fmt.Errorf("upstream client: %w", err)
	}
	svc, err := chat.NewService(chat.Config{Topics: topics, Transport: client, Dialect: setup.dialect,
		Ack: setup.ack, Logger: log.With("component", "chat"),
		OutboxCapacity: cfg.Outbox, StateDir: cfg.StateDir, MessageTTL: cfg.MessageTTL,
		Snapshots:    snapshot.Config{MaxConversations: cfg.MaxConversations},
		ObserveFrame: func(d time.Duration) { mx.frameDelay.Observe(d.Seconds()) },
		ObserveSend:  func(d time.Duration) { mx.sendDelay.Observe(d.Seconds()) },
	})
	if err != nil {
		return err // outbox.ErrLocked says which directory another bridge holds
	}
	defer closeOutbox(svc, cfg.StateDir, log)
	security, err := cfg.securityConfig(log.With("component", "security"))
	if err != nil { // parseConfig checked the flags already
		return fmt.Errorf("security config: %w", err)
	}
	apiSrv := api.New(api.Config{
		Chat: svc, Connection: &upstream{client: client, tokens: tokens}, Topics: topics, Snapshots: svc.Snapshots(),
		Logger: log.With("component", "api"), OpenAPI: chatbridge.OpenAPI, MaxStreams: cfg.MaxStreams,
		ObserveRequest: mx.observeRequest, Metrics: mx.handler(), Security: security,
	})
	mx.watch(client, svc, topics, apiSrv)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	httpSrv := &http.Server{
		Handler:           apiSrv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		// The API answers a header above 64 KiB with a 431 problem; net/http answers beyond
		// this, as plain text, before any handler runs.
		MaxHeaderBytes: 1 << 20,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	httpSrv.RegisterOnShutdown(apiSrv.Close)

	upCtx, stopUpstream := context.WithCancel(context.Background())
	defer stopUpstream()
	upDone := make(chan error, 1)
	go func() { upDone <- client.Run(upCtx, observed{svc, mx.conn}) }()
	outboxCtx, stopOutbox := context.WithCancel(context.Background())
	defer stopOutbox()
	outboxDone := make(chan error, 1)
	go func() { outboxDone <- svc.Run(outboxCtx) }()
	srvDone := make(chan error, 1)
	go func() { srvDone <- httpSrv.Serve(ln) }()

	addr := "http://" + ln.Addr().String()
	log.Info("listening on "+addr, "url", addr)
	if demoUp != nil {
		log.Info("open " + addr + "/ in a browser to chat with the demo bots")
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-srvDone:
		serveErr = fmt.Errorf("serve http: %w", serveErr)
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil {
		log.Warn("http shutdown incomplete", "err", err)
		_ = httpSrv.Close()
	}
	if serveErr == nil {
		if err := <-srvDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("serve http: %w", err)
		}
	}
	stopUpstream()
	if err := <-upDone; err != nil {
		log.Warn("upstream client stopped with an error", "err", err)
	}
	stopOutbox()
	if err := <-outboxDone; err != nil {
		log.Warn("outbox stopped with an error", "err", err)
	}
	log.Info("stopped")
	return serveErr
}

// observed is the chat service as the upstream client's Handler, with every state change
// counted for the metrics first.
type observed struct {
	*chat.Service
	conn *connTracker
}

func (o observed) HandleState(st ws.Status) {
	o.conn.observe(st)
	o.Service.HandleState(st)
}

// closeOutbox closes the outbox at the end of serve and says what a memory-only outbox loses.
func closeOutbox(svc *chat.Service, stateDir string, log *slog.Logger) {
	lost, err := svc.Close()
	if err != nil {
		log.Error("close the outbox", "err", err)
	}
	if lost > 0 && stateDir == "" {
		log.Warn("messages still waiting for the upstream are lost; run with --state-dir to keep them across restarts", "lost", lost)
	}
}

// newLogger builds the process logger on stderr from --log-format and --log-level.
func newLogger(cfg *config, stderr io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: parseLevel(cfg.LogLevel)}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

// parseLevel returns the slog level of a --log-level value, or nil when it names none.
func parseLevel(s string) slog.Leveler {
	switch s {
	case "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return nil
}
