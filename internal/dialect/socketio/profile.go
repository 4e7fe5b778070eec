package socketio

import (
	"github.com/chatbridge/chatbridge/internal/dialect"
)

// actionKeys are the keys of the socketio.emit section.
var actionKeys = map[string]string{
	"message": dialect.ActionMessage, "typing": dialect.ActionTyping, "call_accept": dialect.ActionCallAccept,
	"call_reject": dialect.ActionCallReject, "call_end": dialect.ActionCallEnd,
}

// FromProfile returns the Dialect a profile describes. tokenIn is the token placement in effect
// (with dialect.TokenInConnect the token goes into the connect packet's auth payload, in the
// field token.name names, default "token"); ack is the ack mode in effect (reply asks the server
// to acknowledge every message). The profile's socketio section:
//
//	socketio:
//	  namespace: /chat
//	  events:                         # incoming event -> topic, or {topic, as, set, args}
//	    chat message: messages
//	    user left: {topic: presence, as: user.status, set: {status: offline}}
//	    typing: {topic: typing, args: [user_id, is_typing]}
//	  emit:                           # action -> event, or {event, args}
//	    message: chat message
//	  ack_error: error                # where a refusal's reason sits in an acknowledgement
func FromProfile(p *dialect.Profile, tokenIn, ack string) (*Dialect, error) {
	if p == nil {
		p = &dialect.Profile{}
	}
	if err := p.CheckSections(dialect.DialectSocketIO); err != nil {
		return nil, err
	}
	if err := p.Refuse(dialect.DialectSocketIO, "routes", len(p.Mapper.Routes) > 0, "with the socketio dialect, events are routed in socketio.events"); err != nil {
		return nil, err
	}
	if err := p.Refuse(dialect.DialectSocketIO, "outbound", len(p.Outbound) > 0, "with the socketio dialect, what is sent is said in socketio.emit"); err != nil {
		return nil, err
	}
	if err := p.Refuse(dialect.DialectSocketIO, "envelope.type", p.TypePath != nil || p.PayloadSet, "a Socket.IO event has a name and arguments, not a type and a payload"); err != nil {
		return nil, err
	}
	sec := p.Section(dialect.DialectSocketIO)
	cfg := Config{Namespace: sec.String("namespace", "/"), Args: map[string][]string{}, Emit: map[string]Emit{},
		AckIDs: ack == dialect.AckReply}
	if cfg.Namespace[0] != '/' {
		sec.Fail("namespace", "must start with /")
	}
	mc := p.Mapper
	mc.Routes = map[string]dialect.Route{}
	events := sec.Section("events")
	if !sec.Has("events") {
		mc.Routes["chat message"] = dialect.Route{Topic: dialect.TopicMessages, As: dialect.TypeChatMessage}
		mc.Routes["typing"] = dialect.Route{Topic: dialect.TopicTyping, As: dialect.TypeTypingIndicator}
	}
	for _, name := range events.Keys() {
		r, long := dialect.ReadRoute(events, name)
		mc.Routes[name] = r
		if long != nil && long.Has("args") {
			cfg.Args[name] = long.Strings("args")
		} else if long != nil {
			long.Strings("args") // known key
		}
	}
	emit := sec.Section("emit")
	for _, key := range emit.Keys() {
		action, ok := actionKeys[key]
		if !ok {
			emit.Unseen(key) // Done names it
			continue
		}
		var e Emit
		if long := emit.Mapping(key); long != nil {
			e.Event = long.String("event", "")
			e.Args = long.Strings("args")
		} else {
			e.Event = emit.String(key, "")
		}
		if e.Event == "" {
			emit.Fail(key, "must name the event to emit")
		}
		cfg.Emit[action] = e
	}
	if sec.Has("ack_error") {
		cfg.AckError = dialect.ParsePath(sec.String("ack_error", ""))
	}
	if err := sec.Done(); err != nil {
		return nil, err
	}
	if tokenIn == dialect.TokenInConnect {
		cfg.AuthToken = p.TokenName
		if cfg.AuthToken == "" {
			cfg.AuthToken = "token"
		}
	}
	cfg.Mapper = dialect.NewMapper(mc)
	return New(cfg), nil
}
