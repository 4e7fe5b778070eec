package dialect

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"time"
)

// Route says where one upstream type goes.
type Route struct {
	// Topic is the topic its events are published on; "" publishes nothing (beyond raw).
	Topic string
	// As is the domain type it decodes as (TypeChatMessage, ...); "" publishes the payload as
	// it came, under the upstream's own type (a topic of the profile's own).
	As string
	// Set gives fields (our names) fixed values in every payload of this type, over what the
	// payload says: a "user left" event is a user.status with status offline.
	Set map[string]json.RawMessage
}

// MapperConfig configures a Mapper. The zero value maps the default wire: domain types under
// their own names, fields under their own names, nothing filled.
type MapperConfig struct {
	// Fields maps our field names to the upstream's (dotted paths), both ways: in every incoming
	// payload and every outgoing one.
	Fields map[string]Path
	// Defaults gives a field a value when an incoming payload lacks it (before Lenient fills).
	Defaults map[string]json.RawMessage
	// Lenient fills what a payload lacks instead of refusing it, and takes numbers for ids and
	// epoch times for timestamps; the filled fields are named in the payload's "filled".
	Lenient bool
	// UserID is the bridge user's id upstream, "" when unknown: lenient filling names it as the
	// sender of the bridge's own messages, and outgoing messages and typing carry it.
	UserID string
	// Routes maps upstream types to topics, over the built-in routes of the domain types.
	Routes map[string]Route
}

// Mapper turns an upstream's payloads into domain events and outgoing actions into the
// upstream's payloads. It is safe for concurrent use.
type Mapper struct {
	cfg    MapperConfig
	routes map[string]Route
	fields []alias // sorted by our name, for a stable result
	plain  bool    // no renaming, defaults or filling: payloads decode as they come
}

type alias struct {
	ours   string
	theirs Path
}

// NewMapper returns a Mapper for cfg. The routes must have been checked (Profile does):
// a route's As, when set, is a domain type.
func NewMapper(cfg MapperConfig) *Mapper {
	m := &Mapper{cfg: cfg, routes: make(map[string]Route, len(builtinRoutes)+len(cfg.Routes))}
	for typ, topic := range builtinRoutes {
		m.routes[typ] = Route{Topic: topic, As: typ}
	}
	for typ, r := range cfg.Routes {
		if r.As == "" && IsDomainType(typ) {
			r.As = typ
		}
		m.routes[typ] = r
	}
	for _, ours := range slices.Sorted(maps.Keys(cfg.Fields)) {
		if p := cfg.Fields[ours]; !(len(p) == 1 && p[0] == ours) {
			m.fields = append(m.fields, alias{ours, p})
		}
	}
	m.plain = len(m.fields) == 0 && len(cfg.Defaults) == 0 && !cfg.Lenient
	return m
}

// Route returns the route of an upstream type, and whether one exists.
func (m *Mapper) Route(typ string) (Route, bool) {
	r, ok := m.routes[typ]
	return r, ok
}

// TopicInfo is one topic and the types published on it.
type TopicInfo struct {
	Name  string   `json:"name"`
	Types []string `json:"types"` // SSE event names, sorted
}

// Topics lists the topics the routes publish on, built-in or not, with their event names,
// sorted by name.
func (m *Mapper) Topics() []TopicInfo {
	byTopic := map[string][]string{}
	for typ, r := range m.routes {
		if r.Topic != "" {
			byTopic[r.Topic] = append(byTopic[r.Topic], eventName(typ, r))
		}
	}
	out := make([]TopicInfo, 0, len(byTopic))
	for _, t := range slices.Sorted(maps.Keys(byTopic)) {
		types := byTopic[t]
		slices.Sort(types)
		out = append(out, TopicInfo{Name: t, Types: slices.Compact(types)})
	}
	return out
}

func eventName(typ string, r Route) string {
	if r.As != "" {
		return r.As
	}
	return typ
}

// Map decodes the payload of one unit of upstream type typ (unit is the whole unit, for a
// digest when an id must be made up). It returns known=false for a type nothing routes, a
// non-nil Reject for a payload that breaks its type's rules, else the Event to publish.
func (m *Mapper) Map(typ string, payload, unit []byte, env Env) (e Event, rej *Reject, known bool) {
	r, ok := m.routes[typ]
	if !ok {
		return Event{}, nil, false
	}
	if r.As == "" {
		return m.custom(typ, r, payload), nil, true
	}
	data := payload
	if !m.plain || len(r.Set) > 0 || len(env.Defaults) > 0 {
		var reason string
		if data, reason = m.normalize(r, payload, unit, env); reason != "" {
			return Event{}, &Reject{Type: typ, Reason: reason, Bytes: len(unit)}, true
		}
	}
	value, key, callID, reason := decodeKind(r.As, data)
	if reason != "" {
		return Event{}, &Reject{Type: typ, Reason: reason, Bytes: len(unit)}, true
	}
	return Event{Type: r.As, Topic: r.Topic, Key: key, CallID: callID, Data: compact(data), Value: value}, nil, true
}

