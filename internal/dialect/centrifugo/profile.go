package centrifugo

import (
	"strings"

	"github.com/chatbridge/chatbridge/internal/dialect"
)

// actionKeys are the keys of the centrifugo.publish section.
var actionKeys = map[string]string{
	"message": dialect.ActionMessage, "typing": dialect.ActionTyping, "call_accept": dialect.ActionCallAccept,
	"call_reject": dialect.ActionCallReject, "call_end": dialect.ActionCallEnd,
}

// FromProfile returns the Dialect a profile describes. The profile's centrifugo section:
//
//	centrifugo:
//	  subscribe: [chat:general]          # channels to subscribe to
//	  channels:                          # channel pattern -> topic, or {topic, as, set}
//	    "chat:*": messages               # "*": the conversation, unless the data names one
//	  publish:                           # action -> channel template
//	    message: "chat:{conversation_id}"
//	  name: chatbridge                   # the client name in the connect command
//
// The envelope section's fields, defaults and lenient apply to publication data; with
// envelope.type set, publications are routed by the type inside their data through routes.
func FromProfile(p *dialect.Profile) (*Dialect, error) {
	if p == nil {
		p = &dialect.Profile{}
	}
	if err := p.CheckSections(dialect.DialectCentrifugo); err != nil {
		return nil, err
	}
	if err := p.Refuse(dialect.DialectCentrifugo, "outbound", len(p.Outbound) > 0, "with the centrifugo dialect, what is published where is said in centrifugo.publish"); err != nil {
		return nil, err
	}
	sec := p.Section(dialect.DialectCentrifugo)
	cfg := Config{Subscribe: sec.Strings("subscribe"), Publish: map[string]string{},
		Name: sec.String("name", ""), TypePath: p.TypePath, PayloadPath: p.PayloadPath}
	mc := p.Mapper
	routes := map[string]dialect.Route{}
	for typ, r := range mc.Routes {
		routes[typ] = r
	}
	channels := sec.Section("channels")
	for _, pattern := range channels.Keys() {
		if strings.Count(pattern, "*") > 1 {
			channels.Fail(pattern, "a channel pattern has one * at most")
		}
		r, _ := dialect.ReadRoute(channels, pattern)
		cfg.Channels = append(cfg.Channels, Channel{Pattern: pattern, Route: r})
		if len(cfg.TypePath) == 0 {
			routes[pattern] = r
		}
	}
	if len(cfg.Channels) == 0 && len(cfg.Subscribe) > 0 {
		sec.Fail("channels", "must route the subscribed channels to topics")
	}
	pub := sec.Section("publish")
	for _, key := range pub.Keys() {
		action, ok := actionKeys[key]
		if !ok {
			pub.Unseen(key)
			continue
		}
		if cfg.Publish[action] = pub.String(key, ""); cfg.Publish[action] == "" {
			pub.Fail(key, "must name the channel to publish to, such as chat:{conversation_id}")
		}
	}
	if err := sec.Done(); err != nil {
		return nil, err
	}
	mc.Routes = routes
	cfg.Mapper = dialect.NewMapper(mc)
	return New(cfg), nil
}
