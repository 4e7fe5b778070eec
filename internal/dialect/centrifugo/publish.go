package centrifugo

import (
	"fmt"
	"strconv"
	"time"

	"github.com/centrifugal/protocol"

	"github.com/chatbridge/chatbridge/internal/dialect"
)

// EncodeMessage returns the publish command of a chat message, to the channel of its
// conversation; its reply acknowledges it.
func (d *Dialect) EncodeMessage(m dialect.OutgoingMessage) ([]byte, error) {
	id := d.nextID.Add(1)
	frame, err := d.publish(dialect.ActionMessage, m.ConversationID, m, id)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", dialect.ErrRefused, err)
	}
	d.mu.Lock()
	d.pending.Put(id, m.ClientMessageID)
	d.mu.Unlock()
	return frame, nil
}

// EncodeTyping returns the publish command of a typing indicator, when the profile names a
// channel for it.
func (d *Dialect) EncodeTyping(t dialect.OutgoingTyping) ([]byte, error) {
	return d.publish(dialect.ActionTyping, t.ConversationID, t, d.nextID.Add(1))
}

// EncodeCall returns the publish command of a call action, when the profile names a channel
// for it ({conversation_id} in it stays empty: a call action names only its call).
func (d *Dialect) EncodeCall(action string, c dialect.OutgoingCall) ([]byte, error) {
	return d.publish(action, "", c, d.nextID.Add(1))
}

// publish builds a publish command of action's payload v.
func (d *Dialect) publish(action, conversation string, v any, id uint32) ([]byte, error) {
	template, ok := d.cfg.Publish[action]
	if !ok {
		return nil, fmt.Errorf("%w (centrifugo.publish.%s)", ErrUnsupported, profileKey(action))
	}
	data, err := d.mapper.Outgoing(action, v)
	if err != nil {
		return nil, err
	}
	if len(d.cfg.TypePath) > 0 {
		var o dialect.Object
		o.SetPath(d.cfg.TypePath, strconv.AppendQuote(nil, action))
		if len(d.cfg.PayloadPath) > 0 {
			o.SetPath(d.cfg.PayloadPath, data)
		} else if fields, err := dialect.ParseObject(data); err == nil {
			for _, m := range fields {
				o.Set(m.Key, m.Val)
			}
		}
		data = o.Encode()
	}
	return encode(&protocol.Command{Id: id, Publish: &protocol.PublishRequest{
		Channel: channelOf(template, conversation), Data: protocol.Raw(data)}})
}

// profileKey is the key of the centrifugo.publish section for an action.
func profileKey(action string) string {
	for k, a := range actionKeys {
		if a == action {
			return k
		}
	}
	return action
}

func secs(n uint32) time.Duration { return time.Duration(n) * time.Second }
