package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// The names under which a client presents the API token (openapi.yaml, "Security model").
const (
	tokenCookie = "chatbridge_token"
	tokenQuery  = "access_token"
)

// What a CORS preflight from an allowed origin is told.
const (
	corsMethods = "GET, POST, PUT, DELETE"
	corsHeaders = "Content-Type, Authorization, Last-Event-ID"
	corsMaxAge  = "600"
)

// SecurityConfig says who may talk to the bridge besides its own loopback origins. The zero
// value allows only the loopback names (localhost, 127.0.0.1, [::1]) and requires no token.
type SecurityConfig struct {
	// AllowOrigins are extra browser origins (--allow-origin), each scheme://host[:port] with
	// scheme http or https and no path; a default port (80, 443) and a trailing "/" are ignored.
	AllowOrigins []string
	// AllowHosts are extra Host names (--allow-host), e.g. behind a reverse proxy. A name
	// allows it on any port; name:port allows only that port.
	AllowHosts []string
	// APIToken, when set (--api-token), is required by every endpoint but /healthz.
	APIToken string
	// Logger gets one debug line per refused request (never a token). Nil means discard.
	Logger *slog.Logger
}

// Security enforces the security model of openapi.yaml: the Host allowlist, the Origin allowlist with its CORS
// answers, and the optional API token, in that order. It is immutable after NewSecurity and
// safe for concurrent use.
type Security struct {
	hosts   map[string]bool // "name" (any port) or "name:port", as splitHost normalizes them
	origins map[string]bool // as parseOrigin normalizes them
	token   [sha256.Size]byte
	tokenOn bool
	log     *slog.Logger
}

// NewSecurity checks cfg and returns its Security. It fails, naming the flag and the value, on
// an origin or host entry it cannot parse; a zero SecurityConfig never fails.
func NewSecurity(cfg SecurityConfig) (*Security, error) {
	s := &Security{hosts: map[string]bool{}, origins: map[string]bool{}, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for _, h := range cfg.AllowHosts {
		name, port, ok := splitHost(strings.TrimSpace(h))
		if !ok {
			return nil, fmt.Errorf("--allow-host %q: want a host name, an IP address or name:port", h)
		}
		s.hosts[joinHost(name, port)] = true
	}
	for _, o := range cfg.AllowOrigins {
		n, ok := parseOrigin(strings.TrimSuffix(strings.TrimSpace(o), "/"))
		if !ok {
			return nil, fmt.Errorf("--allow-origin %q: want scheme://host[:port] with scheme http or https", o)
		}
		s.origins[n.String()] = true
	}
	if cfg.APIToken != "" {
		s.token, s.tokenOn = sha256.Sum256([]byte(cfg.APIToken)), true
	}
	return s, nil
}

// Middleware wraps next with the checks; it answers preflights and refusals itself, before any
// routing, and hands next the ResponseWriter untouched (streams still flush). With an API token
// it removes the token from the request (query, Authorization, cookie) before next sees it.
func (s *Security) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The checks run in a function of their own: its large frame is gone while next runs,
		// which keeps an idle stream's stack small (see serveStream).
		if r = s.admit(w, r); r != nil {
			next.ServeHTTP(w, r)
		}
	})
}

