package dialect

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Dialect names.
const (
	DialectEnvelope   = "envelope"
	DialectSocketIO   = "socketio"
	DialectCentrifugo = "centrifugo"
)

// Dialects lists the dialect names.
var Dialects = []string{DialectEnvelope, DialectSocketIO, DialectCentrifugo}

// Where the token goes on the handshake (profile key token.in, flag --token-in).
const (
	TokenInQuery   = "query"   // a query parameter (token.name, default "token")
	TokenInHeader  = "header"  // a header (token.name, default Authorization with "Bearer ")
	TokenInNone    = "none"    // nowhere: the upstream needs none
	TokenInConnect = "connect" // in the dialect's connect frame or auth payload
)

// Heartbeat modes (profile key heartbeat, flag --heartbeat-mode).
const (
	HeartbeatWS   = "ws"   // WebSocket ping control frames
	HeartbeatJSON = "json" // the dialect's own ping frame
	HeartbeatOff  = "off"  // none from the bridge (the server may still ping)
)

// Acknowledgement modes (profile key ack, flag --ack).
const (
	AckEcho  = "echo"  // a frame carrying the message's client_message_id comes back
	AckWrite = "write" // written to the socket
	AckReply = "reply" // the server's own acknowledgement
)

// Framing of text frames (profile key framing).
const (
	FramingSingle = "single" // one JSON object per frame
	FramingNDJSON = "ndjson" // several, one per line
)

// Outbound action keys of the profile's outbound section.
var outboundKeys = map[string]string{
	"message": ActionMessage, "typing": ActionTyping, "call_accept": ActionCallAccept,
	"call_reject": ActionCallReject, "call_end": ActionCallEnd, "ping": ActionPing,
}

// Profile is a profile file: how to join one upstream. Every field is its zero value when the
// file does not give it, so that the flags and the dialect can supply defaults.
type Profile struct {
	File         string // as given, for errors
	Dialect      string
	UserID       string
	TokenIn      string
	TokenName    string
	Headers      map[string]string
	Subprotocols []string
	Origin       string
	Path         string          // handshake.path: the URL path, for dialects that have a usual one
	Connect      json.RawMessage // handshake.connect: a first frame (envelope), as JSON
	Heartbeat    string
	Ack          string
	Framing      string
	TypePath     Path // envelope.type; nil when not given
	PayloadPath  Path // envelope.payload; see PayloadSet
	PayloadSet   bool // envelope.payload was given ("" is flat frames)
	Mapper       MapperConfig
	Outbound     map[string]string // action (ActionMessage, ...) -> the upstream's type

	sections map[string]*yaml.Node // the dialects' own sections, read by them
	root     *yaml.Node
}

// LoadProfile reads and checks a profile file (YAML, or JSON, which YAML reads too). Its errors
// are a *ProfileError naming the file and the key.
func LoadProfile(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		msg := "cannot be read"
		if errors.Is(err, os.ErrNotExist) {
			msg = "does not exist"
		}
		return nil, &ProfileError{File: path, Msg: msg}
	}
	return ParseProfile(path, data)
}

var topicName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// singleKind is the domain type of the built-in topics that carry one.
var singleKind = map[string]string{
	TopicMessages: TypeChatMessage, TopicTyping: TypeTypingIndicator, TopicPresence: TypeUserStatus,
	TopicConversations: TypeConversationUpdate, TopicErrors: TypeError,
}

// ParseProfile reads a profile from data; name is the file's name, for errors.
func ParseProfile(name string, data []byte) (*Profile, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &ProfileError{File: name, Msg: "is not YAML or JSON: " + firstLine(err.Error())}
	}
	var root *yaml.Node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	if root == nil {
		return nil, &ProfileError{File: name, Msg: "is empty"}
	}
	top := newSection(name, "", root)
	p := &Profile{File: name, sections: map[string]*yaml.Node{}, root: root}
	p.Dialect = top.OneOf("dialect", "", Dialects...)
	p.UserID = top.String("user_id", "")

	tok := top.Section("token")
	p.TokenIn = tok.OneOf("in", "", TokenInQuery, TokenInHeader, TokenInNone, TokenInConnect)
	p.TokenName = tok.String("name", "")

	hs := top.Section("handshake")
	p.Headers = hs.StringMap("headers")
	p.Subprotocols = hs.Strings("subprotocols")
	p.Origin = hs.String("origin", "")
	p.Path = hs.String("path", "")
	p.Connect = hs.JSON("connect")
	for h := range p.Headers {
		switch strings.ToLower(h) {
		case "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
			"sec-websocket-extensions", "sec-websocket-protocol", "host":
			hs.Fail("headers", fmt.Sprintf("%s is set by the WebSocket handshake itself", h))
		}
	}
	if p.Path != "" && !strings.HasPrefix(p.Path, "/") {
		hs.Fail("path", "must start with /")
	}

	p.Heartbeat = top.OneOf("heartbeat", "", HeartbeatWS, HeartbeatJSON, HeartbeatOff)
	p.Ack = top.OneOf("ack", "", AckEcho, AckWrite, AckReply)
	p.Framing = top.OneOf("framing", "", FramingSingle, FramingNDJSON)

	env := top.Section("envelope")
	if env.Has("type") {
		p.TypePath = ParsePath(env.String("type", ""))
		if len(p.TypePath) == 0 {
			env.Fail("type", "must name the field that holds the type")
		}
	}
	if p.PayloadSet = env.Has("payload"); p.PayloadSet {
		p.PayloadPath = ParsePath(env.String("payload", ""))
	}
	p.Mapper.Lenient = env.Bool("lenient", false)
	p.Mapper.UserID = p.UserID
	fields := env.Section("fields")
	for _, ours := range fields.Keys() {
		theirs := fields.String(ours, "")
		if theirs == "" || slices.Contains(ParsePath(theirs), "") {
			fields.Fail(ours, "must be a dotted path such as conversationId or user.id")
			continue
		}
		if p.Mapper.Fields == nil {
			p.Mapper.Fields = map[string]Path{}
		}
		p.Mapper.Fields[ours] = ParsePath(theirs)
	}
	defaults := env.Section("defaults")
	for _, k := range defaults.Keys() {
		if p.Mapper.Defaults == nil {
			p.Mapper.Defaults = map[string]json.RawMessage{}
		}
		p.Mapper.Defaults[k] = defaults.JSON(k)
	}

	p.parseRoutes(top.Section("routes"))
	p.parseOutbound(top.Section("outbound"))
	for _, d := range []string{DialectSocketIO, DialectCentrifugo} {
		if v := top.value(d); v != nil {
			p.sections[d] = v
		}
	}
	if err := top.Done(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Profile) parseRoutes(rs *Section) {
	for _, typ := range rs.Keys() {
		r, _ := ReadRoute(rs, typ)
		if p.Mapper.Routes == nil {
			p.Mapper.Routes = map[string]Route{}
		}
		p.Mapper.Routes[typ] = r
	}
}

