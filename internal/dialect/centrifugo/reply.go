package centrifugo

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/centrifugal/protocol"

	"github.com/chatbridge/chatbridge/internal/dialect"
)

// Error codes of Centrifugo's replies that refuse the token.
const (
	codeUnauthorized = 101
	codeTokenExpired = 109
)

// Error codes after which the same command may succeed later: a message refused with one is
// left to be written again, not failed.
var temporary = map[uint32]bool{100: true, 111: true, 113: true}

// reply handles one reply (or push) from the server.
func (d *Dialect) reply(r *protocol.Reply, env dialect.Env, out *dialect.Result) {
	if r.Id == 0 {
		if r.Push == nil { // {} is the server's ping
			d.mu.Lock()
			pong := d.pong
			d.mu.Unlock()
			if pong {
				out.Replies = append(out.Replies, []byte("{}"))
			}
			return
		}
		d.push(r.Push, env, out)
		return
	}
	d.mu.Lock()
	isConnect := r.Id == d.connectID
	channel, isSub := d.subs[r.Id]
	delete(d.subs, r.Id)
	cmid, isPub := d.pending.Take(r.Id)
	d.mu.Unlock()
	switch {
	case isConnect:
		d.connected(r, env, out)
	case isSub && channel != "":
		d.subscribed(channel, r.Error, r.Subscribe, env, out)
	case isPub:
		a := dialect.Ack{ClientMessageID: cmid}
		if e := r.Error; e != nil {
			if temporary[e.Code] {
				return // written again after the next reconnect
			}
			a.Error = fmt.Sprintf("refused by Centrifugo: %d %s", e.Code, e.Message)
		}
		out.Acks = append(out.Acks, a)
	}
}

// connected takes the reply to the connect command.
func (d *Dialect) connected(r *protocol.Reply, env dialect.Env, out *dialect.Result) {
	if e := r.Error; e != nil {
		err := fmt.Errorf("centrifugo refused the connection: %d %s", e.Code, e.Message)
		if e.Code == codeUnauthorized || e.Code == codeTokenExpired {
			err = fmt.Errorf("%w: %w", dialect.ErrUnauthorized, err)
		}
		out.Err = err
		return
	}
	c := r.Connect
	if c == nil {
		out.Err = fmt.Errorf("centrifugo answered the connect command with nothing")
		return
	}
	out.Ready = true
	if c.Ping > 0 {
		out.Idle = secs(c.Ping) + maxPingDelay
	}
	d.mu.Lock()
	d.pong = c.Pong
	d.mu.Unlock()
	for ch, sr := range c.Subs { // server-side subscriptions
		d.subscribed(ch, nil, sr, env, out)
	}
	for _, ch := range d.cfg.Subscribe {
		out.Replies = append(out.Replies, d.subscribe(ch, false))
	}
}

// subscribe returns the subscribe command of a channel, recovering from where the bridge stands
// in it; fromStart asks for its whole history in the current epoch.
func (d *Dialect) subscribe(ch string, fromStart bool) []byte {
	id := d.nextID.Add(1)
	req := &protocol.SubscribeRequest{Channel: ch}
	d.mu.Lock()
	if p := d.pos[ch]; p != nil && p.recoverable && p.epoch != "" {
		req.Recover, req.Epoch, req.Offset = true, p.epoch, p.offset
		if fromStart {
			req.Offset = 0
		}
	}
	d.subs[id] = ch
	d.mu.Unlock()
	frame, _ := encode(&protocol.Command{Id: id, Subscribe: req})
	return frame
}

// unsubscribe returns the unsubscribe command of a channel; its reply says nothing.
func (d *Dialect) unsubscribe(ch string) []byte {
	id := d.nextID.Add(1)
	d.mu.Lock()
	d.subs[id] = ""
	d.mu.Unlock()
	frame, _ := encode(&protocol.Command{Id: id, Unsubscribe: &protocol.UnsubscribeRequest{Channel: ch}})
	return frame
}

