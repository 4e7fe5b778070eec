package ws

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	cfg, u, err := Config{URL: "ws://127.0.0.1:1/chat?room=1", Token: StaticToken("t")}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != "127.0.0.1:1" || u.Query().Get("room") != "1" {
		t.Errorf("parsed URL = %v", u)
	}
	checks := []struct {
		name      string
		got, want time.Duration
	}{
		{"HandshakeTimeout", cfg.HandshakeTimeout, DefaultHandshakeTimeout},
		{"Heartbeat", cfg.Heartbeat, DefaultHeartbeat},
		{"PongTimeout", cfg.PongTimeout, DefaultPongTimeout},
		{"ReconnectMin", cfg.ReconnectMin, DefaultReconnectMin},
		{"ReconnectMax", cfg.ReconnectMax, DefaultReconnectMax},
		{"StableAfter", cfg.StableAfter, DefaultStableAfter},
		{"WriteTimeout", cfg.WriteTimeout, DefaultWriteTimeout},
		{"TokenPoll", cfg.TokenPoll, DefaultTokenPoll},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if cfg.ReadLimit != DefaultReadLimit || cfg.TokenIn != TokenInQuery || cfg.PingFrame != nil {
		t.Errorf("ReadLimit %d, TokenIn %d, PingFrame %q: want defaults", cfg.ReadLimit, cfg.TokenIn, cfg.PingFrame)
	}
	if cfg.Logger == nil || cfg.Proxy == nil || cfg.CloseCodes == nil {
		t.Error("nil Logger, Proxy or callbacks left unfilled")
	}
}

func TestConfigKeepsValuesAndCopies(t *testing.T) {
	ping := []byte("ping")
	cfg, _, err := Config{
		URL: "wss://h/c", Token: StaticToken("t"), TokenIn: TokenInHeader,
		ReconnectMin: time.Minute, ReconnectMax: time.Second, ReadLimit: 10, PingFrame: ping,
	}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ReconnectMax != time.Minute {
		t.Errorf("ReconnectMax = %v, want raised to ReconnectMin", cfg.ReconnectMax)
	}
	if cfg.ReadLimit != 10 || cfg.TokenIn != TokenInHeader {
		t.Errorf("ReadLimit %d TokenIn %d: explicit values lost", cfg.ReadLimit, cfg.TokenIn)
	}
	ping[0] = 'X'
	if string(cfg.PingFrame) != "ping" {
		t.Errorf("PingFrame = %q, want a private copy", cfg.PingFrame)
	}
}

func TestConfigRejects(t *testing.T) {
	ok := Config{URL: "ws://h/c", Token: StaticToken("t")}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"no token source", func(c *Config) { c.Token = nil }, "Token is required"},
		{"bad placement", func(c *Config) { c.TokenIn = 7 }, "TokenIn"},
		{"negative heartbeat", func(c *Config) { c.Heartbeat = -1 }, "Heartbeat"},
		{"negative poll", func(c *Config) { c.TokenPoll = -1 }, "TokenPoll"},
		{"negative read limit", func(c *Config) { c.ReadLimit = -1 }, "ReadLimit"},
		{"http scheme", func(c *Config) { c.URL = "http://h/c" }, "scheme"},
		{"no host", func(c *Config) { c.URL = "ws:///c" }, "missing host"},
		{"userinfo", func(c *Config) { c.URL = "ws://u:p@h/c" }, "userinfo"},
		{"bad port", func(c *Config) { c.URL = "ws://h:x/c" }, "invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New = %v, want an error about %q", err, tt.wantErr)
			}
		})
	}
}