// ReadRoute reads the route of upstream type (or event, or channel) key in section rs: a topic,
// or a mapping {topic, as, set} whose Section is returned too (nil for the short form), so
// that a dialect can read keys of its own from it. The errors are rs's.
func ReadRoute(rs *Section, key string) (Route, *Section) {
	var r Route
	var long *Section
	if v := rs.value(key); v != nil && v.Kind == yaml.MappingNode {
		long = rs.Section(key)
		r.Topic = long.String("topic", "")
		r.As = long.String("as", "")
		set := long.Section("set")
		for _, k := range set.Keys() {
			if r.Set == nil {
				r.Set = map[string]json.RawMessage{}
			}
			r.Set[k] = set.JSON(k)
		}
	} else {
		r.Topic = rs.String(key, "")
	}
	switch {
	case r.Topic == "":
		rs.Fail(key, "must name a topic")
	case r.Topic == TopicConnection:
		rs.Fail(key, "the connection topic carries the bridge's own state only")
	case !topicName.MatchString(r.Topic):
		rs.Fail(key, fmt.Sprintf("topic %q must be 1-64 of a-z 0-9 . _ - and start with a letter or digit", r.Topic))
	case r.As != "" && !IsDomainType(r.As):
		rs.Fail(key, fmt.Sprintf("as: %q is not a type the bridge knows", r.As))
	}
	if r.Topic == TopicRaw {
		r.Topic = "" // on raw only, as every frame is
	}
	if r.As == "" && !IsDomainType(key) {
		if k, ok := singleKind[r.Topic]; ok {
			r.As = k
		} else if r.Topic == TopicCalls {
			rs.Fail(key, "a route to calls needs as: call.incoming, call.accepted, call.rejected or call.ended")
		}
	}
	return r, long
}

func (p *Profile) parseOutbound(out *Section) {
	for _, k := range out.Keys() {
		action, ok := outboundKeys[k]
		if !ok {
			continue // Done names it
		}
		var typ string
		if long := out.Mapping(k); long != nil {
			typ = long.String("type", "")
		} else {
			typ = out.String(k, "")
		}
		if typ == "" {
			out.Fail(k, "must name the type to send")
		}
		if p.Outbound == nil {
			p.Outbound = map[string]string{}
		}
		p.Outbound[action] = typ
	}
	for _, k := range out.Keys() {
		if _, ok := outboundKeys[k]; !ok {
			out.Unseen(k) // Done names it
		}
	}
}

// Section returns a dialect's own section of the profile (socketio:, centrifugo:), empty when
// the file has none. The dialect reads it with the getters and calls Done.
func (p *Profile) Section(dialect string) *Section {
	var n *yaml.Node
	if p != nil {
		n = p.sections[dialect]
	}
	file := ""
	if p != nil {
		file = p.File
	}
	return newSection(file, dialect, n)
}

// Refuse returns an error naming key (a dotted key of the file) when cond holds: for keys that
// the dialect in use has no use for.
func (p *Profile) Refuse(dialect, key string, cond bool, msg string) error {
	if !cond || p == nil {
		return nil
	}
	line := 0
	n := p.root
	for _, k := range strings.Split(key, ".") {
		var next *yaml.Node
		for i := 0; n != nil && n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				line, next = n.Content[i].Line, n.Content[i+1]
			}
		}
		n = next
	}
	return &ProfileError{File: p.File, Key: key, Msg: msg + " (dialect " + dialect + ")", Line: line}
}

// CheckSections refuses a dialect section other than the one of the dialect in use.
func (p *Profile) CheckSections(dialect string) error {
	if p == nil {
		return nil
	}
	for name, n := range p.sections {
		if name != dialect {
			return &ProfileError{File: p.File, Key: name, Msg: "is for the " + name + " dialect, and this profile is used with " + dialect, Line: n.Line}
		}
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