// subscribed takes the answer to a subscribe command (or a server-side subscription): the
// publications recovered, and where the bridge stands now. When the server could not give back
// what was missed, a reset notice goes to the channel's topic; when that is because the stream
// started over (a new epoch), the bridge takes the new stream from its start.
func (d *Dialect) subscribed(ch string, e *protocol.Error, sr *protocol.SubscribeResult, env dialect.Env, out *dialect.Result) {
	if e != nil {
		out.Rejects = append(out.Rejects, dialect.Reject{Type: "subscribe",
			Reason: fmt.Sprintf("Centrifugo refused the subscription to %s: %d %s", ch, e.Code, e.Message)})
		return
	}
	if sr == nil {
		return
	}
	d.mu.Lock()
	p := d.pos[ch]
	if p == nil {
		p = &position{}
		d.pos[ch] = p
	}
	asked := p.recoverable && p.epoch != "" && !p.refetching
	refetch := p.refetching
	switch {
	case asked && !sr.Recovered && sr.Epoch != p.epoch:
		// The stream started over (the server lost its history: a restart with the memory
		// engine). What was published in the old one while the bridge was away is gone; what
		// is in the new one is taken from its start.
		p.epoch, p.offset, p.recoverable, p.refetching = sr.Epoch, 0, sr.Recoverable, true
		d.mu.Unlock()
		d.reset(ch, "the server's history of the channel started over", out)
		out.Replies = append(out.Replies, d.unsubscribe(ch), d.subscribe(ch, true))
		return
	case (asked || refetch) && !sr.Recovered:
		p.offset, p.recoverable, p.refetching = sr.Offset, sr.Recoverable, false
		d.mu.Unlock()
		d.reset(ch, "the server no longer holds what was published while the bridge was away", out)
		return
	}
	p.epoch, p.recoverable, p.refetching = sr.Epoch, sr.Recoverable, false
	d.mu.Unlock()
	for _, pub := range sr.Publications {
		d.publication(ch, pub, false, env, out)
	}
	d.mu.Lock()
	if sr.Offset > p.offset {
		p.offset = sr.Offset
	}
	d.mu.Unlock()
}

// reset publishes the reset notice on the topic of a channel.
func (d *Dialect) reset(ch, reason string, out *dialect.Result) {
	c, _, ok := d.route(ch)
	if !ok || c.Route.Topic == "" {
		return
	}
	data, _ := json.Marshal(map[string]string{"reason": reason, "channel": ch}) // strings
	out.Events = append(out.Events, dialect.Event{Type: EventReset, Topic: c.Route.Topic, Data: data})
}

// push handles a push: a publication, a join or leave, an unsubscribe, a disconnect.
func (d *Dialect) push(p *protocol.Push, env dialect.Env, out *dialect.Result) {
	switch {
	case p.Pub != nil:
		d.publication(p.Channel, p.Pub, true, env, out)
	case p.Join != nil && p.Join.Info != nil:
		d.presence(p.Channel, p.Join.Info, "online", env, out)
	case p.Leave != nil && p.Leave.Info != nil:
		d.presence(p.Channel, p.Leave.Info, "offline", env, out)
	case p.Unsubscribe != nil:
		if p.Unsubscribe.Code < 2500 { // the server advises to subscribe again
			out.Replies = append(out.Replies, d.subscribe(p.Channel, false))
		}
	case p.Subscribe != nil: // a server-side subscription
		d.mu.Lock()
		if d.pos[p.Channel] == nil {
			d.pos[p.Channel] = &position{}
		}
		pos := d.pos[p.Channel]
		pos.recoverable, pos.epoch, pos.offset = p.Subscribe.Recoverable, p.Subscribe.Epoch, p.Subscribe.Offset
		d.mu.Unlock()
	case p.Disconnect != nil:
		err := fmt.Errorf("centrifugo disconnected the bridge: %d %s", p.Disconnect.Code, p.Disconnect.Reason)
		if kind := CloseKind(int(p.Disconnect.Code)); kind != nil {
			err = fmt.Errorf("%w: %w", kind, err)
		}
		out.Err = err
	}
}

