package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/api"
	"github.com/chatbridge/chatbridge/internal/dialect"
	"github.com/chatbridge/chatbridge/internal/ws"
)

// config is the command line of `bridge` (README.md, "Configuration"), after flags and variables.
type config struct {
	Listen           string
	Upstream         string
	Token            string // secret: never logged
	TokenFile        string
	TokenIn          string
	APIToken         string // secret: never logged
	AllowOrigins     []string
	AllowHosts       []string
	History          int
	Outbox           int
	MaxStreams       int
	MaxConversations int
	StateDir         string
	Heartbeat        time.Duration
	PongTimeout      time.Duration
	ReconnectMin     time.Duration
	ReconnectMax     time.Duration
	LogFormat        string
	LogLevel         string
	Version          bool
	Dialect          string
	DialectFile      string
	HeartbeatMode    string // "" = the profile's, else the dialect's
	Ack              string // "" = the profile's, else the dialect's
	MessageTTL       time.Duration

	// Profile is the --dialect-file, loaded and checked; nil without one.
	Profile *dialect.Profile
	// explicit names the flags given on the command line or through their variable, which win
	// over the profile.
	explicit map[string]bool
}

// usageError is a bad command line: run prints it (with the usage) and main exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// option binds one flag to its environment variable.
type option struct {
	flag, env string
}