// admit runs the checks: it answers a preflight or a refusal itself (and returns nil), or
// returns the request to hand on, without the API token.
func (s *Security) admit(w http.ResponseWriter, r *http.Request) *http.Request {
	hostName, hostPort, ok := splitHost(r.Host)
	if !ok || !(loopbackNames[hostName] || s.hosts[hostName] || s.hosts[joinHost(hostName, hostPort)]) {
		s.refuse(w, r, newProblem(http.StatusForbidden, "forbidden-host", fmt.Sprintf(
			"Host %.100q is not allowed: the bridge answers only localhost, 127.0.0.1, [::1] and --allow-host names (DNS-rebinding defence)", r.Host)))
		return nil
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if origins := r.Header.Values("Origin"); len(origins) > 0 {
		if len(origins) > 1 || !s.originAllowed(origins[0], hostName, hostPort) {
			s.refuse(w, r, newProblem(http.StatusForbidden, "forbidden-origin", fmt.Sprintf(
				"origin %.100q is not allowed: start the bridge with --allow-origin to allow it", strings.Join(origins, ", "))))
			return nil
		}
		h.Set("Access-Control-Allow-Origin", origins[0])
		h.Set("Access-Control-Allow-Credentials", "true")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		h.Set("Access-Control-Expose-Headers", "Retry-After")
	}
	if !s.tokenOn || r.URL.Path == "/healthz" {
		return r
	}
	authorized, queryToken := s.authorized(r)
	if !authorized {
		challenge := `Bearer realm="chatbridge"`
		if presentsToken(r) {
			challenge += `, error="invalid_token"`
		}
		h.Set("WWW-Authenticate", challenge)
		s.refuse(w, r, newProblem(http.StatusUnauthorized, "unauthorized",
			"a valid API token is required: send Authorization: Bearer TOKEN, the access_token query parameter or the chatbridge_token cookie"))
		return nil
	}
	rest := withoutParam(r.URL.RawQuery, tokenQuery)
	if queryToken != "" && r.Method == http.MethodGet && r.URL.Path == "/" {
		// The web app's entry: trade the token in the address bar for the cookie, and
		// drop it from the address (and so from the history and any Referer).
		http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: cookieValue(queryToken),
			Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		target := "/"
		if rest != "" {
			target += "?" + rest
		}
		h.Set("Location", target)
		w.WriteHeader(http.StatusSeeOther)
		return nil
	}
	return withoutToken(r, rest)
}

// refuse answers p and logs why, without the query (which may hold a token).
func (s *Security) refuse(w http.ResponseWriter, r *http.Request, p *Problem) {
	s.log.Debug("request refused", "type", p.Type, "method", r.Method, "path", r.URL.Path)
	writeProblem(w, p)
}

// originAllowed reports whether origin is the bridge's own or an --allow-origin one. The
// bridge's own origins are http on a loopback name with the port of the request's Host (any
// loopback name for any other: they all reach this process), and the origin whose host and
// port are the request's Host itself (same origin, e.g. https behind an --allow-host proxy).
// "null" and anything that is not scheme://host[:port] are refused.
func (s *Security) originAllowed(origin, hostName, hostPort string) bool {
	o, ok := parseOrigin(origin)
	if !ok {
		return false
	}
	if s.origins[o.String()] {
		return true
	}
	def := defaultPort[o.scheme]
	if !samePort(o.port, hostPort, def) {
		return false
	}
	return o.name == hostName || o.scheme == "http" && loopbackNames[o.name] && loopbackNames[hostName]
}

// authorized reports whether any token the request presents is the API token, and returns the
// query's access_token when that is the valid one. Each candidate is compared in constant time,
// as SHA-256 digests so that not even the length leaks.
func (s *Security) authorized(r *http.Request) (ok bool, queryToken string) {
	match := func(v string) bool {
		d := sha256.Sum256([]byte(v))
		return subtle.ConstantTimeCompare(d[:], s.token[:]) == 1
	}
	if scheme, tok, found := strings.Cut(r.Header.Get("Authorization"), " "); found &&
		strings.EqualFold(scheme, "Bearer") && match(strings.TrimSpace(tok)) {
		ok = true
	}
	for _, v := range r.URL.Query()[tokenQuery] {
		if match(v) {
			ok, queryToken = true, v
		}
	}
	for _, c := range r.CookiesNamed(tokenCookie) {
		raw, err := base64.RawURLEncoding.DecodeString(c.Value)
		if err == nil && match(string(raw)) || match(c.Value) {
			ok = true
		}
	}
	return ok, queryToken
}

// cookieValue is how the cookie carries token: base64url, since a token may hold characters
// (space, quote, semicolon) that a cookie value cannot. The raw token is accepted too.
func cookieValue(token string) string { return base64.RawURLEncoding.EncodeToString([]byte(token)) }

// presentsToken reports whether the request tried any of the three ways to send a token.
func presentsToken(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || r.URL.Query().Has(tokenQuery) || len(r.CookiesNamed(tokenCookie)) > 0
}

// withoutToken returns r for the handlers: its query is rawQuery (the token parameter removed),
// and its Authorization header and token cookie are gone, so no handler can echo the token.
func withoutToken(r *http.Request, rawQuery string) *http.Request {
	r = r.Clone(r.Context())
	r.URL.RawQuery = rawQuery
	r.RequestURI = r.URL.RequestURI()
	r.Header.Del("Authorization")
	if cookies := r.Cookies(); len(cookies) > 0 {
		r.Header.Del("Cookie")
		for _, c := range cookies {
			if c.Name != tokenCookie {
				r.AddCookie(c)
			}
		}
	}
	return r
}

// withoutParam removes every name=value pair called name from a raw query, keeping the other
// pairs byte for byte and in order.
func withoutParam(rawQuery, name string) string {
	if rawQuery == "" {
		return ""
	}
	kept := make([]string, 0, strings.Count(rawQuery, "&")+1)
	for _, pair := range strings.Split(rawQuery, "&") {
		key, _, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(key); err == nil && k == name {
			continue
		}
		kept = append(kept, pair)
	}
	return strings.Join(kept, "&")
}

// loopbackNames are the Host names always allowed, as splitHost normalizes them.
var loopbackNames = map[string]bool{"localhost": true, "127.0.0.1": true, "[::1]": true}

var defaultPort = map[string]string{"http": "80", "https": "443"}

// origin is a parsed, normalized browser origin; port is "" for the scheme's default.
type origin struct{ scheme, name, port string }

func (o origin) String() string { return o.scheme + "://" + joinHost(o.name, o.port) }

// parseOrigin parses an Origin value: http or https, a host, an optional port, nothing else.
func parseOrigin(s string) (origin, bool) {
	scheme, authority, found := strings.Cut(s, "://")
	scheme = strings.ToLower(scheme)
	if !found || defaultPort[scheme] == "" || strings.ContainsAny(authority, "/?#@\\") {
		return origin{}, false
	}
	name, port, ok := splitHost(authority)
	if !ok {
		return origin{}, false
	}
	if port == defaultPort[scheme] {
		port = ""
	}
	return origin{scheme, name, port}, true
}

// splitHost splits a Host value (host, host:port, [ipv6] or [ipv6]:port) into a normalized
// name and port. The name is lowercased with one trailing dot removed ("localhost." names the
// same host), an IPv6 address stays in brackets in its canonical form; the port is its decimal
// number, "" when absent or empty. ok is false for an empty or malformed value, an unbracketed
// IPv6 address, an IPv6 zone, an empty label or a character no host name has.
func splitHost(hostport string) (name, port string, ok bool) {
	s := strings.ToLower(hostport)
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", false
		}
		addr, err := netip.ParseAddr(s[1:end])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", "", false
		}
		name, s = "["+addr.String()+"]", s[end+1:]
		if s != "" && s[0] != ':' {
			return "", "", false
		}
		port = strings.TrimPrefix(s, ":")
	} else {
		name = s
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			name, port = s[:i], s[i+1:]
		}
		name = strings.TrimSuffix(name, ".")
		if name == "" || name[0] == '.' || strings.HasSuffix(name, ".") || strings.Contains(name, "..") ||
			strings.TrimLeft(name, "abcdefghijklmnopqrstuvwxyz0123456789-._") != "" {
			return "", "", false
		}
	}
	if port == "" {
		return name, "", true
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", "", false
	}
	return name, strconv.FormatUint(n, 10), true
}

// joinHost is name, or name:port when port is set.
func joinHost(name, port string) string {
	if port == "" {
		return name
	}
	return name + ":" + port
}

// samePort compares two ports, an absent one standing for def.
func samePort(a, b, def string) bool {
	if a == "" {
		a = def
	}
	if b == "" {
		b = def
	}
	return a == b
}