// publication routes one publication of channel ch (live: a push; else recovered).
func (d *Dialect) publication(ch string, pub *protocol.Publication, live bool, env dialect.Env, out *dialect.Result) {
	d.mu.Lock()
	p := d.pos[ch]
	if p != nil && pub.Offset > 0 {
		if (live && p.refetching) || pub.Offset <= p.offset {
			d.mu.Unlock()
			return // it comes (or came) with the recovery
		}
		p.offset = pub.Offset
	}
	d.mu.Unlock()
	c, wild, ok := d.route(ch)
	if !ok {
		out.Unknown++
		return
	}
	data := []byte(pub.Data)
	typ := c.Pattern
	if len(d.cfg.TypePath) > 0 {
		var reason string
		if typ, data, reason = d.split(data); reason != "" {
			out.Rejects = append(out.Rejects, dialect.Reject{Type: ch, Reason: reason, Bytes: len(pub.Data)})
			return
		}
	}
	env.Defaults = map[string]json.RawMessage{}
	if wild != "" {
		env.Defaults["conversation_id"] = quote(wild)
	}
	if pub.Offset > 0 {
		env.Defaults["id"] = quote(ch + ":" + strconv.FormatUint(pub.Offset, 10))
	}
	if pub.Info != nil && pub.Info.User != "" {
		env.Defaults["sender_id"] = quote(pub.Info.User)
	}
	e, rej, known := d.mapper.Map(typ, data, pub.Data, env)
	switch {
	case !known:
		out.Unknown++
	case rej != nil:
		rej.Type = ch
		out.Rejects = append(out.Rejects, *rej)
	default:
		if e.Value == nil && len(d.cfg.TypePath) == 0 {
			e.Type = ch // a topic of the profile's own: its events are named by channel
		}
		out.Events = append(out.Events, e)
	}
}

// presence turns a join or leave into a user.status on the presence topic.
func (d *Dialect) presence(ch string, info *protocol.ClientInfo, status string, env dialect.Env, out *dialect.Result) {
	if _, _, ok := d.route(ch); !ok || info.User == "" {
		return
	}
	data, _ := json.Marshal(map[string]string{"user_id": info.User, "status": status}) // strings
	e, rej, _ := d.mapper.Map(dialect.TypeUserStatus, data, data, dialect.Env{At: env.At})
	if rej == nil {
		out.Events = append(out.Events, e)
	}
}

// route finds the route of a channel, and what its pattern's "*" stood for.
func (d *Dialect) route(ch string) (Channel, string, bool) {
	for _, c := range d.cfg.Channels {
		if wild, ok := c.match(ch); ok {
			return c, wild, true
		}
	}
	return Channel{}, "", false
}

// split finds the type and the payload inside publication data (TypePath set).
func (d *Dialect) split(data []byte) (typ string, payload []byte, reason string) {
	o, err := dialect.ParseObject(data)
	if err != nil {
		return "", nil, "publication data is not an object"
	}
	tv, ok := o.Lookup(d.cfg.TypePath)
	if !ok || json.Unmarshal(tv, &typ) != nil || typ == "" {
		return "", nil, "publication data has no type"
	}
	if len(d.cfg.PayloadPath) == 0 {
		if len(d.cfg.TypePath) == 1 {
			o.Del(d.cfg.TypePath[0])
		}
		return typ, o.Encode(), ""
	}
	p, ok := o.Lookup(d.cfg.PayloadPath)
	if !ok {
		return typ, []byte("{}"), ""
	}
	return typ, p, ""
}

func quote(s string) json.RawMessage { return strconv.AppendQuote(nil, s) }