// custom is the event of a type routed to a topic of the profile's: the payload as it came,
// keyed by its conversation id when it has one.
func (m *Mapper) custom(typ string, r Route, payload []byte) Event {
	e := Event{Type: typ, Topic: r.Topic, Data: compact(payload)}
	path := Path{"conversation_id"}
	if p, ok := m.cfg.Fields["conversation_id"]; ok {
		path = p
	}
	if v, ok := lookup(payload, path); ok {
		var s string
		if json.Unmarshal(v, &s) == nil {
			e.Key = s
		}
	}
	return e
}

// normalize renames, sets, defaults and (when lenient) fills the payload of a domain type,
// returning it as our wire has it, or a reason to refuse it.
func (m *Mapper) normalize(r Route, payload, unit []byte, env Env) ([]byte, string) {
	typ := r.As
	in, err := ParseObject(payload)
	if err != nil {
		return nil, "payload is not an object"
	}
	o := m.rename(in)
	for _, k := range slices.Sorted(maps.Keys(r.Set)) {
		o.Set(k, r.Set[k])
	}
	for _, k := range slices.Sorted(maps.Keys(env.Defaults)) {
		if _, ok := o.Get(k); !ok {
			o.Set(k, env.Defaults[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m.cfg.Defaults)) {
		if _, ok := o.Get(k); !ok {
			o.Set(k, m.cfg.Defaults[k])
		}
	}
	if m.cfg.Lenient {
		fill(typ, &o, unit, env, m.cfg.UserID)
	}
	if typ == TypeConversationUpdate { // its last_message is a chat.message payload of the same wire
		if last, ok := o.Get("last_message"); ok {
			if norm, reason := m.normalize(Route{As: TypeChatMessage}, last, last, env); reason == "" {
				o.Set("last_message", norm)
			}
		}
	}
	return o.Encode(), ""
}

// rename returns in with the upstream's field names turned into ours. Every alias is read from
// in, so that aliases may swap names; a field of ours that an alias found a value for gives way
// to that value, and every other field is kept, in its place.
func (m *Mapper) rename(in Object) Object {
	if len(m.fields) == 0 {
		return in
	}
	renamed := make(map[string][]string, len(m.fields)) // their top-level key -> ours (one or more)
	found := make(map[string]bool, len(m.fields))       // ours, found under their name
	var nested []Member
	for _, a := range m.fields {
		v, ok := in.Get(a.theirs[0])
		if ok && len(a.theirs) > 1 {
			v, ok = lookup(v, a.theirs[1:])
		}
		if !ok {
			continue
		}
		found[a.ours] = true
		if len(a.theirs) == 1 {
			renamed[a.theirs[0]] = append(renamed[a.theirs[0]], a.ours)
		} else {
			nested = append(nested, Member{a.ours, v})
		}
	}
	out := make(Object, 0, len(in)+len(nested))
	for _, mb := range in {
		if ours, ok := renamed[mb.Key]; ok {
			for _, o := range ours {
				out = append(out, Member{o, mb.Val})
			}
		} else if !found[mb.Key] {
			out = append(out, mb)
		}
	}
	return append(out, nested...)
}

// Outgoing returns the payload of an outgoing action as the upstream names its fields: v (one
// of the Outgoing types) with our names renamed, and the bridge user's id added to messages
// (sender_id) and typing (user_id) when the Mapper knows it.
func (m *Mapper) Outgoing(action string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if m.cfg.UserID == "" && len(m.fields) == 0 {
		return b, nil
	}
	o, err := ParseObject(b)
	if err != nil {
		return nil, err
	}
	if id := m.cfg.UserID; id != "" {
		q := strconv.AppendQuote(nil, id)
		switch action {
		case ActionMessage:
			o.Set("sender_id", q)
		case ActionTyping:
			o.Set("user_id", q)
		}
	}
	var out Object
	for _, mb := range o {
		p := Path{mb.Key}
		if theirs, ok := m.cfg.Fields[mb.Key]; ok {
			p = theirs
		}
		out.SetPath(p, mb.Val)
	}
	return out.Encode(), nil
}

// Digest is a short stable id made from bytes, for units that carry none.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "d-" + hex.EncodeToString(sum[:8])
}

// timeText formats t as every timestamp of ours is.
func timeText(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