// parseConfig reads args (without the program name) and the environment. A flag given on the
// command line wins over its variable. Errors are one line naming the flag or the variable; the
// usage has then been written to stderr.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("bridge", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by us
	var opts []option
	str := func(p *string, name, env, def, usage string) {
		fs.StringVar(p, name, def, usage+" (env "+env+")")
		opts = append(opts, option{name, env})
	}
	num := func(p *int, name, env string, def int, usage string) {
		fs.Var(&positiveInt{p}, name, usage+" (env "+env+")")
		*p = def
		opts = append(opts, option{name, env})
	}
	dur := func(p *time.Duration, name, env string, def time.Duration, usage string) {
		fs.Var(&positiveDuration{p}, name, usage+" (env "+env+")")
		*p = def
		opts = append(opts, option{name, env})
	}
	list := func(p *[]string, name, env, usage string) {
		fs.Var(&stringList{p}, name, usage+" (env "+env+")")
		opts = append(opts, option{name, env})
	}
	str(&c.Listen, "listen", "BRIDGE_LISTEN", "127.0.0.1:8080", "address to serve HTTP on; port 0 picks a free port")
	str(&c.Upstream, "upstream", "BRIDGE_UPSTREAM_URL", "", "upstream ws:// or wss:// URL; empty runs the built-in demo chat server")
	str(&c.Token, "token", "BRIDGE_UPSTREAM_TOKEN", "", "upstream access token")
	str(&c.TokenFile, "token-file", "BRIDGE_UPSTREAM_TOKEN_FILE", "", "file holding the upstream token, re-read before every (re)connect")
	str(&c.TokenIn, "token-in", "BRIDGE_TOKEN_IN", "query", "where the token goes: query (?token=), header (Authorization: Bearer), none, or connect (the dialect's connect frame)")
	str(&c.APIToken, "api-token", "BRIDGE_API_TOKEN", "", "when set, every endpoint but /healthz requires this token")
	list(&c.AllowOrigins, "allow-origin", "BRIDGE_ALLOWED_ORIGINS", "extra allowed browser origins, comma separated")
	list(&c.AllowHosts, "allow-host", "BRIDGE_ALLOWED_HOSTS", "extra allowed Host names, comma separated")
	num(&c.History, "history", "BRIDGE_HISTORY", 10000, "events kept for Last-Event-ID replay")
	num(&c.Outbox, "outbox", "BRIDGE_OUTBOX", 1000, "messages that may wait for the upstream while it is down")
	num(&c.MaxStreams, "max-streams", "BRIDGE_MAX_STREAMS", 1000, "concurrent SSE streams; beyond it 503")
	num(&c.MaxConversations, "max-conversations", "BRIDGE_MAX_CONVERSATIONS", 10000, "conversations kept for snapshots")
	str(&c.StateDir, "state-dir", "BRIDGE_STATE_DIR", "", "directory where the outbox is persisted; empty keeps it in memory")
	dur(&c.Heartbeat, "heartbeat", "BRIDGE_HEARTBEAT", 25*time.Second, "interval of the ping frame upstream")
	dur(&c.PongTimeout, "pong-timeout", "BRIDGE_PONG_TIMEOUT", 10*time.Second, "upstream silence after a ping that counts as a dead connection")
	dur(&c.ReconnectMin, "reconnect-min", "BRIDGE_RECONNECT_MIN", 500*time.Millisecond, "smallest reconnect backoff")
	dur(&c.ReconnectMax, "reconnect-max", "BRIDGE_RECONNECT_MAX", 30*time.Second, "largest reconnect backoff")
	str(&c.LogFormat, "log-format", "BRIDGE_LOG_FORMAT", "text", "log format: text or json")
	str(&c.LogLevel, "log-level", "BRIDGE_LOG_LEVEL", "info", "log level: debug, info, warn or error")
	str(&c.Dialect, "dialect", "BRIDGE_DIALECT", dialect.DialectEnvelope, "upstream dialect: envelope, socketio or centrifugo")
	str(&c.DialectFile, "dialect-file", "BRIDGE_DIALECT_FILE", "", "a YAML or JSON profile adjusting the dialect to the upstream (see docs/DIALECTS.md)")
	str(&c.HeartbeatMode, "heartbeat-mode", "BRIDGE_HEARTBEAT_MODE", "", "heartbeat: ws (ping control frames), json (the dialect's ping frame) or off; default the dialect's")
	str(&c.Ack, "ack", "BRIDGE_ACK", "", "when a sent message is delivered: echo, write or reply; default the dialect's")
	dur(&c.MessageTTL, "message-ttl", "BRIDGE_MESSAGE_TTL", 24*time.Hour, "queued messages older than this fail as expired")
	fs.BoolVar(&c.Version, "version", false, "print the version and exit")

	fail := func(msg string) (*config, error) {
		fmt.Fprintf(stderr, "bridge: %s\n", msg)
		printUsage(stderr, fs)
		return nil, &usageError{msg}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stderr, fs)
			return nil, &usageError{"help requested"}
		}
		return fail(err.Error())
	}
	if fs.NArg() > 0 {
		return fail(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	c.explicit = map[string]bool{}
	for _, o := range opts {
		v := getenv(o.env)
		if given[o.flag] {
			c.explicit[o.flag] = true
		}
		if given[o.flag] || v == "" {
			continue
		}
		if err := fs.Set(o.flag, v); err != nil {
			return fail(fmt.Sprintf("invalid value for %s: %v", o.env, err))
		}
		c.explicit[o.flag] = true
	}
	if msg := c.applyProfile(); msg != "" {
		return fail(msg)
	}
	if msg := c.check(); msg != "" {
		return fail(msg)
	}
	return c, nil
}

// applyProfile loads --dialect-file and takes from it what no flag or variable gave: the
// dialect, the token placement, the heartbeat mode and the ack mode.
func (c *config) applyProfile() string {
	if c.DialectFile == "" {
		return ""
	}
	p, err := dialect.LoadProfile(c.DialectFile)
	if err != nil {
		return err.Error() // "profile FILE: key K: ..."
	}
	c.Profile = p
	take := func(flag string, dst *string, v string) {
		if v != "" && !c.explicit[flag] {
			*dst = v
		}
	}
	take("dialect", &c.Dialect, p.Dialect)
	take("token-in", &c.TokenIn, p.TokenIn)
	take("heartbeat-mode", &c.HeartbeatMode, p.Heartbeat)
	take("ack", &c.Ack, p.Ack)
	return ""
}

// check validates what single flags cannot: enumerations and relations between flags.
func (c *config) check() string {
	switch {
	case !slices.Contains(dialect.Dialects, c.Dialect):
		return fmt.Sprintf("invalid value %q for flag -dialect: must be envelope, socketio or centrifugo", c.Dialect)
	case !slices.Contains([]string{dialect.TokenInQuery, dialect.TokenInHeader, dialect.TokenInNone, dialect.TokenInConnect}, c.TokenIn):
		return fmt.Sprintf("invalid value %q for flag -token-in: must be query, header, none or connect", c.TokenIn)
	case !slices.Contains([]string{"", dialect.HeartbeatWS, dialect.HeartbeatJSON, dialect.HeartbeatOff}, c.HeartbeatMode):
		return fmt.Sprintf("invalid value %q for flag -heartbeat-mode: must be ws, json or off", c.HeartbeatMode)
	case !slices.Contains([]string{"", dialect.AckEcho, dialect.AckWrite, dialect.AckReply}, c.Ack):
		return fmt.Sprintf("invalid value %q for flag -ack: must be echo, write or reply", c.Ack)
	case c.LogFormat != "text" && c.LogFormat != "json":
		return fmt.Sprintf("invalid value %q for flag -log-format: must be text or json", c.LogFormat)
	case parseLevel(c.LogLevel) == nil:
		return fmt.Sprintf("invalid value %q for flag -log-level: must be debug, info, warn or error", c.LogLevel)
	case c.Token != "" && c.TokenFile != "":
		return "flags -token and -token-file exclude each other: give one"
	case c.ReconnectMin > c.ReconnectMax:
		return "flag -reconnect-min must not exceed -reconnect-max"
	case c.Listen == "":
		return "flag -listen must not be empty"
	}
	if _, err := c.securityConfig(nil); err != nil {
		return err.Error() // names the flag and the bad value
	}
	if _, err := newUpstreamSetup(c); err != nil {
		return err.Error() // names the flag or the profile key
	}
	if c.Upstream != "" {
		// ws.New checks the URL the way the client will use it; its errors are redacted.
		if _, err := ws.New(ws.Config{URL: c.Upstream, Token: ws.StaticToken("")}); err != nil {
			return fmt.Sprintf("invalid value for flag -upstream: %v", err)
		}
	}
	return ""
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: bridge [flags]\n       bridge demo-server [--listen ADDR]\n\nflags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// positiveInt is an int flag that must be > 0.
type positiveInt struct{ p *int }

func (v *positiveInt) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

func (v *positiveInt) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return errors.New("must be a whole number above 0")
	}
	*v.p = n
	return nil
}

// positiveDuration is a Go duration flag ("500ms", "30s") that must be > 0.
type positiveDuration struct{ p *time.Duration }

func (v *positiveDuration) String() string {
	if v.p == nil {
		return "0s"
	}
	return v.p.String()
}

func (v *positiveDuration) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d <= 0 {
		return errors.New("must be a positive Go duration such as 500ms or 30s")
	}
	*v.p = d
	return nil
}

// stringList is a comma separated list flag; repeating the flag adds to the list.
type stringList struct{ p *[]string }

func (v *stringList) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}

func (v *stringList) Set(s string) error {
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*v.p = append(*v.p, item)
		}
	}
	return nil
}

// securityConfig builds the API's Host, Origin and token checks from the flags.
func (c *config) securityConfig(log *slog.Logger) (*api.Security, error) {
	return api.NewSecurity(api.SecurityConfig{AllowOrigins: c.AllowOrigins, AllowHosts: c.AllowHosts,
		APIToken: c.APIToken, Logger: log})
}
